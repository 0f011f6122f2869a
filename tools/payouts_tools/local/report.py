"""The demo's verdict: how every published payout ended, checked against the sandbox's ledger.

The invariants are the three failures that matter (DESIGN.md) plus what would hide one:

- every payout was paid at most once (the ledger's double payments);
- every order is terminal or escalated to a person (none left unresolved and unflagged);
- no order is FAILED or REJECTED although the sandbox paid it, and none is SUCCEEDED although
  it did not; what was paid is the order's amount in the order's currency;
- every published request became an order;
- every order's final status was published as a ``PayoutStatusChanged`` event.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts_tools.local.events_consumer import BusEvent
from payouts_tools.sandbox import EntryKind, LedgerEntry

S = OrderStatus
_NOT_PAID: Final = frozenset({S.FAILED, S.REJECTED})


@dataclass(frozen=True)
class Escalation:
    """An order flagged for a person, and why."""

    payout_id: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class DemoReport:
    """Everything the demo prints at the end (``as_json`` for ``--json``)."""

    orders: int
    by_status: dict[str, int]
    by_provider: dict[str, dict[str, int]]
    escalations: list[Escalation]
    double_payouts: list[str]
    unresolved: list[str]
    failed_but_paid: list[str]
    succeeded_but_unpaid: list[str]
    amount_mismatches: list[str]
    missing: list[str]
    without_final_event: list[str]
    resolution_seconds: dict[str, float | None]
    status_events: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def invariants(self) -> dict[str, bool]:
        """Each invariant and whether it held."""
        return {
            "paid_at_most_once": not self.double_payouts,
            "all_terminal_or_escalated": not self.unresolved,
            "no_failed_order_paid": not self.failed_but_paid,
            "no_succeeded_order_unpaid": not self.succeeded_but_unpaid,
            "paid_amounts_match": not self.amount_mismatches,
            "every_request_an_order": not self.missing,
            "final_status_published": not self.without_final_event,
        }

    @property
    def invariants_ok(self) -> bool:
        """True when every invariant held."""
        return all(self.invariants.values())

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "orders": self.orders,
            "by_status": self.by_status,
            "by_provider": self.by_provider,
            "escalated": len(self.escalations),
            "escalations": [
                {"payout_id": item.payout_id, "status": item.status, "reason": item.reason}
                for item in self.escalations
            ],
            "double_payouts": self.double_payouts,
            "unresolved": self.unresolved,
            "failed_but_paid": self.failed_but_paid,
            "succeeded_but_unpaid": self.succeeded_but_unpaid,
            "amount_mismatches": self.amount_mismatches,
            "missing": self.missing,
            "without_final_event": self.without_final_event,
            "resolution_seconds": self.resolution_seconds,
            "status_events": self.status_events,
            "invariants": self.invariants,
            "invariants_ok": self.invariants_ok,
            **self.extra,
        }


def build_report(
    published: Sequence[str],
    orders: Mapping[str, Order | None],
    ledger: Sequence[LedgerEntry],
    events: Sequence[BusEvent],
) -> DemoReport:
    """Check ``orders`` (by payout id, None when absent) against the ledger and the events."""
    found = [order for payout_id in published if (order := orders.get(payout_id)) is not None]
    payments = _payments(ledger)
    return DemoReport(
        orders=len(found),
        by_status=_count(order.status.value for order in found),
        by_provider=_by_provider(found),
        escalations=[
            Escalation(order.payout_id, order.status.value, order.review_reason)
            for order in found
            if order.needs_review
        ],
        double_payouts=sorted(
            merchant_no for merchant_no, paid in payments.items() if len(paid) > 1
        ),
        unresolved=sorted(
            order.payout_id for order in found if not order.is_terminal and not order.needs_review
        ),
        failed_but_paid=sorted(
            order.payout_id
            for order in found
            if order.status in _NOT_PAID and order.payout_id in payments
        ),
        succeeded_but_unpaid=sorted(
            order.payout_id
            for order in found
            if order.status is S.SUCCEEDED and order.payout_id not in payments
        ),
        amount_mismatches=sorted(_mismatches(found, payments)),
        missing=sorted(payout_id for payout_id in published if orders.get(payout_id) is None),
        without_final_event=sorted(_without_final_event(found, events)),
        resolution_seconds=_resolution(found),
        status_events=len(events),
    )


def _payments(ledger: Sequence[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    paid: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in ledger:
        if entry.kind is EntryKind.PAYMENT:
            paid[entry.merchant_no].append(entry)
    return dict(paid)


def _mismatches(orders: Sequence[Order], payments: Mapping[str, list[LedgerEntry]]) -> list[str]:
    wrong = []
    for order in orders:
        if order.request is None:
            continue
        expected = (order.request.amount.value, order.request.amount.currency)
        if any(
            (entry.amount_minor, entry.currency) != expected
            for entry in payments.get(order.payout_id, [])
        ):
            wrong.append(order.payout_id)
    return wrong


def _without_final_event(orders: Sequence[Order], events: Sequence[BusEvent]) -> list[str]:
    published = {(event.payout_id, event.detail.get("new_status")) for event in events}
    return [
        order.payout_id
        for order in orders
        if order.is_terminal and (order.payout_id, order.status.value) not in published
    ]


def _by_provider(orders: Sequence[Order]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for order in orders:
        table[order.provider or "(none)"][order.status.value] += 1
    return {provider: dict(sorted(counts.items())) for provider, counts in sorted(table.items())}


def _count(values: Any) -> dict[str, int]:
    counts = Counter(values)
    return {status.value: counts[status.value] for status in OrderStatus if counts[status.value]}


def _resolution(orders: Sequence[Order]) -> dict[str, float | None]:
    """Creation to terminal status (the order's last write), seconds: p50, p95, max."""
    seconds = sorted(
        (order.updated_at - order.created_at).total_seconds()
        for order in orders
        if order.is_terminal
    )
    return {
        "p50": _percentile(seconds, 50),
        "p95": _percentile(seconds, 95),
        "max": seconds[-1] if seconds else None,
    }


def _percentile(ordered: Sequence[float], percent: int) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)
