"""find_due over a moto table: the lease (one execution at a time), the due list in batches read
from the due index only, and the plan for the next Wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from payouts.domain.status import OrderStatus
from payouts.services.due import DueQuery, DueSizing, acquire_lease, find_due
from payouts.store import OrderStore
from tests.integration.reconcile.reconcile_support import store_order
from tests.support.moto_store import moto_order_store
from tests.support.orders import T0

S = OrderStatus
SIZING = DueSizing(batch_size=2, batches_per_iteration=2, lease_margin=timedelta(minutes=10))
BUDGET = timedelta(minutes=10)
OWNER = "arn:aws:states:us-east-1:123456789012:execution:reconcile:run-1"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:reconcile:run-2"


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with moto_order_store() as order_store:
        yield order_store


def query(iteration: int = 0) -> DueQuery:
    return DueQuery(
        owner=OWNER, iteration=iteration, budget_ends_at=T0 + BUDGET, max_wait=timedelta(seconds=30)
    )


def test_only_one_execution_holds_the_lease_until_it_expires(store: OrderStore) -> None:
    first = acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    second = acquire_lease(store, OTHER, BUDGET, SIZING, T0 + timedelta(minutes=5))
    again = acquire_lease(store, OWNER, BUDGET, SIZING, T0 + timedelta(minutes=1))
    # The renewal at +1 min holds it until +1 + 10 (budget) + 10 (margin) = +21 min.
    after_expiry = acquire_lease(store, OTHER, BUDGET, SIZING, T0 + timedelta(minutes=22))

    assert first.acquired is True
    assert first.budget_ends_at == int((T0 + BUDGET).timestamp())
    assert second.acquired is False
    assert again.acquired is True
    assert after_expiry.acquired is True


def test_a_find_renews_the_lease_so_it_never_lapses_under_a_live_execution(
    store: OrderStore,
) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    # Later than budget + margin from the acquire, but renewed on the way.
    find_due(store, query(), SIZING, T0 + timedelta(minutes=15))

    taken = acquire_lease(store, OTHER, BUDGET, SIZING, T0 + timedelta(minutes=21))

    assert taken.acquired is False


def test_an_execution_whose_lease_was_taken_over_gets_no_work(store: OrderStore) -> None:
    store_order(store, "PO-1", S.SUBMITTED)
    acquire_lease(store, OTHER, BUDGET, SIZING, T0)

    plan = find_due(store, query(iteration=4), SIZING, T0 + timedelta(seconds=1))

    assert plan.lease_held is False
    assert plan.batches == []
    assert plan.wait_seconds is None
    assert plan.iteration == 5


def test_due_orders_are_handed_out_in_batches_and_nothing_else(store: OrderStore) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    for payout_id in ("PO-1", "PO-2", "PO-3"):
        store_order(store, payout_id, S.SUBMITTED, next_check_at=T0 - timedelta(seconds=5))
    store_order(store, "PO-LATER", S.SUBMITTED, next_check_at=T0 + timedelta(minutes=1))
    store_order(store, "PO-PAID", S.SUCCEEDED)

    plan = find_due(store, query(), SIZING, T0)

    assert sorted(id_ for batch in plan.batches for id_ in batch) == ["PO-1", "PO-2", "PO-3"]
    assert [len(batch) for batch in plan.batches] == [2, 1]
    assert plan.more_due_now is False
    assert plan.wait_seconds is None
    assert plan.iteration == 1


def test_more_due_than_one_iteration_holds_says_so(store: OrderStore) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    for number in range(5):
        store_order(store, f"PO-{number}", S.UNKNOWN, next_check_at=T0 - timedelta(seconds=1))

    plan = find_due(store, query(), SIZING, T0)

    assert plan.due_count == SIZING.capacity == 4
    assert plan.more_due_now is True


def test_with_nothing_due_now_it_plans_a_wait_until_the_next_due_order(store: OrderStore) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    store_order(
        store, "PO-1", S.SUBMITTED, next_check_at=T0 + timedelta(seconds=12, microseconds=5)
    )

    plan = find_due(store, query(), SIZING, T0)

    assert plan.batches == []
    assert plan.next_due_in_seconds == 13
    assert plan.wait_seconds == 13


def test_a_far_off_next_order_is_looked_for_again_after_the_longest_wait(
    store: OrderStore,
) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    store_order(store, "PO-1", S.SUBMITTED, next_check_at=T0 + timedelta(minutes=5))

    plan = find_due(store, query(), SIZING, T0)

    assert plan.next_due_in_seconds == 300
    assert plan.wait_seconds == 30


def test_with_nothing_unresolved_the_execution_ends(store: OrderStore) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    store_order(store, "PO-PAID", S.SUCCEEDED)

    plan = find_due(store, query(), SIZING, T0)

    assert plan.next_due_in_seconds is None
    assert plan.wait_seconds is None


def test_once_the_budget_is_spent_no_more_work_is_handed_out(store: OrderStore) -> None:
    acquire_lease(store, OWNER, BUDGET, SIZING, T0)
    store_order(store, "PO-1", S.SUBMITTED, next_check_at=T0)

    plan = find_due(store, query(), SIZING, T0 + BUDGET)

    assert plan.lease_held is True
    assert plan.budget_spent is True
    assert plan.batches == []
    assert plan.wait_seconds is None
