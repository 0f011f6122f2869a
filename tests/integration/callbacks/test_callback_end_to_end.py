"""The sandbox's own callbacks, sent to its notify URL, through a loopback API Gateway bridge, to
the real handler: signed by the sandbox (not by our test code), retried until acknowledged,
duplicated on purpose, and every payout paid exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from types import ModuleType

import pytest

from payouts.domain.order import Order, utc_now
from payouts.domain.status import OrderStatus
from payouts_tools.local.apigw_bridge import ApiGatewayBridge
from payouts_tools.sandbox import (
    CallbackMode,
    CallbackOptions,
    Outcome,
    Provider,
    Sandbox,
    SandboxConfig,
)
from tests.integration.callbacks.callback_support import (
    callback_evidence,
    create_at_sandbox,
    submitted_order,
)
from tests.integration.callbacks.conftest import Aws
from tests.support.handlers import load_handler

S = OrderStatus
DEADLINE_S = 15.0
FAST = SandboxConfig(
    seed=5,
    settle_after_s=0.1,
    reverse_after_s=0.3,
    callbacks=CallbackOptions(retry_delays_s=(0.2, 0.4, 0.8, 1.6), timeout_s=5.0),
)


@pytest.fixture
def sandbox_with_callbacks() -> Iterator[Sandbox]:
    """A sandbox that settles quickly and sends its own signed callbacks."""
    with Sandbox(FAST) as running:
        yield running


@pytest.fixture
def bridge(
    aws: Aws, sandbox_with_callbacks: Sandbox, provider_env: pytest.MonkeyPatch
) -> Iterator[ApiGatewayBridge]:
    """The real handler (real clock: the sandbox signs with the time it sends) behind API
    Gateway's stand-in. CALLBACK_BASE_URL stays unset: the handler derives it from the request,
    as it does behind the deployed API."""
    provider_env.setenv("GATEWAY_V2_BASE_URL", sandbox_with_callbacks.base_url)
    provider_env.setenv("PG_V2_BASE_URL", sandbox_with_callbacks.base_url)
    module: ModuleType = load_handler("callback")
    with ApiGatewayBridge(module.lambda_handler, stage="local") as running:
        yield running


def _send(
    aws: Aws, sandbox: Sandbox, bridge: ApiGatewayBridge, payout_id: str, method: str
) -> Order:
    """Store the order as the intake would and create it at the sandbox."""
    provider = "gateway_v2" if method == "ALIPAY" else "pg_v2"
    value = 50000 if method == "ALIPAY" else 10005
    order = submitted_order(
        aws.store,
        payout_id,
        method=method,
        value=value,
        provider=provider,
        provider_order_id=None,
        now=_now(),
    )
    create_at_sandbox(sandbox, order, f"{bridge.base_url}/callbacks/{provider}")
    return order


def _now() -> datetime:
    return utc_now() - timedelta(seconds=1)


def _wait_until(what: str, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after DEADLINE_S."""
    give_up = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.05)


def _status(aws: Aws, payout_id: str) -> OrderStatus | None:
    order = aws.store.get(payout_id)
    return order.status if order else None


def _held(aws: Aws, payout_id: str) -> bool:
    order = aws.store.get(payout_id)
    return order is not None and order.failure_reported_at is not None


def _all_acknowledged(sandbox: Sandbox, payout_id: str, count: int) -> bool:
    attempts = [a for a in sandbox.callbacks() if a.merchant_no == payout_id and a.acknowledged]
    return len(attempts) >= count


def test_both_providers_callbacks_are_verified_applied_and_acknowledged(
    aws: Aws, sandbox_with_callbacks: Sandbox, bridge: ApiGatewayBridge
) -> None:
    sandbox = sandbox_with_callbacks
    sandbox.script(
        Provider.GATEWAY_V2, "PO-E2E-GW", Outcome.SUCCESS, callback=CallbackMode.DUPLICATE
    )
    sandbox.script(Provider.PG_V2, "PO-E2E-PG", Outcome.SUCCESS, callback=CallbackMode.DUPLICATE)
    sandbox.script(Provider.PG_V2, "PO-E2E-PG-FAIL", Outcome.FAILURE)

    for payout_id, method in [
        ("PO-E2E-GW", "ALIPAY"),
        ("PO-E2E-PG", "UPI"),
        ("PO-E2E-PG-FAIL", "PIX"),
    ]:
        _send(aws, sandbox, bridge, payout_id, method)

    expected = {"PO-E2E-GW": S.SUCCEEDED, "PO-E2E-PG": S.SUCCEEDED}
    _wait_until(
        "every order settled by its callbacks",
        lambda: {pid: _status(aws, pid) for pid in expected} == expected,
    )
    # pg_v2's FAILED is an assumed status mapping: its callback's query holds the failure (the
    # order stays unresolved, due when a later query may confirm it), it does not fail it.
    _wait_until("the assumed failure held", lambda: _held(aws, "PO-E2E-PG-FAIL"))
    assert _status(aws, "PO-E2E-PG-FAIL") is S.SUBMITTED
    _wait_until(
        "both duplicate deliveries acknowledged",
        lambda: (
            _all_acknowledged(sandbox, "PO-E2E-GW", 2)
            and _all_acknowledged(sandbox, "PO-E2E-PG", 2)
        ),
    )
    # Each callback was acknowledged at its first attempt: none was refused or failed.
    assert all(attempt.attempt == 1 for attempt in sandbox.callbacks())
    assert {attempt.status_code for attempt in sandbox.callbacks()} == {200}
    # One transition per order although every success was delivered twice.
    for payout_id in expected:
        transitions = [e for e in callback_evidence(aws.store, payout_id) if e.to_status]
        assert len(transitions) == 1, payout_id
    gateway = aws.store.get("PO-E2E-GW")
    assert gateway is not None
    assert gateway.provider_order_id is not None
    # pg_v2's signature (over the notify URL, derived from the request) verified, timestamp too.
    [pg_applied] = [e for e in callback_evidence(aws.store, "PO-E2E-PG") if e.to_status]
    assert pg_applied.detail["signed_at"] is not None
    assert pg_applied.detail["applied"] == "query"
    assert sandbox.double_payouts() == []
    assert sorted(entry.merchant_no for entry in sandbox.ledger()) == ["PO-E2E-GW", "PO-E2E-PG"]


def test_a_reversal_reaches_reversed_on_pg_v2_and_is_escalated_on_gateway_v2(
    aws: Aws, sandbox_with_callbacks: Sandbox, bridge: ApiGatewayBridge
) -> None:
    sandbox = sandbox_with_callbacks
    sandbox.script(Provider.GATEWAY_V2, "PO-E2E-GW-REV", Outcome.REVERSE)
    sandbox.script(Provider.PG_V2, "PO-E2E-PG-REV", Outcome.REVERSE)

    _send(aws, sandbox, bridge, "PO-E2E-GW-REV", "ALIPAY")
    _send(aws, sandbox, bridge, "PO-E2E-PG-REV", "UPI")

    _wait_until("pg_v2's reversal applied", lambda: _status(aws, "PO-E2E-PG-REV") is S.REVERSED)
    # gateway_v2 reports a reversal as "cancelled" (status 4): never applied to a paid order as
    # a failure; a person is asked to look.
    _wait_until(
        "gateway_v2's contradiction escalated",
        lambda: (order := aws.store.get("PO-E2E-GW-REV")) is not None and order.needs_review,
    )
    gateway = aws.store.get("PO-E2E-GW-REV")
    assert gateway is not None
    assert gateway.status is S.SUCCEEDED
