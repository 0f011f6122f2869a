"""The local DynamoDB Streams event source behaves like Lambda's: order, shape, filters, partial
failures, retries, bisecting and the on-failure destination."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from payouts_tools.local.embedded_aws import EmbeddedAws
from payouts_tools.local.event_filter import compile_filters
from payouts_tools.local.stream_poller import StreamEventSource, StreamSourceConfig

pytestmark = pytest.mark.e2e

# The template's filter on the status events mapping.
ORDER_ITEMS_ONLY = {
    "Filters": [
        {
            "Pattern": '{"eventName": ["INSERT", "MODIFY"], '
            '"dynamodb": {"Keys": {"SK": {"S": ["ORDER"]}}}}'
        }
    ]
}


class Table:
    """A table with a NEW_AND_OLD_IMAGES stream, as the template's, in moto's server (its
    in-process mock does not route DynamoDB Streams calls)."""

    def __init__(self, aws: EmbeddedAws) -> None:
        self.client = aws.client("dynamodb")
        self.name = f"orders-{uuid.uuid4().hex[:8]}"
        described = self.client.create_table(
            TableName=self.name,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn = described["TableDescription"]["LatestStreamArn"]
        self.streams = aws.client("dynamodbstreams")

    def put(self, pk: str, sk: str = "ORDER", **attributes: str) -> None:
        item = {"PK": {"S": pk}, "SK": {"S": sk}} | {k: {"S": v} for k, v in attributes.items()}
        self.client.put_item(TableName=self.name, Item=item)

    def source(self, **options: Any) -> tuple[StreamEventSource, list[dict[str, Any]]]:
        failures: list[dict[str, Any]] = []
        config = StreamSourceConfig(
            stream_arn=self.stream_arn, function_name="status-events", **options
        )
        source = StreamEventSource(
            self.streams, config, handler_factory=lambda: _unused, on_failure=failures.append
        )
        return source, failures


def _unused(event: dict[str, Any], context: Any) -> Any:
    raise AssertionError("tests pass their handler to poll_once")


class Handler:
    """Records batches; fails records whose PK is listed, in the way it is told to."""

    def __init__(self, poison: frozenset[str] = frozenset(), report: bool = True) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.poison = poison
        self.report = report

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        records = event["Records"]
        self.batches.append(records)
        bad = [r for r in records if r["dynamodb"]["Keys"]["PK"]["S"] in self.poison]
        if bad and not self.report:
            raise RuntimeError("poison record")
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["dynamodb"]["SequenceNumber"]} for record in bad[:1]
            ]
        }

    def delivered(self) -> list[str]:
        return [r["dynamodb"]["Keys"]["PK"]["S"] for batch in self.batches for r in batch]


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as running:
        yield running


@pytest.fixture
def table(aws: EmbeddedAws) -> Table:
    return Table(aws)


def test_records_arrive_in_order_in_lambdas_shape(table: Table) -> None:
    for index in range(3):
        table.put(f"P{index}", status="RECEIVED")
    table.put("P0", status="SUBMITTED")
    source, _ = table.source(batch_size=10, starting_position="TRIM_HORIZON")
    handler = Handler()

    assert source.poll_once(handler) == 4

    assert handler.delivered() == ["P0", "P1", "P2", "P0"]
    record = handler.batches[0][3]
    assert record["eventName"] == "MODIFY"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == table.stream_arn
    assert record["dynamodb"]["OldImage"]["status"] == {"S": "RECEIVED"}
    assert record["dynamodb"]["NewImage"]["status"] == {"S": "SUBMITTED"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)


def test_filter_criteria_skip_what_lambda_would_not_deliver(table: Table) -> None:
    table.put("P1")
    table.put("P1", sk="EVT#1")
    table.put("P2")
    filters = tuple(compile_filters(ORDER_ITEMS_ONLY))
    source, _ = table.source(starting_position="TRIM_HORIZON", filters=filters)
    handler = Handler()

    source.poll_once(handler)

    assert handler.delivered() == ["P1", "P2"]
    assert source.stats.filtered_out == 1


def test_a_reported_failure_is_retried_from_that_record(table: Table) -> None:
    for key in ("P1", "P2", "P3"):
        table.put(key)
    source, _ = table.source(starting_position="TRIM_HORIZON", report_batch_item_failures=True)
    handler = Handler(poison=frozenset({"P2"}))

    source.poll_once(handler)
    handler.poison = frozenset()
    source.poll_once(handler)

    assert [[r["dynamodb"]["Keys"]["PK"]["S"] for r in b] for b in handler.batches] == [
        ["P1", "P2", "P3"],
        ["P2", "P3"],
    ]


def test_bisecting_isolates_a_poison_record_then_it_goes_to_the_destination(
    table: Table,
) -> None:
    for key in ("P1", "P2", "P3", "P4"):
        table.put(key)
    source, failures = table.source(
        starting_position="TRIM_HORIZON", bisect_on_error=True, maximum_retry_attempts=1
    )
    handler = Handler(poison=frozenset({"P3"}), report=False)

    for _ in range(8):
        source.poll_once(handler)

    sizes = [len(batch) for batch in handler.batches]
    assert sizes[:2] == [4, 2]  # halved after the failed attempt
    delivered_ok = [k for k in handler.delivered() if k != "P3"]
    assert sorted(set(delivered_ok)) == ["P1", "P2", "P4"]
    assert source.stats.discarded == 1
    (failure,) = failures
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == table.stream_arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_starting_at_latest_skips_what_was_written_before(table: Table) -> None:
    table.put("OLD")
    source, _ = table.source(starting_position="LATEST")
    handler = Handler()
    source.poll_once(handler)
    table.put("NEW")

    source.poll_once(handler)

    assert handler.delivered() == ["NEW"]


def test_config_refuses_impossible_values() -> None:
    with pytest.raises(ValueError, match="starting_position"):
        StreamSourceConfig(stream_arn="a", function_name="f", starting_position="AT_TIMESTAMP")
    with pytest.raises(ValueError, match="batch_size"):
        StreamSourceConfig(stream_arn="a", function_name="f", batch_size=0)
