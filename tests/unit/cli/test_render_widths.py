"""The CLI's tables at 80 and 120 columns and piped: every line fits, and no id, status or
amount is cut or wrapped; the optional columns go first. JSON-ready views say null, never "?"."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType

from payouts.domain.status import OrderStatus
from payouts.store import OrderSummary
from payouts_tools.cli import render
from payouts_tools.cli.operations import DeadLetter, Stats
from payouts_tools.cli.views import money, summary_view

WIDTHS = [80, 120]
STATUSES = ["SUBMITTING", "SUCCEEDED", "UNKNOWN", "RECEIVED"]


def printed(renderable: RenderableType, width: int) -> list[str]:
    stdout = io.StringIO()
    Console(file=stdout, width=width, color_system=None, highlight=False).print(renderable)
    text = stdout.getvalue()
    return [line.rstrip() for line in text.splitlines()]


def assert_fits(lines: list[str], width: int) -> None:
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    assert not any("…" in line for line in lines), "\n".join(lines)


def words(lines: list[str]) -> set[str]:
    return {word for line in lines for word in re.split(r"[\s│┃|]+", line) if word}


def order_rows(
    count: int = 4, *, flagged: bool = False, amount: str = "1234567.89 INR"
) -> list[dict[str, Any]]:
    return [
        {
            "payout_id": f"PO-20261122-{index:06d}",
            "status": STATUSES[index % len(STATUSES)],
            "provider": "gateway_v2" if index % 2 else "pg_v2",
            "provider_order_id": None,
            "method": "BANK_ACCOUNT" if index % 2 else "ALIPAY",
            "amount": amount,
            "needs_review": flagged and index == 1,
            "updated_at": "2026-12-01T05:40:32.541048+00:00",
        }
        for index in range(count)
    ]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("flagged", [False, True])
def test_orders_list_keeps_ids_statuses_and_amounts_whole_and_fits(
    width: int, flagged: bool
) -> None:
    rows = order_rows(flagged=flagged)
    lines = printed(render.orders_table(rows), width)

    assert_fits(lines, width)
    shown = words(lines)
    for row in rows:
        assert row["payout_id"] in shown
        assert row["status"] in shown
        assert "1234567.89" in shown
    assert ("yes" in shown) is flagged  # a flagged order's review mark is never dropped


def test_orders_list_drops_optional_columns_narrowest_first() -> None:
    rows = order_rows(amount="180.00 CNY")
    wide, narrow = printed(render.orders_table(rows), 120), printed(render.orders_table(rows), 80)

    assert {"provider", "method", "gateway_v2", "BANK_ACCOUNT", "2026-12-01"} <= words(wide)
    assert "BANK_ACCOUNT" not in words(narrow)  # the method goes first
    assert "gateway_v2" in words(narrow)  # the provider stays at 80 columns
    assert "12-01" in words(narrow)  # the time, shortened
    wider_amounts = printed(render.orders_table(order_rows()), 80)
    assert "12-01" not in words(wider_amounts)  # then dropped, before the provider
    assert "gateway_v2" in words(wider_amounts)


def test_orders_list_below_the_narrowest_table_is_one_line_per_order() -> None:
    rows = order_rows()
    lines = printed(render.orders_table(rows), 40)

    assert_fits(lines, 40)
    assert words(lines) >= {row["payout_id"] for row in rows} | set(STATUSES)


def test_piped_output_is_120_columns_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())  # not a terminal

    assert render.console().width == render.PIPED_WIDTH == 120
    monkeypatch.setenv("COLUMNS", "80")
    assert render.console().width == 80  # COLUMNS still wins


@pytest.mark.parametrize("width", WIDTHS)
def test_stats_title_is_one_line(width: int) -> None:
    stats = Stats(
        first_day=datetime(2026, 11, 25, tzinfo=UTC),
        last_day=datetime(2026, 12, 1, tzinfo=UTC),
        by_status=dict.fromkeys(STATUSES, 3),
        truncated=[],
        oldest_unresolved={"payout_id": "PO-1", "status": "UNKNOWN", "age_seconds": 12},
        escalated=["PO-1"],
    )
    lines = printed(render.stats_table(stats), width)

    assert lines[0] == "orders created 2026-11-25 .. 2026-12-01"
    assert_fits(lines, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_timeline_never_splits_a_status(width: int) -> None:
    evidence = [
        {
            "at": "2026-12-01T05:40:29.575000+00:00",
            "kind": "CREATE_ANSWER",
            "actor": "operator:someone-with-a-long-name",
            "from_status": "SUBMITTING",
            "to_status": "SUBMITTED",
            "summary": "gateway_v2 create: ACCEPTED after a slow answer " * 3,
        }
    ]
    lines = printed(render.timeline_table(evidence), width)

    assert_fits(lines, width)
    assert {"SUBMITTING", "SUBMITTED", "CREATE_ANSWER"} <= words(lines)


def dead_letter(number: int, reason: str | None = "amount.value: must be positive") -> DeadLetter:
    return DeadLetter(
        message_id=f"87f43d53-3e2c-4bb8-a966-b1bd91c1ac{number:02d}",
        sent_at=None,
        receive_count=3,
        reason=reason,
        payout_id=f"PO-20261122-{number:06d}",
        amount="123.45 INR",
        method="BANK_ACCOUNT",
        body_bytes=300,
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_dead_letters_keep_message_and_payout_ids_whole_and_say_what_reads_mean(
    width: int,
) -> None:
    letters = [dead_letter(1), dead_letter(2, None)]
    lines = printed(render.dead_letters_table(letters), width)

    assert_fits(lines, width)
    for letter in letters:
        assert letter.message_id in words(lines)
        assert letter.payout_id in words(lines)
    assert any(line.startswith("reads: ") for line in lines)


def test_unknown_amounts_are_null_in_json_and_a_dash_in_tables() -> None:
    summary = OrderSummary(
        payout_id="PO-X",
        status=OrderStatus.REJECTED,
        provider=None,
        provider_order_id=None,
        amount_value=None,
        currency=None,
        method=None,
        needs_review=False,
        updated_at=None,
    )
    view = summary_view(summary)

    assert money(None, "INR") is None
    assert (view["amount"], view["provider"], view["method"]) == (None, None, None)
    assert "?" not in "\n".join(printed(render.orders_table([view]), 80))


def test_the_spinner_shows_only_when_a_read_takes_longer_than_its_delay() -> None:
    def spun(seconds: float) -> str:
        stderr = io.StringIO()
        out = Console(file=stderr, force_terminal=True, width=80)
        with render.waiting("reading orders", enabled=True, after_s=0.1, out=out):
            time.sleep(seconds)
        return stderr.getvalue()

    assert "reading orders" not in spun(0.0)
    assert "reading orders" in spun(0.5)


def test_no_spinner_for_json_or_captured_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert not render.spinner_wanted(as_json=False)  # stdout is not a terminal
    assert not render.spinner_wanted(as_json=True)


def test_below_any_table_rows_are_stacked_with_every_value_whole() -> None:
    letters = [dead_letter(1), dead_letter(2)]
    lines = printed(render.dead_letters_table(letters), 50)

    assert_fits(lines, 50)
    for letter in letters:
        assert f"message id: {letter.message_id}" in lines
        assert f"payout id: {letter.payout_id}" in lines
