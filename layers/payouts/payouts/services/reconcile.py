"""The reconcile loop's per-order use case: following each due order to the end with its provider
(``reconcile``). The lease and the due list (``find_due``) are in ``services.due``.

The state machine (``statemachine/reconcile.asl.json``) only routes; every decision is made here
and in ``services.due``:

- ``Reconciler.reconcile``: for each id of a batch, concurrently (bounded), read the order and
  apply the per-order rules below, with evidence for every answer and decision.

Per-order rules (DESIGN.md "The reconcile loop", providers.md "Rules that follow"):

=================  ================================================================================
RECEIVED           provably never sent (its message was dead-lettered or lost): the loop claims it
                   and sends its create under its own number, as intake would; escalated ("never
                   sent; redrive the DLQ or resubmit") only when that fails max_submit_attempts
                   times or no provider is configured for it
SUBMITTING         still in flight: looked at again once it would be stale; stale (not updated for
                   ``stale_submitting_after``): SUBMITTING -> UNKNOWN with evidence, then queried
SUBMITTED/UNKNOWN  queried. PENDING: stays, checked later (UNKNOWN becomes SUBMITTED). SUCCEEDED /
                   FAILED / REVERSED: applied by ``settlement.apply_verdict`` (amount and currency
                   checked, mismatches escalated). UNKNOWN answer: stays, checked later. An
                   assumed FAILED (not a documented status) is held: due again after
                   ``failure_settle``, when a FAILED answer confirms it and anything else wins.
NOT_FOUND          after an unknown create: checked again through the grace period, then the
                   provider's policy: ``resend`` (UNKNOWN -> SUBMITTING, same merchant number, the
                   create's outcome recorded as intake records it) or ``escalate``. A SUBMITTED
                   order (the provider accepted it once) is never re-sent: escalated after grace.
deadline           an order unresolved past the deadline is escalated once (``needs_review``) and
                   polled at the cap from then on. Nothing here sets FAILED on its own.
paused provider    no create at all (``provider_gate``): a RECEIVED order is held (status reason
                   says by whom and why, looked at again every ``held_recheck``); a re-send waits.
                   Queries go on. After resume, never-sent orders are sent at most
                   ``held_sends_per_batch`` per provider per invocation; the rest wait a recheck.
=================  ================================================================================
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from pydantic import JsonValue

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.observability import logger, payout_log_context, tracer
from payouts.providers.base import PayoutProvider, QueryKind, QueryOutcome
from payouts.providers.routing import NoRoute, Router
from payouts.services.backoff import (
    BackoffSchedule,
    RandomSource,
    deadline_passed,
    next_check_at,
)
from payouts.services.provider_gate import ProviderGate
from payouts.services.settlement import (
    DEFAULT_FAILURE_SETTLE,
    Escalated,
    FailureHeld,
    Settled,
    Unchanged,
    Verdict,
    apply_verdict,
    escalate,
    query_verdict,
)
from payouts.services.submission import SendPlan, Submission, SubmissionResult, claim_and_send
from payouts.settings.reconcile import NotFoundPolicy, ReconcileSettings
from payouts.store import Applied, OrderStore

S = OrderStatus

type Clock = Callable[[], datetime]

ACTOR: Final = "reconcile"
NEVER_SENT_REASON: Final = "never sent; redrive the DLQ or resubmit"

# ---------------------------------------------------------------------------------------------
# reconcile: one batch of due orders
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcilePolicy:
    """The per-order thresholds (from ``ReconcileSettings``)."""

    schedule: BackoffSchedule
    deadline: timedelta
    stale_submitting_after: timedelta
    not_found_grace: timedelta
    not_found_policy: Mapping[str, NotFoundPolicy]
    max_submit_attempts: int
    first_check_after: timedelta
    concurrency: int
    failure_settle: timedelta = DEFAULT_FAILURE_SETTLE
    held_recheck: timedelta = timedelta(seconds=60)
    held_sends_per_batch: int = 5

    @classmethod
    def from_settings(cls, settings: ReconcileSettings) -> ReconcilePolicy:
        """The policy the settings describe."""
        return cls(
            schedule=settings.schedule(),
            deadline=settings.deadline,
            stale_submitting_after=settings.stale_submitting_after,
            not_found_grace=settings.not_found_grace,
            not_found_policy=dict(settings.not_found_policy),
            max_submit_attempts=settings.max_submit_attempts,
            first_check_after=settings.first_check_after,
            concurrency=settings.query_concurrency,
            failure_settle=settings.failure_settle,
            held_recheck=settings.held_recheck,
            held_sends_per_batch=settings.held_sends_per_batch,
        )

    def on_not_found(self, provider: str) -> NotFoundPolicy:
        """The configured policy for ``provider``; a provider nobody configured is escalated."""
        return self.not_found_policy.get(provider, "escalate")


class ProviderLookup(Protocol):
    """The adapters of one invocation by provider name (a plain dict will do)."""

    def get(self, name: str, /) -> PayoutProvider | None:
        """The adapter for ``name``, or None when no such provider is configured."""
        ...


class LazyProviders:
    """Adapters built on first use, so a provider whose credentials cannot be read fails only
    its own orders' checks (counted, alarmed, retried) and never the rest of the batch."""

    def __init__(self, names: Iterable[str], build: Callable[[str], PayoutProvider]) -> None:
        self._names = frozenset(names)
        self._build = build
        self._built: dict[str, PayoutProvider] = {}

    def get(self, name: str, /) -> PayoutProvider | None:
        """The adapter for ``name``; None for a provider no route uses. Raises what building
        it raises (a missing secret, an unreadable one)."""
        if name not in self._names:
            return None
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]


class CheckOutcome(StrEnum):
    """What one check of one order came to."""

    SETTLED = "SETTLED"  # a terminal answer was applied
    PENDING = "PENDING"  # still unresolved; checked again later
    RESENT = "RESENT"  # the create was re-sent under the same merchant number
    SENT = "SENT"  # a never-sent (RECEIVED) order's create was sent by the loop
    HELD = "HELD"  # never sent, and its provider is paused (or this batch's sends are used up)
    DEFERRED = "DEFERRED"  # in flight (SUBMITTING, not stale yet); looked at again later
    SKIPPED = "SKIPPED"  # not due any more, settled meanwhile, or gone
    RACED = "RACED"  # someone else changed the order first; the next sweep decides
    ERROR = "ERROR"  # the check failed; logged, and the order is looked at again later


@dataclass(frozen=True)
class CheckReport:
    """One order's check: its outcome, whether it was escalated, and provider calls made."""

    payout_id: str
    outcome: CheckOutcome
    status: OrderStatus | None = None
    escalated: bool = False
    provider_calls: int = 0
    why: str = ""


@dataclass(frozen=True)
class BatchReport:
    """Every check of one batch."""

    checks: tuple[CheckReport, ...]

    def counts(self) -> dict[str, int]:
        """Totals by outcome (lower-case), plus ``checked``, ``escalated``, ``provider_calls``."""
        totals = {outcome.value.lower(): 0 for outcome in CheckOutcome}
        for check in self.checks:
            totals[check.outcome.value.lower()] += 1
        totals["checked"] = len(self.checks)
        totals["escalated"] = sum(check.escalated for check in self.checks)
        totals["provider_calls"] = sum(check.provider_calls for check in self.checks)
        return totals


class Reconciler:
    """Checks due orders with their providers and applies the answers.

    ``providers`` are this invocation's adapters by name; ``router`` finds the provider of an
    order stored without one. Store calls are synchronous (boto3) and short; provider calls are
    the slow part and overlap, at most ``policy.concurrency`` at a time.
    """

    def __init__(
        self,
        *,
        store: OrderStore,
        providers: ProviderLookup,
        router: Router,
        policy: ReconcilePolicy,
        gate: ProviderGate,
        clock: Clock,
        random: RandomSource,
    ) -> None:
        self._store = store
        self._gate = gate
        # Never-sent orders this invocation sent, by provider (the held sends' rate bound).
        self._sends: dict[str, int] = {}
        self._providers = providers
        self._router = router
        self._policy = policy
        self._clock = clock
        self._random = random

    # Traced once per batch, never per order: the X-Ray SDK's context does not follow concurrent
    # tasks, so per-order subsegments of a gather would nest wrongly or fail.
    @tracer.capture_method(capture_response=False)
    async def reconcile(self, payout_ids: Sequence[str]) -> BatchReport:
        """Check every order of a batch (duplicates once), concurrently within the bound."""
        slots = asyncio.Semaphore(self._policy.concurrency)

        async def bounded(payout_id: str) -> CheckReport:
            async with slots:
                return await self._guarded(payout_id)

        unique = list(dict.fromkeys(payout_ids))
        return BatchReport(tuple(await asyncio.gather(*(bounded(pid) for pid in unique))))

    async def check(self, payout_id: str, *, force: bool = False) -> CheckReport:
        """Apply the per-order rules to ``payout_id`` once. ``force`` checks an order that is not
        due yet (an operator's "requery now"). Everything logged meanwhile names the order (a
        per-task key: the orders of a batch are checked concurrently)."""
        with payout_log_context(payout_id):
            return await self._check(payout_id, force=force)

    async def _check(self, payout_id: str, *, force: bool) -> CheckReport:
        now = self._clock()
        order = self._store.get(payout_id)
        skip = _why_skip(order, now, force=force)
        if order is None or skip is not None:
            status = order.status if order is not None else None
            return CheckReport(payout_id, CheckOutcome.SKIPPED, status, why=skip or "")
        if order.status is S.RECEIVED:
            return await self._never_sent(order, now)
        if order.status is S.SUBMITTING:
            if now - order.updated_at < self._policy.stale_submitting_after:
                return self._in_flight(order, now)
            abandoned = self._abandon(order, now)
            if abandoned is None:
                return CheckReport(payout_id, CheckOutcome.RACED, why="changed while abandoning")
            order = abandoned
        return await self._query(order)

    # ---- the per-order rules -------------------------------------------------------------------

    async def _never_sent(self, order: Order, now: datetime) -> CheckReport:
        """A RECEIVED order past its grace: its message was dead-lettered, lost, or its create
        provably never left. Being RECEIVED proves nothing was sent, so the loop sends it itself
        (claimed first, under its own number), up to ``max_submit_attempts``; only an order it
        cannot send (no provider, or every attempt failed to leave) goes to a person."""
        provider = self._provider_for(order)
        if isinstance(provider, str) or order.submit_attempts >= self._policy.max_submit_attempts:
            note = Evidence(
                kind=EvidenceKind.SCHEDULE,
                summary="due while RECEIVED: its create was never sent",
                detail={"next_check_was": _iso(order.next_check_at)},
                at=now,
                actor=ACTOR,
            )
            reason = provider if isinstance(provider, str) else NEVER_SENT_REASON
            return self._follow_up(order, now, note, escalate_reason=reason)
        pause = self._gate.pause_of(provider.name)
        if pause is not None:
            return self._hold(order, now, pause.held_reason(), pause.evidence_detail())
        if self._sends.get(provider.name, 0) >= self._policy.held_sends_per_batch:
            why = (
                f"held, not sent yet: this batch already sent {self._policy.held_sends_per_batch} "
                f"never-sent orders to {provider.name} (the rate bound after a pause)"
            )
            return self._hold(order, now, why, {"provider": provider.name})
        self._sends[provider.name] = self._sends.get(provider.name, 0) + 1
        reason = (
            "stored RECEIVED past its grace and never sent (its message was dead-lettered or "
            "lost): it provably never left, so the loop sends it under its own number"
        )
        sent = await self._send(order, provider, reason, previously_sent=False)
        if sent.result is SubmissionResult.LOST_CLAIM:
            return CheckReport(order.payout_id, CheckOutcome.RACED, why="changed while sending")
        return CheckReport(order.payout_id, CheckOutcome.SENT, sent.order.status, provider_calls=1)

    def _hold(
        self, order: Order, now: datetime, reason: str, detail: dict[str, JsonValue]
    ) -> CheckReport:
        """Keep a never-sent order unsent and look at it again after ``held_recheck``; past its
        deadline it is escalated once, as any order is, and still held and looked at."""
        if self._past_deadline(order, now) and not order.needs_review:
            note = Evidence(
                kind=EvidenceKind.SCHEDULE, summary=reason, detail=detail, at=now, actor=ACTOR
            )
            return self._follow_up(order, now, note)
        when = now + self._policy.held_recheck
        # One evidence item per reason, not one per look: a long pause must not flood history.
        evidence = (
            None
            if order.status_reason == reason
            else Evidence(
                kind=EvidenceKind.SCHEDULE, summary=reason, detail=detail, at=now, actor=ACTOR
            )
        )
        written = self._store.update(order, now, evidence, next_check_at=when, status_reason=reason)
        if not isinstance(written, Applied):
            return CheckReport(order.payout_id, CheckOutcome.RACED, why="changed while holding")
        return CheckReport(order.payout_id, CheckOutcome.HELD, order.status, why=reason)

    def _in_flight(self, order: Order, now: datetime) -> CheckReport:
        # Look again once it would be stale. updated_at is kept as it is: it is the claim's time,
        # which staleness is measured from (a schedule change is not progress on the create).
        stale_at = order.updated_at + self._policy.stale_submitting_after
        written = self._store.update(
            order, now, None, next_check_at=stale_at, updated_at=order.updated_at
        )
        if not isinstance(written, Applied):
            return CheckReport(order.payout_id, CheckOutcome.RACED, why="changed while deferring")
        return CheckReport(order.payout_id, CheckOutcome.DEFERRED, order.status, why="in flight")

    def _abandon(self, order: Order, now: datetime) -> Order | None:
        age = math.floor((now - order.updated_at).total_seconds())
        evidence = Evidence(
            kind=EvidenceKind.TRANSITION,
            summary=f"SUBMITTING for {age} s with no create outcome recorded: treated as "
            "UNKNOWN (the create may have reached the provider); querying",
            detail={
                "claimed_at": _iso(order.updated_at),
                "stale_after_seconds": math.floor(
                    self._policy.stale_submitting_after.total_seconds()
                ),
            },
            at=now,
            actor=ACTOR,
        )
        reason = "abandoned while SUBMITTING: create outcome unknown"
        written = self._store.transition(order, S.UNKNOWN, evidence, now, status_reason=reason)
        return written.order if isinstance(written, Applied) else None

    async def _query(self, order: Order) -> CheckReport:
        provider = self._provider_for(order)
        if isinstance(provider, str):
            now = self._clock()
            note = Evidence(kind=EvidenceKind.SCHEDULE, summary=provider, at=now, actor=ACTOR)
            return self._follow_up(order, now, note, escalate_reason=provider)
        answer = await provider.query(order)
        now = self._clock()
        evidence = query_evidence(provider.name, answer, now)
        if answer.kind is QueryKind.NOT_FOUND:
            return await self._not_found(order, provider, evidence, now)
        if answer.kind is QueryKind.UNKNOWN:
            return self._follow_up(order, now, evidence, calls=1)
        return self._settle(order, query_verdict(provider.name, answer), evidence, now)

    def _settle(
        self, order: Order, verdict: Verdict, evidence: Evidence, now: datetime
    ) -> CheckReport:
        """Apply a PENDING / SUCCEEDED / FAILED / REVERSED answer through the settlement rules."""
        settle = self._policy.failure_settle
        match apply_verdict(self._store, order, verdict, evidence, now, failure_settle=settle):
            case Settled(order=settled) if settled.is_terminal:
                return CheckReport(
                    order.payout_id, CheckOutcome.SETTLED, settled.status, provider_calls=1
                )
            case Settled(order=moved):
                # UNKNOWN (or SUBMITTING) -> SUBMITTED: the evidence went with the transition.
                return self._follow_up(moved, now, None, calls=1)
            case Escalated(order=flagged, why=why):
                return self._follow_up(flagged, now, None, calls=1, escalated=True, why=why)
            case FailureHeld(order=held, why=why):
                # Due again when the failure may be confirmed: not rescheduled by the backoff.
                return CheckReport(
                    order.payout_id, CheckOutcome.PENDING, held.status, provider_calls=1, why=why
                )
            case Unchanged(order=current) if current.is_terminal:
                return CheckReport(
                    order.payout_id,
                    CheckOutcome.SKIPPED,
                    current.status,
                    provider_calls=1,
                    why="settled meanwhile",
                )
            case Unchanged(order=current):
                return self._follow_up(current, now, evidence, calls=1)

    async def _not_found(
        self, order: Order, provider: PayoutProvider, evidence: Evidence, now: datetime
    ) -> CheckReport:
        unresolved_for = now - _unresolved_since(order)
        # The grace counts from the last create sent: a re-sent (or long-held) order's earlier
        # history says nothing about whether its latest create has landed yet.
        if now - (order.last_sent_at or _unresolved_since(order)) < self._policy.not_found_grace:
            return self._follow_up(order, now, evidence, calls=1)
        if order.status is not S.UNKNOWN:
            reason = (
                f"{provider.name} accepted this order but now says it does not exist; it is "
                "never re-sent: ask the provider"
            )
            return self._follow_up(order, now, evidence, calls=1, escalate_reason=reason)
        policy = self._policy.on_not_found(provider.name)
        if policy == "resend" and order.submit_attempts < self._policy.max_submit_attempts:
            if self._gate.pause_of(provider.name) is not None:
                # No create while paused; the order is queried again and re-sent after resume.
                return self._follow_up(order, now, evidence, calls=1)
            return await self._resend(order, provider, evidence, unresolved_for)
        if policy == "resend":
            reason = (
                f"{provider.name} still has no order under this number after "
                f"{order.submit_attempts} creates; stopped re-sending: decide with the provider"
            )
        else:
            reason = (
                f"{provider.name} has no order under this number {_minutes(unresolved_for)} after "
                "an unknown create, and re-sending is not known to be safe there: resubmit under "
                "the same number, or close it"
            )
        return self._follow_up(order, now, evidence, calls=1, escalate_reason=reason)

    async def _resend(
        self, order: Order, provider: PayoutProvider, evidence: Evidence, waited: timedelta
    ) -> CheckReport:
        # The "not found" answer justifies the re-send: keep it in the timeline before the claim.
        self._store.append_evidence(order.payout_id, evidence)
        reason = (
            f"{provider.name} says not found {_minutes(waited)} after an unknown create, and it "
            "refuses duplicate merchant numbers"
        )
        sent = await self._send(order, provider, reason, previously_sent=True)
        if sent.result is SubmissionResult.LOST_CLAIM:
            return CheckReport(order.payout_id, CheckOutcome.RACED, provider_calls=1)
        refused = sent.result is SubmissionResult.REFUSED
        return CheckReport(
            order.payout_id,
            CheckOutcome.PENDING if refused else CheckOutcome.RESENT,
            sent.order.status,
            escalated=refused and sent.order.needs_review,
            provider_calls=1 if refused else 2,
        )

    async def _send(
        self, order: Order, provider: PayoutProvider, reason: str, *, previously_sent: bool
    ) -> Submission:
        """Claim ``order`` and send its create under its own number (submission's one path)."""
        plan = SendPlan(
            reason=reason,
            in_flight_for=self._policy.stale_submitting_after,
            first_check_after=self._policy.first_check_after,
            previously_sent=previously_sent,
            actor=ACTOR,
        )
        sent = await claim_and_send(self._store, provider, order, plan, self._clock)
        if sent.outcome is not None:
            self._gate.observe_create(provider.name, sent.outcome.kind)
        logger.info(
            "create sent by the reconcile loop under the same merchant number",
            payout_id=order.payout_id,
            provider=provider.name,
            resend=previously_sent,
            result=sent.result.value,
            status=sent.order.status.value,
        )
        return sent

    def _follow_up(
        self,
        order: Order,
        now: datetime,
        evidence: Evidence | None,
        *,
        calls: int = 0,
        escalated: bool = False,
        escalate_reason: str | None = None,
        why: str = "",
    ) -> CheckReport:
        """Keep ``order`` unresolved and schedule its next check, escalating it first (once) for
        ``escalate_reason`` or for its deadline. An escalated order is polled at the cap."""
        if escalate_reason is None and self._past_deadline(order, now):
            escalate_reason = (
                f"unresolved for more than {_hours(self._policy.deadline)} "
                f"(since {_iso(_unresolved_since(order))}); still polled, never failed"
            )
        if escalate_reason is not None and not order.needs_review:
            note = evidence or Evidence(
                kind=EvidenceKind.SCHEDULE, summary=escalate_reason, at=now, actor=ACTOR
            )
            flagged = escalate(self._store, order, escalate_reason, note, now)
            if flagged is None:
                return CheckReport(order.payout_id, CheckOutcome.RACED, provider_calls=calls)
            order, evidence, escalated, why = flagged.order, None, True, escalate_reason
            logger.warning("order escalated", reason=escalate_reason)  # id: the log context
        checks = order.check_attempts + 1
        when = next_check_at(
            now, checks, self._policy.schedule, self._random, at_cap=order.needs_review
        )
        written = self._store.update(
            order, now, evidence, next_check_at=when, check_attempts=checks
        )
        if not isinstance(written, Applied):
            return CheckReport(
                order.payout_id,
                CheckOutcome.RACED,
                escalated=escalated,
                provider_calls=calls,
                why="changed while rescheduling",
            )
        return CheckReport(
            order.payout_id,
            CheckOutcome.PENDING,
            order.status,
            escalated=escalated,
            provider_calls=calls,
            why=why,
        )

    # ---- plumbing --------------------------------------------------------------------------------

    async def _guarded(self, payout_id: str) -> CheckReport:
        try:
            return await self.check(payout_id)
        except Exception as error:  # noqa: BLE001 - one order's failure must not stop the batch
            # Counted (ReconcileErrors metric and alarm), logged with its traceback, and the
            # order is pushed back by its backoff so the loop does not spin on it.
            logger.exception("reconcile check failed", payout_id=payout_id)
            self._push_back(payout_id, error)
            return CheckReport(payout_id, CheckOutcome.ERROR, why=type(error).__name__)

    def _push_back(self, payout_id: str, error: Exception) -> None:
        now = self._clock()
        try:
            order = self._store.get(payout_id)
            # A SUBMITTING order keeps its claim time (staleness); terminal ones are done.
            if order is None or order.status is S.SUBMITTING or order.is_terminal:
                return
            if not order.is_due(now):
                return
            checks = order.check_attempts + 1
            note = Evidence(
                kind=EvidenceKind.SCHEDULE,
                summary=f"check failed ({type(error).__name__}); retried later",
                detail={"error": str(error)[:300]},
                at=now,
                actor=ACTOR,
            )
            when = next_check_at(now, checks, self._policy.schedule, self._random)
            self._store.update(order, now, note, next_check_at=when, check_attempts=checks)
        except Exception:  # noqa: BLE001 - best effort; the original failure is already counted
            logger.exception("could not push a failed order back", payout_id=payout_id)

    def _provider_for(self, order: Order) -> PayoutProvider | str:
        """The order's adapter, or why there is none (escalated: a person must configure it)."""
        name = order.provider
        if name is None and order.request is not None:
            route = self._router.route(order.request)
            name = None if isinstance(route, NoRoute) else route
        if name is None:
            return "no provider is known for this order: route it, then requery"
        provider = self._providers.get(name)
        if provider is None:
            return f"provider {name} is not configured for the reconcile function"
        return provider

    def _past_deadline(self, order: Order, now: datetime) -> bool:
        return deadline_passed(_unresolved_since(order), self._policy.deadline, now)


def query_evidence(provider: str, answer: QueryOutcome, now: datetime) -> Evidence:
    """The QUERY evidence of one answer (the adapters' ``RawExchange`` is already redacted)."""
    raw = answer.raw
    detail: dict[str, JsonValue] = {
        "provider": provider,
        "kind": answer.kind.value,
        "reason": answer.reason,
        "provider_order_id": answer.provider_order_id,
        "amount_minor": answer.amount_minor,
        "currency": answer.currency,
        "figures": answer.figures.evidence() or None,
        "transport": raw.transport,
        "http_status": raw.http_status,
        "code": raw.code,
        "message": raw.message,
        "body_excerpt": raw.body_excerpt,
    }
    return Evidence(
        kind=EvidenceKind.QUERY,
        summary=f"{provider} query: {answer.kind.value}",
        detail={key: value for key, value in detail.items() if value is not None},
        at=now,
        actor=ACTOR,
    )


def _why_skip(order: Order | None, now: datetime, *, force: bool) -> str | None:
    """Why ``order`` is not checked now, or None when it is."""
    if order is None:
        return "no such order"
    if order.is_terminal:
        return "terminal"
    if not force and not order.is_due(now):
        return "not due"
    return None


def _unresolved_since(order: Order) -> datetime:
    return order.first_unresolved_at or order.created_at


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _minutes(duration: timedelta) -> str:
    # Seconds under a minute: a short grace should not read as "0 min".
    seconds = math.floor(duration.total_seconds())
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"


def _hours(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours:g} h"
