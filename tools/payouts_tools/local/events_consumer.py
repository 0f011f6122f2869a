"""A local consumer of the status events other services would receive from the event bus.

It subscribes the way a consuming service would on AWS: an EventBridge rule on the bus, matching
``PayoutStatusChanged``, targeting an SQS queue of its own, which it polls. Every event is
recorded (``events()``, ``for_payout()``) and handed to an optional ``on_event`` callback
(``payouts up`` prints them).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

STATUS_CHANGED: Final = "PayoutStatusChanged"
_WAIT_TIME_S: Final = 1


@dataclass(frozen=True)
class BusEvent:
    """One event as delivered from the bus: its envelope fields and its ``detail``."""

    event_id: str
    detail_type: str
    source: str
    time: str
    detail: Mapping[str, Any]

    @property
    def payout_id(self) -> str | None:
        """The payout the event is about, when the detail names one."""
        value = self.detail.get("payout_id")
        return value if isinstance(value, str) else None


class StatusEventsConsumer:
    """An EventBridge rule on ``bus_name`` to a queue of its own, polled on a thread."""

    def __init__(
        self,
        events: EventBridgeClient,
        sqs: SQSClient,
        bus_name: str,
        name: str,
        *,
        on_event: Callable[[BusEvent], None] | None = None,
        detail_types: tuple[str, ...] = (STATUS_CHANGED,),
    ) -> None:
        self._events = events
        self._sqs = sqs
        self._bus_name = bus_name
        self._name = name
        self._on_event = on_event
        self._detail_types = detail_types
        self._queue_url: str | None = None
        self._received: list[BusEvent] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self) -> str:
        """Create the queue, the rule and its target; returns the queue URL."""
        queue_url = self._sqs.create_queue(QueueName=self._name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._events.put_rule(
            Name=self._name,
            EventBusName=self._bus_name,
            EventPattern=json.dumps({"detail-type": list(self._detail_types)}),
            State="ENABLED",
            Description="local consumer of payout status events",
        )
        self._events.put_targets(
            Rule=self._name,
            EventBusName=self._bus_name,
            Targets=[{"Id": "local-consumer", "Arn": queue_arn}],
        )
        self._queue_url = queue_url
        return queue_url

    def start(self) -> None:
        """Subscribe (if not yet) and start polling."""
        if self._thread is not None:
            raise RuntimeError("the consumer is already started")
        if self._queue_url is None:
            self.subscribe()
        self._thread = threading.Thread(target=self._run, name="status-events", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop polling."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def events(self) -> list[BusEvent]:
        """Every event received so far, in arrival order."""
        with self._lock:
            return list(self._received)

    def for_payout(self, payout_id: str) -> list[BusEvent]:
        """The events about one payout, in arrival order."""
        return [event for event in self.events() if event.payout_id == payout_id]

    def poll_once(self, wait_time_s: int = _WAIT_TIME_S) -> int:
        """Receive what is on the queue once; returns how many events were new."""
        if self._queue_url is None:
            raise RuntimeError("subscribe() first")
        answer = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_time_s
        )
        messages = answer.get("Messages", [])
        new = 0
        for message in messages:
            event = _parse(message.get("Body", ""))
            if event is not None and self._record(event):
                new += 1
        if messages:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)
                ],
            )
        return new

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling the status events queue failed")
                self._stopping.wait(1.0)

    def _record(self, event: BusEvent) -> bool:
        with self._lock:
            # EventBridge delivers at least once; a redelivered event id is not a new event.
            if event.event_id in self._seen:
                return False
            self._seen.add(event.event_id)
            self._received.append(event)
        if self._on_event is not None:
            self._on_event(event)
        return True


def _parse(body: str) -> BusEvent | None:
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError:
        log.warning("a non-JSON message on the status events queue")
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("detail"), dict):
        log.warning("a message that is not an EventBridge event on the status events queue")
        return None
    return BusEvent(
        event_id=str(envelope.get("id", "")),
        detail_type=str(envelope.get("detail-type", "")),
        source=str(envelope.get("source", "")),
        time=str(envelope.get("time", "")),
        detail=envelope["detail"],
    )
