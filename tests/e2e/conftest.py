"""e2e fixtures: the local stack owns this process's AWS environment while it runs.

The suite-wide autouse fixture (tests/conftest.py) removes ``AWS_ENDPOINT_URL`` around every
test; here the in-process handlers of a running local stack need it (they make their clients
lazily, on their own threads), so the fixture is redefined for this folder: fake credentials
and region as everywhere, and the endpoint left to the stack.
"""

from __future__ import annotations

import os

import pytest

from payouts_tools.local.stack import LocalStack

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials (unless a running stack set its own) and region; tracing off."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "payouts",
        "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if name not in os.environ:
            monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    if not LocalStack.running():
        # moto's in-process mock intercepts only requests aimed at AWS itself.
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
