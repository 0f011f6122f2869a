"""What a person decides: closing an escalated order as SUCCEEDED or FAILED.

Escalation hands an order to a person when the system cannot know how it ended (an unknown
create the provider says it never received, a deadline passed). The close is how that person
finishes the job. It is a conditional transition like any other, with an evidence item naming
the operator, their reason and the provider's reference; it clears the review flag, and the
status event goes out from the table stream by itself.

A close never overrides a terminal status: only RECEIVED, SUBMITTING, SUBMITTED and UNKNOWN may
be closed. A provider answer that later contradicts the close is escalated again, never applied:
a query or callback by ``settlement``, a create answer that was on the wire during a close from
SUBMITTING by ``submission`` (the order's ``closed_by`` names the person in both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.store import Applied, OrderStore

S = OrderStatus

# The statuses a person may close from: every status that is not final.
CLOSABLE: Final = frozenset({S.RECEIVED, S.SUBMITTING, S.SUBMITTED, S.UNKNOWN})
# What a person may decide: paid, or not paid. REJECTED and REVERSED stay the provider's words.
CLOSE_TO: Final = frozenset({S.SUCCEEDED, S.FAILED})
# Reasons and references are evidence, not documents: long enough for a ticket and a sentence.
MAX_TEXT: Final = 500
_ATTEMPTS: Final = 3


class CloseRefused(ValueError):
    """The close was not made and nothing was written; the message says why, in one line."""


def close_order(
    store: OrderStore,
    payout_id: str,
    to: OrderStatus,
    *,
    reason: str,
    reference: str | None,
    operator: str,
    now: datetime,
) -> Order:
    """Close ``payout_id`` as ``to`` (SUCCEEDED or FAILED) on ``operator``'s word; the closed order.

    SUCCEEDED requires ``reference`` (the provider's ticket or statement line proving the money
    moved). Losing a race re-reads the order and decides again, so a close never lands on a
    status it was not checked against. Raises CloseRefused, having written nothing.
    """
    reason, reference = _checked(to, reason, reference, operator)
    for _ in range(_ATTEMPTS):
        order = store.get(payout_id)
        if order is None:
            raise CloseRefused(f"no order {payout_id}")
        _check_closable(order)
        evidence = _close_evidence(
            order, to, reason=reason, reference=reference, operator=operator, now=now
        )
        result = store.transition(
            order,
            to,
            evidence,
            now,
            status_reason=f"closed {to} by operator:{operator}: {reason}",
            closed_by=f"operator:{operator}",
            needs_review=False,
            review_reason=None,
        )
        if isinstance(result, Applied):
            return result.order
    raise CloseRefused(f"order {payout_id} kept changing under the close; look again and retry")


def _checked(
    to: OrderStatus, reason: str, reference: str | None, operator: str
) -> tuple[str, str | None]:
    """The reason and reference, stripped; CloseRefused for any bad input (before any read)."""
    if to not in CLOSE_TO:
        raise CloseRefused(f"an order is closed as SUCCEEDED or FAILED, not {to}")
    if not operator.strip():
        raise CloseRefused("the operator's name is required: it is recorded as evidence")
    text = " ".join(reason.split())
    ref = " ".join(reference.split()) if reference is not None else ""
    if not text:
        raise CloseRefused("--reason is required: it is recorded as evidence")
    if to is S.SUCCEEDED and not ref:
        raise CloseRefused(
            "closing as SUCCEEDED requires --reference (the provider's ticket or statement line)"
        )
    if len(text) > MAX_TEXT or len(ref) > MAX_TEXT:
        raise CloseRefused(f"--reason and --reference take at most {MAX_TEXT} characters")
    return text, ref or None


def _check_closable(order: Order) -> None:
    if order.status not in CLOSABLE:
        raise CloseRefused(
            f"order {order.payout_id} is {order.status}, a final status: a close never overrides it"
        )


def _close_evidence(
    order: Order,
    to: OrderStatus,
    *,
    reason: str,
    reference: str | None,
    operator: str,
    now: datetime,
) -> Evidence:
    summary = f"closed {to} by {operator}: {reason}"
    if reference is not None:
        summary += f" (reference: {reference})"
    return Evidence(
        kind=EvidenceKind.OPERATOR,
        summary=summary,
        detail={
            "action": "close",
            "operator": operator,
            "reason": reason,
            "reference": reference,
            "status_before": order.status.value,
            "review_reason": order.review_reason,
        },
        actor=f"operator:{operator}",
        at=now,
    )
