"""The reconcile loop's lease and due list: what the ``find_due`` function decides.

One execution at a time holds the lease; each loop iteration renews it, reads the sparse due
index (never the table), and hands out batches of ids, or says how long to wait for the next due
order, or that the execution should end (time budget spent, nothing due within it, lease lost).
Following each due order with its provider is ``services.reconcile``'s; this module knows no
provider, so the find_due function loads neither their port nor their HTTP client.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import JsonValue

from payouts.observability import logger, tracer
from payouts.settings.find_due import RECONCILE_LEASE
from payouts.store import OrderStore


@dataclass(frozen=True)
class LeaseGrant:
    """``find_due``'s answer to ``acquire``: whether this execution holds the lease, and when its
    time budget ends (epoch seconds; passed back in on every later call)."""

    acquired: bool
    budget_ends_at: int

    def as_output(self) -> dict[str, JsonValue]:
        """The task output the state machine reads."""
        return {"acquired": self.acquired, "budget_ends_at": self.budget_ends_at}


@dataclass(frozen=True)
class DueSizing:
    """How much work one loop iteration hands out, and the lease's margin over the budget."""

    batch_size: int
    batches_per_iteration: int
    lease_margin: timedelta

    @property
    def capacity(self) -> int:
        """Orders one iteration can hand out."""
        return self.batch_size * self.batches_per_iteration


@dataclass(frozen=True)
class DueQuery:
    """One ``find`` call: who asks, which iteration this is, and the execution's limits."""

    owner: str
    iteration: int
    budget_ends_at: datetime
    max_wait: timedelta


@dataclass(frozen=True)
class DuePlan:
    """What the loop does next, as ``find_due`` decided it.

    ``batches`` non-empty: reconcile them, then come back. Otherwise ``wait_seconds`` set: wait
    that long, then come back. Otherwise (budget spent, nothing due within it, or
    ``lease_held`` false): end the execution.
    """

    lease_held: bool
    iteration: int
    batches: list[list[str]] = field(default_factory=list)
    more_due_now: bool = False
    next_due_in_seconds: int | None = None
    wait_seconds: int | None = None
    budget_spent: bool = False

    @property
    def due_count(self) -> int:
        """Ids handed out by this plan."""
        return sum(len(batch) for batch in self.batches)

    def as_output(self) -> dict[str, JsonValue]:
        """The task output the state machine reads (see ``statemachine/reconcile.asl.json``)."""
        return {
            "lease_held": self.lease_held,
            "iteration": self.iteration,
            "batches": [list(batch) for batch in self.batches],
            "batch_count": len(self.batches),
            "due_count": self.due_count,
            "more_due_now": self.more_due_now,
            "next_due_in_seconds": self.next_due_in_seconds,
            "wait_seconds": self.wait_seconds,
            "budget_spent": self.budget_spent,
        }


@tracer.capture_method(capture_response=False)
def acquire_lease(
    store: OrderStore, owner: str, budget: timedelta, sizing: DueSizing, now: datetime
) -> LeaseGrant:
    """Take the reconcile lease for ``owner`` (an execution id) for its budget plus the margin.

    False when another live execution holds it: the caller ends quietly.
    """
    budget_ends_at = now + budget
    acquired = store.acquire_lease(RECONCILE_LEASE, owner, budget + sizing.lease_margin, now)
    return LeaseGrant(acquired=acquired, budget_ends_at=math.floor(budget_ends_at.timestamp()))


@tracer.capture_method(capture_response=False)
def find_due(store: OrderStore, query: DueQuery, sizing: DueSizing, now: datetime) -> DuePlan:
    """Renew the lease, then list what is due now in batches, or plan the next wait.

    Reads only the due index: about ``capacity`` keys (each shard's share), plus one key per
    shard when nothing is due (to learn when the next order falls due).
    """
    iteration = query.iteration + 1
    # The lease outlives the budget by the margin, however late this call is.
    lease_until = max(query.budget_ends_at, now) + sizing.lease_margin
    if not store.renew_lease(RECONCILE_LEASE, query.owner, lease_until - now, now):
        logger.warning("reconcile lease lost to another execution", owner=query.owner)
        return DuePlan(lease_held=False, iteration=iteration)
    if now >= query.budget_ends_at:
        return DuePlan(lease_held=True, iteration=iteration, budget_spent=True)
    page = store.due(now, sizing.capacity)
    ids = page.payout_ids
    if ids:
        return DuePlan(
            lease_held=True,
            iteration=iteration,
            batches=batched(ids, sizing.batch_size),
            more_due_now=page.more,
            next_due_in_seconds=0,
        )
    earliest = store.earliest_due()
    next_due_in = None if earliest is None else seconds_until(earliest, now)
    seconds_left = seconds_until(query.budget_ends_at, now)
    return DuePlan(
        lease_held=True,
        iteration=iteration,
        next_due_in_seconds=next_due_in,
        wait_seconds=plan_wait(next_due_in, query.max_wait, seconds_left),
    )


def plan_wait(next_due_in: int | None, max_wait: timedelta, seconds_left: int) -> int | None:
    """Seconds to Wait before looking again, or None to end the execution.

    Waits until the next order falls due, but never longer than ``max_wait`` (orders created
    meanwhile fall due sooner than any already known) and never past the budget: work due after
    the budget is left to the next scheduled execution.
    """
    if next_due_in is None:
        return None
    wait = min(max(next_due_in, 1), max(math.floor(max_wait.total_seconds()), 1))
    return wait if wait <= seconds_left else None


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` until ``moment`` (rounded up; 0 when it has passed)."""
    return max(0, math.ceil((moment - now).total_seconds()))


def batched(ids: Sequence[str], size: int) -> list[list[str]]:
    """``ids`` cut into lists of at most ``size``, in order."""
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]
