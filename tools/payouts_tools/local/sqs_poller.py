"""An SQS event source with Lambda's semantics, for the local stack.

moto's own SQS event source mapping delivers one record per invocation and ignores
``ReportBatchItemFailures``; this one behaves like Lambda's:

- batches of up to ``batch_size`` messages, gathered for up to ``batching_window_s``;
- the records have Lambda's SQS event shape (``messageId``, ``receiptHandle``, ``body``,
  ``attributes``, ``messageAttributes``, ``md5OfBody``, ``eventSource``, ``eventSourceARN``...);
- with ``ReportBatchItemFailures``, the messages the handler names in ``batchItemFailures`` stay
  on the queue (they come back after the visibility timeout) and the rest are deleted; an
  answer Lambda cannot read (an empty or unknown ``itemIdentifier``) fails the whole batch;
- a handler that raises fails the whole batch: nothing is deleted;
- the dead-letter queue is the queue's own redrive policy (SQS moves a message received
  ``maxReceiveCount`` times; moto does it on receive, as SQS does);
- ``workers`` concurrent pollers, each with its own execution environment (handler module),
  like Lambda's concurrency up to the mapping's ``MaximumConcurrency``.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from payouts_tools.local.lambda_runtime import Handler, HandlerFactory, LocalLambdaContext

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

# SQS returns at most 10 messages per receive.
_MAX_PER_RECEIVE: Final = 10
# Long-poll wait per receive: short, so that stop() returns within about a second.
_WAIT_TIME_S: Final = 1


@dataclass(frozen=True)
class SqsSourceConfig:
    """One SQS event source mapping (from the function's ``Events`` in the template)."""

    queue_url: str
    queue_arn: str
    function_name: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = True
    workers: int = 1
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        if self.batching_window_s < 0 or self.workers < 1:
            raise ValueError("batching_window_s must be >= 0 and workers >= 1")


@dataclass(frozen=True)
class BatchResult:
    """What one invocation did to its batch."""

    received: int
    deleted: int
    left_on_queue: int
    error: str | None = None


@dataclass
class SourceStats:
    """Running totals, for ``payouts up`` and tests."""

    batches: int = 0
    messages: int = 0
    deleted: int = 0
    left_on_queue: int = 0
    handler_errors: int = 0
    largest_batch: int = 0


class SqsEventSource:
    """Polls one queue and invokes a handler with Lambda's batch semantics (see module doc)."""

    def __init__(
        self, client: SQSClient, config: SqsSourceConfig, handler_factory: HandlerFactory
    ) -> None:
        self._client = client
        self._config = config
        self._handler_factory = handler_factory
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.stats = SourceStats()

    @property
    def config(self) -> SqsSourceConfig:
        """The mapping this source implements."""
        return self._config

    def start(self) -> None:
        """Start ``workers`` polling threads."""
        if self._threads:
            raise RuntimeError("the event source is already started")
        self._stopping.clear()
        for index in range(self._config.workers):
            thread = threading.Thread(
                target=self._run,
                args=(self._handler_factory(),),
                name=f"sqs-source-{self._config.function_name}-{index}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop polling and wait for the batches in flight to finish."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def poll_once(self, handler: Handler, wait_time_s: int = _WAIT_TIME_S) -> BatchResult | None:
        """Receive one batch and invoke ``handler`` with it; None when the queue stayed empty."""
        messages = self._receive_batch(wait_time_s)
        if not messages:
            return None
        return self._invoke(handler, messages)

    def _run(self, handler: Handler) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once(handler)
            except Exception:
                # Like Lambda's poller: an SQS hiccup is logged and polling goes on.
                log.exception("polling %s failed", self._config.queue_url)
                self._stopping.wait(1.0)

    def _receive_batch(self, wait_time_s: int) -> list[MessageTypeDef]:
        config = self._config
        deadline = time.monotonic() + config.batching_window_s
        batch: list[MessageTypeDef] = []
        while len(batch) < config.batch_size and not self._stopping.is_set():
            wanted = min(_MAX_PER_RECEIVE, config.batch_size - len(batch))
            answer = self._client.receive_message(
                QueueUrl=config.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=0 if batch else wait_time_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            batch.extend(received)
            # Without a batching window Lambda invokes with what one poll returned; with one, it
            # keeps gathering until the batch is full or the window has passed.
            if not batch or config.batching_window_s == 0 or time.monotonic() >= deadline:
                break
            if not received:
                self._stopping.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return batch

    def _invoke(self, handler: Handler, messages: list[MessageTypeDef]) -> BatchResult:
        event = {"Records": [self._record(message) for message in messages]}
        context = LocalLambdaContext(function_name=self._config.function_name)
        try:
            answer = handler(event, context)
        except Exception as error:
            log.exception("%s failed a batch of %d", self._config.function_name, len(messages))
            return self._settle(messages, failed=set(), whole_batch_error=repr(error))
        failed, problem = self._failed_ids(answer, messages)
        return self._settle(messages, failed=failed, whole_batch_error=problem)

    def _failed_ids(
        self, answer: Any, messages: Sequence[MessageTypeDef]
    ) -> tuple[set[str], str | None]:
        """The message ids the handler reported failed, or a reason to fail the whole batch."""
        if not self._config.report_batch_item_failures:
            return set(), None
        if answer is None or (isinstance(answer, Mapping) and not answer):
            return set(), None
        if not isinstance(answer, Mapping):
            return set(), f"unreadable response {answer!r}"
        failures = answer.get("batchItemFailures")
        if failures is None:
            return set(), None
        known = {message["MessageId"] for message in messages}
        failed: set[str] = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            if not isinstance(identifier, str) or identifier not in known:
                return set(), f"batchItemFailures names {identifier!r}, not a message of the batch"
            failed.add(identifier)
        return failed, None

    def _settle(
        self, messages: Sequence[MessageTypeDef], failed: set[str], whole_batch_error: str | None
    ) -> BatchResult:
        if whole_batch_error is not None:
            done: list[MessageTypeDef] = []
        else:
            done = [message for message in messages if message["MessageId"] not in failed]
        self._delete(done)
        result = BatchResult(
            received=len(messages),
            deleted=len(done),
            left_on_queue=len(messages) - len(done),
            error=whole_batch_error,
        )
        self._count(result)
        return result

    def _delete(self, messages: Sequence[MessageTypeDef]) -> None:
        for start in range(0, len(messages), _MAX_PER_RECEIVE):
            chunk = messages[start : start + _MAX_PER_RECEIVE]
            answer = self._client.delete_message_batch(
                QueueUrl=self._config.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                # The message will come back after its visibility timeout: processed twice,
                # which the handler must (and does) tolerate.
                log.warning("could not delete a message: %s", failure.get("Message"))

    def _count(self, result: BatchResult) -> None:
        with self._lock:
            stats = self.stats
            stats.batches += 1
            stats.messages += result.received
            stats.deleted += result.deleted
            stats.left_on_queue += result.left_on_queue
            stats.handler_errors += int(result.error is not None)
            stats.largest_batch = max(stats.largest_batch, result.received)

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        """One message as Lambda's SQS event record."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._config.queue_arn,
            "awsRegion": self._config.region,
        }


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda spells the SQS API's attribute fields in camelCase.
    attribute: dict[str, Any] = {
        "dataType": value.get("DataType", "String"),
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
        ],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute
