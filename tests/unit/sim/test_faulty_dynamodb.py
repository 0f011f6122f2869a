"""FaultyDynamoDB fails as botocore does after its retries, and applies writes only as promised."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from moto import mock_aws

from payouts.domain.status import OrderStatus
from payouts.store import AlreadyExists, Applied, Created, OrderStore
from payouts.store.orders import CLIENT_CONFIG, SweepPosition
from payouts_tools.sim.dynamodb import MemoryDynamoDB, table_kwargs_from_template
from payouts_tools.sim.faulty_dynamodb import DynamoFault, FaultyDynamoDB, retries_of
from tests.support.orders import T0, make_request

TABLE = "orders"
F = DynamoFault


class Script:
    """``decide``: the next planned fault for an operation, recording every question."""

    def __init__(self) -> None:
        self.planned: dict[str, list[DynamoFault]] = {}
        self.asked: list[tuple[str, Mapping[str, Any]]] = []

    def plan(self, operation: str, *faults: DynamoFault) -> None:
        self.planned.setdefault(operation, []).extend(faults)

    def __call__(self, operation: str, params: Mapping[str, Any]) -> DynamoFault | None:
        self.asked.append((operation, params))
        planned = self.planned.get(operation)
        return planned.pop(0) if planned else None


class Hooks:
    """``around``: records the calls, and can crash at one of them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.crash_at: tuple[str, str] | None = None

    def __call__(self, phase: str, operation: str) -> None:
        self.calls.append((phase, operation))
        if (phase, operation) == self.crash_at:
            raise Crash(f"{phase} {operation}")


class Crash(Exception):
    """The simulated process died."""


@pytest.fixture(scope="module")
def orders_table() -> dict[str, Any]:
    return table_kwargs_from_template(TABLE)


@pytest.fixture
def memory(orders_table: dict[str, Any]) -> MemoryDynamoDB:
    client = MemoryDynamoDB()
    client.create_table(**copy.deepcopy(orders_table))
    return client


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def faulty(memory: MemoryDynamoDB, script: Script, hooks: Hooks) -> FaultyDynamoDB:
    return FaultyDynamoDB(memory, decide=script, around=hooks)


def key(pk: str, sk: str = "ORDER") -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def put_new(client: Any, pk: str, **extra: Any) -> Any:
    return client.put_item(
        TableName=TABLE,
        Item={**key(pk), "v": {"N": "1"}},
        ConditionExpression="attribute_not_exists(PK)",
        **extra,
    )


def stored(memory: MemoryDynamoDB, pk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = memory.get_item(TableName=TABLE, Key=key(pk)).get("Item")
    return item


def raised(call: Any) -> BaseException:
    with pytest.raises((ClientError, ReadTimeoutError, ConnectTimeoutError)) as caught:
        call()
    return caught.value


# ---- errors given up on after botocore's retries -------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        (F.THROTTLE, "ProvisionedThroughputExceededException", 400),
        (F.THROTTLING_EXCEPTION, "ThrottlingException", 400),
        (F.INTERNAL_BEFORE, "InternalServerError", 500),
    ],
)
def test_errors_before_the_call_write_nothing_and_look_retried_out(
    *,
    faulty: FaultyDynamoDB,
    memory: MemoryDynamoDB,
    script: Script,
    hooks: Hooks,
    fault: DynamoFault,
    code: str,
    status: int,
) -> None:
    script.plan("PutItem", fault)
    error = raised(lambda: put_new(faulty, "P#1"))
    assert isinstance(error, ClientError)
    assert isinstance(error, getattr(memory.exceptions, code))
    assert error.operation_name == "PutItem"
    assert error.response["Error"]["Code"] == code
    metadata = error.response["ResponseMetadata"]
    # The store's CLIENT_CONFIG: max_attempts 6, which botocore reads as 6 retries.
    assert (metadata["HTTPStatusCode"], metadata["RetryAttempts"]) == (status, 6)
    assert metadata["MaxAttemptsReached"] is True
    assert "(reached max retries: 6)" in str(error)
    assert error.response["message"] == error.response["Error"]["Message"]
    assert stored(memory, "P#1") is None
    assert hooks.calls == []
    assert faulty.faults_injected[fault] == 1


@pytest.mark.parametrize(
    ("retries", "expected"),
    [
        ({"mode": "standard", "max_attempts": 6}, 6),
        ({"mode": "standard", "total_max_attempts": 3}, 2),
        ({"mode": "standard"}, 2),
        ({}, 4),
    ],
)
def test_retries_follow_the_botocore_config(retries: dict[str, Any], expected: int) -> None:
    assert retries_of(Config(retries=retries)) == expected  # type: ignore[arg-type]


def test_a_timeout_before_writes_nothing(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, script: Script
) -> None:
    script.plan("PutItem", F.TIMEOUT_BEFORE, F.CONNECT_TIMEOUT)
    read_timeout = raised(lambda: put_new(faulty, "P#1"))
    assert isinstance(read_timeout, ReadTimeoutError)
    assert "dynamodb.us-east-1.amazonaws.com" in str(read_timeout)
    assert isinstance(raised(lambda: put_new(faulty, "P#1")), ConnectTimeoutError)
    assert stored(memory, "P#1") is None


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [(F.INTERNAL_AFTER, ClientError), (F.TIMEOUT_AFTER, ReadTimeoutError)],
)
def test_errors_after_the_call_come_with_the_write_applied(
    *,
    faulty: FaultyDynamoDB,
    memory: MemoryDynamoDB,
    script: Script,
    hooks: Hooks,
    fault: DynamoFault,
    error_type: type[Exception],
) -> None:
    script.plan("PutItem", fault)
    assert isinstance(raised(lambda: put_new(faulty, "P#1")), error_type)
    assert stored(memory, "P#1") == {**key("P#1"), "v": {"N": "1"}}
    assert [r["eventName"] for r in memory.drain_stream()] == ["INSERT"]
    assert hooks.calls == [("before", "PutItem"), ("after", "PutItem")]


def test_an_error_after_a_failed_condition_hides_the_failure(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, script: Script
) -> None:
    put_new(memory, "P#1")
    script.plan("PutItem", F.INTERNAL_AFTER)
    error = raised(lambda: put_new(faulty, "P#1"))
    assert isinstance(error, ClientError)
    assert error.response["Error"]["Code"] == "InternalServerError"


# ---- cancelled transactions ----------------------------------------------------------------------


def transaction(*pks: str) -> list[dict[str, Any]]:
    return [{"Put": {"TableName": TABLE, "Item": key(pk)}} for pk in pks]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(F.CANCEL_THROTTLING, "ThrottlingError"), (F.CANCEL_CONFLICT, "TransactionConflict")],
)
def test_a_cancelled_transaction_writes_nothing(
    faulty: FaultyDynamoDB,
    memory: MemoryDynamoDB,
    script: Script,
    fault: DynamoFault,
    reason: str,
) -> None:
    script.plan("TransactWriteItems", fault)
    error = raised(lambda: faulty.transact_write_items(TransactItems=transaction("P#1", "P#2")))
    assert isinstance(error, memory.exceptions.TransactionCanceledException)
    reasons = error.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == [reason, "None"]
    assert reasons[0]["Message"]
    assert error.response["Error"]["Message"].endswith(f"[{reason}, None]")
    assert error.response["ResponseMetadata"]["RetryAttempts"] == 0  # botocore never retries it
    assert stored(memory, "P#1") is None
    assert stored(memory, "P#2") is None


def test_a_cancellation_fault_on_another_operation_is_a_mistake(
    faulty: FaultyDynamoDB, script: Script
) -> None:
    script.plan("PutItem", F.CANCEL_CONFLICT)
    with pytest.raises(ValueError, match="TransactWriteItems only"):
        put_new(faulty, "P#1")


# ---- a retry that meets its own write ------------------------------------------------------------


def test_a_retried_conditional_put_sees_its_own_item(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, script: Script
) -> None:
    script.plan("PutItem", F.RETRIED_SEES_OWN_WRITE)
    error = raised(lambda: put_new(faulty, "P#1", ReturnValuesOnConditionCheckFailure="ALL_OLD"))
    assert isinstance(error, memory.exceptions.ConditionalCheckFailedException)
    assert error.response["Item"] == {**key("P#1"), "v": {"N": "1"}}
    assert error.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert stored(memory, "P#1") == {**key("P#1"), "v": {"N": "1"}}
    assert len(memory.drain_stream()) == 1


def test_a_retried_transaction_with_a_token_succeeds_once(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, script: Script
) -> None:
    script.plan("TransactWriteItems", F.RETRIED_SEES_OWN_WRITE)
    items = [
        {"Put": {**p["Put"], "ConditionExpression": "attribute_not_exists(PK)"}}
        for p in transaction("P#1")
    ]
    answer = faulty.transact_write_items(TransactItems=items, ClientRequestToken="t-1")
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(memory.drain_stream()) == 1


# ---- the store reads these errors as it reads botocore's -----------------------------------------


def test_the_store_takes_its_own_lost_create_answer_as_created(
    faulty: FaultyDynamoDB, script: Script
) -> None:
    # botocore retried a put whose first answer was lost: the condition fails on the item the
    # first attempt wrote, which is exactly ours. Reporting "already exists" would make intake
    # treat an order stored claimed for sending as someone else's and never send it.
    script.plan("PutItem", F.RETRIED_SEES_OWN_WRITE)
    store = OrderStore(faulty.as_client(), TABLE)
    result = store.create(make_request("PO-1"), T0, next_check_at=None, send_to="gateway_v2")
    assert isinstance(result, Created)
    assert store.get("PO-1") == result.order


def test_the_store_takes_its_own_lost_sweep_position_answer_as_moved(
    faulty: FaultyDynamoDB, script: Script
) -> None:
    # Found by the simulation (seed 103): the retention run read "another run moved it" and
    # stopped with due orders left, though the position it wanted was stored.
    script.plan("PutItem", F.RETRIED_SEES_OWN_WRITE)
    store = OrderStore(faulty.as_client(), TABLE)
    position = SweepPosition(T0, "PO-1")

    assert store.move_sweep_position(None, position)
    assert store.sweep_position() == position


def test_a_sweep_position_moved_by_another_run_is_not_taken_as_its_own(
    faulty: FaultyDynamoDB,
) -> None:
    store = OrderStore(faulty.as_client(), TABLE)
    position = SweepPosition(T0, "PO-1")
    assert store.move_sweep_position(None, position)

    assert not store.move_sweep_position(None, position)  # the same move, by another run


def test_a_create_that_finds_another_writers_order_is_not_taken_as_its_own(
    faulty: FaultyDynamoDB, script: Script
) -> None:
    store = OrderStore(faulty.as_client(), TABLE)
    store.create(make_request("PO-1"), T0, next_check_at=None)
    result = store.create(make_request("PO-1"), T0, next_check_at=None, send_to="gateway_v2")
    assert isinstance(result, AlreadyExists)
    assert result.same_request is True
    assert result.order.status is OrderStatus.RECEIVED


def test_the_store_retries_a_conflict_cancelled_transition_once_more(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, script: Script
) -> None:
    store = OrderStore(faulty.as_client(), TABLE)
    store.create(make_request("PO-1"), T0, next_check_at=None)
    memory.drain_stream()
    script.plan("TransactWriteItems", F.CANCEL_CONFLICT)
    order = store.get("PO-1")
    assert order is not None
    result = store.update(order, T0, check_attempts=1)
    assert isinstance(result, Applied)
    assert [op for op, _ in script.asked].count("TransactWriteItems") == 2
    assert [r["eventName"] for r in memory.drain_stream()] == ["MODIFY"]


def test_the_store_passes_a_throttle_on_to_its_caller(
    faulty: FaultyDynamoDB, script: Script
) -> None:
    script.plan("PutItem", F.THROTTLE)
    store = OrderStore(faulty.as_client(), TABLE)
    with pytest.raises(ClientError) as caught:
        store.create(make_request("PO-1"), T0, next_check_at=None)
    assert caught.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"


# ---- hooks, questions, other clients -------------------------------------------------------------


def test_a_crash_after_the_call_leaves_the_write_applied(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, hooks: Hooks
) -> None:
    hooks.crash_at = ("after", "PutItem")
    with pytest.raises(Crash):
        put_new(faulty, "P#1")
    assert stored(memory, "P#1") is not None


def test_a_crash_before_the_call_leaves_nothing(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, hooks: Hooks
) -> None:
    hooks.crash_at = ("before", "PutItem")
    with pytest.raises(Crash):
        put_new(faulty, "P#1")
    assert stored(memory, "P#1") is None


def test_decide_is_asked_once_per_call_with_the_operation_and_its_arguments(
    faulty: FaultyDynamoDB, script: Script, hooks: Hooks
) -> None:
    put_new(faulty, "P#1")
    faulty.get_item(TableName=TABLE, Key=key("P#1"))
    assert [op for op, _ in script.asked] == ["PutItem", "GetItem"]
    assert script.asked[1][1] == {"TableName": TABLE, "Key": key("P#1")}
    assert hooks.calls == [
        ("before", "PutItem"),
        ("after", "PutItem"),
        ("before", "GetItem"),
        ("after", "GetItem"),
    ]


@pytest.fixture
def moto_client(orders_table: dict[str, Any]) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", config=CLIENT_CONFIG)
        client.create_table(**copy.deepcopy(orders_table))
        yield client


def test_a_boto3_client_can_be_wrapped_too(moto_client: Any, script: Script) -> None:
    faulty = FaultyDynamoDB(moto_client, decide=script)
    script.plan("PutItem", F.INTERNAL_AFTER, F.THROTTLE)
    assert isinstance(raised(lambda: put_new(faulty, "P#1")), ClientError)
    assert moto_client.get_item(TableName=TABLE, Key=key("P#1")).get("Item") is not None
    error = raised(lambda: put_new(faulty, "P#2"))
    assert isinstance(error, moto_client.exceptions.ClientError)
    assert moto_client.get_item(TableName=TABLE, Key=key("P#2")).get("Item") is None


# ---- BatchGetItem (the retention sweep reads orders 100 at a time) -------------------------------


def test_batch_get_passes_through_and_can_be_throttled_like_any_read(
    faulty: FaultyDynamoDB, memory: MemoryDynamoDB, script: Script, hooks: Hooks
) -> None:
    put_new(memory, "P#1")
    put_new(memory, "P#2")
    request = {TABLE: {"Keys": [key("P#1"), key("P#2"), key("P#3")]}}

    answer = faulty.batch_get_item(RequestItems=request)
    script.plan("BatchGetItem", F.THROTTLE)
    error = raised(lambda: faulty.batch_get_item(RequestItems=request))

    assert sorted(item["PK"]["S"] for item in answer["Responses"][TABLE]) == ["P#1", "P#2"]
    assert [operation for operation, _ in script.asked] == ["BatchGetItem", "BatchGetItem"]
    assert ("before", "BatchGetItem") in hooks.calls
    assert isinstance(error, ClientError)
    assert error.operation_name == "BatchGetItem"
    assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
