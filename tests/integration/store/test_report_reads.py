"""The finance report's reads: every order of one status and creation day, whole (money figures
included), through the by-day index (or by-status-day mid-migration) and BatchGetItem, never a
Scan; against moto, a real DynamoDB Local engine and the simulator's in-memory table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payouts.domain.status import OrderStatus
from payouts.store import Applied, Created, OrderStore
from payouts.store.codec import legacy_status_index
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

    assert len(steps) == 2  # one step per day
    summed = [(t.day, t.status, t.count, t.amount_minor, t.fees_minor) for t in totals(lines)]
    assert summed == [
        (T0.date(), S.SUCCEEDED, 2, 20000, 350),
        ((T0 + timedelta(days=1)).date(), S.SUCCEEDED, 1, 10000, 1),
    ]


@BACKENDS
def test_a_report_reads_each_order_of_a_day_once_whatever_its_status(store: OrderStore) -> None:
    # A report over every status once read the whole day per status (by-day is not keyed on the
    # status): eight reads of each order. Now one.
    for number in range(5):
        store.create(make_request(f"PO-R{number}", "UPI"), T0, next_check_at=None)
    paid(store, "PO-PAID", "pg_v2")
    asked: list[str] = []
    client = store._client
    batch_get = client.batch_get_item

    def counting(**kwargs: object) -> object:
        for request in kwargs["RequestItems"].values():  # type: ignore[attr-defined]
            asked.extend(key["PK"]["S"] for key in request["Keys"])
        return batch_get(**kwargs)

    store._client = _Wrapped(client, counting)  # type: ignore[assignment]
    try:
        lines = read_lines(store, T0, T0)
    finally:
        store._client = client

    assert sorted(line.payout_id for line in lines) == sorted(
        [f"PO-R{n}" for n in range(5)] + ["PO-PAID"]
    )
    if legacy_status_index():
        return  # mid-migration: by-status-day is read status by status, each order once anyway
    assert sorted(asked) == sorted({f"PAYOUT#PO-R{n}" for n in range(5)} | {"PAYOUT#PO-PAID"})


class _Wrapped:
    """The client with ``batch_get_item`` replaced (moto's and boto3's clients refuse setattr
    on some methods)."""

    def __init__(self, client: object, batch_get_item: object) -> None:
        self._client = client
        self.batch_get_item = batch_get_item

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)
