"""The store contract suite runs against moto, against a real DynamoDB Local engine, and against
the simulator's in-memory stand-in (which must behave as the other two do).

The store is as deployed by default (ops reads through by-day). A backend named with
``+legacy`` (``@BOTH_INDEX_MODES``) is a stack mid-migration instead: the table also has the
by-status-day index (``LegacyStatusIndex=true``), orders are written for both and the ops reads
use the legacy index (``LEGACY_STATUS_INDEX=true``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from payouts.store import OrderStore
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.sim.dynamodb import MemoryDynamoDB
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.moto_store import serialise_requests

REGION = "us-east-1"
BACKENDS = ("moto", "dynamodb_local", "memory")
LEGACY = "+legacy"
STORE_MODES = [backend + mode for backend in BACKENDS for mode in ("", LEGACY)]
BOTH_INDEX_MODES = pytest.mark.parametrize("store", STORE_MODES, indirect=True)
"""Run a test on every backend, as deployed and as mid-migration (see the module doc)."""
# The legacy orders_created_on asks by-status-day for a ProjectionExpression, which the in-memory
# table does not do (the simulator never reads by day).
BOTH_INDEX_MODES_WITH_PROJECTIONS = pytest.mark.parametrize(
    "store", [mode for mode in STORE_MODES if mode != "memory" + LEGACY], indirect=True
)
"""``BOTH_INDEX_MODES`` but the in-memory table mid-migration."""


def _index_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> dict[str, str]:
    """Set the store's index mode; return the template parameters of a table made for it."""
    if mode not in ("", LEGACY):
        raise ValueError(f"unknown store mode {mode!r}")
    legacy = "true" if mode == LEGACY else "false"
    # Said explicitly either way: the test's outcome must not depend on the caller's shell.
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, legacy)
    return {"LegacyStatusIndex": legacy}


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[OrderStore]:
    """An OrderStore over a fresh table built from template.yaml's own properties."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    backend = str(request.param).removesuffix(LEGACY)
    mode = str(request.param)[len(backend) :]
    parameters = _index_mode(monkeypatch, mode)
    table_name = f"orders-{uuid.uuid4().hex[:8]}"
    if backend == "moto":
        with mock_aws():
            # moto alone is not atomic per request; see serialise_requests.
            client = serialise_requests(
                boto3.client("dynamodb", region_name=REGION, config=CLIENT_CONFIG)
            )
            client.create_table(
                **table_create_kwargs(load_template(), "OrdersTable", table_name, parameters)
            )
            yield OrderStore(client, table_name)
        return
    if backend == "memory":
        memory = MemoryDynamoDB()
        memory.create_table(
            **table_create_kwargs(load_template(), "OrdersTable", table_name, parameters)
        )
        yield OrderStore(memory.as_client(), table_name)
        return
    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    client = boto3.client(
        "dynamodb", region_name=REGION, endpoint_url=endpoint, config=CLIENT_CONFIG
    )
    client.create_table(
        **table_create_kwargs(load_template(), "OrdersTable", table_name, parameters)
    )
    yield OrderStore(client, table_name)
    client.delete_table(TableName=table_name)
