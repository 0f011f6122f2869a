"""A DynamoDB Streams event source with Lambda's semantics, for the local stack.

It reads the table's stream (moto in server mode serves ``dynamodbstreams``) and invokes the
real handler (the status-event publisher) with Lambda's DynamoDB event shape:

- per shard, in order, batches of up to ``batch_size`` records from ``starting_position``,
  after the mapping's ``FilterCriteria`` (records that match no filter are skipped, never
  delivered, as Lambda drops them);
- a handler error retries the batch, up to ``maximum_retry_attempts``; with
  ``bisect_on_error`` each failed attempt halves the batch first, so a poison record ends up
  alone; a batch still failing is discarded, and described to the ``on_failure`` destination
  (Lambda's ``DDBStreamBatchInfo`` record) so nothing is lost silently;
- with ``ReportBatchItemFailures`` the handler names the first failed record by its
  ``SequenceNumber``: the records before it are done, the retry starts at it.

Not modelled (the template does not use them): tumbling windows, parallelisation factor > 1,
shard splits.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from payouts_tools.local.event_filter import delivered
from payouts_tools.local.lambda_runtime import Handler, HandlerFactory, LocalLambdaContext

log = logging.getLogger(__name__)

# How long the poller sleeps when a shard has nothing new (Lambda polls about 4 times a second).
_IDLE_WAIT_S: Final = 0.25
# Pause before retrying a failed batch, so a broken handler does not spin.
_RETRY_PAUSE_S: Final = 0.5


@dataclass(frozen=True)
class StreamSourceConfig:
    """One DynamoDB event source mapping (from the function's ``Events`` in the template)."""

    stream_arn: str
    function_name: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    # -1: retry until the records expire (Lambda's default); the local stack reads the template.
    maximum_retry_attempts: int = -1
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        if self.starting_position not in {"TRIM_HORIZON", "LATEST"}:
            raise ValueError("starting_position must be TRIM_HORIZON or LATEST")


@dataclass
class StreamStats:
    """Running totals, for ``payouts up`` and tests."""

    batches: int = 0
    records: int = 0
    filtered_out: int = 0
    retries: int = 0
    discarded: int = 0


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    limit: int = 0  # the current batch size (halved while bisecting a failing batch)


class StreamEventSource:
    """Polls every shard of one stream and invokes a handler in order (see module doc)."""

    def __init__(
        self,
        client: Any,
        config: StreamSourceConfig,
        handler_factory: HandlerFactory,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        # ``client`` is a boto3 ``dynamodbstreams`` client (no type stubs are installed for it).
        self._client = client
        self._on_failure = on_failure
        self._config = config
        self._handler_factory = handler_factory
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._shards: list[_Shard] = []
        self.stats = StreamStats()

    def start(self) -> None:
        """Open an iterator on every shard and start the polling thread."""
        if self._thread is not None:
            raise RuntimeError("the stream source is already started")
        self._shards = self._open_shards()
        handler = self._handler_factory()
        self._thread = threading.Thread(
            target=self._run, args=(handler,), name="stream-source", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop polling once the batch in flight is done."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def poll_once(self, handler: Handler) -> int:
        """Read every shard once and invoke ``handler`` for what is pending; records handled."""
        if not self._shards:
            self._shards = self._open_shards()
        return sum(self._poll_shard(shard, handler) for shard in self._shards)

    def _run(self, handler: Handler) -> None:
        while not self._stopping.is_set():
            try:
                handled = self.poll_once(handler)
            except Exception:
                log.exception("reading stream %s failed", self._config.stream_arn)
                handled = 0
            if handled == 0:
                self._stopping.wait(_IDLE_WAIT_S)

    def _open_shards(self) -> list[_Shard]:
        description = self._client.describe_stream(StreamArn=self._config.stream_arn)
        shards = []
        for shard in description["StreamDescription"].get("Shards", []):
            iterator = self._client.get_shard_iterator(
                StreamArn=self._config.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType=self._config.starting_position,
            )["ShardIterator"]
            shards.append(
                _Shard(shard_id=shard["ShardId"], iterator=iterator, limit=self._config.batch_size)
            )
        return shards

    def _poll_shard(self, shard: _Shard, handler: Handler) -> int:
        self._fill(shard)
        if not shard.pending:
            return 0
        batch = shard.pending[: shard.limit]
        done = self._invoke(handler, batch)
        if done == len(batch):
            shard.attempts, shard.limit = 0, self._config.batch_size
        elif done == 0 and self._config.bisect_on_error and len(batch) > 1:
            # Lambda splits a failing batch and retries the halves; the poison record ends up
            # alone (the records before it are delivered on the way).
            shard.limit = (len(batch) + 1) // 2
            self.stats.retries += 1
        elif self._out_of_retries(shard):
            self._discard(shard, batch[done:])
            done, shard.attempts, shard.limit = len(batch), 0, self._config.batch_size
        else:
            shard.attempts += 1
            self.stats.retries += 1
            self._stopping.wait(_RETRY_PAUSE_S)
        del shard.pending[:done]
        return done

    def _discard(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        log.error("discarding %d stream records after retries", len(records))
        self.stats.discarded += len(records)
        if self._on_failure is None:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        self._on_failure(
            {
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(),
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": self._config.function_name,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": shard.attempts + 1,
                },
                "DDBStreamBatchInfo": {
                    "shardId": shard.shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                    "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                    "batchSize": len(records),
                    "streamArn": self._config.stream_arn,
                },
            }
        )

    def _fill(self, shard: _Shard) -> None:
        wanted = self._config.batch_size - len(shard.pending)
        if wanted <= 0 or shard.iterator is None:
            return
        answer = self._client.get_records(ShardIterator=shard.iterator, Limit=wanted)
        shard.iterator = answer.get("NextShardIterator")
        for raw in answer.get("Records", []):
            record = self._record(raw)
            if delivered(self._config.filters, record):
                shard.pending.append(record)
            else:
                self.stats.filtered_out += 1

    def _out_of_retries(self, shard: _Shard) -> bool:
        limit = self._config.maximum_retry_attempts
        return limit >= 0 and shard.attempts >= limit

    def _invoke(self, handler: Handler, batch: list[dict[str, Any]]) -> int:
        """How many records of ``batch``, from the start, are done."""
        context = LocalLambdaContext(function_name=self._config.function_name)
        try:
            answer = handler({"Records": batch}, context)
        except Exception:
            log.exception("%s failed a batch of %d", self._config.function_name, len(batch))
            return 0
        self.stats.batches += 1
        done = self._done_count(answer, batch)
        self.stats.records += done
        return done

    def _done_count(self, answer: Any, batch: list[dict[str, Any]]) -> int:
        if not self._config.report_batch_item_failures or not isinstance(answer, Mapping):
            return len(batch)
        failures = answer.get("batchItemFailures") or []
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        failed_positions = [
            sequence_numbers.index(failure.get("itemIdentifier"))
            for failure in failures
            if isinstance(failure, Mapping) and failure.get("itemIdentifier") in sequence_numbers
        ]
        if len(failed_positions) != len(failures):
            return 0  # an unreadable report fails the whole batch, as in Lambda
        return min(failed_positions, default=len(batch))

    def _record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A ``GetRecords`` record as Lambda's DynamoDB event record."""
        event: dict[str, Any] = _jsonable(dict(record))
        event["eventSourceARN"] = self._config.stream_arn
        event.setdefault("awsRegion", self._config.region)
        return event


def _jsonable(value: Any) -> Any:
    # boto3 parses timestamps and binary values; Lambda's event carries epoch seconds and base64.
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    return value
