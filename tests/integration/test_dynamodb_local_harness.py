"""The DynamoDB Local harness runs a real engine, and the template's table works in it."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.support import dynamodb_local
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.dynamodb_local import (
    PACKAGE_DIR,
    PACKAGE_VERSION,
    dynamodb_client,
    ensure_installed,
    find_jar,
    running_server,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def orders_table(dynamodb_local_endpoint: str) -> tuple[DynamoDBClient, str]:
    """A fresh table built from template.yaml's OrdersTable, under a name no other test uses."""
    client = dynamodb_client(dynamodb_local_endpoint)
    table_name = f"orders-{uuid.uuid4().hex[:12]}"
    client.create_table(**table_create_kwargs(load_template(), "OrdersTable", table_name))
    return client, table_name


def test_the_engine_is_the_pinned_dynamodb_local_on_loopback(dynamodb_local_endpoint: str) -> None:
    manifest = (PACKAGE_DIR / "package.json").read_text(encoding="utf-8")

    answer = dynamodb_client(dynamodb_local_endpoint).list_tables()

    assert dynamodb_local_endpoint.startswith("http://127.0.0.1:")
    assert f'"version": "{PACKAGE_VERSION}"' in manifest
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_table_is_created_with_the_templates_indexes_and_stream(
    orders_table: tuple[DynamoDBClient, str],
) -> None:
    client, table_name = orders_table

    description = client.describe_table(TableName=table_name)["Table"]

    assert {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])} == {
        "due",
        "by-provider-ref",
        "review",
        "erasable",
        "by-day",
    }
    assert description.get("StreamSpecification") == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }


def test_a_second_create_of_the_same_order_is_refused(
    orders_table: tuple[DynamoDBClient, str],
) -> None:
    client, table_name = orders_table
    order = {
        "PK": {"S": "PAYOUT#PO-1"},
        "SK": {"S": "ORDER"},
        "status": {"S": "RECEIVED"},
        "amount_value": {"N": "50000"},
    }
    client.put_item(
        TableName=table_name, Item=order, ConditionExpression="attribute_not_exists(PK)"
    )

    with pytest.raises(ClientError) as refused:
        client.put_item(
            TableName=table_name,
            Item={**order, "amount_value": {"N": "1"}},
            ConditionExpression="attribute_not_exists(PK)",
        )

    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    stored = client.get_item(TableName=table_name, Key={"PK": order["PK"], "SK": order["SK"]})
    assert stored["Item"]["amount_value"] == {"N": "50000"}


def test_the_due_index_returns_only_due_orders_in_time_order(
    orders_table: tuple[DynamoDBClient, str],
) -> None:
    client, table_name = orders_table
    due = {
        "PO-LATER": "2026-11-22T10:05:00Z",
        "PO-SOONER": "2026-11-22T10:01:00Z",
        "PO-NOT-YET": "2026-11-22T11:00:00Z",
    }
    for payout_id, next_check_at in due.items():
        client.put_item(
            TableName=table_name,
            Item={
                "PK": {"S": f"PAYOUT#{payout_id}"},
                "SK": {"S": "ORDER"},
                "due_pk": {"S": "DUE#0"},
                "due_sk": {"S": f"{next_check_at}#{payout_id}"},
            },
        )
    # A resolved order carries no due keys, so the sparse index never shows it.
    client.put_item(
        TableName=table_name,
        Item={"PK": {"S": "PAYOUT#PO-DONE"}, "SK": {"S": "ORDER"}, "status": {"S": "SUCCEEDED"}},
    )

    answer = client.query(
        TableName=table_name,
        IndexName="due",
        KeyConditionExpression="due_pk = :shard AND due_sk <= :upper",
        ExpressionAttributeValues={
            ":shard": {"S": "DUE#0"},
            ":upper": {"S": "2026-11-22T10:30:00Z#~"},
        },
    )

    assert [item["PK"]["S"] for item in answer["Items"]] == ["PAYOUT#PO-SOONER", "PAYOUT#PO-LATER"]


def test_a_port_taken_before_the_jvm_binds_it_is_replaced_and_the_jvm_stops_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_installed()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken: int = squatter.getsockname()[1]
        offered = iter([taken])
        any_free_port = dynamodb_local._free_port
        monkeypatch.setattr(dynamodb_local, "_free_port", lambda: next(offered, any_free_port()))

        with running_server(find_jar(), tmp_path / "jvm.log") as (endpoint_url, _):
            tables = dynamodb_client(endpoint_url).list_tables()["TableNames"]

    assert not endpoint_url.endswith(f":{taken}")
    assert tables == []
    one_try = Config(connect_timeout=1, retries={"total_max_attempts": 1})
    with pytest.raises(EndpointConnectionError):
        dynamodb_client(endpoint_url, config=one_try).list_tables()
