"""A store over a table built from template.yaml, in moto and in the simulator's memory table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.sim.dynamodb import MemoryDynamoDB
from tests.support.cfn import load_template, table_create_kwargs

REGION = "us-east-1"


class Table:
    """An order store and the raw client under it (to read items exactly as stored)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self.store = OrderStore(client, name)

    def partition(self, payout_id: str) -> list[dict[str, Any]]:
        """Every item stored in the order's partition, raw."""
        answer = self.client.query(
            TableName=self.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"PAYOUT#{payout_id}"}},
            ConsistentRead=True,
        )
        items: list[dict[str, Any]] = answer["Items"]
        return items


@pytest.fixture(params=["moto", "memory"])
def table(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    """A fresh orders table with the template's keys and indexes."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    name = f"orders-{uuid.uuid4().hex[:8]}"
    create = table_create_kwargs(load_template(), "OrdersTable", name)
    if request.param == "memory":
        memory = MemoryDynamoDB()
        memory.create_table(**create)
        yield Table(memory.as_client(), name)
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION, config=CLIENT_CONFIG)
        client.create_table(**create)
        yield Table(client, name)
