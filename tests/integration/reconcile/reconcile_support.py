"""Test doubles for the reconcile tests: a virtual clock, a scripted provider, and orders stored in
any status through the store's own transitions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import (
    Ack,
    BalanceEntry,
    CallbackEvent,
    CreateKind,
    CreateOutcome,
    QueryKind,
    QueryOutcome,
    RawExchange,
)
from payouts.store import Applied, Created, OrderStore
from tests.support.orders import T0, make_request

S = OrderStatus

# The path from RECEIVED to each status, as the system itself gets there.
PATHS: Mapping[OrderStatus, tuple[OrderStatus, ...]] = {
    S.RECEIVED: (),
    S.SUBMITTING: (S.SUBMITTING,),
    S.SUBMITTED: (S.SUBMITTING, S.SUBMITTED),
    S.UNKNOWN: (S.SUBMITTING, S.UNKNOWN),
    S.SUCCEEDED: (S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED),
}
CURRENCY = {"ALIPAY": "CNY", "UPI": "INR", "BANK_ACCOUNT": "INR", "PIX": "BRL"}
PROVIDER = {"ALIPAY": "gateway_v2", "UPI": "pg_v2", "BANK_ACCOUNT": "pg_v2", "PIX": "pg_v2"}


class VirtualClock:
    """A clock tests move by hand (or a patched Wait moves), thread-safe."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The virtual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock on."""
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``."""
        with self._lock:
            self._now = moment


def store_order(
    store: OrderStore,
    payout_id: str,
    status: OrderStatus,
    *,
    method: str = "ALIPAY",
    value: int = 50000,
    at: datetime = T0,
    **changes: Any,
) -> Order:
    """An order stored in ``status`` at ``at``, with ``changes`` on its last write (by default
    due at ``at`` with its provider set as routed)."""
    created = store.create(make_request(payout_id, method, value), at, at)
    assert isinstance(created, Created)
    order = created.order
    path = PATHS[status]
    fields: dict[str, Any] = {"next_check_at": at, **changes}
    if status is not S.RECEIVED:
        fields.setdefault("provider", PROVIDER[method])
        fields.setdefault("submit_attempts", 1)
    if status is S.SUBMITTED:
        fields.setdefault("provider_order_id", f"P-{payout_id}")
    for index, step in enumerate(path):
        last = index == len(path) - 1
        note = Evidence(kind=EvidenceKind.TRANSITION, summary=f"setup: to {step}", at=at)
        moved = store.transition(order, step, note, at, **(fields if last else {}))
        assert isinstance(moved, Applied)
        order = moved.order
    if not path and changes:
        updated = store.update(order, at, None, **changes)
        assert isinstance(updated, Applied)
        order = updated.order
    return order


def answer(
    kind: QueryKind,
    *,
    amount: int | None = 50000,
    currency: str | None = "CNY",
    provider_order_id: str | None = "P-1",
    documented: bool = True,
) -> QueryOutcome:
    """A query answer as an adapter would return it (a documented verdict unless told)."""
    known = kind not in {QueryKind.NOT_FOUND, QueryKind.UNKNOWN}
    return QueryOutcome(
        kind,
        f"scripted {kind.value}",
        RawExchange("ok", 200, "OK", body_excerpt='{"code":"OK"}'),
        provider_order_id=provider_order_id if known else None,
        amount_minor=amount if known else None,
        currency=currency if known else None,
        documented=documented,
    )


def create_outcome(kind: CreateKind, provider_order_id: str | None = "P-new") -> CreateOutcome:
    """A create outcome as an adapter would return it."""
    return CreateOutcome(
        kind,
        f"scripted {kind.value}",
        RawExchange("ok", 200, "OK"),
        provider_order_id=provider_order_id if kind is CreateKind.ACCEPTED else None,
    )


@dataclass
class ScriptedProvider:
    """A provider port whose answers come from scripts: per merchant number, the next query
    answers in turn (the last one repeats); every call is recorded."""

    name: str
    queries: list[str] = field(default_factory=list)
    creates: list[str] = field(default_factory=list)
    query_script: dict[str, list[QueryOutcome | BaseException]] = field(default_factory=dict)
    create_script: dict[str, CreateOutcome | BaseException] = field(default_factory=dict)
    default_answer: QueryOutcome = field(default_factory=lambda: answer(QueryKind.PENDING))
    on_query: Callable[[Order], None] | None = None

    async def create(self, order: Order) -> CreateOutcome:
        """Record the create and answer from the script (ACCEPTED by default)."""
        self.creates.append(order.payout_id)
        scripted = self.create_script.get(order.payout_id, create_outcome(CreateKind.ACCEPTED))
        if isinstance(scripted, BaseException):
            raise scripted
        return scripted

    async def query(self, order: Order) -> QueryOutcome:
        """Record the query and answer from the script."""
        self.queries.append(order.payout_id)
        if self.on_query is not None:
            self.on_query(order)
        script = self.query_script.get(order.payout_id)
        if not script:
            return self.default_answer
        scripted = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(scripted, BaseException):
            raise scripted
        return scripted

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        """Not used by the reconcile loop."""
        raise NotImplementedError

    def ack(self) -> Ack:
        """Not used by the reconcile loop."""
        raise NotImplementedError

    async def balance(self) -> list[BalanceEntry]:
        """Not used by the reconcile loop."""
        raise NotImplementedError
