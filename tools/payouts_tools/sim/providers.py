"""The providers in the simulation: the sandbox's books and APIs in-process, reached through an
httpx transport that costs virtual time and misbehaves as the fault mix says.

The adapters are the real ones; only the socket is replaced. Settlement runs on per-payout
virtual timers instead of the sandbox's polling thread, and settled payouts hand their callback
message to the world, which delivers it (or not) as a provider would.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime
from typing import Final

import httpx

from payouts.providers.base import AdapterContext, PayoutProvider, ProviderTimeouts
from payouts_tools.sandbox import Sandbox
from payouts_tools.sandbox.adapters import sandbox_adapter
from payouts_tools.sandbox.callbacks import CallbackMessage
from payouts_tools.sandbox.config import CallbackOptions, Operation, Provider, SandboxConfig
from payouts_tools.sandbox.server import ProviderCall
from payouts_tools.sandbox.state import SandboxClock, SandboxOrder
from payouts_tools.sandbox.wire import HttpRequest, HttpResponse
from payouts_tools.sim.config import EPOCH
from payouts_tools.sim.faults import Dice
from payouts_tools.sim.lambdas import checkpoint

BASE_URL: Final = "https://providers.sim.invalid"
NOTIFY_BASE: Final = "https://callbacks.sim.invalid/callbacks"
# One way across the network, seconds (drawn uniformly in this range per call).
_ONE_WAY_S: Final = (0.01, 0.15)

# What the answer faults send instead of the provider's answer.
_FAULT_ANSWERS: Final[dict[str, HttpResponse]] = {
    "provider_http_500": HttpResponse(500, b'{"message":"Internal Server Error"}'),
    "provider_html_502": HttpResponse(
        502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"
    ),
    "provider_blank_200": HttpResponse(200, b""),
    "provider_malformed_200": HttpResponse(200, b'{"code":"OK","data":{"payout'),
}
_CALL_FAULTS: Final = (
    "provider_refused",
    "provider_reset",
    "provider_read_timeout",
    "provider_lost_answer",
    "provider_duplicate",
    "provider_lands_late",
    *_FAULT_ANSWERS,
    "provider_latency",
)

type CallbackSink = Callable[[CallbackMessage, SandboxOrder], None]


class SimProviders:
    """Both providers' books and APIs, timers and the transport the adapters talk through."""

    def __init__(
        self, *, seed: int, dice: Dice, rng: random.Random, on_callback: CallbackSink
    ) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        epoch = EPOCH.timestamp()
        clock = SandboxClock(wall=lambda: epoch + loop.time(), monotonic=loop.time)
        # Callbacks are delivered by the world (with their own faults), not by the sandbox.
        config = SandboxConfig(
            seed=seed, settle_after_s=5.0, fee_minor=0, callbacks=CallbackOptions(enabled=False)
        )
        self.sandbox = Sandbox(config, clock)
        self.sandbox.state.subscribe(self._settled)
        self._dice = dice
        self._rng = rng
        self._on_callback = on_callback
        self._timed: set[tuple[Provider, str]] = set()
        self.calls = 0

    # ---- adapters ---------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        """An httpx client whose requests reach the sandbox in-process."""
        return httpx.AsyncClient(transport=_SimTransport(self), base_url=BASE_URL)

    def adapter(
        self, name: str, client: httpx.AsyncClient, clock: Callable[[], datetime]
    ) -> PayoutProvider:
        """The real adapter for provider ``name`` with the sandbox's fake credentials."""
        context = AdapterContext(
            base_url=BASE_URL, notify_url=f"{NOTIFY_BASE}/{name}", timeouts=ProviderTimeouts()
        )
        if name not in {provider.value for provider in Provider}:
            raise KeyError(f"no provider {name!r} in the simulation")
        return sandbox_adapter(Provider(name), self.sandbox.config, context, client, clock)

    # ---- one call ----------------------------------------------------------------------------

    async def exchange(self, request: HttpRequest, read_timeout: float) -> HttpResponse:
        """One HTTP exchange with a provider, faults and network time included."""
        routed = self.sandbox.route(request)
        if isinstance(routed, HttpResponse):
            return routed
        self.calls += 1
        fault = self._dice.first(*_CALL_FAULTS)
        await self._travel()
        if fault == "provider_refused":
            raise httpx.ConnectError("connection refused")
        if fault == "provider_reset":
            raise httpx.ReadError("connection reset by peer")
        if fault == "provider_lands_late":
            # Stuck in the provider's queue: processed after the caller gave up, sometimes
            # after its first queries were told "no such order".
            self._loop.call_later(self._rng.uniform(1.0, 300.0), self._perform_late, routed)
        if fault in ("provider_read_timeout", "provider_lands_late"):
            await asyncio.sleep(read_timeout)
            raise httpx.ReadTimeout("timed out waiting for the answer")
        answer = self._perform(routed, duplicate=fault == "provider_duplicate")
        if fault == "provider_lost_answer":
            await asyncio.sleep(read_timeout)
            raise httpx.ReadTimeout("timed out waiting for the answer")
        if fault in _FAULT_ANSWERS:
            answer = _FAULT_ANSWERS[fault]
        if fault == "provider_latency":
            late = self._rng.uniform(0.5, 1.5) * read_timeout
            if late >= read_timeout:
                await asyncio.sleep(read_timeout)
                raise httpx.ReadTimeout("timed out waiting for the answer")
            await asyncio.sleep(late)
        await self._travel()
        return answer

    def _perform_late(self, call: ProviderCall) -> None:
        self._perform(call, duplicate=False)

    def _perform(self, call: ProviderCall, *, duplicate: bool) -> HttpResponse:
        # A duplicate: the create arrived twice (a proxy's retry); what we see is the answer to
        # the second. Only pg_v2 refuses a reused merchant number, so only there is it harmless.
        twice = duplicate and call.operation is Operation.CREATE
        if twice and call.provider is Provider.PG_V2:
            call.perform()
        answer = call.perform()
        if call.operation is Operation.CREATE and call.merchant_no is not None:
            self._time_new_payouts(call.provider, call.merchant_no)
        return answer

    async def _travel(self) -> None:
        await asyncio.sleep(self._rng.uniform(*_ONE_WAY_S))

    # ---- settlement ----------------------------------------------------------------------------

    def _time_new_payouts(self, provider: Provider, merchant_no: str) -> None:
        for order in self.sandbox.state.orders_for(provider, merchant_no):
            key = (provider, order.provider_order_id)
            if key in self._timed:
                continue
            self._timed.add(key)
            if order.due_at is not None:
                self._at(order.due_at, provider, order.provider_order_id)

    def _at(self, moment: float, provider: Provider, provider_order_id: str) -> None:
        self._loop.call_at(moment, self._advance, provider, provider_order_id)

    def _advance(self, provider: Provider, provider_order_id: str) -> None:
        upcoming = self.sandbox.state.advance_one(provider, provider_order_id)
        if upcoming is not None:
            self._at(upcoming, provider, provider_order_id)

    def _settled(self, order: SandboxOrder) -> None:
        message = self.sandbox.callback_for(order)
        if message is not None:
            self._on_callback(message, order)


class _SimTransport(httpx.AsyncBaseTransport):
    """httpx requests handed to the sandbox's routes, with crash points either side."""

    def __init__(self, providers: SimProviders) -> None:
        self._providers = providers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        checkpoint("before a provider call")
        body = await request.aread()
        timeouts = request.extensions.get("timeout", {})
        read_timeout = float(timeouts.get("read") or 10.0)
        wire = HttpRequest(
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            url=str(request.url),
            body=body,
            headers={key.lower(): value for key, value in request.headers.items()},
        )
        answer = await self._providers.exchange(wire, read_timeout)
        checkpoint("after a provider call")
        headers = [("content-type", answer.content_type), *answer.headers]
        return httpx.Response(answer.status, headers=headers, content=answer.body)
