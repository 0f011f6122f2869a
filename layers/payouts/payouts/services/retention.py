"""Retention: personal data is kept only as long as needed.

A set number of days after an order turned terminal (and last changed), its beneficiary details,
description and metadata are replaced by their masked form, and an invalid request's excerpt is
masked again by shape (``payouts.domain.erasure``). Ids, amount, currency, method, statuses, the
request's fingerprint and the evidence (hashes, redacted details) are kept: the money trail stays
whole, a late duplicate of the request is still known as the same request (the fingerprint is of
the original), and nothing is ever sent again from an erased order.

Two ways find what is due, so that a payout settled soon after its creation (nearly all of them)
writes no index entry for retention at all:
- the sweep: by-day read in creation order, from a stored position, up to the orders created
  ``retention + SWEPT_CHANGES_WITHIN`` ago. Every terminal order that last changed within
  ``SWEPT_CHANGES_WITHIN`` of its creation is due by then; the sweep erases those and passes the
  others by, which are in, or will go into, the erasable index.
- the sparse erasable index: the terminal orders that last changed later than that after their
  creation (a late settlement, a review, a reversal), oldest change first.
An order is so erased between ``retention`` and ``retention + SWEPT_CHANGES_WITHIN`` (plus the
schedule's hour) after its last change.

Each erasure is one conditional put of the order item (the order's status and version unchanged,
so a concurrent transition or review wins and the order is taken up again on a later run), with
its ERASURE evidence kept on the item. It never changes a status, an amount or a fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from payouts.domain.erasure import SWEPT_CHANGES_WITHIN, erase_excerpt, erase_request
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.observability import logger
from payouts.store import Applied, OrderStore, WriteResult
from payouts.store.orders import ErasablePage, SweepPosition

# Where a sweep that has never run starts, before the first orders it must reach: the orders
# it alone can erase were settled within SWEPT_CHANGES_WITHIN of creation by a version writing
# no erasable entry for them, so created at most that long before the first run (deployed
# and scheduled together); earlier ones carry an erasable entry from the version before.
FIRST_SWEEP_LOOKBACK: Final = timedelta(days=2)


@dataclass(frozen=True)
class ErasureRun:
    """What one pass over the erasable index did."""

    erased: int = 0
    # Listed but left alone: changed since the index was read, or not due yet (a retry wins).
    skipped: int = 0
    more: bool = False


def erase_expired(
    store: OrderStore,
    *,
    retention: timedelta,
    now: datetime,
    limit: int,
) -> ErasureRun:
    """Erase the personal data of up to ``limit`` orders terminal and unchanged for longer than
    ``retention``; ``more`` says another pass has work."""
    cutoff = now - retention
    page: ErasablePage = store.erasable(cutoff, limit)
    erased = skipped = 0
    for payout_id in page.payout_ids:
        order = store.get(payout_id)
        if order is None or not _due_for_erasure(order, cutoff):
            skipped += 1
            continue
        if isinstance(erase_order(store, order, retention, now), Applied):
            erased += 1
        else:
            skipped += 1
    return ErasureRun(erased=erased, skipped=skipped, more=page.more)


def erase_due(
    store: OrderStore,
    *,
    retention: timedelta,
    now: datetime,
    limit: int,
) -> ErasureRun:
    """One pass of each: up to ``limit`` orders from the erasable index, then up to ``limit``
    from the sweep of by-day; ``more`` says another pass has work."""
    listed = erase_expired(store, retention=retention, now=now, limit=limit)
    swept = sweep_created(store, retention=retention, now=now, limit=limit)
    return ErasureRun(
        erased=listed.erased + swept.erased,
        skipped=listed.skipped + swept.skipped,
        # Orders listed but left alone changed meanwhile: they wait for the next run.
        more=(listed.more and listed.erased > 0) or swept.more,
    )


def sweep_created(
    store: OrderStore,
    *,
    retention: timedelta,
    now: datetime,
    limit: int,
) -> ErasureRun:
    """Erase the due orders among the next ``limit`` in creation order after the sweep's
    position, up to the orders created ``retention + SWEPT_CHANGES_WITHIN`` ago, and move the
    position past them. An order passed by is not due: it is in the erasable index (it changed
    late) or not terminal yet (it will be, and then changed late). ``more``: another pass has
    work; False also when another run moved the position meanwhile."""
    until = now - retention - SWEPT_CHANGES_WITHIN
    before = store.sweep_position()
    start = before or SweepPosition(until - FIRST_SWEEP_LOOKBACK, "")
    if start.created_at >= until:
        return ErasureRun()
    page = store.created_after(start, until, limit)
    cutoff = now - retention
    erased = skipped = 0
    handled: SweepPosition | None = None
    finished = False
    try:
        for order in page.orders:
            if not _due_for_erasure(order, cutoff):
                skipped += 1
            elif isinstance(erase_order(store, order, retention, now), Applied):
                erased += 1
            else:
                skipped += 1  # changed meanwhile, so changed late: the erasable index has it now
            handled = SweepPosition(order.created_at, order.payout_id)
        finished = True
    finally:
        if not finished and handled is not None:
            # An erasure failed (throttled past the retries, say): keep what this pass did, so
            # the retried invocation starts at the order that failed, not at the page's start.
            store.move_sweep_position(before, handled)
    # Exhausted: everything created up to ``until`` has been looked at, whatever its id.
    reached = page.last if page.last and not page.exhausted else SweepPosition.through(until)
    moved = store.move_sweep_position(before, reached)
    return ErasureRun(erased=erased, skipped=skipped, more=moved and not page.exhausted)


def erase_order(
    store: OrderStore, order: Order, retention: timedelta, now: datetime
) -> WriteResult:
    """One order's erasure, as a conditional write with its ERASURE evidence."""
    evidence = Evidence(
        kind=EvidenceKind.ERASURE,
        summary="personal data erased: beneficiary details replaced by their masked form",
        detail={
            "retention_days": retention.days,
            "terminal_since": order.updated_at.isoformat(),
            "fingerprint": order.fingerprint,
        },
        at=now,
    )
    result = store.erase(
        order,
        now,
        evidence,
        request=erase_request(order.request) if order.request is not None else None,
        invalid_request=(
            erase_excerpt(order.invalid_request) if order.invalid_request is not None else None
        ),
    )
    if isinstance(result, Applied):
        logger.info("personal data erased", payout_id=order.payout_id, status=order.status.value)
    else:
        logger.info("order changed meanwhile; erased on a later run", payout_id=order.payout_id)
    return result


def _due_for_erasure(order: Order, cutoff: datetime) -> bool:
    # The index was read eventually consistently: the order itself decides.
    return (
        order.is_terminal and order.personal_data_erased_at is None and order.updated_at <= cutoff
    )
