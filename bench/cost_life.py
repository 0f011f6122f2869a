"""One payout's life on the callback path, run through the real services over any DynamoDB
client, phase by phase, so that a meter can say what each phase cost.

The life: intake (create -> claim -> SUBMITTED, the provider sandbox answering in-process),
optionally one "still pending" check by the reconcile loop, the provider settles, its signed
callback arrives (SUCCEEDED), and optionally the same callback again (a provider's retry). The
table, the settings and the routes are the template's (through the simulator's ``deployment``),
so the figures follow whatever the template and the store write.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol

import httpx

from payouts.domain.status import OrderStatus
from payouts.providers.base import AdapterContext, PayoutProvider
from payouts.providers.routing import Router
from payouts.services.callbacks import CallbackPolicy, CallbackRequest, handle_callback
from payouts.services.intake import Disposition, Intake, IntakeMessage, IntakeTimings
from payouts.services.provider_gate import ProviderGate
from payouts.services.reconcile import ReconcilePolicy, Reconciler
from payouts.store import OrderStore
from payouts.store.provider_state import ProviderStateStore
from payouts_tools.sandbox import Sandbox, SandboxConfig
from payouts_tools.sandbox.adapters import sandbox_adapter
from payouts_tools.sandbox.callbacks import CallbackMessage
from payouts_tools.sandbox.config import CallbackOptions, Provider
from payouts_tools.sandbox.state import SandboxClock, SandboxOrder
from payouts_tools.sandbox.wire import HttpRequest, HttpResponse
from payouts_tools.sim import config as cfg
from payouts_tools.sim.world import InlineExecutor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BASE_URL: Final = "https://providers.bench.invalid"
NOTIFY_BASE: Final = "https://callbacks.bench.invalid/callbacks"
START: Final = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Later than any first check of a SUBMITTED order (minutes), so that a check finds it still
# processing, and well within a day of creation as nearly every payout settles (one settled
# more than a day after creation pays one erasable-index entry more: docs/table-design.md);
# the life moves the clock to the settle time itself.
SETTLE_AFTER_S: Final = 3_600.0
METHODS: Final = {"ALIPAY": "CNY", "UPI": "INR", "BANK_ACCOUNT": "INR", "PIX": "BRL"}
_BENEFICIARIES: Final[dict[str, dict[str, str]]] = {
    "ALIPAY": {"method": "ALIPAY", "account_name": "bench_payee", "surname": "b"},
    "UPI": {"method": "UPI", "vpa": "payee@okbank", "payee_name": "Bench Payee"},
    "BANK_ACCOUNT": {
        "method": "BANK_ACCOUNT",
        "account_number": "001234567890",
        "ifsc": "HDFC0001234",
        "payee_name": "Bench Payee",
    },
    "PIX": {
        "method": "PIX",
        "pix_key_type": "EMAIL",
        "pix_key": "payee@example.com",
        "payee_name": "Bench Payee",
    },
}

INTAKE: Final = "intake"
PENDING_CHECK: Final = "pending_check"
CALLBACK: Final = "callback"
CALLBACK_RETRY: Final = "callback_retry"


class Meter(Protocol):
    """Capacity consumed so far, by target (``"<table>"``, ``"<table>/<index>"``)."""

    def writes(self) -> dict[str, float]:
        """Write units by target."""
        ...

    def reads(self) -> dict[str, float]:
        """Read units by target."""
        ...

    def transaction_index_writes(self) -> dict[str, float]:
        """The part of each index's write units that transactions wrote (AWS bills it once,
        DynamoDB Local reports it twice); empty when the engine cannot tell."""
        ...


@dataclass
class PhaseCost:
    """What one phase of one life consumed, and how long its service call took."""

    writes: dict[str, float] = field(default_factory=dict)
    reads: dict[str, float] = field(default_factory=dict)
    transaction_index_writes: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class LifeCost:
    """Phase name -> its cost, for one payout; and the stream records it produced (if any)."""

    method: str
    phases: dict[str, PhaseCost] = field(default_factory=dict)
    final_status: str = ""


def difference(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    """``after - before`` per target, every target of either side present."""
    return {key: after.get(key, 0.0) - before.get(key, 0.0) for key in {*after, *before}}


class _VirtualClock:
    """The one clock of a life: services, the sandbox's books and its settle timers."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class _SandboxTransport(httpx.AsyncBaseTransport):
    """httpx requests answered by the sandbox's routes in-process (no sockets, no faults)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        wire = HttpRequest(
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            url=str(request.url),
            body=await request.aread(),
            headers={key.lower(): value for key, value in request.headers.items()},
        )
        routed = self._sandbox.route(wire)
        answer: HttpResponse = routed if isinstance(routed, HttpResponse) else routed.perform()
        headers = [("content-type", answer.content_type), *answer.headers]
        return httpx.Response(answer.status, headers=headers, content=answer.body)


class _Adapters:
    """The real adapters of both providers, talking to the in-process sandbox."""

    def __init__(self, sandbox: Sandbox, clock: _VirtualClock) -> None:
        self._client = httpx.AsyncClient(transport=_SandboxTransport(sandbox), base_url=BASE_URL)
        self._adapters = {
            provider.value: sandbox_adapter(
                provider,
                sandbox.config,
                AdapterContext(base_url=BASE_URL, notify_url=f"{NOTIFY_BASE}/{provider.value}"),
                self._client,
                clock,
            )
            for provider in Provider
        }

    def provider(self, name: str) -> PayoutProvider:
        return self._adapters[name]

    def get(self, name: str, /) -> PayoutProvider | None:
        return self._adapters.get(name)


class _NoDeadLetters:
    def send(self, message: IntakeMessage, reason: str) -> None:
        raise AssertionError(f"a benchmark request was refused: {reason}")


def _no_count(_: str) -> None:
    """Metrics are not the benchmark's business."""


def request_body(payout_id: str, method: str) -> str:
    """The JSON a publisher sends for one payout of ``method``."""
    return json.dumps(
        {
            "payout_id": payout_id,
            "amount": {"value": 125000, "currency": METHODS[method]},
            "beneficiary": _BENEFICIARIES[method],
            "description": "bench payout",
        }
    )


class Lives:
    """Runs lives one after the other over ``client``'s table, metered by ``meter``."""

    def __init__(self, client: DynamoDBClient, table: str, meter: Meter) -> None:
        self._client = client
        self._table = table
        self._meter = meter
        self._clock = _VirtualClock()
        deploy = cfg.deployment()
        self._deploy = deploy
        sandbox_clock = SandboxClock(wall=self._clock.seconds, monotonic=self._clock.seconds)
        config = SandboxConfig(
            settle_after_s=SETTLE_AFTER_S, fee_minor=0, callbacks=CallbackOptions(enabled=False)
        )
        self._sandbox = Sandbox(config, sandbox_clock)
        self._settled: list[SandboxOrder] = []
        self._sandbox.state.subscribe(self._settled.append)
        self._adapters = _Adapters(self._sandbox, self._clock)
        self._router = Router(deploy.intake.payout_routes)

    def _store(self) -> OrderStore:
        return OrderStore(self._client, self._table, pause=lambda _: None)

    def _gate(self) -> ProviderGate:
        states = ProviderStateStore(self._client, self._table)
        return ProviderGate.from_settings(states, self._deploy.intake, self._clock, _no_count)

    @contextmanager
    def _phase(self, life: LifeCost, name: str) -> Iterator[None]:
        meter = self._meter
        writes, reads = meter.writes(), meter.reads()
        in_transactions = meter.transaction_index_writes()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        life.phases[name] = PhaseCost(
            difference(meter.writes(), writes),
            difference(meter.reads(), reads),
            difference(meter.transaction_index_writes(), in_transactions),
            seconds,
        )

    def live(
        self, payout_id: str, method: str, *, pending_check: bool, callback_retry: bool
    ) -> LifeCost:
        """One payout's life; the optional phases only when asked for."""
        return asyncio.run(self._live(payout_id, method, pending_check, callback_retry))

    async def _live(
        self, payout_id: str, method: str, pending_check: bool, callback_retry: bool
    ) -> LifeCost:
        life = LifeCost(method)
        with self._phase(life, INTAKE):
            disposition = await self._intake(payout_id, method)
        if disposition is not Disposition.SUBMITTED:
            raise RuntimeError(f"{payout_id}: intake ended {disposition}, not SUBMITTED")
        if pending_check:
            self._to_next_check(payout_id)  # the provider has not settled: "processing"
            with self._phase(life, PENDING_CHECK):
                await self._check(payout_id)
        message = self._settle(payout_id)
        with self._phase(life, CALLBACK):
            await self._callback(message)
        if callback_retry:
            with self._phase(life, CALLBACK_RETRY):
                await self._callback(message)
        order = self._store().get(payout_id)
        life.final_status = order.status.value if order is not None else "missing"
        if order is None or order.status is not OrderStatus.SUCCEEDED:
            raise RuntimeError(f"{payout_id}: the life ended {life.final_status}, not SUCCEEDED")
        return life

    async def _intake(self, payout_id: str, method: str) -> Disposition:
        intake = Intake(
            store=self._store(),
            router=self._router,
            providers=self._adapters,
            dead_letters=_NoDeadLetters(),
            timings=IntakeTimings.from_settings(self._deploy.intake),
            gate=self._gate(),
            concurrency=self._deploy.intake.provider_concurrency,
            clock=self._clock,
            count=_no_count,
            threads=InlineExecutor(),
        )
        return await intake.handle(IntakeMessage(f"m-{payout_id}", request_body(payout_id, method)))

    async def _check(self, payout_id: str) -> None:
        reconciler = Reconciler(
            store=self._store(),
            providers=self._adapters,
            router=self._router,
            policy=ReconcilePolicy.from_settings(self._deploy.reconcile),
            gate=self._gate(),
            clock=self._clock,
            random=lambda: 0.5,
        )
        await reconciler.reconcile([payout_id])

    def _to_next_check(self, payout_id: str) -> None:
        order = self._store().get(payout_id)
        if order is None or order.next_check_at is None:
            raise RuntimeError(f"{payout_id}: SUBMITTED without a next check")
        self._clock.now = max(self._clock.now, order.next_check_at)

    def _settle(self, payout_id: str) -> CallbackMessage:
        """Let the provider's settle time pass and return the callback it sends."""
        for provider in Provider:
            for order in self._sandbox.state.orders_for(provider, payout_id):
                if order.due_at is not None:
                    self._clock.now = max(
                        self._clock.now, datetime.fromtimestamp(order.due_at, UTC)
                    )
                self._sandbox.state.advance_one(provider, order.provider_order_id)
        settled = [order for order in self._settled if order.merchant_no == payout_id]
        if not settled:
            raise RuntimeError(f"{payout_id}: the provider did not settle it")
        message = self._sandbox.callback_for(settled[-1])
        if message is None:
            raise RuntimeError(f"{payout_id}: the provider sends no callback")
        return message

    async def _callback(self, message: CallbackMessage) -> None:
        request = CallbackRequest(
            provider=message.provider.value,
            raw_body=message.body,
            headers=dict(message.headers_for()),
        )
        await handle_callback(
            request,
            providers=self._adapters.get,
            store=self._store(),
            policy=CallbackPolicy.from_settings(self._deploy.callbacks),
            now=self._clock(),
        )
