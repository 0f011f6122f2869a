"""The invariants, checked as the simulation runs and once more at the end.

The referee watches three things nobody in the system can fake: the provider's ledger (money that
actually moved), the table's change stream (every write that took effect), and what was
acknowledged to SQS and to providers. It reads item images directly (attribute values), not
through the store, so a bug in the store's decoding cannot hide a violation.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from payouts.domain.erasure import SWEPT_CHANGES_WITHIN
from payouts.domain.status import OrderStatus
from payouts.store.keys import parse_timestamp

S = OrderStatus
_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "REVERSED"})
_NEVER_PAID: Final = frozenset({"FAILED", "REJECTED"})


@dataclass(frozen=True)
class Requested:
    """What a publisher asked for under one payout id (the first valid request)."""

    amount: int
    currency: str
    published_at: float


@dataclass
class OrderView:
    """The referee's copy of one order item: just what the invariants need."""

    status: str
    version: int
    needs_review: bool
    review_reason: str | None
    provider: str | None
    # In the due index: the reconcile loop will look at it (a held order must be).
    due: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    erased_at: datetime | None = None
    # In the sparse erasable index (listed for retention).
    erasable: bool = False


def _text(image: Mapping[str, Any], name: str) -> str | None:
    value = image.get(name)
    return value.get("S") if isinstance(value, Mapping) else None


def _number(image: Mapping[str, Any], name: str) -> int | None:
    value = image.get(name)
    return int(value["N"]) if isinstance(value, Mapping) and "N" in value else None


def _time(image: Mapping[str, Any], name: str) -> datetime | None:
    text = _text(image, name)
    return parse_timestamp(text) if text is not None else None


def _flag(image: Mapping[str, Any], name: str) -> bool:
    value = image.get(name)
    return bool(value.get("BOOL")) if isinstance(value, Mapping) else False


def _requested_amount(image: Mapping[str, Any]) -> tuple[int, str] | None:
    """The amount in the stored request itself (not the index copies of it)."""
    text = _text(image, "request")
    if text is None:
        return None
    amount = json.loads(text)["amount"]
    return int(amount["value"]), str(amount["currency"])


def view_of(image: Mapping[str, Any]) -> OrderView:
    """The referee's view of an order item image."""
    return OrderView(
        status=_text(image, "status") or "?",
        version=_number(image, "version") or 0,
        needs_review=_flag(image, "needs_review"),
        review_reason=_text(image, "review_reason"),
        provider=_text(image, "provider"),
        due=_text(image, "due_pk") is not None,
        created_at=_time(image, "created_at"),
        updated_at=_time(image, "updated_at"),
        erased_at=_time(image, "personal_data_erased_at"),
        erasable=_text(image, "erase_pk") is not None,
    )


@dataclass(frozen=True)
class Erasure:
    """One order's erasure as the stream showed it: its previous change, when, and which way
    the retention function could have found it (``index``: the order was listed erasable)."""

    changed_at: datetime
    erased_at: datetime
    path: str


@dataclass
class Referee:
    """Collects violations of the money rules."""

    violations: list[str] = field(default_factory=list)
    requested: dict[str, Requested] = field(default_factory=dict)
    orders: dict[str, OrderView] = field(default_factory=dict)
    paid: Counter[str] = field(default_factory=Counter)  # payments made per merchant number
    reversed: Counter[str] = field(default_factory=Counter)
    resolved_at: dict[str, float] = field(default_factory=dict)
    # The amount each stored order asks for (a request under a reused id may differ from the
    # first one published: whichever the system stored first is the one that may be paid).
    amounts: dict[str, tuple[int, str]] = field(default_factory=dict)
    published_terminal: dict[str, set[str]] = field(default_factory=dict)
    _evidence: set[tuple[str, int, str]] = field(default_factory=set)
    _awaiting_evidence: list[tuple[str, int, str]] = field(default_factory=list)
    # Retention (None: not judged): the period the function runs with, its schedule, the
    # clock tolerance, and the personal values no erased order may hold in clear.
    retention: timedelta | None = None
    retention_every: timedelta = timedelta(hours=1)
    clock_tolerance: timedelta = timedelta(minutes=1)
    personal: frozenset[str] = frozenset()
    erasures: dict[str, Erasure] = field(default_factory=dict)
    # The latest change of any order other than an erasure (the drain runs past it).
    last_change: datetime | None = None
    # When retention invocations failed or ran out of time with work left: the promised
    # lateness holds only with a complete run each hour.
    retention_misses: list[datetime] = field(default_factory=list)

    def violation(self, text: str) -> None:
        """Record a broken rule."""
        self.violations.append(text)

    # ---- the table's stream ------------------------------------------------------------------

    def on_stream(self, records: Iterable[Mapping[str, Any]], now: float) -> None:
        """Check every write that took effect, in order."""
        for record in records:
            data = record.get("dynamodb", {})
            keys = data.get("Keys", {})
            payout_id = (_text(keys, "PK") or "").removeprefix("PAYOUT#")
            sort_key = _text(keys, "SK") or ""
            new_image = data.get("NewImage")
            if sort_key == "ORDER" and new_image is not None:
                self._order_written(payout_id, data.get("OldImage"), new_image, now)
            elif sort_key.startswith("EVT#") and new_image is not None:
                version = _number(new_image, "order_version")
                detail_to = _text(new_image, "to_status")
                if version is not None and detail_to is not None:
                    self._evidence.add((payout_id, version, detail_to))
            elif sort_key == "ORDER" and record.get("eventName") == "REMOVE":
                self.violation(f"{payout_id}: an order item was deleted")
        self._check_evidence()

    def _order_written(
        self, payout_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], now: float
    ) -> None:
        after = view_of(new)
        before = view_of(old) if old is not None else None
        self.orders[payout_id] = after
        if payout_id not in self.amounts:
            stored = _requested_amount(new)
            if stored is not None:
                self.amounts[payout_id] = stored
        self._note_evidence_on_order(payout_id, old, new, after.version)
        if self.retention is not None:
            self._judge_retention(payout_id, old, new, before, after)
        if before is not None and before.status != after.status:
            if before.status in _TERMINAL and (before.status, after.status) != (
                "SUCCEEDED",
                "REVERSED",
            ):
                self.violation(f"{payout_id}: terminal {before.status} moved to {after.status}")
            self._awaiting_evidence.append((payout_id, after.version, after.status))
        if after.status in _NEVER_PAID and self.paid[payout_id] > self.reversed[payout_id]:
            self.violation(f"{payout_id}: {after.status} while the provider paid it")
        if after.status in _TERMINAL and (before is None or before.status not in _TERMINAL):
            self.resolved_at.setdefault(payout_id, now)

    def _note_evidence_on_order(
        self, payout_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], version: int
    ) -> None:
        # The change that makes an order terminal carries its evidence on the order item
        # (``final_evidence``): it counts for this version only if this very write put it there.
        kept = _text(new, "final_evidence")
        if kept is None or (old is not None and _text(old, "final_evidence") == kept):
            return
        to_status = json.loads(kept).get("to_status")
        if isinstance(to_status, str):
            self._evidence.add((payout_id, version, to_status))

    def _check_evidence(self) -> None:
        # The evidence is written in the same transaction as the transition, so by the end of
        # the drain that saw the transition it must have been seen too.
        for wanted in self._awaiting_evidence:
            if wanted not in self._evidence:
                payout_id, version, status = wanted
                self.violation(f"{payout_id}: v{version} -> {status} has no evidence item")
        self._awaiting_evidence.clear()

    # ---- retention -----------------------------------------------------------------------------

    def _judge_retention(
        self,
        payout_id: str,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any],
        before: OrderView | None,
        after: OrderView,
    ) -> None:
        erased_now = after.erased_at is not None and (before is None or before.erased_at is None)
        if before is not None and before.erased_at is not None and after.erased_at is None:
            self.violation(f"{payout_id}: an erased order holds its personal data again")
        if after.erased_at is not None:
            self._no_personal_value(payout_id, "ORDER", new)
        if not erased_now:
            if after.updated_at is not None and (
                self.last_change is None or after.updated_at > self.last_change
            ):
                self.last_change = after.updated_at
            return
        if old is None or before is None or before.updated_at is None or after.erased_at is None:
            self.violation(f"{payout_id}: erased in the write that stored it")
            return
        self._judge_erasure(payout_id, before.updated_at, after.erased_at, before, after)
        self._judge_money_trail(payout_id, old, new)
        self.erasures[payout_id] = Erasure(
            before.updated_at, after.erased_at, "index" if before.erasable else "sweep"
        )

    def _judge_erasure(
        self,
        payout_id: str,
        changed_at: datetime,
        erased_at: datetime,
        before: OrderView,
        after: OrderView,
    ) -> None:
        # The rule on the stored times, each as its writer's clock saw it: the function erases
        # by its own clock what its own clock says is due.
        if before.status not in _TERMINAL:
            self.violation(f"{payout_id}: erased while {before.status} (not terminal)")
        if changed_at > erased_at - self._retention():
            self.violation(
                f"{payout_id}: erased at {erased_at:%d %H:%M:%S}, before its period: last "
                f"changed at {changed_at:%d %H:%M:%S}"
            )
        for name in ("status", "provider", "needs_review"):
            if getattr(before, name) != getattr(after, name):
                self.violation(f"{payout_id}: the erasure changed its {name}")
        if after.version != before.version + 1:
            self.violation(f"{payout_id}: the erasure moved v{before.version} to v{after.version}")

    def _judge_money_trail(
        self, payout_id: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        # The amount in the stored request itself, erased or not, and the request's hash.
        if _requested_amount(old) != _requested_amount(new):
            self.violation(f"{payout_id}: the erasure changed the amount or currency")
        if _text(old, "fingerprint") != _text(new, "fingerprint"):
            self.violation(f"{payout_id}: the erasure changed the fingerprint")

    def _no_personal_value(self, payout_id: str, sort_key: str, image: Mapping[str, Any]) -> None:
        text = json.dumps(image)
        for value in self.personal:
            if value in text:
                self.violation(f"{payout_id}: erased, but {sort_key} holds {value!r} in clear")
                return

    def on_erased_partition(self, payout_id: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Every item of an erased order's partition, read at the end: none holds a personal
        value in clear (evidence, callback bodies, provider answers)."""
        for item in items:
            self._no_personal_value(payout_id, _text(item, "SK") or "?", item)

    def on_retention_miss(self, at: datetime) -> None:
        """A retention invocation failed, or stopped for time with work left, at ``at``."""
        self.retention_misses.append(at)

    def on_retention_complete(self, now: datetime) -> None:
        """A retention invocation that ran its first pass at ``now`` ended with nothing more to
        do: every order due and reachable then (terminal, unchanged for the period, and changed
        late, so listed, or created long enough ago for the sweep) is erased by now."""
        retention = self._retention()
        for payout_id, order in self.orders.items():
            if payout_id not in self.erasures and self._owed(order, now, retention):
                self.violation(
                    f"{payout_id}: due for erasure at {now:%d %H:%M:%S} (last changed "
                    f"{order.updated_at:%d %H:%M:%S}), not erased by a complete retention run"
                )
                # Judged once: the next complete run would report it again.
                self.erasures[payout_id] = Erasure(order.updated_at or now, now, "missed")

    def _owed(self, order: OrderView, now: datetime, retention: timedelta) -> bool:
        if order.status not in _TERMINAL or order.erased_at is not None:
            return False
        if order.created_at is None or order.updated_at is None:
            return False
        if order.updated_at > now - retention:
            return False
        late = order.updated_at - order.created_at > SWEPT_CHANGES_WITHIN
        return late or order.created_at <= now - retention - SWEPT_CHANGES_WITHIN

    def judge_retention_at_end(self, end: datetime) -> None:
        """After the drain: every terminal order changed more than the promised lateness ago is
        erased, and every erasure came within it unless a retention run failed in between."""
        promised = self._retention() + SWEPT_CHANGES_WITHIN + self.retention_every
        allowed = promised + self.clock_tolerance
        for payout_id, order in sorted(self.orders.items()):
            if order.status not in _TERMINAL or order.updated_at is None:
                continue
            if order.erased_at is None and end - order.updated_at > allowed:
                self.violation(
                    f"{payout_id}: {order.status} since {order.updated_at:%d %H:%M:%S}, "
                    f"never erased (end {end:%d %H:%M:%S})"
                )
        self.retention_misses.sort()
        for payout_id, erasure in sorted(self.erasures.items()):
            late = erasure.erased_at - erasure.changed_at > allowed
            if late and erasure.path != "missed" and not self._missed_between(erasure):
                self.violation(
                    f"{payout_id}: erased {erasure.erased_at - erasure.changed_at} after its last "
                    f"change (promised within {promised}), every retention run complete"
                )

    def _missed_between(self, erasure: Erasure) -> bool:
        # A failed or cut-short run after the order fell due excuses a later erasure.
        due = erasure.changed_at + self._retention()
        start = bisect.bisect_left(self.retention_misses, due)
        return start < len(self.retention_misses) and (
            self.retention_misses[start] <= erasure.erased_at
        )

    def _retention(self) -> timedelta:
        if self.retention is None:
            raise RuntimeError("the referee judges retention only when given its period")
        return self.retention

    def erasures_by_path(self) -> dict[str, int]:
        """How many orders each way erased (``missed``: reported as a violation)."""
        return dict(sorted(Counter(erasure.path for erasure in self.erasures.values()).items()))

    def lateness_hours(self) -> dict[str, float]:
        """Hours from an order's last change to its erasure: the least and the most."""
        hours = [
            (erasure.erased_at - erasure.changed_at).total_seconds() / 3600
            for erasure in self.erasures.values()
            if erasure.path != "missed"
        ]
        return {"min": round(min(hours, default=0.0), 2), "max": round(max(hours, default=0.0), 2)}

    # ---- the provider's ledger ---------------------------------------------------------------

    def on_payment(self, merchant_no: str, amount: int, currency: str) -> None:
        """The provider paid ``merchant_no``."""
        self.paid[merchant_no] += 1
        if self.paid[merchant_no] > 1:
            self.violation(f"{merchant_no}: paid {self.paid[merchant_no]} times")
        stored = self.amounts.get(merchant_no)
        if merchant_no not in self.requested or stored is None:
            self.violation(f"{merchant_no}: paid, but no request of it was stored")
        elif (amount, currency) != stored:
            self.violation(
                f"{merchant_no}: paid {amount} {currency}, its order asks {stored[0]} {stored[1]}"
            )
        order = self.orders.get(merchant_no)
        if order is not None and order.status in _NEVER_PAID:
            self.violation(f"{merchant_no}: paid while {order.status}")

    def on_reversal(self, merchant_no: str) -> None:
        """The provider returned ``merchant_no``'s money."""
        self.reversed[merchant_no] += 1

    # ---- acknowledgements --------------------------------------------------------------------

    def on_intake_ack(self, payout_id: str | None, disposition: str, dead_lettered: bool) -> None:
        """Intake's message was acknowledged (deleted): its order must be sent or due, or the
        message dead-lettered with a reason."""
        if dead_lettered:
            return
        if payout_id is None:
            self.violation(f"a message was acknowledged ({disposition}) with no order and no DLQ")
            return
        order = self.orders.get(payout_id)
        if order is None:
            self.violation(f"{payout_id}: acknowledged ({disposition}) but no order is stored")
        elif order.status == S.RECEIVED.value and not (disposition == "HELD" and order.due):
            # Held (its provider paused) is the one way to leave an order unsent on purpose,
            # and only while the loop is due to look at it again.
            self.violation(
                f"{payout_id}: acknowledged ({disposition}) while RECEIVED: never sent, not retried"
            )

    def on_status_event(self, payout_id: str, status: str) -> None:
        """A status event was put on the bus."""
        self.published_terminal.setdefault(payout_id, set()).add(status)

    # ---- at the end ----------------------------------------------------------------------------

    def at_quiescence(self, dead_lettered: set[str]) -> None:
        """The end-of-run rules: every request ended somewhere a person or publisher can see,
        every SUCCEEDED order was paid, every terminal status was published."""
        for payout_id in sorted(self.requested):
            order = self.orders.get(payout_id)
            if order is None:
                if payout_id not in dead_lettered:
                    self.violation(f"{payout_id}: requested, never stored, not dead-lettered")
                continue
            finished = order.status in _TERMINAL or order.needs_review
            if not finished and payout_id not in dead_lettered:
                self.violation(f"{payout_id}: still {order.status} and nobody was told")
            if order.needs_review and not order.review_reason:
                self.violation(f"{payout_id}: escalated without a reason")
            net_paid = self.paid[payout_id] - self.reversed[payout_id]
            if order.status == S.SUCCEEDED.value and net_paid < 1 and not self.reversed[payout_id]:
                self.violation(f"{payout_id}: SUCCEEDED but the provider never paid it")
            if order.status in _TERMINAL and order.status not in self.published_terminal.get(
                payout_id, set()
            ):
                self.violation(f"{payout_id}: final status {order.status} never published")
