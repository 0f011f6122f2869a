"""Both adapters against the provider sandbox on loopback: create -> signed callback -> query,
for every payout method, and balances. The sandbox signs and verifies with its own code, written
from the documents, so a signing mistake in an adapter fails here."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import (
    AdapterContext,
    CallbackEvent,
    CreateKind,
    PayoutProvider,
    QueryKind,
)
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Credentials
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials
from payouts_tools.sandbox import Sandbox, SandboxConfig
from payouts_tools.sandbox.config import Provider
from payouts_tools.sandbox.state import Outcome
from tests.support.orders import T0, make_request
from tests.support.sandbox_adapters import adapter_for

AMOUNTS = {"ALIPAY": 50000, "UPI": 10005, "BANK_ACCOUNT": 250075, "PIX": 1999}


class Receiver:
    """A loopback notify URL that hands each callback to the adapter and answers its ack."""

    def __init__(self) -> None:
        self.adapter: PayoutProvider | None = None
        self.events: list[CallbackEvent] = []
        self.refused: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                assert receiver.adapter is not None
                try:
                    receiver.events.append(
                        receiver.adapter.verify_callback(dict(self.headers.items()), body)
                    )
                except Exception as error:
                    receiver.refused.append(repr(error))
                    self.send_response(401)
                    self.end_headers()
                    return
                ack = receiver.adapter.ack()
                self.send_response(ack.status_code)
                self.send_header("Content-Type", ack.content_type)
                self.end_headers()
                self.wfile.write(ack.body.encode())

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(settle_after_s=0.3, seed=3)).start() as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def order_for(method: str) -> Order:
    request = make_request(f"PO-SBX-{method}", method=method, value=AMOUNTS[method])
    return Order(
        payout_id=request.payout_id,
        request=request,
        fingerprint=request_fingerprint(request),
        status=OrderStatus.SUBMITTING,
        version=2,
        created_at=T0,
        updated_at=T0,
    )


@pytest.mark.parametrize("method", ["ALIPAY", "UPI", "BANK_ACCOUNT", "PIX"])
def test_create_callback_and_query_agree_for_every_method(
    method: str, sandbox: Sandbox, receiver: Receiver
) -> None:
    order = order_for(method)
    provider = Provider.GATEWAY_V2 if method == "ALIPAY" else Provider.PG_V2
    sandbox.script(provider, order.payout_id, Outcome.SUCCESS, after_s=0.2)

    async def scenario() -> tuple[Any, Any]:
        async with httpx.AsyncClient() as client:
            adapter = adapter_for(method, sandbox, receiver.url, client)
            receiver.adapter = adapter
            created = await adapter.create(order)
            await asyncio.to_thread(receiver.wait_for, 1)
            queried = await adapter.query(order)
            return created, queried

    created, queried = asyncio.run(scenario())

    assert created.kind is CreateKind.ACCEPTED, created
    assert receiver.refused == []
    (callback,) = receiver.events[:1]
    assert callback.merchant_order_id == order.payout_id
    assert callback.kind is QueryKind.SUCCEEDED
    assert callback.provider_order_id == created.provider_order_id
    assert queried.kind is QueryKind.SUCCEEDED, queried
    assert (queried.amount_minor, queried.currency) == (
        AMOUNTS[method],
        order.request.amount.currency if order.request else None,
    )
    paid = [entry for entry in sandbox.ledger() if entry.merchant_no == order.payout_id]
    assert [(entry.amount_minor, entry.currency) for entry in paid] == [
        (queried.amount_minor, queried.currency)
    ]


@pytest.mark.parametrize("method", ["ALIPAY", "UPI"])
def test_balances_are_read_in_minor_units(
    method: str, sandbox: Sandbox, receiver: Receiver
) -> None:
    async def read() -> Any:
        async with httpx.AsyncClient() as client:
            return await adapter_for(method, sandbox, receiver.url, client).balance()

    balances = asyncio.run(read())
    assert balances
    assert all(entry.available_minor >= 0 for entry in balances)
    assert {"ALIPAY": "CNY", "UPI": "INR"}[method] in {entry.currency for entry in balances}


@pytest.mark.parametrize("method", ["ALIPAY", "UPI"])
def test_a_wrong_key_is_refused_by_the_sandbox_and_never_counts_as_accepted(
    method: str, sandbox: Sandbox, receiver: Receiver
) -> None:
    order = order_for(method)

    async def create_with_wrong_key() -> Any:
        async with httpx.AsyncClient() as client:
            context = AdapterContext(base_url=sandbox.base_url, notify_url=receiver.url)
            if method == "ALIPAY":
                adapter: PayoutProvider = GatewayV2Adapter(
                    credentials=GatewayV2Credentials(
                        platform_id=sandbox.config.gateway.platform_id,
                        platform_key=SecretStr("wrong-key-not-secret"),
                        query_token=SecretStr(sandbox.config.gateway.query_token),
                    ),
                    context=context,
                    client=client,
                )
            else:
                adapter = PgV2Adapter(
                    credentials=PgV2Credentials(
                        app_id=sandbox.config.pg.app_id, app_secret=SecretStr("wrong-secret")
                    ),
                    context=context,
                    client=client,
                )
            return await adapter.create(order)

    outcome = asyncio.run(create_with_wrong_key())
    # Both providers document a signature failure as "not created": REJECTED, and no money moved.
    assert outcome.kind is CreateKind.REJECTED, outcome
    assert [e for e in sandbox.ledger() if e.merchant_no == order.payout_id] == []
