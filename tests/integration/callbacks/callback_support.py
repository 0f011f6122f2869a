"""Helpers of the callback integration tests: the handler's fake Lambda context, seeding orders
as the intake leaves them, snapshots to prove that a refused callback changed nothing, and the
metrics the handler printed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import httpx

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, CreateOutcome
from payouts.store import Applied, OrderStore
from payouts_tools.sandbox import Sandbox
from tests.support.orders import make_request
from tests.support.sandbox_adapters import adapter_for

S = OrderStatus


@dataclass(frozen=True)
class FakeLambdaContext:
    """What Powertools reads from the Lambda context."""

    function_name: str = "payouts-callback"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:payouts-callback"
    aws_request_id: str = "4f1c9a5e-0000-4000-8000-00000000cb01"


@dataclass(frozen=True)
class Answer:
    """The handler's HTTP answer."""

    status: int
    body: str
    content_type: str | None

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def invoke(handler_module: ModuleType, event: dict[str, Any]) -> Answer:
    """Call the real handler with ``event`` and read its proxy answer."""
    result = handler_module.lambda_handler(event, FakeLambdaContext())
    headers = {**(result.get("headers") or {})}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = values[-1]
    return Answer(int(result["statusCode"]), result["body"], headers.get("Content-Type"))


def submitted_order(
    store: OrderStore,
    payout_id: str,
    *,
    method: str,
    value: int,
    provider: str,
    provider_order_id: str | None,
    now: datetime,
) -> Order:
    """An order as the intake leaves it after an accepted create: SUBMITTED, due soon."""
    request = make_request(payout_id, method, value)
    created = store.create(request, now, next_check_at=now + timedelta(minutes=1))
    order = created.order
    claimed = store.transition(
        order, S.SUBMITTING, _note("claimed for sending"), now, provider=provider
    )
    assert isinstance(claimed, Applied)
    accepted = store.transition(
        claimed.order,
        S.SUBMITTED,
        _note("provider accepted"),
        now,
        provider_order_id=provider_order_id,
        next_check_at=now + timedelta(minutes=1),
    )
    assert isinstance(accepted, Applied)
    return accepted.order


def create_at_sandbox(sandbox: Sandbox, order: Order, notify_url: str) -> str:
    """Send ``order``'s create to the sandbox with the real adapter; its payout number."""
    method = order.request.method if order.request is not None else "UPI"

    async def create() -> CreateOutcome:
        async with httpx.AsyncClient() as client:
            return await adapter_for(method, sandbox, notify_url, client).create(order)

    outcome = asyncio.run(create())
    assert outcome.kind is CreateKind.ACCEPTED, outcome
    assert outcome.provider_order_id is not None
    return outcome.provider_order_id


def settled_order(store: OrderStore, order: Order, to: OrderStatus, now: datetime) -> Order:
    """``order`` moved on to ``to`` (as a query would have)."""
    moved = store.transition(order, to, _note(f"query says {to}"), now)
    assert isinstance(moved, Applied)
    return moved.order


@dataclass(frozen=True)
class Snapshot:
    """An order and its whole history at one moment."""

    order: Order | None
    history: list[Evidence]


def snapshot(store: OrderStore, payout_id: str) -> Snapshot:
    """The order and its evidence as stored now."""
    return Snapshot(store.get(payout_id), store.history(payout_id))


def callback_evidence(store: OrderStore, payout_id: str) -> list[Evidence]:
    """The order's evidence that came from callbacks (applied, recorded or escalated)."""
    return [item for item in store.history(payout_id) if "body_sha256" in item.detail]


def printed_metrics(output: str) -> dict[str, float]:
    """Sum of every metric in the EMF lines the handler printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                total = sum(values) if isinstance(values, list) else values
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + total
    return totals


def _note(summary: str) -> Evidence:
    return Evidence(kind=EvidenceKind.TRANSITION, summary=summary)
