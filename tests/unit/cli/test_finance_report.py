"""``payouts report``'s aggregation and documents: exact sums per provider, day, currency and
status; major units by each currency's exponent; null (never "?") for what was not reported."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from payouts.domain.status import OrderStatus
from payouts_tools.cli.finance import (
    LINE_FIELDS,
    TOTAL_FIELDS,
    OrderLine,
    days_between,
    line_document,
    orders_document,
    partitions,
    report_document,
    to_csv,
    total_document,
    totals,
)
from tests.support.orders import make_order

S = OrderStatus
DAY = date(2026, 11, 22)
PAID_AT = datetime(2026, 11, 22, 8, 0, 5, tzinfo=UTC)


def line(
    payout_id: str,
    *,
    provider: str | None = "pg_v2",
    status: OrderStatus = S.SUCCEEDED,
    day: date = DAY,
    currency: str = "INR",
    amount: int = 10000,
    fee: int | None = 150,
    fee_currency: str | None = None,
) -> OrderLine:
    return OrderLine(
        payout_id=payout_id,
        provider=provider,
        provider_order_id=f"P-{payout_id}",
        provider_reference=f"R-{payout_id}",
        status=status,
        created_day=day,
        currency=currency,
        amount_minor=amount,
        fee_minor=fee,
        fee_currency=(fee_currency or currency) if fee is not None else None,
        credited_minor=None,
        paid_at=PAID_AT if status is S.SUCCEEDED else None,
    )


def test_totals_sum_exactly_per_provider_day_currency_and_status() -> None:
    lines = [
        line("A", amount=10005, fee=150),
        line("B", amount=20000, fee=250),
        line("C", status=S.FAILED, amount=999, fee=0),
        line("D", currency="BRL", amount=5000, fee=75),
        line("E", provider="gateway_v2", currency="CNY", amount=50000, fee=300),
        line("F", day=date(2026, 11, 23), amount=1, fee=1),
    ]

    got = [
        (t.provider, t.day, t.currency, t.status, t.count, t.amount_minor, t.fees_minor)
        for t in totals(lines)
    ]

    assert got == [
        ("gateway_v2", DAY, "CNY", S.SUCCEEDED, 1, 50000, 300),
        ("pg_v2", DAY, "BRL", S.SUCCEEDED, 1, 5000, 75),
        ("pg_v2", DAY, "INR", S.SUCCEEDED, 2, 30005, 400),
        ("pg_v2", DAY, "INR", S.FAILED, 1, 999, 0),
        ("pg_v2", date(2026, 11, 23), "INR", S.SUCCEEDED, 1, 1, 1),
    ]


def test_a_fee_not_reported_or_in_another_currency_is_counted_never_added() -> None:
    lines = [line("A", fee=150), line("B", fee=None), line("C", fee=99, fee_currency="USD")]

    (total,) = totals(lines)

    assert (total.count, total.fees_minor, total.without_fee) == (3, 150, 2)
    assert total_document(total)["orders_without_fee"] == 2


def test_amounts_are_major_units_in_each_currencys_exponent() -> None:
    yen = total_document(totals([line("A", currency="JPY", amount=1234, fee=12)])[0])
    rupees = total_document(totals([line("B", amount=123456, fee=5)])[0])

    assert (yen["amount"], yen["fees"], yen["amount_minor"]) == ("1234", "12", 1234)
    assert (rupees["amount"], rupees["fees"]) == ("1234.56", "0.05")


def test_an_order_line_says_null_for_what_the_provider_did_not_report() -> None:
    order = make_order("PO-OPEN", method="UPI", value=10005, status=S.SUBMITTED, provider="pg_v2")

    document = line_document(OrderLine.of(order))  # type: ignore[arg-type]

    assert document["amount"] == "100.05"
    for name in ("provider_order_id", "provider_reference", "fee", "fee_minor", "credited"):
        assert document[name] is None
    assert document["paid_at"] is None
    assert "?" not in json.dumps(document)


def test_an_order_line_carries_every_figure_the_provider_reported() -> None:
    order = make_order(
        "PO-PAID",
        method="ALIPAY",
        value=50000,
        status=S.SUCCEEDED,
        provider="gateway_v2",
        provider_order_id="POT00000001",
        fee_minor=300,
        fee_currency="CNY",
        credited_minor=49700,
        paid_at=PAID_AT,
    )

    document = line_document(OrderLine.of(order))  # type: ignore[arg-type]

    assert document["fee"] == "3.00"
    assert document["credited"] == "497.00"
    assert document["paid_at"] == "2026-11-22T08:00:05+00:00"
    assert document["provider_order_id"] == "POT00000001"


def test_a_request_refused_as_invalid_has_no_line() -> None:
    refused = make_order("PO-BAD", status=S.REJECTED).model_copy(update={"request": None})

    assert OrderLine.of(refused) is None


def test_csv_columns_are_the_json_keys_and_null_is_empty() -> None:
    lines = [line("A", fee=None)]
    first = datetime(2026, 11, 22, tzinfo=UTC)
    report = report_document(first, first, None, lines)
    orders = orders_document(first, first, "pg_v2", lines)

    assert tuple(report["totals"][0]) == TOTAL_FIELDS
    assert tuple(orders["orders"][0]) == LINE_FIELDS
    header, row = to_csv(LINE_FIELDS, orders["orders"]).splitlines()
    assert header.split(",") == list(LINE_FIELDS)
    assert row.split(",")[LINE_FIELDS.index("fee")] == ""
    assert to_csv(TOTAL_FIELDS, []) == ",".join(TOTAL_FIELDS) + "\n"  # a header even when empty


@pytest.mark.parametrize(("days", "expected"), [(1, 1), (31, 31)])
def test_a_report_reads_each_day_once_whatever_the_statuses(days: int, expected: int) -> None:
    first = datetime(2026, 12, 1, tzinfo=UTC)
    last = datetime(2026, 12, days, tzinfo=UTC)

    assert len(days_between(first, last)) == days
    assert partitions(first, last) == expected
