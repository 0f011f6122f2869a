"""The moto patches of the local stack: DynamoDB stays atomic under concurrency, transactions
keep their all-or-nothing answers without copying tables, and requests from this process reach
moto's server application without a socket."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from payouts_tools.local.in_process_transport import InProcessTransport
from payouts_tools.local.moto_patches import LocalMotoPatches

pytestmark = pytest.mark.e2e

TABLE = "orders"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws(), LocalMotoPatches():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def put(pk: str, sk: str, condition: str | None = None, **values: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "TableName": TABLE,
        "Item": {"PK": {"S": pk}, "SK": {"S": sk}, **values},
    }
    if condition:
        operation["ConditionExpression"] = condition
        operation["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Put": operation}


def get(client: Any, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = client.get_item(
        TableName=TABLE, Key={"PK": {"S": pk}, "SK": {"S": sk}}
    ).get("Item")
    return item


def test_a_failed_condition_cancels_the_whole_transaction(dynamodb: Any) -> None:
    dynamodb.put_item(
        TableName=TABLE, Item={"PK": {"S": "P1"}, "SK": {"S": "ORDER"}, "v": {"N": "2"}}
    )

    stale_update = put("P1", "ORDER", "v = :one", v={"N": "3"})
    stale_update["Put"]["ExpressionAttributeValues"] = {":one": {"N": "1"}}

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[put("P1", "EVT#1", "attribute_not_exists(PK)"), stale_update]
        )

    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["v"] == {"N": "2"}  # ALL_OLD: what is stored
    assert get(dynamodb, "P1", "EVT#1") is None  # the first put did not happen
    assert get(dynamodb, "P1", "ORDER")["v"] == {"N": "2"}  # type: ignore[index]


def test_a_transaction_whose_conditions_hold_writes_everything(dynamodb: Any) -> None:
    dynamodb.transact_write_items(
        TransactItems=[
            put("P2", "ORDER", "attribute_not_exists(PK)"),
            put("P2", "EVT#1", "attribute_not_exists(PK)"),
        ]
    )

    assert get(dynamodb, "P2", "ORDER") is not None
    assert get(dynamodb, "P2", "EVT#1") is not None


def test_racing_conditional_transactions_have_exactly_one_winner(dynamodb: Any) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def contend(index: int) -> None:
        start.wait()
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    put("RACE", "ORDER", "attribute_not_exists(PK)", who={"S": str(index)}),
                    put("RACE", f"EVT#{index}", "attribute_not_exists(PK)"),
                ]
            )
            result = "won"
        except ClientError:
            result = "lost"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


def test_the_patches_are_undone_on_exit() -> None:
    from moto import backends  # noqa: PLC0415 - moto loads on use
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    def current() -> tuple[Any, ...]:
        return (
            DynamoHandler.call_action,
            DynamoDBBackend.transact_write_items,
            backends.list_of_moto_modules,
        )

    originals = current()
    with LocalMotoPatches():
        patched = current()
        modules = backends.list_of_moto_modules()
        assert "dynamodb" in modules
        assert backends.list_of_moto_modules() is modules  # computed once
    assert all(now is not before for now, before in zip(patched, originals, strict=True))
    assert current() == originals


# ---- in-process transport ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_requests_to_the_endpoint_are_answered_without_a_socket() -> None:
    port = _free_port()  # nothing listens here
    name = f"queue-{uuid.uuid4().hex[:8]}"
    with InProcessTransport(port):
        client = boto3.client(
            "sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1"
        )
        url = client.create_queue(QueueName=name)["QueueUrl"]
        client.send_message(
            QueueUrl=url,
            MessageBody="hello",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )
        message = client.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
        assert message["Body"] == "hello"
        assert message["MessageAttributes"]["kind"]["StringValue"] == "test"
        with pytest.raises(ClientError, match=r"NonExistentQueue|does not exist"):
            client.get_queue_url(QueueName=f"missing-{name}")

    # Once the transport is gone, the same client needs a server again.
    with pytest.raises(EndpointConnectionError):
        client.get_queue_url(QueueName=name)
