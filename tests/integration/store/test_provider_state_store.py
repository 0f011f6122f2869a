"""The provider state items against every engine the store contract runs on (moto, DynamoDB
Local, the simulator's in-memory table): conditional pause writes, and the breaker's marks
counted over a sliding window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.store import OrderStore
from payouts.store.provider_state import ProviderStateStore
from tests.support.orders import T0

WINDOW = timedelta(seconds=60)


@pytest.fixture
def states(store: OrderStore) -> ProviderStateStore:
    # The same client and table as the orders: the state lives in the orders table.
    return ProviderStateStore(store._client, store._table)


def paused(version: int, *, by: PausedBy = PausedBy.PERSON) -> ProviderState:
    return ProviderState(
        provider="pg_v2",
        paused=True,
        reason="maintenance",
        changed_by="operator:ann" if by is PausedBy.PERSON else "breaker",
        set_by=by,
        since=T0,
        version=version,
    )


def test_a_state_is_written_once_then_only_over_the_version_read(
    states: ProviderStateStore,
) -> None:
    first = paused(1)
    assert states.get("pg_v2") is None

    assert states.put_if_unchanged(first, None) is True
    assert states.put_if_unchanged(paused(1, by=PausedBy.BREAKER), None) is False
    resumed = first.model_copy(update={"paused": False, "version": 2})
    assert states.put_if_unchanged(resumed, first) is True
    assert states.put_if_unchanged(paused(3), first) is False  # stale: read version 1

    assert states.get("pg_v2") == resumed
    assert states.get("gateway_v2") is None


def test_failures_are_counted_after_a_moment_and_up_to_a_limit(
    states: ProviderStateStore,
) -> None:
    for seconds in (0, 10, 20, 30, 40):
        states.record_failure("pg_v2", T0 + timedelta(seconds=seconds), WINDOW, "AMBIGUOUS")
    states.record_failure("gateway_v2", T0, WINDOW, "NOT_SENT")

    assert states.count_failures("pg_v2", T0 - timedelta(seconds=1), limit=100) == 5
    assert states.count_failures("pg_v2", T0 + timedelta(seconds=15), limit=100) == 3
    assert states.count_failures("pg_v2", T0 - timedelta(seconds=1), limit=2) == 2
    assert states.count_failures("gateway_v2", T0 - timedelta(seconds=1), limit=100) == 1
    assert states.count_failures("pg_v2", T0 + timedelta(seconds=40), limit=100) == 0
