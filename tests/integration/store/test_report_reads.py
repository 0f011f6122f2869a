"""The finance report's reads: every order of one status and creation day, whole (money figures
included), through the by-day index (or by-status-day mid-migration) and BatchGetItem, never a
Scan; against moto, a real DynamoDB Local engine and the simulator's in-memory table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payouts.domain.status import OrderStatus
from payouts.store import Applied, Created, OrderStore
from payouts_tools.cli.finance import read_lines, totals
from tests.integration.store.conftest import BOTH_INDEX_MODES_WITH_PROJECTIONS
from tests.integration.store.test_store_contract import evidence
from tests.support.orders import T0, make_request

S = OrderStatus
BACKENDS = BOTH_INDEX_MODES_WITH_PROJECTIONS
PAID_AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def paid(store: OrderStore, payout_id: str, provider: str, day: int = 0, fee: int = 300) -> None:
    created = store.create(
        make_request(payout_id, "UPI", 10000), T0 + timedelta(days=day), next_check_at=None
    )
    assert isinstance(created, Created)
    order = created.order
    for status, changes in (
        (S.SUBMITTING, {"provider": provider}),
        (S.SUBMITTED, {"provider_order_id": f"P-{payout_id}"}),
        (
            S.SUCCEEDED,
            {
                "fee_minor": fee,
                "fee_currency": "INR",
                "provider_reference": f"R-{payout_id}",
                "paid_at": PAID_AT,
            },
        ),
    ):
        moved = store.transition(order, status, evidence(), T0 + timedelta(days=day), **changes)
        assert isinstance(moved, Applied)
        order = moved.order


@BACKENDS
def test_every_order_of_a_status_and_day_is_read_whole(store: OrderStore) -> None:
    # More orders than one BatchGetItem's 100 keys.
    for number in range(130):
        store.create(make_request(f"PO-{number:03d}", "UPI"), T0, next_check_at=None)
    paid(store, "PO-PAID", "pg_v2", fee=7)
    paid(store, "PO-NEXT-DAY", "pg_v2", day=1)

    received = store.orders_created_on(S.RECEIVED, T0)
    (settled,) = store.orders_created_on(S.SUCCEEDED, T0)

    assert sorted(order.payout_id for order in received) == [f"PO-{n:03d}" for n in range(130)]
    assert settled.payout_id == "PO-PAID"
    assert (settled.fee_minor, settled.fee_currency) == (7, "INR")
    assert settled.provider_reference == "R-PO-PAID"
    assert settled.paid_at == PAID_AT
    next_day = store.orders_created_on(S.SUCCEEDED, T0 + timedelta(days=1))
    assert [order.payout_id for order in next_day] == ["PO-NEXT-DAY"]


@BACKENDS
def test_one_providers_orders_only(store: OrderStore) -> None:
    paid(store, "PO-G", "gateway_v2")
    paid(store, "PO-P", "pg_v2")

    assert [o.payout_id for o in store.orders_created_on(S.SUCCEEDED, T0, "pg_v2")] == ["PO-P"]


@BACKENDS
def test_the_report_reads_each_status_and_day_once_and_sums_them(store: OrderStore) -> None:
    paid(store, "PO-A", "pg_v2", fee=100)
    paid(store, "PO-B", "pg_v2", fee=250)
    paid(store, "PO-C", "pg_v2", day=1, fee=1)
    steps: list[int] = []

    lines = read_lines(store, T0, T0 + timedelta(days=1), step=lambda: steps.append(1))

    assert len(steps) == 2 * len(S)
    summed = [(t.day, t.status, t.count, t.amount_minor, t.fees_minor) for t in totals(lines)]
    assert summed == [
        (T0.date(), S.SUCCEEDED, 2, 20000, 350),
        ((T0 + timedelta(days=1)).date(), S.SUCCEEDED, 1, 10000, 1),
    ]
