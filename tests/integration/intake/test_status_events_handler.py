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


def life_of_a_payout(store: OrderStore, stream: StreamWriter, payout_id: str) -> None:
    """RECEIVED -> SUBMITTING -> SUBMITTED -> (rescheduled) -> SUCCEEDED, as the store writes it."""
    request = make_request(payout_id, "UPI", metadata={"source": "settlements"})
    order = store.create(request, T0, T0 + timedelta(hours=1)).order
    stream.order_changed(None, order)
    steps: list[tuple[OrderStatus | None, dict[str, Any]]] = [
        (S.SUBMITTING, {"provider": "pg_v2"}),
        (S.SUBMITTED, {"provider_order_id": "PN1"}),
        (None, {"check_attempts": 1}),
        (S.SUCCEEDED, {"status_reason": "PAID"}),
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
    succeeded = details[-1]
    assert succeeded == {
        "schema_version": "1",
        "payout_id": "PO-7",
        "old_status": "SUBMITTED",
        "new_status": "SUCCEEDED",
        "amount": {"value": 50000, "currency": "INR"},
        "provider": "pg_v2",
        "provider_order_id": "PN1",
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
