"""Shared fixtures. Every test runs with fake AWS credentials and no real AWS endpoint."""

from __future__ import annotations

import os

import pytest

# Powertools objects in payouts.observability read their configuration when first imported, which
# may happen while tests are being collected: give them the template's values before that.
for _name, _value in {
    "POWERTOOLS_SERVICE_NAME": "payouts",
    "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_name, _value)

pytest_plugins = ["tests.support.dynamodb_local"]

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, Powertools configured as in the template, tracing off."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "payouts",
        "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
