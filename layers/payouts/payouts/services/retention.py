"""Retention: personal data is kept only as long as needed.

A set number of days after an order turned terminal (and last changed), its beneficiary details,
description and metadata are replaced by their masked form, and an invalid request's excerpt is
masked again by shape (``payouts.domain.erasure``). Ids, amount, currency, method, statuses, the
request's fingerprint and the evidence (hashes, redacted details) are kept: the money trail stays
whole, a late duplicate of the request is still known as the same request (the fingerprint is of
the original), and nothing is ever sent again from an erased order.

Each erasure is one conditional write (the order's status and version unchanged, so a concurrent
transition or review wins and the order is taken up again on a later run), in one transaction
with an ERASURE evidence item. It never changes a status, an amount or a fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payouts.domain.erasure import erase_excerpt, erase_request
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.observability import logger
from payouts.store import Applied, OrderStore, WriteResult
from payouts.store.orders import ErasablePage


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
    result = store.update(
        order,
        now,
        evidence,
        request=erase_request(order.request) if order.request is not None else None,
        invalid_request=(
            erase_excerpt(order.invalid_request) if order.invalid_request is not None else None
        ),
        personal_data_erased_at=now,
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
