"""Fixtures for the callback endpoint: moto (DynamoDB from template.yaml, Secrets Manager holding
the sandbox's fake credentials), the handler loaded fresh with its clock pinned, and the provider
sandbox on loopback for the confirm-by-query path."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from payouts.observability import metrics
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.apigw_events import SAMPLE_TIME
from payouts_tools.sandbox import CallbackOptions, Sandbox, SandboxConfig
from tests.support.cfn import Template, load_template, table_create_kwargs
from tests.support.handlers import load_handler

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REGION = "us-east-1"
NOW = SAMPLE_TIME + timedelta(seconds=5)
"""When the handler thinks it runs: just after the sample events were sent."""
# Nothing listens on port 9 (discard) on loopback: a provider that must not be called.
UNREACHABLE = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Aws:
    """The mocked account: the orders table and the two providers' secrets."""

    store: OrderStore
    client: DynamoDBClient
    table_name: str
    gateway_secret_arn: str
    pg_secret_arn: str


@dataclass(frozen=True)
class Secrets:
    """The providers' secrets in the module's mocked account."""

    gateway_arn: str
    pg_arn: str


@functools.cache
def _template() -> Template:
    return load_template()


@pytest.fixture(scope="module")
def mocked_account() -> Iterator[Secrets]:
    """One moto account per test module (starting one costs more than a test): it holds the
    sandbox's credentials as secrets; every test gets its own table in it."""
    config = SandboxConfig()
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        gateway = secrets.create_secret(
            Name="payouts/gateway_v2",
            SecretString=json.dumps(
                {
                    "platform_id": config.gateway.platform_id,
                    "platform_key": config.gateway.signing_key,
                    "query_token": config.gateway.query_token,
                }
            ),
        )
        pg = secrets.create_secret(
            Name="payouts/pg_v2",
            SecretString=json.dumps(
                {"app_id": config.pg.app_id, "app_secret": config.pg.app_secret}
            ),
        )
        parameters.clear_caches()
        yield Secrets(gateway["ARN"], pg["ARN"])
        parameters.clear_caches()


@pytest.fixture(autouse=True)
def _fresh_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Powertools keeps unflushed metrics process-wide; no test sees another's.

    ``payouts.observability`` builds its Metrics when first imported, which may be at collection,
    before the suite's fake environment exists: give it the template's namespace and service.
    """
    monkeypatch.setattr(metrics, "namespace", "Payouts")
    monkeypatch.setattr(metrics, "service", "payouts")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def aws(mocked_account: Secrets) -> Aws:
    """A fresh orders table, built from template.yaml, in the module's mocked account."""
    table_name = f"orders-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", region_name=REGION, config=CLIENT_CONFIG)
    dynamodb.create_table(**table_create_kwargs(_template(), "OrdersTable", table_name))
    return Aws(
        OrderStore(dynamodb, table_name),
        dynamodb,
        table_name,
        mocked_account.gateway_arn,
        mocked_account.pg_arn,
    )


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[Sandbox]:
    """Both providers on loopback, one per module. Payouts settle on their first query and send
    no callbacks of their own (the end-to-end tests start their own sandbox for that)."""
    config = SandboxConfig(
        settle_after_s=None, settle_after_queries=1, callbacks=CallbackOptions(enabled=False)
    )
    with Sandbox(config) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: Sandbox) -> Sandbox:
    """The module's sandbox, forgetting every payout, script and fault of earlier tests."""
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def provider_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The callback function's environment, as the template sets it (providers unreachable
    until a test points one at the sandbox)."""
    monkeypatch.setenv("ORDERS_TABLE", aws.table_name)
    monkeypatch.setenv("GATEWAY_V2_BASE_URL", UNREACHABLE)
    monkeypatch.setenv("GATEWAY_V2_SECRET_ID", aws.gateway_secret_arn)
    monkeypatch.setenv("PG_V2_BASE_URL", UNREACHABLE)
    monkeypatch.setenv("PG_V2_SECRET_ID", aws.pg_secret_arn)
    monkeypatch.delenv("CALLBACK_BASE_URL", raising=False)
    return monkeypatch


@pytest.fixture
def handler(provider_env: pytest.MonkeyPatch) -> ModuleType:
    """A fresh callback handler module whose clock reads ``NOW``."""
    module = load_handler("callback")
    provider_env.setattr(module, "utc_now", lambda: NOW)
    return module
