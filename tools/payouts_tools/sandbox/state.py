"""The sandbox's books: payouts at both providers, how and when they settle, and balances.

One lock guards everything here. Settling a payout writes the ledger and then tells the
subscribers (the callback sender) with a snapshot of the order, outside the lock.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import count
from typing import Final

from pydantic import BaseModel, Field

from payouts_tools.sandbox.config import Provider, SandboxConfig, SandboxModel
from payouts_tools.sandbox.faults import FaultBook
from payouts_tools.sandbox.ledger import EntryKind, Ledger, LedgerEntry

# The settlement worker never sleeps longer than this, so config changes apply promptly.
MAX_IDLE_S: Final = 0.25


class Outcome(StrEnum):
    """How a payout ends."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCEL = "cancel"
    NEVER = "never"  # stays pending forever
    REVERSE = "reverse"  # paid, then returned


class CallbackMode(StrEnum):
    """How a payout's callbacks travel."""

    NORMAL = "normal"
    DUPLICATE = "duplicate"  # each callback is sent twice
    REORDER = "reorder"  # the first callback is held back so later ones overtake it
    DROP = "drop"  # never sent


class PayoutState(StrEnum):
    """Where a payout stands at the provider (each API renders it in its own words)."""

    PENDING = "PENDING"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REVERSED = "REVERSED"


class Script(SandboxModel):
    """A scripted fate for one merchant order number, e.g. "PO-3 succeeds on its 3rd query".

    With neither ``after_s`` nor ``after_queries`` the configured settle triggers apply.
    """

    outcome: Outcome
    after_s: float | None = Field(default=None, ge=0)
    after_queries: int | None = Field(default=None, ge=1)
    reverse_after_s: float | None = Field(default=None, ge=0)
    callback: CallbackMode | None = None


@dataclass(frozen=True)
class NewOrder:
    """A create the provider API has validated."""

    provider: Provider
    merchant_no: str
    amount_minor: int
    currency: str
    method: str
    notify_url: str | None = None
    merchant_attach: str | None = None


@dataclass
class SandboxOrder:
    """One payout at a provider. Mutated only under the state's lock; others get copies."""

    provider: Provider
    merchant_no: str
    provider_order_id: str
    amount_minor: int
    currency: str
    method: str
    notify_url: str | None
    merchant_attach: str | None
    fee_minor: int
    created_at: float  # unix seconds
    created_mono: float  # monotonic seconds, what the settle timers count from
    outcome: Outcome
    due_at: float | None  # monotonic seconds; None: no time trigger
    due_after_queries: int | None
    reverse_after_s: float
    callback_mode: CallbackMode | None  # None: drawn from the configured ratios
    sequence: int
    state: PayoutState = PayoutState.PENDING
    queries: int = 0
    settled_at: float | None = None
    reversed_at: float | None = None
    reverse_due: float | None = None  # monotonic

    @property
    def updated_at(self) -> float:
        """When the payout last changed."""
        return self.reversed_at or self.settled_at or self.created_at


class OrderView(SandboxModel):
    """A payout as the admin API and ``Sandbox.orders()`` show it."""

    provider: Provider
    merchant_no: str
    provider_order_id: str
    amount_minor: int
    currency: str
    method: str
    state: PayoutState
    outcome: Outcome
    queries: int
    created_at: float
    settled_at: float | None
    reversed_at: float | None

    @classmethod
    def of(cls, order: SandboxOrder) -> OrderView:
        """The view of ``order``."""
        return cls(
            provider=order.provider,
            merchant_no=order.merchant_no,
            provider_order_id=order.provider_order_id,
            amount_minor=order.amount_minor,
            currency=order.currency,
            method=order.method,
            state=order.state,
            outcome=order.outcome,
            queries=order.queries,
            created_at=order.created_at,
            settled_at=order.settled_at,
            reversed_at=order.reversed_at,
        )


@dataclass(frozen=True)
class Balance:
    """A currency's merchant balance at a provider, minor units: what is left after payments,
    and how much of it pending payouts hold."""

    currency: str
    remaining_minor: int
    pending_minor: int


Subscriber = Callable[[SandboxOrder], None]
_Key = tuple[Provider, str]


@dataclass(frozen=True)
class SandboxClock:
    """The sandbox's two clocks: wall time (what providers put in their answers) and a monotonic
    one (what settle timers count on). Injectable so a simulation runs the same books in virtual
    time."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


class SandboxState:
    """Orders, scripts, ledger and faults of one sandbox."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock | None = None) -> None:
        self._lock = threading.RLock()
        self._config = config
        self._clock = clock or SandboxClock()
        self._orders: dict[_Key, list[SandboxOrder]] = {}
        self._by_provider_id: dict[_Key, SandboxOrder] = {}
        self._scripts: dict[_Key, Script] = {}
        self._outcome_rng = random.Random(config.seed)
        self._callback_rng = random.Random(config.seed)
        # Provider ids are never reused in a sandbox's life, not even across resets.
        self._sequence = count(1)
        self._subscribers: list[Subscriber] = []
        self.ledger = Ledger()
        self.faults = FaultBook(config.seed)
        self.changed = threading.Event()  # wakes the settlement worker

    @property
    def clock(self) -> SandboxClock:
        """The clocks the books run on."""
        return self._clock

    @property
    def config(self) -> SandboxConfig:
        """The current configuration."""
        with self._lock:
            return self._config

    def configure(self, changes: Mapping[str, object]) -> SandboxConfig:
        """Apply a partial configuration (nested models may be partial too) and return the whole.

        A new seed restarts every random source. The port cannot change while running.
        """
        with self._lock:
            merged = _deep_merge(self._config.model_dump(), _plain(changes))
            updated = SandboxConfig.model_validate(merged)
            if updated.port != self._config.port:
                raise ValueError("the port cannot change while the sandbox runs")
            reseed = updated.seed != self._config.seed
            self._config = updated
            if reseed:
                self._reseed()
        self.changed.set()
        return updated

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with a snapshot whenever a payout settles or is reversed."""
        self._subscribers.append(subscriber)

    # ------------------------------------------------------------------------------ creates

    def open_order(
        self, new: NewOrder, *, dedupe: bool, make_id: Callable[[int, float], str]
    ) -> tuple[SandboxOrder, bool]:
        """Create a payout, or with ``dedupe`` return the existing one for the merchant number.

        Returns a snapshot and whether a new payout was made.
        """
        key = (new.provider, new.merchant_no)
        with self._lock:
            existing = self._orders.get(key)
            if dedupe and existing:
                return copy.copy(existing[0]), False
            order = self._new_order(new, make_id)
            self._orders.setdefault(key, []).append(order)
            self._by_provider_id[(new.provider, order.provider_order_id)] = order
            snapshot = copy.copy(order)
        self.changed.set()
        return snapshot, True

    def _new_order(self, new: NewOrder, make_id: Callable[[int, float], str]) -> SandboxOrder:
        sequence = next(self._sequence)
        now = self._clock.wall()
        order = SandboxOrder(
            provider=new.provider,
            merchant_no=new.merchant_no,
            provider_order_id=make_id(sequence, now),
            amount_minor=new.amount_minor,
            currency=new.currency,
            method=new.method,
            notify_url=new.notify_url,
            merchant_attach=new.merchant_attach,
            fee_minor=self._config.fee_for(new.amount_minor),
            created_at=now,
            created_mono=self._clock.monotonic(),
            outcome=Outcome.SUCCESS,
            due_at=None,
            due_after_queries=None,
            reverse_after_s=self._config.reverse_after_s,
            callback_mode=None,
            sequence=sequence,
        )
        script = self._scripts.get((new.provider, new.merchant_no))
        self._plan(order, script)
        return order

    def _plan(self, order: SandboxOrder, script: Script | None) -> None:
        config = self._config
        if script is None:
            order.outcome = self._draw_outcome()
            after_s, after_queries = config.settle_after_s, config.settle_after_queries
        else:
            order.outcome = script.outcome
            order.callback_mode = script.callback
            if script.reverse_after_s is not None:
                order.reverse_after_s = script.reverse_after_s
            after_s, after_queries = script.after_s, script.after_queries
            if after_s is None and after_queries is None:
                after_s, after_queries = config.settle_after_s, config.settle_after_queries
        order.due_at = None if after_s is None else order.created_mono + after_s
        order.due_after_queries = after_queries

    def _draw_outcome(self) -> Outcome:
        mix = self._config.mix
        outcomes = [Outcome.SUCCESS, Outcome.FAILURE, Outcome.CANCEL]
        weights = [mix.success, mix.failure, mix.cancel]
        return self._outcome_rng.choices(outcomes, weights=weights)[0]

    def draw_callback_mode(self, order: SandboxOrder) -> CallbackMode:
        """The order's scripted callback mode, or one drawn from the configured ratios."""
        if order.callback_mode is not None:
            return order.callback_mode
        with self._lock:
            options = self._config.callbacks
            for ratio, mode in (
                (options.drop_ratio, CallbackMode.DROP),
                (options.duplicate_ratio, CallbackMode.DUPLICATE),
                (options.reorder_ratio, CallbackMode.REORDER),
            ):
                if ratio > 0 and self._callback_rng.random() < ratio:
                    return mode
        return CallbackMode.NORMAL

    # ------------------------------------------------------------------------------ lookups

    def orders_for(self, provider: Provider, merchant_no: str) -> list[SandboxOrder]:
        """Snapshots of the payouts made under one merchant number, oldest first."""
        with self._lock:
            return [copy.copy(order) for order in self._orders.get((provider, merchant_no), [])]

    def order_by_provider_id(
        self, provider: Provider, provider_order_id: str
    ) -> SandboxOrder | None:
        """A snapshot of the payout with this provider id, if any."""
        with self._lock:
            order = self._by_provider_id.get((provider, provider_order_id))
            return None if order is None else copy.copy(order)

    def observe_query(self, provider: Provider, merchant_no: str) -> list[SandboxOrder]:
        """Count a query against every payout under the merchant number, settle those whose time
        (or query count) has come, and return snapshots, oldest first."""
        settled: list[SandboxOrder] = []
        with self._lock:
            orders = self._orders.get((provider, merchant_no), [])
            now = self._clock.monotonic()
            for order in orders:
                order.queries += 1
                settled.extend(self._advance(order, now))
            snapshots = [copy.copy(order) for order in orders]
        self._notify(settled)
        return snapshots

    def advance_one(self, provider: Provider, provider_order_id: str) -> float | None:
        """Settle or reverse one payout if its time has come (what ``settle_due`` does for all,
        for a caller that keeps its own timers). Returns when its next timed event is due
        (monotonic seconds), or None when it has none."""
        with self._lock:
            order = self._by_provider_id.get((provider, provider_order_id))
            if order is None:
                return None
            settled = self._advance(order, self._clock.monotonic())
            upcoming = min(_timers(order), default=None)
        self._notify(settled)
        return upcoming

    def views(self) -> list[OrderView]:
        """Every payout, in creation order."""
        with self._lock:
            orders = sorted(self._by_provider_id.values(), key=lambda order: order.sequence)
            return [OrderView.of(order) for order in orders]

    # --------------------------------------------------------------------------- settlement

    def settle_due(self) -> float | None:
        """Settle or reverse every payout whose time has come. Returns the seconds until the next
        timed event, or None when nothing is scheduled."""
        settled: list[SandboxOrder] = []
        with self._lock:
            now = self._clock.monotonic()
            for order in self._by_provider_id.values():
                settled.extend(self._advance(order, now))
            upcoming = [
                moment - now for order in self._by_provider_id.values() for moment in _timers(order)
            ]
        self._notify(settled)
        return min(upcoming, default=None)

    def _advance(self, order: SandboxOrder, now: float) -> list[SandboxOrder]:
        """Move ``order`` on if due; returns snapshots of each change, for the subscribers."""
        changes: list[SandboxOrder] = []
        if order.state is PayoutState.PENDING and _is_due(order, now):
            self._settle(order, now)
            changes.append(copy.copy(order))
        if order.reverse_due is not None and now >= order.reverse_due:
            self._reverse(order)
            changes.append(copy.copy(order))
        return changes

    def _settle(self, order: SandboxOrder, now: float) -> None:
        order.settled_at = self._clock.wall()
        if order.outcome in (Outcome.SUCCESS, Outcome.REVERSE):
            order.state = PayoutState.PAID
            self._record(order, EntryKind.PAYMENT, order.amount_minor, order.settled_at)
            if order.outcome is Outcome.REVERSE:
                order.reverse_due = now + order.reverse_after_s
        elif order.outcome is Outcome.FAILURE:
            order.state = PayoutState.FAILED
        else:
            order.state = PayoutState.CANCELLED

    def _reverse(self, order: SandboxOrder) -> None:
        order.reverse_due = None
        order.reversed_at = self._clock.wall()
        order.state = PayoutState.REVERSED
        self._record(order, EntryKind.REVERSAL, -order.amount_minor, order.reversed_at)

    def _record(self, order: SandboxOrder, kind: EntryKind, amount_minor: int, at: float) -> None:
        self.ledger.record(
            LedgerEntry(
                provider=order.provider,
                merchant_no=order.merchant_no,
                provider_order_id=order.provider_order_id,
                amount_minor=amount_minor,
                currency=order.currency,
                at=at,
                kind=kind,
                # Charged with the payment and kept on a reversal (as the balance counts it).
                fee_minor=order.fee_minor if kind is EntryKind.PAYMENT else 0,
            )
        )

    def _notify(self, changes: Iterable[SandboxOrder]) -> None:
        for order in changes:
            for subscriber in self._subscribers:
                subscriber(order)

    # ------------------------------------------------------------------------------ scripts

    def set_script(self, provider: Provider, merchant_no: str, script: Script) -> None:
        """Script the fate of a merchant number: future payouts under it, and those still
        pending (their timers count from their creation)."""
        key = (provider, merchant_no)
        with self._lock:
            self._scripts[key] = script
            for order in self._orders.get(key, []):
                if order.state is PayoutState.PENDING:
                    self._plan(order, script)
        self.changed.set()

    def scripts(self) -> dict[str, Script]:
        """The scripts in force, keyed ``provider/merchant_no``."""
        with self._lock:
            return {f"{p}/{no}": script for (p, no), script in self._scripts.items()}

    # ----------------------------------------------------------------------------- balances

    def balances(self, provider: Provider, currencies: Iterable[str]) -> list[Balance]:
        """Each currency's balance: the opening balance less payments (net of reversals) and fees
        of paid payouts; pending payouts are reported as held."""
        with self._lock:
            opening = self._config.opening_balance_minor
            orders = [o for o in self._by_provider_id.values() if o.provider is provider]
            result = []
            for currency in currencies:
                mine = [order for order in orders if order.currency == currency]
                fees = sum(o.fee_minor for o in mine if o.state in _FEE_CHARGED)
                pending = sum(o.amount_minor for o in mine if o.state is PayoutState.PENDING)
                sent = self.ledger.net_sent_minor(provider, currency)
                result.append(Balance(currency, opening - sent - fees, pending))
            return result

    # -------------------------------------------------------------------------------- reset

    def reset(self) -> None:
        """Forget every payout, script, fault and ledger entry; restart the random sources."""
        with self._lock:
            self._orders.clear()
            self._by_provider_id.clear()
            self._scripts.clear()
            self.ledger.clear()
            self.faults.clear()
            self._reseed()
        self.changed.set()

    def _reseed(self) -> None:
        seed = self._config.seed
        self._outcome_rng = random.Random(seed)
        self._callback_rng = random.Random(seed)
        self.faults.reseed(seed)


_FEE_CHARGED: Final = frozenset({PayoutState.PAID, PayoutState.REVERSED})


def charged_fee(order: SandboxOrder) -> int:
    """The fee an answer reports for ``order``: what was charged, so 0 until it is paid (and
    for a payout that failed), as the ledger and the balance count it."""
    return order.fee_minor if order.state in _FEE_CHARGED else 0


def _is_due(order: SandboxOrder, now: float) -> bool:
    if order.outcome is Outcome.NEVER:
        return False
    by_time = order.due_at is not None and now >= order.due_at
    by_queries = order.due_after_queries is not None and order.queries >= order.due_after_queries
    return by_time or by_queries


def _timers(order: SandboxOrder) -> list[float]:
    timers = []
    pending = order.state is PayoutState.PENDING and order.outcome is not Outcome.NEVER
    if pending and order.due_at is not None:
        timers.append(order.due_at)
    if order.reverse_due is not None:
        timers.append(order.reverse_due)
    return timers


def _plain(changes: Mapping[str, object]) -> dict[str, object]:
    """Models given to ``configure`` as plain dicts, so they merge like JSON does."""
    return {
        key: value.model_dump() if isinstance(value, BaseModel) else value
        for key, value in changes.items()
    }


def _deep_merge(base: dict[str, object], changes: Mapping[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in changes.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged
