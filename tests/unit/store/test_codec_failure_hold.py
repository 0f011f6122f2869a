"""An assumed failure's hold (``failure_reported_at``) survives the codec exactly, and an order
without one stores no attribute for it."""

from __future__ import annotations

from datetime import UTC, datetime

from payouts.domain.status import OrderStatus
from payouts.store.codec import order_from_item, order_to_item
from tests.support.orders import make_order

REPORTED_AT = datetime(2026, 11, 22, 8, 5, 1, 123_456, tzinfo=UTC)


def test_a_held_failure_round_trips_exactly() -> None:
    order = make_order(
        "PO-1", status=OrderStatus.SUBMITTED, provider="pg_v2", failure_reported_at=REPORTED_AT
    )

    back = order_from_item(order_to_item(order))

    assert back == order
    assert back.failure_reported_at == REPORTED_AT


def test_no_hold_stores_no_attribute() -> None:
    order = make_order("PO-1", status=OrderStatus.SUBMITTED, provider="pg_v2")

    item = order_to_item(order)

    assert "failure_reported_at" not in item
    assert order_from_item(item).failure_reported_at is None
