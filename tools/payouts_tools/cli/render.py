"""Printing for the CLI: rich tables for people, one JSON object for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

from payouts_tools.cli.operations import DeadLetter, Published, Stats
from payouts_tools.local.report import DemoReport

STATUS_STYLE: Final = {
    "RECEIVED": "cyan",
    "SUBMITTING": "yellow",
    "SUBMITTED": "blue",
    "UNKNOWN": "magenta",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "REJECTED": "red",
    "REVERSED": "yellow",
}


def console() -> Console:
    """Standard output (tables wrap at the terminal's width, or 120 when piped)."""
    return Console(highlight=False, soft_wrap=False, width=None)


def print_json(document: Any) -> None:
    """One JSON object on standard output."""
    print(json.dumps(document, indent=2, sort_keys=False, default=str, ensure_ascii=False))


def status_text(status: str) -> Text:
    """A status, coloured."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


def orders_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """An order listing."""
    table = Table(title=f"{len(rows)} order(s)", title_justify="left")
    for column in ("payout id", "status", "provider", "amount", "method", "review"):
        table.add_column(column, no_wrap=column in {"payout id", "amount"})
    table.add_column("updated (UTC)", no_wrap=True)
    for row in rows:
        table.add_row(
            row["payout_id"],
            status_text(row["status"]),
            row["provider"] or "-",
            row["amount"],
            row["method"] or "-",
            "yes" if row["needs_review"] else "",
            short_time(row["updated_at"]),
        )
    return table


def order_panel(order: Mapping[str, Any]) -> Table:
    """One order's fields, beneficiary masked."""
    table = Table(show_header=False, title=f"order {order['payout_id']}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for name in ("status", "version", "provider", "provider_order_id", "status_reason"):
        value = order.get(name)
        table.add_row(name, status_text(str(value)) if name == "status" else _plain(value))
    if "amount" in order:
        table.add_row("amount", order["amount"]["display"])
        table.add_row("beneficiary", ", ".join(f"{k}={v}" for k, v in order["beneficiary"].items()))
        table.add_row("description", order["description"] or "-")
        table.add_row("metadata", json.dumps(order["metadata"]) if order["metadata"] else "-")
    else:
        table.add_row("invalid request", _plain(order.get("invalid_request_excerpt")))
    review = f"yes: {order['review_reason']}" if order["needs_review"] else "no"
    table.add_row("needs review", Text(review, style="bold red" if order["needs_review"] else ""))
    for name in ("created_at", "updated_at", "next_check_at", "check_attempts", "submit_attempts"):
        table.add_row(name, _plain(order.get(name)))
    return table


def timeline_table(evidence: Sequence[Mapping[str, Any]]) -> Table:
    """The evidence timeline, oldest first."""
    table = Table(title=f"timeline ({len(evidence)} entries)", title_justify="left")
    table.add_column("at (UTC)", no_wrap=True)
    for column in ("kind", "actor", "move", "summary"):
        table.add_column(column, overflow="fold")
    for item in evidence:
        move = ""
        if item["to_status"]:
            move = f"{item['from_status'] or '-'} -> {item['to_status']}"
        table.add_row(short_time(item["at"]), item["kind"], item["actor"], move, item["summary"])
    return table


def stats_table(stats: Stats) -> Table:
    """Counts by status, the oldest unresolved order, escalations."""
    table = Table(
        title=f"orders created {stats.first_day.date()} .. {stats.last_day.date()}",
        title_justify="left",
    )
    table.add_column("status")
    table.add_column("orders", justify="right")
    for status, count in stats.by_status.items():
        marker = "+" if status in stats.truncated else ""
        table.add_row(status_text(status), f"{count}{marker}")
    oldest = stats.oldest_unresolved
    table.add_section()
    table.add_row(
        "oldest unresolved",
        f"{oldest['payout_id']} ({oldest['status']}, {oldest['age_seconds']} s)" if oldest else "-",
    )
    table.add_row("escalated", str(len(stats.escalated)))
    return table


def published_table(sent: Sequence[Published]) -> Table:
    """What was published."""
    table = Table(title=f"{len(sent)} request(s) published", title_justify="left")
    table.add_column("payout id")
    table.add_column("message id")
    for item in sent:
        table.add_row(item.payout_id or "-", item.message_id)
    return table


def dead_letters_table(letters: Sequence[DeadLetter]) -> Table:
    """Dead letters, described without their bodies."""
    table = Table(title=f"{len(letters)} dead letter(s)", title_justify="left")
    for column in ("message id", "payout id", "amount", "method", "receives", "reason"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.message_id,
            letter.payout_id or "?",
            letter.amount or "?",
            letter.method or "?",
            str(letter.receive_count),
            letter.reason or "(no reason attribute: failed maxReceiveCount times)",
        )
    return table


def demo_tables(report: DemoReport) -> list[Table]:
    """The demo's summary: final statuses by provider, escalations, figures, invariants."""
    tables = [_final_statuses(report)]
    if report.escalations:
        escalations = Table(
            title=f"escalated to a person ({len(report.escalations)})", title_justify="left"
        )
        escalations.add_column("payout id", no_wrap=True)
        escalations.add_column("status")
        escalations.add_column("reason", overflow="fold", max_width=70)
        for item in report.escalations[:10]:
            escalations.add_row(item.payout_id, status_text(item.status), item.reason or "-")
        tables.append(escalations)
    figures = Table(title="figures", title_justify="left", show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    timing = report.resolution_seconds
    figures.add_row(
        "time to resolution p50 / p95 / max (s)",
        " / ".join(_seconds(timing[key]) for key in ("p50", "p95", "max")),
    )
    figures.add_row("status events received", str(report.status_events))
    for name, value in report.extra.get("sandbox", {}).items():
        figures.add_row(f"sandbox {name.replace('_', ' ')}", str(value))
    tables.append(figures)
    checks = Table(title="invariants, against the sandbox's ledger", title_justify="left")
    checks.add_column("check")
    checks.add_column("result")
    for name, held in report.invariants.items():
        checks.add_row(
            name.replace("_", " "),
            Text("ok", style="green") if held else Text("BROKEN", style="bold red"),
        )
    tables.append(checks)
    return tables


def _final_statuses(report: DemoReport) -> Table:
    statuses = [status for status in STATUS_STYLE if status in report.by_status]
    table = Table(title=f"{report.orders} payouts: final status", title_justify="left")
    table.add_column("provider")
    for status in statuses:
        table.add_column(status_text(status), justify="right")
    table.add_column("total", justify="right")
    for provider, counts in report.by_provider.items():
        cells = [str(counts.get(status, 0)) for status in statuses]
        table.add_row(provider, *cells, str(sum(counts.values())))
    table.add_section()
    totals = [str(report.by_status.get(status, 0)) for status in statuses]
    table.add_row("all", *totals, str(report.orders))
    return table


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def short_time(iso: str | None) -> str:
    """``2026-11-22T04:59:37.741634+00:00`` -> ``2026-11-22 04:59:37.741``."""
    if not iso:
        return "-"
    return iso.replace("T", " ")[:23]


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def joined(values: Iterable[str]) -> str:
    """``a, b, c`` or ``-``."""
    items = list(values)
    return ", ".join(items) if items else "-"
