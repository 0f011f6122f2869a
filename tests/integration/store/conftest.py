"""The store contract suite runs against moto, against a real DynamoDB Local engine, and against
the simulator's in-memory stand-in (which must behave as the other two do)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.sim.dynamodb import MemoryDynamoDB
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.moto_store import serialise_requests

REGION = "us-east-1"


@pytest.fixture(params=["moto", "dynamodb_local", "memory"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[OrderStore]:
    """An OrderStore over a fresh table built from template.yaml's own properties."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    table_name = f"orders-{uuid.uuid4().hex[:8]}"
    if request.param == "moto":
        with mock_aws():
            # moto alone is not atomic per request; see serialise_requests.
            client = serialise_requests(
                boto3.client("dynamodb", region_name=REGION, config=CLIENT_CONFIG)
            )
            client.create_table(**table_create_kwargs(load_template(), "OrdersTable", table_name))
            yield OrderStore(client, table_name)
        return
    if request.param == "memory":
        memory = MemoryDynamoDB()
        memory.create_table(**table_create_kwargs(load_template(), "OrdersTable", table_name))
        yield OrderStore(memory.as_client(), table_name)
        return
    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    client = boto3.client(
        "dynamodb", region_name=REGION, endpoint_url=endpoint, config=CLIENT_CONFIG
    )
    client.create_table(**table_create_kwargs(load_template(), "OrdersTable", table_name))
    yield OrderStore(client, table_name)
    client.delete_table(TableName=table_name)
