"""Sending a create and recording what came of it: the one way an order leaves SUBMITTING.

The sequence is always the same, for the first send and for a re-send under the provider's
duplicate protection: claim the order (a conditional write to SUBMITTING, durable **before** any
byte leaves), send the create under the order's own merchant number, then record the outcome
with its evidence:

- ACCEPTED  -> SUBMITTED, with the provider's order id, first check soon;
- REJECTED  -> REJECTED (the provider's definitive refusal: no money moved, none will);
- DUPLICATE, AMBIGUOUS -> UNKNOWN, first check soon (only a query can tell);
- NOT_SENT  -> RECEIVED when nothing was ever sent for this order; UNKNOWN when an earlier create
  may have arrived (a re-send that failed to leave does not make the earlier one unknowable).

An order the adapter refuses before sending (``UnsupportedPayout``, or ``InvalidRequest`` from
older adapters) is REJECTED on a first send; on a re-send the earlier create is still unknown, so
it goes back to UNKNOWN and is escalated. Any other exception from ``create`` propagates and
leaves the order SUBMITTING, which the reconcile loop treats as unknown once it is stale.

The evidence has the shape intake writes (``services/intake.py``), so an order's timeline reads
the same whichever path sent its create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from pydantic import JsonValue

from payouts.domain.errors import InvalidRequest
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, CreateOutcome, PayoutProvider, UnsupportedPayout
from payouts.services.settlement import escalate
from payouts.store import Applied, OrderStore

S = OrderStatus

type Clock = Callable[[], datetime]

# What an adapter raises *before sending anything* for an order it cannot carry.
REFUSED_BEFORE_SENDING: Final[tuple[type[Exception], ...]] = (UnsupportedPayout, InvalidRequest)

# Recording an outcome re-reads and retries when someone else wrote the order meanwhile (a
# schedule update, a callback); after this many tries the answer is kept as evidence only.
_RECORD_ATTEMPTS: Final = 3


class SubmissionResult(StrEnum):
    """How one claim-and-send ended."""

    RECORDED = "RECORDED"  # the create went out (or provably did not) and its outcome is stored
    REFUSED = "REFUSED"  # the adapter refused the order before sending anything
    LOST_CLAIM = "LOST_CLAIM"  # someone else changed the order first: nothing was sent
    ANSWER_ONLY = "ANSWER_ONLY"  # sent, but the order moved on: the answer is kept as evidence


@dataclass(frozen=True)
class Submission:
    """The result of ``claim_and_send``; ``order`` is the order as last written or read."""

    result: SubmissionResult
    order: Order
    outcome: CreateOutcome | None = None


@dataclass(frozen=True)
class SendPlan:
    """What a claim-and-send needs besides the order and the provider.

    ``in_flight_for``: how long the claimed order may stay SUBMITTING before the reconcile loop
    treats it as abandoned (its ``next_check_at`` while in flight). ``first_check_after``: when
    to query an order whose create was accepted or left ambiguous. ``previously_sent``: whether
    an earlier create for this order may have reached the provider (a re-send).
    """

    reason: str
    in_flight_for: timedelta
    first_check_after: timedelta
    previously_sent: bool
    actor: str = "system"


async def claim_and_send(
    store: OrderStore, provider: PayoutProvider, order: Order, plan: SendPlan, clock: Clock
) -> Submission:
    """Claim ``order`` for sending, send its create, and record the outcome.

    ``order`` must be RECEIVED or UNKNOWN; nothing is sent unless the claim wins.
    """
    claimed_at = clock()
    claim = store.transition(
        order,
        S.SUBMITTING,
        _claim_evidence(order, provider.name, plan, claimed_at),
        claimed_at,
        provider=provider.name,
        submit_attempts=order.submit_attempts + 1,
        last_sent_at=claimed_at,
        next_check_at=claimed_at + plan.in_flight_for,
    )
    if not isinstance(claim, Applied):
        return Submission(SubmissionResult.LOST_CLAIM, claim.current or order)
    claimed = claim.order
    try:
        outcome = await provider.create(claimed)
    except REFUSED_BEFORE_SENDING as refusal:
        return _record_refusal(store, claimed, str(refusal), plan, clock())
    return record_create_outcome(store, claimed, provider.name, outcome, plan=plan, now=clock())


def record_create_outcome(
    store: OrderStore,
    order: Order,
    provider: str,
    outcome: CreateOutcome,
    *,
    plan: SendPlan,
    now: datetime,
) -> Submission:
    """Store what the create of the SUBMITTING ``order`` established, with its evidence."""
    evidence = create_answer_evidence(provider, outcome, plan.actor, now)
    target = outcome_status(outcome.kind, previously_sent=plan.previously_sent)
    changes: dict[str, object] = {"status_reason": f"create {outcome.kind}: {outcome.reason}"}
    if target is S.SUBMITTED:
        changes["provider_order_id"] = outcome.provider_order_id
        changes.update(outcome.figures.order_changes())
    if target in (S.SUBMITTED, S.UNKNOWN, S.RECEIVED):
        changes["next_check_at"] = now + plan.first_check_after
    if target is S.SUBMITTED:
        changes["next_check_at"] = first_check_at(order.next_check_at, now, plan.first_check_after)
    current = order
    for _ in range(_RECORD_ATTEMPTS):
        written = store.transition(current, target, evidence, now, **changes)
        if isinstance(written, Applied):
            return Submission(SubmissionResult.RECORDED, written.order, outcome)
        if written.current is None or written.current.status is not S.SUBMITTING:
            break
        current = written.current
    # The order moved on without us (a callback or a query settled it): keep the answer.
    late = evidence.model_copy(
        update={"summary": f"{evidence.summary} (arrived after the order moved on)"}
    )
    store.append_evidence(order.payout_id, late)
    latest = store.get(order.payout_id) or current
    disputed = contradicted_close(latest, target)
    if disputed is not None:
        escalated = escalate(store, latest, disputed, late, now)
        latest = escalated.order if escalated is not None else latest
    return Submission(SubmissionResult.ANSWER_ONLY, latest, outcome)


# A person's close that a late create answer disputes: the status closed as, and the outcomes
# (as the status they would have moved SUBMITTING to) that say the money may have moved anyway.
_DISPUTING: Final = {
    S.FAILED: frozenset({S.SUBMITTED, S.UNKNOWN}),  # accepted, or maybe: it may be paid
    S.SUCCEEDED: frozenset({S.REJECTED}),  # refused outright: nothing was paid by this create
}


def contradicted_close(order: Order, target: OrderStatus) -> str | None:
    """The review reason when a create answer (that would have moved SUBMITTING to ``target``)
    arrives after a person closed ``order`` and disputes the close; None otherwise.

    A close from SUBMITTING races the create on the wire. Nobody polls a closed order, so an
    accepted create after a close as FAILED would otherwise be heard only if a callback came.
    """
    if order.closed_by is None or order.needs_review:
        return None
    if target not in _DISPUTING.get(order.status, frozenset()):
        return None
    return (
        f"contradiction: the create's answer ({target} would follow) came after "
        f"{order.closed_by} closed the order {order.status} by hand ({order.status_reason}); "
        "check with the provider"
    )


def outcome_status(kind: CreateKind, *, previously_sent: bool) -> OrderStatus:
    """The status a SUBMITTING order moves to after a create that ended in ``kind``."""
    if kind is CreateKind.ACCEPTED:
        return S.SUBMITTED
    if kind is CreateKind.REJECTED:
        return S.REJECTED
    if kind is CreateKind.NOT_SENT and not previously_sent:
        return S.RECEIVED
    # DUPLICATE, AMBIGUOUS, and a re-send that never left while an earlier create is unknown.
    return S.UNKNOWN


# Provider reasons are short; a long one is cut so evidence items stay small.
MAX_REASON_CHARS: Final = 1024


def create_answer_evidence(
    provider: str, outcome: CreateOutcome, actor: str, now: datetime
) -> Evidence:
    """The CREATE_ANSWER evidence of one create: what the provider said, never keys or
    signatures (the adapters' ``RawExchange`` holds neither)."""
    raw = outcome.raw
    detail: dict[str, JsonValue] = {
        "provider": provider,
        "outcome": outcome.kind.value,
        "reason": outcome.reason[:MAX_REASON_CHARS],
        "transport": raw.transport,
        "http_status": raw.http_status,
        "code": raw.code,
        "message": raw.message,
        "body_excerpt": raw.body_excerpt,
        "provider_order_id": outcome.provider_order_id,
        "figures": outcome.figures.evidence() or None,
    }
    return Evidence(
        kind=EvidenceKind.CREATE_ANSWER,
        summary=f"{provider} create: {outcome.kind.value}",
        detail={key: value for key, value in detail.items() if value is not None},
        at=now,
        actor=actor,
    )


def first_check_at(scheduled: datetime | None, now: datetime, wait: timedelta) -> datetime:
    """When to first query an order accepted at ``now``: after ``wait``, unless the order is
    already due no earlier than that and at most one ``wait`` later (its claim's abandon-check
    time, set by the same send moments before). Keeping it leaves the due index entry where it
    is (two index writes saved per payout); the first query then comes at most one wait late,
    and a callback usually settles the order before either."""
    wanted = now + wait
    if scheduled is not None and wanted <= scheduled <= wanted + wait:
        return scheduled
    return wanted


def _claim_evidence(order: Order, provider: str, plan: SendPlan, now: datetime) -> Evidence:
    attempt = order.submit_attempts + 1
    detail: dict[str, JsonValue] = {
        "provider": provider,
        "attempt": attempt,
        "merchant_order_no": order.payout_id,
        "previously_sent": plan.previously_sent,
        "reason": plan.reason,
    }
    if order.request is not None:
        detail |= {
            "amount": order.request.amount.value,
            "currency": order.request.amount.currency,
            "method": order.request.method,
            "request_fingerprint": order.fingerprint,
        }
    summary = (
        f"create sent to {provider}: {plan.reason}"
        if attempt == 1
        else f"create re-sent (#{attempt}) to {provider} under the same merchant order number: "
        f"{plan.reason}"
    )
    return Evidence(
        kind=EvidenceKind.CREATE_SENT,
        summary=summary,
        detail=detail,
        at=now,
        actor=plan.actor,
    )


def _record_refusal(
    store: OrderStore, claimed: Order, reason: str, plan: SendPlan, now: datetime
) -> Submission:
    evidence = Evidence(
        kind=EvidenceKind.CREATE_ANSWER,
        summary=f"refused before sending: {reason}",
        detail={"outcome": "REFUSED_BEFORE_SENDING", "reason": reason, "transport": "not_sent"},
        at=now,
        actor=plan.actor,
    )
    if not plan.previously_sent:
        written = store.transition(claimed, S.REJECTED, evidence, now, status_reason=reason)
        order = written.order if isinstance(written, Applied) else (written.current or claimed)
        return Submission(SubmissionResult.REFUSED, order)
    # An earlier create may still have reached the provider: only a person may close this order.
    back = store.transition(
        claimed,
        S.UNKNOWN,
        evidence,
        now,
        status_reason=f"re-send refused before sending: {reason}",
        next_check_at=now + plan.first_check_after,
    )
    if not isinstance(back, Applied):
        return Submission(SubmissionResult.REFUSED, back.current or claimed)
    escalated = escalate(store, back.order, f"cannot re-send: {reason}", evidence, now)
    return Submission(SubmissionResult.REFUSED, escalated.order if escalated else back.order)
