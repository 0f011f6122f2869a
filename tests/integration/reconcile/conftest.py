"""Process-wide Powertools state is reset around every reconcile test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities import parameters

from payouts.observability import metrics


@pytest.fixture(autouse=True)
def _fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's cached secrets or unflushed metrics.

    ``payouts.observability`` builds its Metrics when first imported, possibly at collection,
    before the suite's fake environment exists: give it the template's namespace and service.
    """
    monkeypatch.setattr(metrics, "namespace", "Payouts")
    monkeypatch.setattr(metrics, "service", "payouts")
    parameters.clear_caches()
    metrics.clear_metrics()
    yield
    parameters.clear_caches()
    metrics.clear_metrics()
