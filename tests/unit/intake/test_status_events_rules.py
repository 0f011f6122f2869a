"""Status events: which stream records become events, what they carry, and which records fail
when PutEvents does not take their event."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.services.status_events import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    EventPublisher,
    PayoutStatusChanged,
    PublishFailed,
    publish_status_events,
    raise_if_failed,
    status_change,
)
from payouts.store.codec import order_to_item
from payouts_tools.event_schemas import STATUS_CHANGED_PATH, render_status_changed
from tests.support.orders import T0, make_order

SAMPLE = Path(__file__).resolve().parents[3] / "events" / "dynamodb" / "order-stream.json"
BUS = "payouts-test"


def sample_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(SAMPLE.read_text())["Records"]
    return records


def stream_record(
    name: str, new: Order | None, old: Order | None = None, sequence: str = "1"
) -> dict[str, Any]:
    item = new or old
    assert item is not None
    body: dict[str, Any] = {
        "Keys": {"PK": {"S": f"PAYOUT#{item.payout_id}"}, "SK": {"S": "ORDER"}},
        "SequenceNumber": sequence,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        body["NewImage"] = order_to_item(new)
    if old is not None:
        body["OldImage"] = order_to_item(old)
    return {"eventName": name, "dynamodb": body}


# --- which records call for an event ----------------------------------------------------------


def test_the_sample_stream_yields_one_event_per_status_change() -> None:
    details = [status_change(record) for record in sample_records()]

    assert [(d.old_status, d.new_status) if d else None for d in details] == [
        (None, OrderStatus.RECEIVED),  # order stored
        None,  # evidence item
        (OrderStatus.RECEIVED, OrderStatus.SUBMITTING),
        (OrderStatus.SUBMITTING, OrderStatus.SUBMITTED),
        None,  # rescheduled: same status
    ]


def test_an_event_carries_amount_provider_ids_metadata_and_version() -> None:
    submitted = status_change(sample_records()[3])

    assert submitted is not None
    assert submitted.payout_id == "PO-20261122-000001"
    assert submitted.amount is not None
    assert (submitted.amount.value, submitted.amount.currency) == (50000, "CNY")
    assert submitted.provider == "gateway_v2"
    assert submitted.provider_order_id == "POT00000001"
    assert submitted.metadata == {"source": "settlements"}
    assert submitted.version == 3
    assert submitted.needs_review is False
    assert submitted.changed_at.tzinfo is not None


def test_a_refused_invalid_request_has_no_amount_and_no_metadata() -> None:
    rejected = Order(
        payout_id="PO-9",
        request=None,
        invalid_request='{"payout_id":"PO-9"}',
        fingerprint="invalid",
        status=OrderStatus.REJECTED,
        version=1,
        status_reason="amount: Field required",
        created_at=T0,
        updated_at=T0,
    )

    detail = status_change(stream_record("INSERT", rejected))

    assert detail is not None
    assert detail.amount is None
    assert detail.metadata == {}
    assert detail.status_reason == "amount: Field required"


def test_removed_items_call_for_no_event() -> None:
    order = make_order("PO-1")

    assert status_change(stream_record("REMOVE", None, old=order)) is None


def test_an_unreadable_order_image_raises() -> None:
    record = stream_record("INSERT", make_order("PO-1"))
    del record["dynamodb"]["NewImage"]["status"]

    with pytest.raises(KeyError):
        status_change(record)


# --- publishing and failing records -----------------------------------------------------------


def test_only_records_whose_event_was_not_put_fail() -> None:
    published: list[PayoutStatusChanged] = []

    def publish(details: Sequence[PayoutStatusChanged]) -> list[str | None]:
        published.extend(details)
        return [None, "ThrottlingException: slow down", None]

    failures = publish_status_events(sample_records(), publish)

    assert [detail.new_status for detail in published] == [
        OrderStatus.RECEIVED,
        OrderStatus.SUBMITTING,
        OrderStatus.SUBMITTED,
    ]
    failed_sequence = sample_records()[2]["dynamodb"]["SequenceNumber"]
    assert failures == {failed_sequence: "ThrottlingException: slow down"}
    with pytest.raises(PublishFailed, match="ThrottlingException"):
        raise_if_failed(failures, failed_sequence)
    raise_if_failed(failures, sample_records()[3]["dynamodb"]["SequenceNumber"])


def test_an_unreadable_record_fails_alone() -> None:
    records = copy.deepcopy(sample_records())
    del records[0]["dynamodb"]["NewImage"]["version"]

    failures = publish_status_events(records, lambda details: [None] * len(details))

    assert set(failures) == {records[0]["dynamodb"]["SequenceNumber"]}
    assert "unreadable order image" in failures[records[0]["dynamodb"]["SequenceNumber"]]


def test_nothing_to_publish_makes_no_call() -> None:
    def publish(details: Sequence[PayoutStatusChanged]) -> list[str | None]:
        raise AssertionError("PutEvents called for nothing")

    assert publish_status_events([sample_records()[1], sample_records()[4]], publish) == {}


def _details(count: int) -> list[PayoutStatusChanged]:
    return [
        PayoutStatusChanged.between(None, make_order(f"PO-{number}")) for number in range(count)
    ]


def test_publisher_puts_ten_entries_per_call_on_the_bus() -> None:
    client = boto3.client("events", region_name="us-east-1")
    details = _details(12)
    with Stubber(client) as stub:
        for chunk in (details[:10], details[10:]):
            stub.add_response(
                "put_events",
                {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in chunk]},
                {
                    "Entries": [
                        {
                            "Source": EVENT_SOURCE,
                            "DetailType": DETAIL_TYPE,
                            "Detail": detail.model_dump_json(),
                            "EventBusName": BUS,
                            "Time": ANY,
                        }
                        for detail in chunk
                    ]
                },
            )

        results = EventPublisher(client, BUS).publish(details)

        stub.assert_no_pending_responses()
    assert results == [None] * 12


def test_publisher_reports_each_failed_entry_and_a_failed_call() -> None:
    client = boto3.client("events", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [
                    {"EventId": "e1"},
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
                ],
            },
        )
        stub.add_client_error("put_events", "ThrottlingException")

        first = EventPublisher(client, BUS).publish(_details(2))
        second = EventPublisher(client, BUS).publish(_details(2))

    assert first == [None, "InternalFailure: try again"]
    assert all(problem and "ThrottlingException" in problem for problem in second)


# --- the published schema -------------------------------------------------------------------------


def test_published_event_schema_is_up_to_date() -> None:
    # Regenerate with `python -m payouts_tools.event_schemas` after changing the model.
    assert STATUS_CHANGED_PATH.read_text(encoding="utf-8") == render_status_changed()


def test_schema_requires_every_field_consumers_rely_on() -> None:
    schema = json.loads(STATUS_CHANGED_PATH.read_text(encoding="utf-8"))

    assert schema["additionalProperties"] is False
    assert {
        "payout_id",
        "old_status",
        "new_status",
        "amount",
        "provider",
        "provider_order_id",
        "status_reason",
        "needs_review",
        "metadata",
        "version",
        "changed_at",
    } <= set(schema["required"])
