"""The adapters over kept-alive connections to the sandbox: a pooled connection the provider has
closed is replaced without harm, and a create that breaks on a reused connection stays ambiguous
(never "not sent", never re-sent blindly)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, CreateOutcome
from payouts_tools.sandbox import Fault, FaultKind, Sandbox, SandboxConfig
from payouts_tools.sandbox.config import Operation, Provider
from tests.support.orders import T0, make_request
from tests.support.sandbox_adapters import adapter_for

IDLE_S = 0.2
NOTIFY_URL = "http://127.0.0.1:9/callbacks"  # never called: callbacks are off here
METHODS = {"ALIPAY": Provider.GATEWAY_V2, "UPI": Provider.PG_V2}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(seed=9, idle_timeout_s=IDLE_S, settle_after_s=None)
    with Sandbox(config).start() as running:
        yield running


def order_for(method: str) -> Order:
    request = make_request(f"PO-KA-{method}", method=method, value=10_000)
    return Order(
        payout_id=request.payout_id,
        request=request,
        fingerprint=request_fingerprint(request),
        status=OrderStatus.SUBMITTING,
        version=2,
        created_at=T0,
        updated_at=T0,
    )


def create_after_a_balance_read(
    method: str, sandbox: Sandbox, between: float = 0.0, refuse: bool = False
) -> CreateOutcome:
    """Read the balance (the connection goes back to the pool), optionally wait or make the
    provider go away, then create over the same client."""

    async def scenario() -> CreateOutcome:
        async with httpx.AsyncClient(trust_env=False) as client:
            adapter = adapter_for(method, sandbox, NOTIFY_URL, client)
            await adapter.balance()
            await asyncio.sleep(between)
            if refuse:
                sandbox.refuse_for(1.0)
            return await adapter.create(order_for(method))

    return asyncio.run(scenario())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_the_create_reuses_the_pooled_connection(method: str, sandbox: Sandbox) -> None:
    created = create_after_a_balance_read(method, sandbox)

    assert created.kind is CreateKind.ACCEPTED, created
    assert sandbox.accepted_connections == 1


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_pooled_connection_closed_while_idle_is_replaced_and_the_create_sent_once(
    method: str, sandbox: Sandbox
) -> None:
    created = create_after_a_balance_read(method, sandbox, between=IDLE_S * 4)

    assert created.kind is CreateKind.ACCEPTED, created
    assert sandbox.accepted_connections == 2
    assert [order.merchant_no for order in sandbox.orders()] == [f"PO-KA-{method}"]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_create_broken_on_a_reused_connection_is_ambiguous_and_not_resent(
    method: str, sandbox: Sandbox
) -> None:
    sandbox.inject(
        Fault(kind=FaultKind.RESET, provider=METHODS[method], operation=Operation.CREATE, times=1)
    )

    created = create_after_a_balance_read(method, sandbox)

    # The bytes left on a connection that worked a moment ago: the provider may have them.
    assert created.kind is CreateKind.AMBIGUOUS, created
    # One connection: neither httpx nor the adapter sent the create again on a new one.
    assert sandbox.accepted_connections == 1
    assert sandbox.orders() == []


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_create_after_the_provider_went_away_is_provably_not_sent(
    method: str, sandbox: Sandbox
) -> None:
    created = create_after_a_balance_read(method, sandbox, refuse=True)

    # The pooled connection was closed with the provider; the new one was refused before a byte
    # of the create was written (httpx's ConnectError).
    assert created.kind is CreateKind.NOT_SENT, created
    assert sandbox.orders() == []
