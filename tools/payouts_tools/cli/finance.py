"""``payouts report``: money figures for finance, read through the by-day index.

Totals per provider, creation day, currency and status (count, amount, fees), or one line per
order for matching a provider's statement. Amounts are exact: integer minor units summed, then
shown in major units with the currency's ISO 4217 exponent. A figure the provider never reported
is null (JSON), empty (CSV) or "-" (tables), never a guess; the totals say how many orders of a
group have no known fee, so a fee total is never silently partial.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from payouts.domain.money import MoneyError, to_decimal_string
from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.store import OrderStore

# Every status is read: finance sees what is paid, what failed and what is still open.
REPORT_STATUSES: Final = tuple(OrderStatus)
# The longest range one report reads (each day costs one query per status).
MAX_REPORT_DAYS: Final = 366

type Step = Callable[[], None]


@dataclass(frozen=True)
class OrderLine:
    """One order, for statement matching."""

    payout_id: str
    provider: str | None
    provider_order_id: str | None
    provider_reference: str | None
    status: OrderStatus
    created_day: date
    currency: str
    amount_minor: int
    fee_minor: int | None
    fee_currency: str | None
    credited_minor: int | None
    paid_at: datetime | None

    @classmethod
    def of(cls, order: Order) -> OrderLine | None:
        """The line of ``order``; None for a request refused as invalid (no amount to report)."""
        if order.request is None:
            return None
        return cls(
            payout_id=order.payout_id,
            provider=order.provider,
            provider_order_id=order.provider_order_id,
            provider_reference=order.provider_reference,
            status=order.status,
            created_day=order.created_at.date(),
            currency=order.request.amount.currency,
            amount_minor=order.request.amount.value,
            fee_minor=order.fee_minor,
            fee_currency=order.fee_currency,
            credited_minor=order.credited_minor,
            paid_at=order.paid_at,
        )

    @property
    def fee_in_currency(self) -> int | None:
        """The fee when known in the order's own currency (the only one its total may add)."""
        return self.fee_minor if self.fee_currency == self.currency else None


type GroupKey = tuple[str, date, str, OrderStatus]


@dataclass(frozen=True)
class Total:
    """One group's totals: orders of one provider, creation day, currency and status."""

    provider: str | None
    day: date
    currency: str
    status: OrderStatus
    count: int
    amount_minor: int
    fees_minor: int
    without_fee: int  # orders of the group whose fee the provider has not reported


def read_lines(
    store: OrderStore,
    first_day: datetime,
    last_day: datetime,
    *,
    provider: str | None = None,
    step: Step | None = None,
) -> list[OrderLine]:
    """Every order created from ``first_day`` to ``last_day`` (inclusive, UTC), one day at a
    time (each day read once, whatever the statuses); ``step`` is called after each day. Within
    a day, lines come status by status (``REPORT_STATUSES``' order), oldest first."""
    lines: list[OrderLine] = []
    rank = {status: place for place, status in enumerate(REPORT_STATUSES)}
    for day in days_between(first_day, last_day):
        orders = store.orders_of_day(REPORT_STATUSES, day, provider)
        orders.sort(key=lambda order: rank[order.status])  # stable: oldest first within
        lines.extend(line for order in orders if (line := OrderLine.of(order)) is not None)
        if step is not None:
            step()
    return lines


def partitions(first_day: datetime, last_day: datetime) -> int:
    """How many steps a report over these days reads (one per day; for its progress bar)."""
    return len(days_between(first_day, last_day))


def days_between(first_day: datetime, last_day: datetime) -> list[datetime]:
    """Each day from ``first_day`` to ``last_day``, inclusive."""
    count = (last_day.date() - first_day.date()).days + 1
    return [first_day + timedelta(days=offset) for offset in range(max(count, 0))]


def totals(lines: Iterable[OrderLine]) -> list[Total]:
    """The lines summed per provider, day, currency and status, in that order."""
    groups: dict[GroupKey, list[OrderLine]] = {}
    for line in lines:
        key = (line.provider or "", line.created_day, line.currency, line.status)
        groups.setdefault(key, []).append(line)
    return [
        Total(
            provider=provider or None,
            day=day,
            currency=currency,
            status=status,
            count=len(members),
            amount_minor=sum(line.amount_minor for line in members),
            fees_minor=sum(line.fee_in_currency or 0 for line in members),
            without_fee=sum(1 for line in members if line.fee_in_currency is None),
        )
        for (provider, day, currency, status), members in sorted(groups.items(), key=_group_order)
    ]


def _group_order(entry: tuple[GroupKey, list[OrderLine]]) -> tuple[str, date, str, int]:
    provider, day, currency, status = entry[0]
    return provider, day, currency, REPORT_STATUSES.index(status)


def major(minor: int | None, currency: str | None) -> str | None:
    """Minor units as a major-unit decimal string in ``currency``'s exponent (``"500.00"``)."""
    if minor is None or currency is None:
        return None
    try:
        return to_decimal_string(minor, currency)
    except MoneyError:  # a currency without a known exponent is never guessed
        return None


# ---- JSON and CSV -------------------------------------------------------------------------------


def total_document(total: Total) -> dict[str, Any]:
    """One total as JSON: amounts in major units (exact strings) and in minor units."""
    return {
        "provider": total.provider,
        "day": total.day.isoformat(),
        "currency": total.currency,
        "status": total.status.value,
        "count": total.count,
        "amount": major(total.amount_minor, total.currency),
        "amount_minor": total.amount_minor,
        "fees": major(total.fees_minor, total.currency),
        "fees_minor": total.fees_minor,
        "orders_without_fee": total.without_fee,
    }


def line_document(line: OrderLine) -> dict[str, Any]:
    """One order as JSON; what the provider has not reported is null."""
    return {
        "payout_id": line.payout_id,
        "provider": line.provider,
        "provider_order_id": line.provider_order_id,
        "provider_reference": line.provider_reference,
        "status": line.status.value,
        "created_day": line.created_day.isoformat(),
        "currency": line.currency,
        "amount": major(line.amount_minor, line.currency),
        "amount_minor": line.amount_minor,
        "fee": major(line.fee_minor, line.fee_currency),
        "fee_minor": line.fee_minor,
        "fee_currency": line.fee_currency,
        "credited": major(line.credited_minor, line.currency),
        "credited_minor": line.credited_minor,
        "paid_at": line.paid_at.isoformat() if line.paid_at is not None else None,
    }


def report_document(
    first_day: datetime, last_day: datetime, provider: str | None, lines: Sequence[OrderLine]
) -> dict[str, Any]:
    """The whole report as one JSON object: the range, the totals and (always) the count."""
    return {
        "from": first_day.date().isoformat(),
        "to": last_day.date().isoformat(),
        "provider": provider,
        "orders": len(lines),
        "totals": [total_document(total) for total in totals(lines)],
    }


def orders_document(
    first_day: datetime, last_day: datetime, provider: str | None, lines: Sequence[OrderLine]
) -> dict[str, Any]:
    """The report's ``--orders`` form as one JSON object."""
    return {
        "from": first_day.date().isoformat(),
        "to": last_day.date().isoformat(),
        "provider": provider,
        "count": len(lines),
        "orders": [line_document(line) for line in lines],
    }


# The CSV columns: the JSON documents' keys, in the same order (a test holds them together).
TOTAL_FIELDS: Final = (
    "provider",
    "day",
    "currency",
    "status",
    "count",
    "amount",
    "amount_minor",
    "fees",
    "fees_minor",
    "orders_without_fee",
)
LINE_FIELDS: Final = (
    "payout_id",
    "provider",
    "provider_order_id",
    "provider_reference",
    "status",
    "created_day",
    "currency",
    "amount",
    "amount_minor",
    "fee",
    "fee_minor",
    "fee_currency",
    "credited",
    "credited_minor",
    "paid_at",
)


def to_csv(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """Rows as CSV under a header line of ``fields``; null is an empty field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
