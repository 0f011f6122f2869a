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
    NEEDS_REVIEW_DETAIL_TYPE,
    REVIEW_RESOLVED_DETAIL_TYPE,
    EventPublisher,
    PayoutNeedsReview,
    PayoutReviewResolved,
    PayoutStatusChanged,
    PublishFailed,
    StatusEvent,
    publish_status_events,
    raise_if_failed,
    status_change,
    stream_events,
)
from payouts.store.codec import order_to_item
from payouts_tools.event_schemas import (
    NEEDS_REVIEW_PATH,
    REVIEW_RESOLVED_PATH,
    SCHEMA_FILES,
    STATUS_CHANGED_PATH,
    render_status_changed,
)
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


# --- escalations: the review flag turning true or false ---------------------------------------

REASON = "gateway_v2 has no order under this number"


def flagged(order: Order, version: int, reason: str = REASON) -> Order:
    return order.model_copy(
        update={
            "needs_review": True,
            "review_reason": reason,
            "version": version,
            "updated_at": T0.replace(minute=version),
        }
    )


def test_an_escalation_is_a_needs_review_event_without_a_status_event() -> None:
    unknown = make_order("PO-1").model_copy(update={"status": OrderStatus.UNKNOWN, "version": 4})
    escalated = flagged(unknown, 5)

    events = stream_events(stream_record("MODIFY", escalated, old=unknown))

    assert events == [
        PayoutNeedsReview(
            payout_id="PO-1",
            reason=REASON,
            status=OrderStatus.UNKNOWN,
            metadata=dict(unknown.request.metadata) if unknown.request else {},
            version=5,
            changed_at=escalated.updated_at,
        )
    ]
    assert status_change(stream_record("MODIFY", escalated, old=unknown)) is None


def test_a_resolved_review_carries_the_reason_it_resolves() -> None:
    escalated = flagged(make_order("PO-1"), 5)
    resolved = escalated.model_copy(
        update={"needs_review": False, "review_reason": None, "version": 6}
    )

    events = stream_events(stream_record("MODIFY", resolved, old=escalated))

    assert len(events) == 1
    event = events[0]
    assert isinstance(event, PayoutReviewResolved)
    assert (event.payout_id, event.reason, event.status, event.version) == (
        "PO-1",
        REASON,
        resolved.status,
        6,
    )


def test_a_close_is_a_status_event_and_a_resolved_review_of_one_version() -> None:
    unknown = make_order("PO-1").model_copy(update={"status": OrderStatus.UNKNOWN})
    escalated = flagged(unknown, 5)
    closed = escalated.model_copy(
        update={
            "status": OrderStatus.FAILED,
            "needs_review": False,
            "review_reason": None,
            "version": 6,
        }
    )

    events = stream_events(stream_record("MODIFY", closed, old=escalated))

    assert [type(event) for event in events] == [PayoutStatusChanged, PayoutReviewResolved]
    assert {event.version for event in events} == {6}
    assert events[0].new_status is OrderStatus.FAILED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    [
        {"review_reason": "a second reason"},  # flagged again while flagged
        {"next_check_at": T0},  # a reschedule of a flagged order
    ],
)
def test_a_write_that_keeps_the_flag_and_status_is_no_event(change: dict[str, Any]) -> None:
    escalated = flagged(make_order("PO-1"), 5)
    rewritten = escalated.model_copy(update={**change, "version": 6})

    assert stream_events(stream_record("MODIFY", rewritten, old=escalated)) == []


def test_a_record_fails_when_either_of_its_events_is_not_put() -> None:
    escalated = flagged(make_order("PO-1").model_copy(update={"status": OrderStatus.UNKNOWN}), 5)
    closed = escalated.model_copy(
        update={"status": OrderStatus.SUCCEEDED, "needs_review": False, "version": 6}
    )
    records = [
        stream_record("MODIFY", closed, old=escalated, sequence="10"),
        stream_record("MODIFY", flagged(make_order("PO-2"), 3), make_order("PO-2"), "11"),
    ]
    published: list[StatusEvent] = []

    def publish(details: Sequence[StatusEvent]) -> list[str | None]:
        published.extend(details)
        return [None, "InternalFailure: try again", None]

    failures = publish_status_events(records, publish)

    assert [event.detail_type for event in published] == [
        DETAIL_TYPE,
        REVIEW_RESOLVED_DETAIL_TYPE,
        NEEDS_REVIEW_DETAIL_TYPE,
    ]
    assert failures == {"10": "InternalFailure: try again"}


def test_publisher_puts_review_events_under_their_own_detail_type() -> None:
    client = boto3.client("events", region_name="us-east-1")
    escalated = flagged(make_order("PO-1"), 5)
    details: list[StatusEvent] = [
        PayoutNeedsReview.of(escalated),
        PayoutReviewResolved.between(escalated, escalated.model_copy(update={"version": 6})),
    ]
    with Stubber(client) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}, {"EventId": "e2"}]},
            {
                "Entries": [
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": detail.model_dump_json(),
                        "EventBusName": BUS,
                        "Time": detail.changed_at,
                    }
                    for detail_type, detail in zip(
                        (NEEDS_REVIEW_DETAIL_TYPE, REVIEW_RESOLVED_DETAIL_TYPE),
                        details,
                        strict=True,
                    )
                ]
            },
        )

        assert EventPublisher(client, BUS).publish(details) == [None, None]
        stub.assert_no_pending_responses()


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


@pytest.mark.parametrize(
    ("path", "render"), SCHEMA_FILES, ids=lambda value: getattr(value, "name", "")
)
def test_every_published_event_schema_is_up_to_date(path: Path, render: Any) -> None:
    assert path.read_text(encoding="utf-8") == render()


@pytest.mark.parametrize("path", [NEEDS_REVIEW_PATH, REVIEW_RESOLVED_PATH])
def test_review_schemas_are_closed_and_require_every_field(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))

    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "payout_id",
        "reason",
        "status",
        "metadata",
        "version",
        "changed_at",
    }


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
