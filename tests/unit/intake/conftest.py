"""Metrics recorded by the services under test are process-wide: drop them after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payouts.observability import metrics


@pytest.fixture(autouse=True)
def _no_leftover_metrics() -> Iterator[None]:
    """Nothing a unit test counts is flushed by a later test."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
