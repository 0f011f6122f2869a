"""The table migration's backfill (docs/table-migration.md) reaches the stream as MODIFY records
that change neither status, version nor review flag: they must publish nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.services.status_events import StatusEvent, publish_status_events, stream_events
from payouts.store import keys
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE, order_to_item
from payouts_tools.table_backfill import LEGACY_ATTRIBUTES
from tests.support.orders import T0, make_order


def _pre_migration_item(order: Order, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # As the code before the migration wrote it: the legacy attributes and no day_pk.
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, "true")
    item = dict(order_to_item(order))
    del item["day_pk"]
    return item


def _modify(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventName": "MODIFY",
        "dynamodb": {
            "Keys": {"PK": old["PK"], "SK": old["SK"]},
            "SequenceNumber": "1",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "OldImage": old,
            "NewImage": new,
        },
    }


ORDERS = [
    make_order("PO-1", status=OrderStatus.SUBMITTED, version=3),
    make_order(
        "PO-2",
        status=OrderStatus.UNKNOWN,
        version=7,
        needs_review=True,
        review_reason="unknown create",
    ),
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.payout_id)
def test_adding_the_day_key_publishes_nothing(
    order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _pre_migration_item(order, monkeypatch)
    after = {**before, "day_pk": {"S": keys.day_partition(T0, order.payout_id)}}
    published: list[Sequence[StatusEvent]] = []

    def publish(details: Sequence[StatusEvent]) -> list[str | None]:
        published.append(details)
        return [None] * len(details)

    failures = publish_status_events([_modify(before, after)], publish)

    assert stream_events(_modify(before, after)) == []
    assert (failures, published) == ({}, [])


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: order.payout_id)
def test_removing_the_legacy_attributes_publishes_nothing(
    order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {
        **_pre_migration_item(order, monkeypatch),
        "day_pk": {"S": keys.day_partition(T0, order.payout_id)},
    }
    after = {name: value for name, value in before.items() if name not in LEGACY_ATTRIBUTES}

    assert set(before) - set(after) == set(LEGACY_ATTRIBUTES)
    assert stream_events(_modify(before, after)) == []
