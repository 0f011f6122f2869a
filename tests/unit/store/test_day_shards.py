"""The by-day index spreads one day's orders over all its shards, and each order's entry is
written once: keyed on nothing a transition changes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from payouts.domain.status import OrderStatus
from payouts.store import keys
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE, from_attribute_values, order_to_item
from tests.support.orders import T0, make_order

DAY = datetime(2026, 11, 22, tzinfo=UTC)


def test_two_hundred_orders_of_one_day_land_in_every_shard() -> None:
    # Ids as publishers make them: a date and a counter, so similar ids must still spread.
    partitions = Counter(
        keys.day_partition(DAY + timedelta(seconds=number), f"PO-20261122-{number:06d}")
        for number in range(200)
    )

    assert set(partitions) == set(keys.day_partitions(DAY))
    assert len(partitions) == keys.DAY_SHARDS == 16
    # 12.5 a shard on average; no shard near a whole day's share.
    assert max(partitions.values()) <= 25


def test_an_order_stays_in_one_shard_of_its_creation_day_whatever_the_hour() -> None:
    late = datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC)

    assert keys.day_partition(late, "PO-1") == keys.day_partition(DAY, "PO-1")
    assert keys.day_partition(late, "PO-1") in keys.day_partitions(DAY)
    assert keys.day_partition(late + timedelta(microseconds=1), "PO-1").startswith(
        "DAY#2026-11-23#"
    )


@pytest.mark.parametrize("legacy", ["true", "false"])
def test_the_by_day_entry_does_not_move_with_a_transition(
    monkeypatch: pytest.MonkeyPatch, legacy: str
) -> None:
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, legacy)
    received = make_order("PO-1", status=OrderStatus.RECEIVED, created_at=T0, updated_at=T0)
    submitted = received.model_copy(
        update={"status": OrderStatus.SUBMITTED, "updated_at": T0 + timedelta(hours=1)}
    )

    before = from_attribute_values(order_to_item(received))
    after = from_attribute_values(order_to_item(submitted))

    assert (before["day_pk"], before["created_at"]) == (after["day_pk"], after["created_at"])
    assert before["day_pk"] == keys.day_partition(T0, "PO-1")
    assert ("status_pk" in before) is (legacy == "true")
