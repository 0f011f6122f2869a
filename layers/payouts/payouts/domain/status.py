"""Order statuses and the one transition table the whole system obeys."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrderStatus(StrEnum):
    """Where an order stands. See DESIGN.md, "Order status"."""

    RECEIVED = "RECEIVED"
    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    UNKNOWN = "UNKNOWN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    REVERSED = "REVERSED"


S = OrderStatus

TERMINAL: Final[frozenset[OrderStatus]] = frozenset({S.SUCCEEDED, S.FAILED, S.REJECTED, S.REVERSED})

# Statuses the reconcile loop must keep querying until the provider settles them.
UNRESOLVED: Final[frozenset[OrderStatus]] = frozenset({S.SUBMITTING, S.SUBMITTED, S.UNKNOWN})

# from -> the statuses it may move to. Anything absent is refused by the store's conditional write.
TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    # Stored but not sent: claim it for sending, or refuse it (no route, invalid) before sending.
    # SUCCEEDED and FAILED only by a person's close (PERSON_ONLY below): an escalated order that
    # never left (no route, every send refused) must still be finishable by the person deciding.
    S.RECEIVED: frozenset({S.SUBMITTING, S.REJECTED, S.SUCCEEDED, S.FAILED}),
    # Claimed and possibly on the wire. RECEIVED again only when the request provably never left.
    # A signed callback or a query may settle it before the create's answer is recorded.
    S.SUBMITTING: frozenset(
        {S.RECEIVED, S.SUBMITTED, S.REJECTED, S.UNKNOWN, S.SUCCEEDED, S.FAILED, S.REVERSED}
    ),
    S.SUBMITTED: frozenset({S.SUCCEEDED, S.FAILED, S.REVERSED}),
    # Only a query (or an operator) resolves UNKNOWN. SUBMITTING again is a re-send under the same
    # merchant order number, allowed by provider policy or operator confirmation only.
    S.UNKNOWN: frozenset({S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED, S.FAILED, S.REVERSED}),
    # The one modelled way out of a terminal status: money paid, then returned.
    S.SUCCEEDED: frozenset({S.REVERSED}),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.REVERSED: frozenset(),
}


# Moves in the table that only a person's close (``payouts orders close``) makes. A RECEIVED order
# provably never left, so no provider answer may settle it; a person who learned how it ended
# (paid another way, or abandoned) may. Every other move to SUCCEEDED or FAILED is one a provider
# answer makes too, so a close needs no further row.
PERSON_ONLY: Final[frozenset[tuple[OrderStatus, OrderStatus]]] = frozenset(
    {(S.RECEIVED, S.SUCCEEDED), (S.RECEIVED, S.FAILED)}
)


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """True when the table allows ``current`` -> ``target`` (a status never moves to itself)."""
    return target in TRANSITIONS[current]


def provider_may_move(current: OrderStatus, target: OrderStatus) -> bool:
    """True when a provider's answer may move ``current`` -> ``target`` (the table, less the
    moves only a person makes)."""
    return can_transition(current, target) and (current, target) not in PERSON_ONLY


def is_terminal(status: OrderStatus) -> bool:
    """True for statuses that are final (SUCCEEDED may still become REVERSED)."""
    return status in TERMINAL
