"""An OrderStore over a moto table built from template.yaml, for service-level tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto import mock_aws

from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from tests.support.cfn import load_template, table_create_kwargs


@contextmanager
def moto_order_store(region: str = "us-east-1") -> Iterator[OrderStore]:
    """A fresh table inside a moto mock, yielded as an OrderStore."""
    table_name = f"orders-{uuid.uuid4().hex[:8]}"
    with mock_aws():
        client = boto3.client("dynamodb", region_name=region, config=CLIENT_CONFIG)
        client.create_table(**table_create_kwargs(load_template(), "OrdersTable", table_name))
        yield OrderStore(client, table_name)
