"""Applying what a provider says about an order (from a query, a callback or a create answer).

Shared by callbacks and the reconcile loop so that both obey exactly the same rules:
- a verdict moves the order only along the transition table, by a conditional write;
- a terminal verdict (and any verdict that reports an amount) must match the order's amount and
  currency, or it is escalated to a person and never applied;
- a terminal order that hears a contradicting terminal verdict (paid, then "failed") is escalated,
  never moved; a late PENDING is simply ignored;
- a FAILED that is not documented (an assumed status mapping) is held, not applied: the order
  stays unresolved with ``failure_reported_at`` set and is due again after the settle period;
  only a FAILED heard at or after that moment makes it FAILED (and sends the final event). A
  PENDING or paid answer meanwhile releases the hold and is followed. A documented FAILED is
  final at once;
- losing a race re-reads the order and decides again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from payouts.domain.figures import NO_FIGURES, MoneyFigures
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus, provider_may_move
from payouts.providers.base import QueryKind, QueryOutcome
from payouts.settings.base import DEFAULT_ASSUMED_FAILURE_SETTLE_SECONDS
from payouts.store import Applied, OrderStore

S = OrderStatus

# The status a provider verdict moves an order to. PENDING means "the provider has it".
_TARGETS: Final[dict[QueryKind, OrderStatus]] = {
    QueryKind.SUCCEEDED: S.SUCCEEDED,
    QueryKind.FAILED: S.FAILED,
    QueryKind.REVERSED: S.REVERSED,
    QueryKind.PENDING: S.SUBMITTED,
}
_TERMINAL_VERDICTS: Final = frozenset({QueryKind.SUCCEEDED, QueryKind.FAILED, QueryKind.REVERSED})
_ATTEMPTS: Final = 3
DEFAULT_FAILURE_SETTLE: Final = timedelta(seconds=DEFAULT_ASSUMED_FAILURE_SETTLE_SECONDS)


@dataclass(frozen=True)
class Verdict:
    """What the provider said, reduced to what settlement needs."""

    kind: QueryKind
    source: str  # "query", "callback", ...
    reason: str
    provider: str | None = None
    provider_order_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    # True when the provider's documents give this verdict; an assumed FAILED is held first.
    documented: bool = False
    # Fee, credited amount, reference, paid time: written with the transition this verdict
    # makes (never on their own, and never when the amount or currency does not match).
    figures: MoneyFigures = NO_FIGURES


@dataclass(frozen=True)
class Settled:
    """The order moved to a new status."""

    order: Order


@dataclass(frozen=True)
class Unchanged:
    """Nothing to do (already there, a late or uninformative verdict)."""

    order: Order
    why: str


@dataclass(frozen=True)
class Escalated:
    """The verdict was not applied; the order is flagged for a person."""

    order: Order
    why: str


@dataclass(frozen=True)
class FailureHeld:
    """An assumed FAILED was not applied: the order stays unresolved, due again at
    ``confirm_at`` for the query that confirms it (or says otherwise)."""

    order: Order
    why: str
    confirm_at: datetime


Outcome = Settled | Unchanged | Escalated | FailureHeld


def query_verdict(provider: str, answer: QueryOutcome, source: str = "query") -> Verdict:
    """What a query's answer says, for ``apply_verdict`` (``source`` names who asked)."""
    return Verdict(
        kind=answer.kind,
        source=source,
        reason=f"{provider} {source}: {answer.reason}",
        provider=provider,
        provider_order_id=answer.provider_order_id,
        amount_minor=answer.amount_minor,
        currency=answer.currency,
        documented=answer.documented,
        figures=answer.figures,
    )


def apply_verdict(
    store: OrderStore,
    order: Order,
    verdict: Verdict,
    evidence: Evidence,
    now: datetime,
    *,
    failure_settle: timedelta = DEFAULT_FAILURE_SETTLE,
) -> Outcome:
    """Apply ``verdict`` to ``order`` (re-reading and deciding again if it changed meanwhile).

    ``failure_settle``: how long an assumed FAILED is held before a FAILED answer confirms it.
    """
    current = order
    for _ in range(_ATTEMPTS):
        outcome = _apply_once(store, current, verdict, evidence, now, failure_settle=failure_settle)
        if outcome is not None:
            return outcome
        fresh = store.get(order.payout_id)
        if fresh is None:
            raise LookupError(f"order {order.payout_id} vanished")
        current = fresh
    return Unchanged(current, "the order kept changing under us; the next check will decide")


def mismatch(order: Order, verdict: Verdict) -> str | None:
    """Why the verdict's money differs from the order's, or None when it matches.

    A terminal verdict must state the amount; other verdicts are checked when they state it.
    """
    if order.request is None:
        return "the order has no valid request to compare against"
    expected = order.request.amount
    if verdict.amount_minor is None or verdict.currency is None:
        if verdict.kind in _TERMINAL_VERDICTS:
            return f"provider reported {verdict.kind} without an amount and currency"
        return None
    if verdict.amount_minor != expected.value or verdict.currency != expected.currency:
        return (
            f"provider reported {verdict.amount_minor} {verdict.currency}, "
            f"order is {expected.value} {expected.currency}"
        )
    return None


def escalate(
    store: OrderStore, order: Order, reason: str, evidence: Evidence, now: datetime
) -> Escalated | None:
    """Flag ``order`` for a person with ``reason``; its status is untouched. None if stale."""
    note = evidence.model_copy(
        update={"kind": EvidenceKind.REVIEW, "summary": f"escalated: {reason}"}
    ).with_detail(review_reason=reason, evidence_summary=evidence.summary)
    result = store.update(order, now, note, needs_review=True, review_reason=reason)
    if isinstance(result, Applied):
        return Escalated(result.order, reason)
    return None


def _apply_once(
    store: OrderStore,
    order: Order,
    verdict: Verdict,
    evidence: Evidence,
    now: datetime,
    *,
    failure_settle: timedelta,
) -> Outcome | None:
    target = _TARGETS.get(verdict.kind)
    if target is None:
        return Unchanged(order, f"{verdict.kind} settles nothing")
    if order.status is target:
        return _already_there(store, order, verdict, evidence, now)
    if not provider_may_move(order.status, target):
        return _refused_move(store, order, verdict, evidence, now)
    problem = mismatch(order, verdict)
    if problem is not None:
        return escalate(store, order, f"amount mismatch: {problem}", evidence, now)
    if target is S.FAILED and not verdict.documented:
        return _fail_when_confirmed(store, order, verdict, evidence, now, settle=failure_settle)
    changes = _changes_for(order, verdict, target, now)
    result = store.transition(order, target, evidence, now, **changes)
    return Settled(result.order) if isinstance(result, Applied) else None


def _fail_when_confirmed(
    store: OrderStore,
    order: Order,
    verdict: Verdict,
    evidence: Evidence,
    now: datetime,
    *,
    settle: timedelta,
) -> Outcome | None:
    """An assumed FAILED: FAILED when it confirms a report at least ``settle`` old, else held."""
    confirmed = confirmed_failure(order, now, settle)
    if confirmed is None:
        return _hold_failure(store, order, verdict, evidence, now, settle=settle)
    changes = _changes_for(order, verdict, S.FAILED, now)
    changes["status_reason"] = f"{verdict.reason}; {confirmed}"
    note = evidence.with_detail(failure_confirmed=confirmed)
    result = store.transition(order, S.FAILED, note, now, **changes)
    return Settled(result.order) if isinstance(result, Applied) else None


def confirmed_failure(order: Order, now: datetime, settle: timedelta) -> str | None:
    """How an assumed failure was confirmed (it was first reported at least ``settle`` before
    ``now``), or None while it is not (never reported, or reported too recently)."""
    first = order.failure_reported_at
    if first is None or now - first < settle:
        return None
    waited = math.floor((now - first).total_seconds())
    return f"assumed failure confirmed by an answer {waited} s after it was first reported"


def _hold_failure(
    store: OrderStore,
    order: Order,
    verdict: Verdict,
    evidence: Evidence,
    now: datetime,
    *,
    settle: timedelta,
) -> FailureHeld | None:
    """Keep ``order`` unresolved with the failure marked and a check due when it may be
    confirmed. The provider reports on the order, so it has it: SUBMITTING or UNKNOWN becomes
    SUBMITTED, as with a pending answer."""
    first = order.failure_reported_at or now
    confirm_at = first + settle
    why = (
        f"{verdict.reason}: an assumed failure (not a documented status), held; FAILED only if "
        f"the provider still says so at {confirm_at.isoformat()}"
    )
    changes = {
        **_changes_for(order, verdict, S.SUBMITTED, now),
        "status_reason": why,
        "failure_reported_at": first,
        "next_check_at": confirm_at,
    }
    note = evidence.with_detail(
        failure_held=True,
        failure_first_reported_at=first.isoformat(),
        failure_confirm_at=confirm_at.isoformat(),
    )
    if order.status is S.SUBMITTED:
        result = store.update(order, now, note, **changes)
    else:
        result = store.transition(order, S.SUBMITTED, note, now, **changes)
    return FailureHeld(result.order, why, confirm_at) if isinstance(result, Applied) else None


def _already_there(
    store: OrderStore, order: Order, verdict: Verdict, evidence: Evidence, now: datetime
) -> Outcome | None:
    """A verdict for the status the order has. Nothing to do, except for a pending answer after
    an assumed failure: the failure was not confirmed; forget it, so only a new report (held
    again) can lead to FAILED."""
    if order.failure_reported_at is None or order.status is not S.SUBMITTED:
        return Unchanged(order, f"already {order.status}")
    note = evidence.with_detail(failure_released=True)
    reason = f"{verdict.reason}: the assumed failure reported earlier was not confirmed"
    result = store.update(order, now, note, failure_reported_at=None, status_reason=reason)
    return Settled(result.order) if isinstance(result, Applied) else None


def _refused_move(
    store: OrderStore, order: Order, verdict: Verdict, evidence: Evidence, now: datetime
) -> Outcome | None:
    # A terminal order hearing another terminal verdict means the provider contradicts itself
    # (or someone forged a convincing message): a person must look. Anything else is just late.
    if order.is_terminal and verdict.kind in _TERMINAL_VERDICTS and not order.needs_review:
        return escalate(store, order, contradiction(order, verdict), evidence, now)
    return Unchanged(order, f"{verdict.kind} after {order.status} is out of order; ignored")


def contradiction(order: Order, verdict: Verdict) -> str:
    """The review reason for a terminal ``order`` that ``verdict`` contradicts; it names the
    person when one closed the order, since it is their decision that is now in question."""
    said = f"provider says {verdict.kind} ({verdict.source})"
    if order.closed_by is not None:
        return (
            f"contradiction: {said} but {order.closed_by} closed the order {order.status} "
            f"by hand ({order.status_reason}); check with the provider"
        )
    return f"{said} but the order is {order.status}"


def _changes_for(
    order: Order, verdict: Verdict, target: OrderStatus, now: datetime
) -> dict[str, object]:
    changes: dict[str, object] = {"status_reason": verdict.reason}
    if target is not S.FAILED:
        # Any other verdict ends an assumed failure's hold; FAILED keeps when it was first heard.
        changes["failure_reported_at"] = None
    # The provider's latest word on its figures replaces an earlier one (a reversal may restate
    # them); a figure it does not state is left as it was.
    changes.update(verdict.figures.order_changes())
    if verdict.provider_order_id and not order.provider_order_id:
        changes["provider_order_id"] = verdict.provider_order_id
    if verdict.provider and not order.provider:
        changes["provider"] = verdict.provider
    if target is S.SUBMITTED:
        # Still pending at the provider: keep it in the due index (the caller may reschedule).
        changes["next_check_at"] = order.next_check_at or now
    return changes
