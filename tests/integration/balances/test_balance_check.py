"""The balance check end to end: the real handler and adapters against the provider sandbox,
credentials from (moto) Secrets Manager, and the ProviderAvailableBalance metrics it prints as
Powertools EMF: one datapoint per provider and currency, in major units, with the dimensions the
template's low-balance alarms name (tests/unit/test_template_providers.py). A provider that
cannot answer is counted, not hidden."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payouts.services.balances import (
    METRIC_AVAILABLE,
    BalanceUnavailable,
    ProviderBalance,
    publish_balances,
    to_major,
)
from payouts_tools.sandbox import Fault, FaultKind, Operation, Provider, Sandbox, SandboxConfig
from tests.support.handlers import load_handler

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

OPENING_MINOR = 123_456_789


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "payouts-balance-check"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:balance-check"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    config = SandboxConfig(seed=9, opening_balance_minor=OPENING_MINOR)
    with Sandbox(config) as running, mock_aws():
        secrets = boto3.client("secretsmanager")
        gateway, pg = running.config.gateway, running.config.pg
        gateway_secret = secrets.create_secret(
            Name="payouts/gateway_v2",
            SecretString=json.dumps(
                {
                    "platform_id": gateway.platform_id,
                    "platform_key": gateway.signing_key,
                    "query_token": gateway.query_token,
                }
            ),
        )["ARN"]
        pg_secret = secrets.create_secret(
            Name="payouts/pg_v2",
            SecretString=json.dumps({"app_id": pg.app_id, "app_secret": pg.app_secret}),
        )["ARN"]
        for name, value in {
            "ORDERS_TABLE": "orders-unused",
            "CALLBACK_BASE_URL": "https://callbacks.example.com/dev",
            "GATEWAY_V2_BASE_URL": running.base_url,
            "GATEWAY_V2_SECRET_ID": gateway_secret,
            "PG_V2_BASE_URL": running.base_url,
            "PG_V2_SECRET_ID": pg_secret,
        }.items():
            monkeypatch.setenv(name, value)
        yield running


def emitted(output: str, name: str) -> dict[tuple[str, str], tuple[float, set[str]]]:
    """Each EMF datapoint of metric ``name``: (provider, currency) -> (value, dimension names)."""
    found: dict[tuple[str, str], tuple[float, set[str]]] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document: dict[str, Any] = json.loads(line)
        directive = document["_aws"]["CloudWatchMetrics"][0]
        if name not in {metric["Name"] for metric in directive["Metrics"]}:
            continue
        dimensions = set(directive["Dimensions"][0])
        value = document[name]
        found[(document["provider"], document["currency"])] = (
            sum(value) if isinstance(value, list) else value,
            dimensions,
        )
    return found


def test_each_providers_balance_is_published_in_major_units(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    del sandbox
    counts = load_handler("balance_check").lambda_handler({}, LambdaContext())

    balances = emitted(capsys.readouterr().out, METRIC_AVAILABLE)
    assert counts["unavailable"] == 0
    assert counts["published"] == len(balances)
    assert {("gateway_v2", "CNY"), ("pg_v2", "INR"), ("pg_v2", "BRL")} <= set(balances)
    for value, dimensions in balances.values():
        assert value == pytest.approx(OPENING_MINOR / 100)
        assert dimensions == {"service", "provider", "currency"}


def test_a_provider_that_cannot_answer_is_counted_and_the_others_still_published(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.inject(
        Fault(kind=FaultKind.HTTP_500, provider=Provider.PG_V2, operation=Operation.BALANCE)
    )

    counts = load_handler("balance_check").lambda_handler({}, LambdaContext())

    output = capsys.readouterr().out
    balances = emitted(output, METRIC_AVAILABLE)
    assert counts["unavailable"] == 1
    assert {provider for provider, _ in balances} == {"gateway_v2"}
    errors = [json.loads(line) for line in output.splitlines() if '"BalanceCheckErrors"' in line]
    assert [document["BalanceCheckErrors"] for document in errors] in ([[1.0]], [1.0])


def test_minor_units_become_exact_major_units() -> None:
    assert to_major(123456, "CNY") == Decimal("1234.56")
    assert to_major(500, "JPY") == Decimal(500)
    assert to_major(-5, "INR") == Decimal("-0.05")


def test_publishing_skips_unavailable_rows() -> None:
    sent: list[ProviderBalance] = []
    rows = [
        ProviderBalance("pg_v2", "INR", 100, 0),
        BalanceUnavailable("gateway_v2", "HTTP 500"),
        ProviderBalance("pg_v2", "BRL", 250, 5),
    ]

    assert publish_balances(rows, sent.append) == 2
    assert [(row.currency, row.available_major) for row in sent] == [
        ("INR", Decimal("1.00")),
        ("BRL", Decimal("2.50")),
    ]
