"""An OrderStore over a moto table built from template.yaml, for service-level tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from tests.support.cfn import load_template, table_create_kwargs

_MOTO_LOCK = threading.Lock()


def serialise_requests(client: Any) -> Any:
    """Make each API call on ``client`` atomic with respect to the others.

    moto's in-memory DynamoDB evaluates a condition and then writes, with no lock, so two threads
    can both pass ``attribute_not_exists``; a real engine serialises the two requests and exactly
    one wins. Holding a lock per request gives moto that per-request atomicity (and no more), so
    the concurrency contract tests test our code, not moto's thread safety. DynamoDB Local needs
    no such help.
    """
    make_api_call = client._make_api_call

    def atomic(operation: str, params: dict[str, Any]) -> Any:
        with _MOTO_LOCK:
            return make_api_call(operation, params)

    client._make_api_call = atomic
    return client


@contextmanager
def moto_order_store(region: str = "us-east-1") -> Iterator[OrderStore]:
    """A fresh table inside a moto mock, yielded as an OrderStore."""
    table_name = f"orders-{uuid.uuid4().hex[:8]}"
    with mock_aws():
        client = serialise_requests(
            boto3.client("dynamodb", region_name=region, config=CLIENT_CONFIG)
        )
        client.create_table(**table_create_kwargs(load_template(), "OrdersTable", table_name))
        yield OrderStore(client, table_name)
