"""The status events function: stream records in, PayoutStatusChanged events out on the bus
(moto EventBridge, with a rule delivering to a consumer's queue), failed entries retried."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from moto import mock_aws

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.services.operator import close_order
from payouts.services.settlement import escalate
from payouts.store import Applied, OrderStore
from payouts.store.codec import evidence_to_item, order_to_item
from payouts.store.orders import CLIENT_CONFIG
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.handlers import load_handler
from tests.support.orders import T0, make_request

S = OrderStatus
SAMPLE = Path(__file__).resolve().parents[3] / "events" / "dynamodb" / "order-stream.json"
BUS = "payouts-test"


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str = "payouts-status-events"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:payouts-status-events"
    )
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@dataclass
class Bus:
    """The payouts bus and a consumer's queue subscribed to PayoutStatusChanged."""

    consumer_url: str

    def received(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        events: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.consumer_url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return events
            events.extend(json.loads(message["Body"]) for message in messages)


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    with mock_aws():
        events = boto3.client("events")
        sqs = boto3.client("sqs")
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="consumer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {"source": ["payouts"], "detail-type": ["PayoutStatusChanged"]}
        events.put_rule(Name="consumer", EventBusName=BUS, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule="consumer", EventBusName=BUS, Targets=[{"Id": "consumer", "Arn": queue_arn}]
        )
        monkeypatch.setenv("ORDERS_TABLE", "orders-test")
        monkeypatch.setenv("EVENT_BUS_NAME", BUS)
        yield Bus(queue_url)


@pytest.fixture
def store(bus: Bus) -> OrderStore:
    client = boto3.client("dynamodb", config=CLIENT_CONFIG)
    table = f"orders-{uuid.uuid4().hex[:8]}"
    client.create_table(**table_create_kwargs(load_template(), "OrdersTable", table))
    return OrderStore(client, table)


def invoke(event: dict[str, Any], handler: ModuleType | None = None) -> list[str]:
    module = handler or load_handler("status_events")
    answer = module.lambda_handler(event, LambdaContext())
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


class StreamWriter:
    """Turns store writes into the stream records DynamoDB would emit for them."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def order_changed(self, before: Order | None, after: Order) -> None:
        body: dict[str, Any] = {"NewImage": order_to_item(after)}
        if before is not None:
            body["OldImage"] = order_to_item(before)
        self._append("MODIFY" if before else "INSERT", after.payout_id, "ORDER", body)

    def evidence_added(self, order: Order, evidence: Evidence) -> None:
        item = evidence_to_item(order.payout_id, evidence, uuid.uuid4().hex[:12], order.version)
        self._append("INSERT", order.payout_id, item["SK"]["S"], {"NewImage": item})  # type: ignore[typeddict-item]

    def event(self) -> dict[str, Any]:
        return {"Records": self.records}

    def _append(self, name: str, payout_id: str, sort_key: str, body: dict[str, Any]) -> None:
        sequence = str(1000 + len(self.records))
        self.records.append(
            {
                "eventID": uuid.uuid4().hex,
                "eventName": name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
                "dynamodb": {
                    "Keys": {"PK": {"S": f"PAYOUT#{payout_id}"}, "SK": {"S": sort_key}},
                    "SequenceNumber": sequence,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                    **body,
                },
            }
        )


# What pg_v2 reported when it paid (written with the SUCCEEDED transition, as settlement does).
PAID_FIGURES: dict[str, Any] = {
    "fee_minor": 1250,
    "fee_currency": "INR",
    "provider_reference": "411712345678",
    "paid_at": T0 + timedelta(seconds=3, microseconds=500_000),
}


def life_of_a_payout(store: OrderStore, stream: StreamWriter, payout_id: str) -> None:
    """RECEIVED -> SUBMITTING -> SUBMITTED -> (rescheduled) -> SUCCEEDED, as the store writes it."""
    request = make_request(payout_id, "UPI", metadata={"source": "settlements"})
    order = store.create(request, T0, T0 + timedelta(hours=1)).order
    stream.order_changed(None, order)
    steps: list[tuple[OrderStatus | None, dict[str, Any]]] = [
        (S.SUBMITTING, {"provider": "pg_v2"}),
        (S.SUBMITTED, {"provider_order_id": "PN1"}),
        (None, {"check_attempts": 1}),
        (S.SUCCEEDED, {"status_reason": "PAID", **PAID_FIGURES}),
    ]
    for number, (status, changes) in enumerate(steps, start=1):
        now = T0 + timedelta(seconds=number)
        evidence = Evidence(kind=EvidenceKind.TRANSITION, summary=f"step {number}", at=now)
        if status is None:
            result = store.update(order, now, evidence, **changes)
        else:
            result = store.transition(order, status, evidence, now, **changes)
        assert isinstance(result, Applied)
        stream.order_changed(order, result.order)
        stream.evidence_added(result.order, evidence)
        order = result.order


def test_the_sample_stream_puts_one_event_per_status_change_on_the_bus(bus: Bus) -> None:
    event = json.loads(SAMPLE.read_text(encoding="utf-8"))

    assert invoke(event) == []

    received = bus.received()
    assert [(e["detail"]["old_status"], e["detail"]["new_status"]) for e in received] == [
        (None, "RECEIVED"),
        ("RECEIVED", "SUBMITTING"),
        ("SUBMITTING", "SUBMITTED"),
    ]
    assert {e["source"] for e in received} == {"payouts"}
    assert {e["detail-type"] for e in received} == {"PayoutStatusChanged"}


def test_the_function_counts_the_funnel_by_provider_and_status(
    bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads(SAMPLE.read_text(encoding="utf-8"))

    assert invoke(event) == []

    documents = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line
    ]
    funnel = {
        (document["provider"], document["status"]): document["StatusChanged"]
        for document in documents
        if "StatusChanged" in document
    }
    assert funnel == {
        ("none", "RECEIVED"): [1.0],
        ("gateway_v2", "SUBMITTING"): [1.0],
        ("gateway_v2", "SUBMITTED"): [1.0],
    }


def test_a_payouts_life_is_told_in_status_changes_only(bus: Bus, store: OrderStore) -> None:
    stream = StreamWriter()
    life_of_a_payout(store, stream, "PO-7")

    assert invoke(stream.event()) == []

    details = sorted((e["detail"] for e in bus.received()), key=lambda d: d["version"])
    assert [(d["old_status"], d["new_status"], d["version"]) for d in details] == [
        (None, "RECEIVED", 1),
        ("RECEIVED", "SUBMITTING", 2),
        ("SUBMITTING", "SUBMITTED", 3),
        ("SUBMITTED", "SUCCEEDED", 5),
    ]
    # Until the provider reports its figures, they are all null.
    assert details[2]["figures"] == {
        "fee": None,
        "credited": None,
        "provider_reference": None,
        "paid_at": None,
    }
    succeeded = details[-1]
    assert succeeded == {
        "schema_version": "2",
        "payout_id": "PO-7",
        "old_status": "SUBMITTED",
        "new_status": "SUCCEEDED",
        "amount": {"value": 50000, "currency": "INR"},
        "provider": "pg_v2",
        "provider_order_id": "PN1",
        "figures": {
            "fee": {"value": 1250, "currency": "INR"},
            "credited": None,
            "provider_reference": "411712345678",
            "paid_at": "2026-11-22T08:00:03.500000Z",
        },
        "status_reason": "PAID",
        "needs_review": False,
        "metadata": {"source": "settlements"},
        "version": 5,
        "changed_at": "2026-11-22T08:00:04Z",
    }


def test_only_the_records_whose_entries_failed_are_retried(
    bus: Bus, store: OrderStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = StreamWriter()
    life_of_a_payout(store, stream, "PO-8")
    handler = load_handler("status_events")
    client = handler.events()
    put_events = client.put_events

    def refuse_submitting(**request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        refused = ['"new_status":"SUBMITTING"' in entry["Detail"] for entry in entries]
        accepted = put_events(Entries=[e for e, no in zip(entries, refused, strict=True) if not no])
        answers = iter(accepted["Entries"])
        return {
            "FailedEntryCount": sum(refused),
            "Entries": [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
                if no
                else next(answers)
                for no in refused
            ],
        }

    monkeypatch.setattr(client, "put_events", refuse_submitting)

    failed = invoke(stream.event(), handler)

    submitting = [
        record["dynamodb"]["SequenceNumber"]
        for record in stream.records
        if record["dynamodb"].get("NewImage", {}).get("status", {}).get("S") == "SUBMITTING"
        and record["dynamodb"]["Keys"]["SK"]["S"] == "ORDER"
    ]
    assert failed == submitting
    assert sorted(e["detail"]["new_status"] for e in bus.received()) == [
        "RECEIVED",
        "SUBMITTED",
        "SUCCEEDED",
    ]


def test_a_batch_whose_events_all_failed_fails_whole(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = load_handler("status_events")
    client = handler.events()

    def throttled(**request: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "PutEvents")

    monkeypatch.setattr(client, "put_events", throttled)
    event = json.loads(SAMPLE.read_text(encoding="utf-8"))
    changes_only = {"Records": [event["Records"][0], event["Records"][2], event["Records"][3]]}

    with pytest.raises(BatchProcessingError):
        invoke(changes_only, handler)

    assert bus.received() == []


def subscribe_to_reviews() -> Bus:
    """A second consumer, subscribed to the escalation events only."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="reviews")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    pattern = {"source": ["payouts"], "detail-type": ["PayoutNeedsReview", "PayoutReviewResolved"]}
    events.put_rule(Name="reviews", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="reviews", EventBusName=BUS, Targets=[{"Id": "r", "Arn": queue_arn}])
    return Bus(queue_url)


def escalated_then_closed(store: OrderStore, stream: StreamWriter, payout_id: str) -> None:
    """RECEIVED -> SUBMITTING -> UNKNOWN, escalated, then closed FAILED by a person."""
    request = make_request(payout_id, "UPI", metadata={"source": "settlements"})
    order = store.create(request, T0, T0 + timedelta(hours=1)).order
    stream.order_changed(None, order)
    for number, status in enumerate((S.SUBMITTING, S.UNKNOWN), start=1):
        evidence = Evidence(kind=EvidenceKind.TRANSITION, summary=f"to {status}")
        moved = store.transition(order, status, evidence, T0 + timedelta(seconds=number))
        assert isinstance(moved, Applied)
        stream.order_changed(order, moved.order)
        order = moved.order
    note = Evidence(kind=EvidenceKind.QUERY, summary="no such order")
    flagged = escalate(store, order, "no order under this number", note, T0 + timedelta(minutes=1))
    assert flagged is not None
    stream.order_changed(order, flagged.order)
    closed = close_order(
        store,
        payout_id,
        S.FAILED,
        reason="provider: never received",
        reference=None,
        operator="alice",
        now=T0 + timedelta(minutes=2),
    )
    stream.order_changed(flagged.order, closed)


def test_an_escalation_and_its_close_reach_review_subscribers(bus: Bus, store: OrderStore) -> None:
    reviews = subscribe_to_reviews()
    stream = StreamWriter()
    escalated_then_closed(store, stream, "PO-9")

    assert invoke(stream.event()) == []

    told = sorted(reviews.received(), key=lambda e: e["detail"]["version"])
    assert [(e["detail-type"], e["detail"]["status"], e["detail"]["version"]) for e in told] == [
        ("PayoutNeedsReview", "UNKNOWN", 4),
        ("PayoutReviewResolved", "FAILED", 5),
    ]
    assert {e["detail"]["reason"] for e in told} == {"no order under this number"}
    assert told[0]["detail"]["changed_at"] == "2026-11-22T08:01:00Z"
    statuses = [e["detail"]["new_status"] for e in bus.received()]
    assert sorted(statuses) == ["FAILED", "RECEIVED", "SUBMITTING", "UNKNOWN"]


def test_a_close_whose_review_event_failed_is_retried_whole(
    bus: Bus, store: OrderStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reviews = subscribe_to_reviews()
    stream = StreamWriter()
    escalated_then_closed(store, stream, "PO-10")
    handler = load_handler("status_events")
    client = handler.events()
    put_events = client.put_events

    def refuse_resolved(**request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        refused = [entry["DetailType"] == "PayoutReviewResolved" for entry in entries]
        accepted = put_events(Entries=[e for e, no in zip(entries, refused, strict=True) if not no])
        answers = iter(accepted["Entries"])
        return {
            "FailedEntryCount": sum(refused),
            "Entries": [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
                if no
                else next(answers)
                for no in refused
            ],
        }

    monkeypatch.setattr(client, "put_events", refuse_resolved)

    failed = invoke(stream.event(), handler)

    # Only the close's record fails (its status event went out; the retry sends both again).
    assert failed == [stream.records[-1]["dynamodb"]["SequenceNumber"]]
    assert [e["detail-type"] for e in reviews.received()] == ["PayoutNeedsReview"]
