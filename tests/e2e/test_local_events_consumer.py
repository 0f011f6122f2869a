"""The local consumer of status events subscribes to the bus as another service would, and
records each event once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from payouts_tools.local.embedded_aws import EmbeddedAws
from payouts_tools.local.events_consumer import BusEvent, StatusEventsConsumer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as running:
        yield running


@pytest.fixture
def bus(aws: EmbeddedAws) -> str:
    name = f"payouts-{uuid.uuid4().hex[:8]}"
    aws.client("events").create_event_bus(Name=name)
    return name


def put(aws: EmbeddedAws, bus: str, detail_type: str, detail: dict[str, object]) -> None:
    aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "payouts",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )


def drain(consumer: StatusEventsConsumer) -> None:
    while consumer.poll_once(wait_time_s=0):
        pass


def test_status_events_are_received_and_other_types_are_not(aws: EmbeddedAws, bus: str) -> None:
    printed: list[BusEvent] = []
    consumer = StatusEventsConsumer(
        aws.client("events"), aws.client("sqs"), bus, f"tap-{bus}", on_event=printed.append
    )
    consumer.subscribe()

    put(aws, bus, "PayoutStatusChanged", {"payout_id": "PO-1", "new_status": "RECEIVED"})
    put(aws, bus, "SomethingElse", {"payout_id": "PO-2"})
    put(aws, bus, "PayoutStatusChanged", {"payout_id": "PO-1", "new_status": "SUBMITTING"})
    drain(consumer)

    assert [event.detail["new_status"] for event in consumer.for_payout("PO-1")] == [
        "RECEIVED",
        "SUBMITTING",
    ]
    assert consumer.for_payout("PO-2") == []
    assert printed == consumer.events()
    assert {event.source for event in printed} == {"payouts"}


def test_a_redelivered_event_is_recorded_once(aws: EmbeddedAws, bus: str) -> None:
    consumer = StatusEventsConsumer(aws.client("events"), aws.client("sqs"), bus, f"tap-{bus}")
    queue_url = consumer.subscribe()
    envelope = {
        "id": "same-event-id",
        "detail-type": "PayoutStatusChanged",
        "source": "payouts",
        "time": "2026-11-22T08:00:00Z",
        "detail": {"payout_id": "PO-9", "new_status": "SUCCEEDED"},
    }
    sqs = aws.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(envelope))
    sqs.send_message(QueueUrl=queue_url, MessageBody="not json")

    drain(consumer)

    assert [event.event_id for event in consumer.events()] == ["same-event-id"]


def test_the_consumer_runs_on_its_own_thread_and_stops(aws: EmbeddedAws, bus: str) -> None:
    consumer = StatusEventsConsumer(aws.client("events"), aws.client("sqs"), bus, f"tap-{bus}")
    consumer.start()
    put(aws, bus, "PayoutStatusChanged", {"payout_id": "PO-3", "new_status": "RECEIVED"})

    deadline = time.monotonic() + 10
    while not consumer.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.stop()

    assert [event.payout_id for event in consumer.events()] == ["PO-3"]
