"""The retention sweep's reads and position: orders in creation order after a position, across
days and by-day's shards, page by page, from the index's range key (never a Scan); and a
position that only one run can move. Against moto, a real DynamoDB Local engine and the
simulator's in-memory table."""

from __future__ import annotations

from datetime import datetime, timedelta

from payouts.store import Created, OrderStore
from payouts.store.orders import SweepPosition
from tests.support.orders import T0, make_request

DAY = timedelta(days=1)
START = SweepPosition(T0 - DAY, "")


def created(store: OrderStore, payout_id: str, at: datetime) -> None:
    assert isinstance(store.create(make_request(payout_id, "UPI"), at, None), Created)


def swept_ids(store: OrderStore, after: SweepPosition, until: datetime, limit: int) -> list[str]:
    return [order.payout_id for order in store.created_after(after, until, limit).orders]


def test_orders_come_in_creation_order_then_id_across_shards_and_days(store: OrderStore) -> None:
    # Ids spread over by-day's 16 shards; two orders share one instant; three days.
    times = {
        "PO-C": T0 + timedelta(hours=1),
        "PO-A": T0 + timedelta(hours=1),
        "PO-B": T0,
        "PO-D": T0 + DAY + timedelta(minutes=5),
        "PO-E": T0 + 2 * DAY,
    }
    for payout_id, at in times.items():
        created(store, payout_id, at)

    page = store.created_after(START, T0 + 3 * DAY, 10)

    assert [order.payout_id for order in page.orders] == ["PO-B", "PO-A", "PO-C", "PO-D", "PO-E"]
    assert page.exhausted
    assert page.last == SweepPosition(T0 + 2 * DAY, "PO-E")


def test_the_bound_is_inclusive_and_what_is_after_it_waits(store: OrderStore) -> None:
    created(store, "PO-1", T0)
    created(store, "PO-2", T0 + timedelta(microseconds=1))

    assert swept_ids(store, START, T0, 10) == ["PO-1"]


def test_pages_resume_after_the_last_position_even_inside_one_instant(store: OrderStore) -> None:
    for number in range(5):
        created(store, f"PO-{number}", T0)  # five orders of one microsecond
    created(store, "PO-LATER", T0 + DAY)
    until = T0 + 2 * DAY

    first = store.created_after(START, until, 2)
    assert first.last is not None
    second = store.created_after(first.last, until, 2)
    assert second.last is not None
    third = store.created_after(second.last, until, 2)

    assert [o.payout_id for o in first.orders] == ["PO-0", "PO-1"]
    assert [o.payout_id for o in second.orders] == ["PO-2", "PO-3"]
    assert [o.payout_id for o in third.orders] == ["PO-4", "PO-LATER"]
    assert not first.exhausted
    assert not second.exhausted
    assert third.exhausted  # full, and the one more it looked for is not there
    assert third.last is not None
    assert store.created_after(third.last, until, 2) == type(third)([], None, True)


def test_a_position_through_an_instant_passes_every_id_of_it(store: OrderStore) -> None:
    created(store, "PO-z", T0)
    created(store, "PO-0", T0 + timedelta(microseconds=1))

    assert swept_ids(store, SweepPosition.through(T0), T0 + DAY, 10) == ["PO-0"]


def test_the_position_starts_unset_and_moves_only_from_where_the_mover_read_it(
    store: OrderStore,
) -> None:
    first = SweepPosition(T0, "PO-1")
    second = SweepPosition.through(T0 + DAY)

    assert store.sweep_position() is None
    assert store.move_sweep_position(None, first)
    assert not store.move_sweep_position(None, second)  # another run set it meanwhile
    assert store.sweep_position() == first
    assert not store.move_sweep_position(SweepPosition(T0, "PO-0"), second)
    assert store.move_sweep_position(first, second)
    assert store.sweep_position() == second
