"""The order's money figures round-trip through the codec, cost nothing when absent, and keep a
fully figured order item small."""

from __future__ import annotations

from datetime import UTC, datetime

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.store.codec import order_from_item, order_to_item
from payouts_tools.sim.dynamodb import item_size
from tests.support.orders import make_order

FIGURE_ATTRIBUTES = {"fee_minor", "fee_currency", "credited_minor", "provider_reference", "paid_at"}
PAID_AT = datetime(2026, 11, 22, 8, 5, 1, 123_456, tzinfo=UTC)


def figured_order(method: str = "UPI") -> Order:
    return make_order(
        "PO-20261122-000123",
        method=method,
        status=OrderStatus.SUCCEEDED,
        provider="pg_v2",
        provider_order_id="20261122080501000000000000000123",
        fee_minor=1250,
        fee_currency="INR",
        credited_minor=48750,
        provider_reference="R" * 64,
        paid_at=PAID_AT,
    )


def test_figures_round_trip_exactly() -> None:
    order = figured_order()

    back = order_from_item(order_to_item(order))

    assert back == order
    assert (back.fee_minor, back.fee_currency, back.credited_minor) == (1250, "INR", 48750)
    assert back.paid_at == PAID_AT


def test_an_order_without_figures_stores_none_of_their_attributes() -> None:
    item = order_to_item(make_order(status=OrderStatus.SUBMITTED))

    assert FIGURE_ATTRIBUTES.isdisjoint(item)
    assert order_from_item(item).fee_minor is None


def test_a_fully_figured_order_item_stays_under_one_kilobyte() -> None:
    for method in ("ALIPAY", "UPI", "BANK_ACCOUNT", "PIX"):
        item = order_to_item(figured_order(method))
        assert item_size(item) < 1024, method
