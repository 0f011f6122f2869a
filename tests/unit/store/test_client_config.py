"""The store's DynamoDB client skips botocore's client-side parameter validation (CPU on every
call, for parameters our own code builds). That is safe only while a mistake in a parameter still
fails loudly and writes nothing: a misspelt condition must never become an unconditional write.
These tests hold botocore to it, so an upgrade that changed it would be caught."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from payouts.store.orders import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE = "orders"
ITEM = {"PK": {"S": "ORDER#PO-1"}, "amount": {"N": "10000"}}


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBClient]:
    """A client built with the store's config over a moto table."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client: DynamoDBClient = boto3.client("dynamodb", config=CLIENT_CONFIG)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def sent_requests(client: DynamoDBClient) -> list[str]:
    """The operations ``client`` sends from now on (filled as it sends them)."""
    sent: list[str] = []

    def note(operation_name: str, **_: Any) -> None:
        sent.append(operation_name)

    client.meta.events.register("request-created.dynamodb", note)
    return sent


def test_the_store_client_does_not_validate_parameters_on_the_client() -> None:
    assert CLIENT_CONFIG.parameter_validation is False


def test_a_misspelt_condition_raises_before_anything_is_sent(dynamodb: DynamoDBClient) -> None:
    sent = sent_requests(dynamodb)
    misspelt: dict[str, Any] = {"ConditionExpresion": "attribute_not_exists(PK)"}

    with pytest.raises(KeyError, match="ConditionExpresion"):
        dynamodb.put_item(TableName=TABLE, Item=ITEM, **misspelt)

    assert sent == []
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_a_misspelt_condition_inside_a_transaction_raises_before_anything_is_sent(
    dynamodb: DynamoDBClient,
) -> None:
    sent = sent_requests(dynamodb)
    put: dict[str, Any] = {
        "TableName": TABLE,
        "Item": ITEM,
        "ConditionExpresion": "attribute_not_exists(PK)",
    }

    with pytest.raises(KeyError, match="ConditionExpresion"):
        dynamodb.transact_write_items(TransactItems=[{"Put": put}])  # type: ignore[typeddict-item]

    assert sent == []
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_an_attribute_value_of_the_wrong_type_is_refused_and_writes_nothing(
    dynamodb: DynamoDBClient,
) -> None:
    wrong: dict[str, Any] = {"PK": {"S": "ORDER#PO-1"}, "amount": {"N": 10000}}

    with pytest.raises(ClientError, match="SerializationException"):
        dynamodb.put_item(TableName=TABLE, Item=wrong)

    assert dynamodb.scan(TableName=TABLE)["Items"] == []
