"""``payouts report``'s tables at 80 and 120 columns: every line fits, and no id, reference,
status or amount is cut or wrapped (they are what a statement is matched on)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from rich.console import Console

from payouts.domain.status import OrderStatus
from payouts_tools.cli import finance_tables
from payouts_tools.cli.finance import totals
from tests.unit.cli.test_finance_report import line
from tests.unit.cli.test_render_widths import WIDTHS, assert_fits, printed, words

S = OrderStatus


def many_lines() -> list[object]:
    return [
        line("PO-20261122-000123", amount=123456789, fee=617384),
        line("PO-20261122-000124", status=S.FAILED, fee=None),
        line("PO-20261122-000125", provider="gateway_v2", currency="CNY", amount=50000, fee=300),
        line("PO-20261122-000126", status=S.REVERSED, currency="BRL", day=date(2026, 11, 23)),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_totals_fit_and_keep_every_figure_whole(width: int) -> None:
    rows = totals(many_lines())  # type: ignore[arg-type]
    lines = printed(finance_tables.totals_table("4 order(s) created 2026-11-22 .. 23", rows), width)

    assert_fits(lines, width)
    shown = words(lines)
    assert {"1234567.89", "6173.84", "500.00", "3.00", "SUCCEEDED", "REVERSED", "FAILED"} <= shown
    assert {"gateway_v2", "pg_v2"} <= shown
    assert {"2026-11-22", "2026-11-23"} <= shown or {"11-22", "11-23"} <= shown
    assert "no" in shown  # one order has no known fee: the column says how many


def test_totals_without_missing_fees_have_no_missing_fee_column() -> None:
    rows = totals([line("A"), line("B", provider="gateway_v2")])
    lines = printed(finance_tables.totals_table("2 order(s)", rows), 80)

    assert "no fee" not in "\n".join(lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_order_lines_fit_and_keep_ids_references_and_amounts_whole(width: int) -> None:
    lines_ = many_lines()
    lines = printed(finance_tables.orders_table("4 order(s)", lines_), width)  # type: ignore[arg-type]

    assert_fits(lines, width)
    shown = words(lines)
    for item in lines_:
        assert item.payout_id in shown  # type: ignore[attr-defined]
        assert item.provider_reference in shown  # type: ignore[attr-defined]
    assert {"1234567.89", "6173.84", "500.00", "3.00"} <= shown


def test_order_lines_show_every_column_when_wide_and_stack_rather_than_cut() -> None:
    lines_ = many_lines()
    wide = "\n".join(printed(finance_tables.orders_table("4", lines_), 200))  # type: ignore[arg-type]
    narrow = printed(finance_tables.orders_table("4", lines_), 80)  # type: ignore[arg-type]

    for header in ("provider order id", "reference", "credited", "paid (UTC)"):
        assert header in wide
    assert "2026-11-22 08:00:05" in wide
    # At 80 columns no table fits: each order is stacked, with every value whole.
    assert "provider order id: P-PO-20261122-000123" in narrow
    assert "reference: R-PO-20261122-000123" in narrow


def test_progress_is_silent_when_not_wanted_and_for_quick_reads() -> None:
    err = io.StringIO()
    out = Console(file=err, force_terminal=True, width=80)

    with finance_tables.reading_progress("reading", 8, enabled=False, out=out) as step:
        step()
    with finance_tables.reading_progress("reading", 8, enabled=True, after_s=60, out=out) as step:
        for _ in range(8):
            step()

    assert err.getvalue() == ""
