"""The callback unit tests run the handler, whose Powertools metrics flush at its end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payouts.observability import metrics


@pytest.fixture(autouse=True)
def _pinned_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``payouts.observability`` builds its Metrics when first imported, possibly at collection
    before the suite's fake environment exists: give it the template's namespace and service, and
    start and end every test with no unflushed metric."""
    monkeypatch.setattr(metrics, "namespace", "Payouts")
    monkeypatch.setattr(metrics, "service", "payouts")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
