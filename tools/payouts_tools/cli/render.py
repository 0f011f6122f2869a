"""Printing for the CLI: rich tables for people, one JSON object for scripts.

Tables choose their columns when they are printed, by the width they get: optional columns are
narrowed, then dropped, until the table fits; ids, statuses and amounts are never wrapped or cut
(an operator copies them into other commands and tickets). Prose (reasons, summaries) wraps.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
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

# Width of tables when standard output is not a terminal (a pipe, a file, a CI log): wide enough
# for every column of every table, so what is piped to grep or a ticket is never cut. COLUMNS, when
# set, wins (rich reads it), so a script can still ask for another width.
PIPED_WIDTH: Final = 120
# The narrowest a wrapping column (a reason, a summary) may be squeezed to before a layout with
# fewer columns is preferred: below this, prose becomes a column of fragments.
_PROSE_MIN: Final = 24
# A read shorter than this shows nothing; a longer one shows a spinner on stderr.
SPINNER_AFTER_S: Final = 1.0
# What stands for a value nobody knows, in tables (JSON says null).
UNKNOWN_VALUE: Final = "-"


def console(*, stderr: bool = False) -> Console:
    """Standard output (or error): the terminal's width, or PIPED_WIDTH when not a terminal."""
    out = Console(highlight=False, soft_wrap=False, stderr=stderr)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPED_WIDTH
    return out


def print_json(document: Any) -> None:
    """One JSON object on standard output."""
    print(json.dumps(document, indent=2, sort_keys=False, default=str, ensure_ascii=False))


def status_text(status: str) -> Text:
    """A status, coloured."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


# ---- tables that fit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column's header and cells. ``wrap``: prose that may wrap; otherwise the column is
    never narrower than its widest cell, so nothing in it is wrapped or cut."""

    header: str
    cells: Sequence[str | Text]
    wrap: bool = False
    justify: Literal["left", "right"] = "left"
    min_width: int = _PROSE_MIN  # of a wrapping column (never less than its longest word)


def table_of(columns: Sequence[Column], **options: Any) -> Table:
    """A table of these columns; fixed columns get their widest cell as their minimum width."""
    table = Table(**options)
    for column in columns:
        texts = [_plain_text(cell) for cell in column.cells]
        if column.wrap:
            # Wrapped between words, never inside one: a status or an id in prose stays whole.
            longest = max((cell_len(word) for text in texts for word in text.split()), default=0)
            table.add_column(
                column.header, overflow="fold", min_width=max(column.min_width, longest)
            )
        else:
            widest = max((cell_len(text) for text in texts), default=0)
            table.add_column(
                column.header,
                no_wrap=True,
                justify=column.justify,
                min_width=max(widest, cell_len(column.header)),
            )
    for row in zip(*(column.cells for column in columns), strict=True):
        table.add_row(*row)
    return table


class Fitted:
    """A titled table whose layout is chosen when printed: the first of ``layouts`` (most
    columns first) whose minimum width fits; if none does, ``fallback``, else every column
    stacked (lines that wrap between values, never inside one)."""

    def __init__(
        self,
        title: str,
        layouts: Sequence[Sequence[Column]],
        fallback: Callable[[], RenderableType] | None = None,
    ) -> None:
        self.title = title
        self.layouts = layouts
        self.fallback = fallback

    def table(self, console: Console, width: int) -> RenderableType:
        """The widest layout that fits ``width``."""
        for columns in self.layouts:
            table = table_of(columns)
            if needed_width(table) <= width:
                _share_spare_width(table, columns, width - needed_width(table))
                return table
        if self.fallback is not None:
            return self.fallback()
        return stacked(self.layouts[0])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # The title is a line of its own: inside the table it would wrap at the table's width.
        yield Text(self.title, style="table.title")
        yield self.table(console, options.max_width)


def stacked(columns: Sequence[Column]) -> Group:
    """Rows as ``header: value`` lines, a blank line between rows: for terminals narrower than
    any table, where a table would cut its ids."""
    lines: list[Text] = []
    for index, row in enumerate(zip(*(column.cells for column in columns), strict=True)):
        if index:
            lines.append(Text())
        for column, cell in zip(columns, row, strict=True):
            lines.append(Text.assemble((f"{column.header}: ", "bold"), cell))
    return Group(*lines)


def needed_width(table: Table) -> int:
    """The width a table needs to give every column its minimum. (rich's own measurement is
    clamped to the width on offer, so it cannot say that a table does not fit.)"""
    _, right, _, left = table.padding
    cells = sum((column.min_width or 0) + left + right for column in table.columns)
    return cells + len(table.columns) + 1  # one rule between columns, and the two edges


def _share_spare_width(table: Table, columns: Sequence[Column], spare: int) -> None:
    """Give the wrapping columns the width left over, in proportion to what they lack. rich's
    own squeeze ignores minimum widths, narrows the wrong column and then overflows."""
    wanting = {
        index: _natural_width(column) - (table.columns[index].min_width or 0)
        for index, column in enumerate(columns)
        if column.wrap
    }
    total = sum(max(want, 0) for want in wanting.values())
    for index, want in wanting.items():
        share = min(want, spare * want // total) if total > 0 and want > 0 else 0
        table.columns[index].width = (table.columns[index].min_width or 0) + share


def _natural_width(column: Column) -> int:
    texts = [column.header, *(_plain_text(cell) for cell in column.cells)]
    return max(cell_len(line) for text in texts for line in text.splitlines() or [""])


def _plain_text(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _or_unknown(value: str | None) -> str:
    return value if value else UNKNOWN_VALUE


# ---- orders -------------------------------------------------------------------------------------


def orders_table(rows: Sequence[Mapping[str, Any]]) -> Fitted:
    """An order listing. Narrower terminals lose, in order: an empty review column, the date and
    milliseconds of the update time, the method, the update time, the provider."""
    ids = Column("payout id", [row["payout_id"] for row in rows])
    statuses = Column("status", [status_text(row["status"]) for row in rows])
    amounts = Column("amount", [_or_unknown(row["amount"]) for row in rows], justify="right")
    provider = Column("provider", [_or_unknown(row["provider"]) for row in rows])
    method = Column("method", [_or_unknown(row["method"]) for row in rows])
    flagged = any(row["needs_review"] for row in rows)
    review = Column("review", ["yes" if row["needs_review"] else "" for row in rows])
    updated = Column("updated (UTC)", [short_time(row["updated_at"]) for row in rows])
    updated_short = Column("updated (UTC)", [shorter_time(row["updated_at"]) for row in rows])
    kept_review = [review] if flagged else []
    layouts = [
        [ids, statuses, provider, amounts, method, review, updated],
        [ids, statuses, provider, amounts, method, *kept_review, updated],
        [ids, statuses, provider, amounts, method, *kept_review, updated_short],
        [ids, statuses, provider, amounts, *kept_review, updated_short],
        [ids, statuses, provider, amounts, *kept_review],
        [ids, statuses, amounts, *kept_review],
    ]
    return Fitted(f"{len(rows)} order(s)", layouts, lambda: _order_lines(rows))


def _order_lines(rows: Sequence[Mapping[str, Any]]) -> Group:
    """Below the narrowest table: one line per order, which the terminal wraps between values."""
    lines = []
    for row in rows:
        line = Text.assemble(row["payout_id"], " ", status_text(row["status"]))
        line.append(f" {_or_unknown(row['amount'])}{' review' if row['needs_review'] else ''}")
        lines.append(line)
    return Group(*lines)


# The money figures an order's panel shows (label, key in the view's "figures").
_FIGURE_ROWS: Final = (
    ("provider fee", "fee"),
    ("credited", "credited"),
    ("provider reference", "provider_reference"),
    ("paid at", "paid_at"),
)


def order_panel(order: Mapping[str, Any]) -> Table:
    """One order's fields, beneficiary masked."""
    table = Table(show_header=False, title=f"order {order['payout_id']}", title_justify="left")
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name in ("status", "version", "provider", "provider_order_id", "status_reason"):
        value = order.get(name)
        table.add_row(name, status_text(str(value)) if name == "status" else _plain(value))
    if "amount" in order:
        table.add_row("amount", _or_unknown(order["amount"]["display"]))
        table.add_row("beneficiary", ", ".join(f"{k}={v}" for k, v in order["beneficiary"].items()))
        table.add_row("description", order["description"] or "-")
        table.add_row("metadata", json.dumps(order["metadata"]) if order["metadata"] else "-")
    else:
        table.add_row("invalid request", _plain(order.get("invalid_request_excerpt")))
    figures = order["figures"]
    for label, name in _FIGURE_ROWS:
        table.add_row(label, _plain(figures[name]))
    review = f"yes: {order['review_reason']}" if order["needs_review"] else "no"
    table.add_row("needs review", Text(review, style="bold red" if order["needs_review"] else ""))
    for name in ("created_at", "updated_at", "next_check_at", "check_attempts", "submit_attempts"):
        table.add_row(name, _plain(order.get(name)))
    return table


def timeline_table(evidence: Sequence[Mapping[str, Any]]) -> Fitted:
    """The evidence timeline, oldest first. Narrower terminals get a shorter time, then the actor
    folded into the summary."""
    moves = [
        f"{item['from_status'] or '-'} -> {item['to_status']}" if item["to_status"] else ""
        for item in evidence
    ]
    at = Column("at (UTC)", [short_time(item["at"]) for item in evidence])
    at_short = Column("at (UTC)", [shorter_time(item["at"]) for item in evidence])
    kind = Column("kind", [item["kind"] for item in evidence])
    actor = Column("actor", [item["actor"] for item in evidence], wrap=True, min_width=10)
    move = Column("move", moves, wrap=True, min_width=1)
    summary = Column("summary", [item["summary"] for item in evidence], wrap=True)
    summary_by = Column(
        "summary (by)",
        [f"{item['summary']} (by {item['actor']})" for item in evidence],
        wrap=True,
    )
    layouts = [
        [at, kind, actor, move, summary],
        [at_short, kind, actor, move, summary],
        [at_short, kind, move, summary_by],
    ]
    return Fitted(f"timeline ({len(evidence)} entries)", layouts)


def stats_table(stats: Stats) -> Group:
    """Counts by status, the oldest unresolved order, escalations."""
    table = Table()
    table.add_column("status", no_wrap=True)
    table.add_column("orders", justify="right", overflow="fold")
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
    # The title is a line of its own: as the table's title it wrapped at the table's width.
    title = f"orders created {stats.first_day.date()} .. {stats.last_day.date()}"
    return Group(Text(title, style="table.title"), table)


def published_table(sent: Sequence[Published]) -> Fitted:
    """What was published."""
    ids = Column("payout id", [item.payout_id or UNKNOWN_VALUE for item in sent])
    messages = Column("message id", [item.message_id for item in sent])
    return Fitted(f"{len(sent)} request(s) published", [[ids, messages]])


# What the receive count of a dead letter means: SQS has no peek, so listing is receiving.
READS_NOTE: Final = (
    "reads: how many times SQS has handed the message out (its ApproximateReceiveCount). "
    "SQS cannot peek: every dlq list counts, this one included, so the number grows as you "
    "look; it is not how many times intake failed."
)


def dead_letters_table(letters: Sequence[DeadLetter]) -> Group:
    """Dead letters, described without their bodies, and what the reads column means. Narrower
    terminals lose the method, then the amount; then the message id moves above the reason."""
    reasons = [
        letter.reason or "(no reason attribute: failed maxReceiveCount times)" for letter in letters
    ]
    message = Column("message id", [letter.message_id for letter in letters])
    payout = Column("payout id", [_or_unknown(letter.payout_id) for letter in letters])
    amount = Column("amount", [_or_unknown(letter.amount) for letter in letters], justify="right")
    method = Column("method", [_or_unknown(letter.method) for letter in letters])
    reads = Column("reads", [str(letter.receive_count) for letter in letters], justify="right")
    reason = Column("reason", reasons, wrap=True)
    message_and_reason = Column(
        "message id, reason",
        [f"{letter.message_id}\n{text}" for letter, text in zip(letters, reasons, strict=True)],
        wrap=True,
    )
    layouts = [
        [message, payout, amount, method, reads, reason],
        [message, payout, amount, reads, reason],
        [message, payout, reads, reason],
        [payout, amount, reads, message_and_reason],
        [payout, reads, message_and_reason],
    ]
    fitted = Fitted(f"{len(letters)} dead letter(s)", layouts)
    return Group(fitted, Text(READS_NOTE, style="dim")) if letters else Group(fitted)


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


def shorter_time(iso: str | None) -> str:
    """``2026-11-22T04:59:37.741634+00:00`` -> ``11-22 04:59:37`` (for narrow terminals)."""
    if not iso:
        return "-"
    return iso.replace("T", " ")[5:19]


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def joined(values: Iterable[str]) -> str:
    """``a, b, c`` or ``-``."""
    items = list(values)
    return ", ".join(items) if items else "-"


# ---- waiting ------------------------------------------------------------------------------------


def spinner_wanted(*, as_json: bool) -> bool:
    """A spinner only for a person watching: never with --json, and never when standard output
    or error is piped or captured (it would be noise in a file or a CI log)."""
    return not as_json and sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def waiting(
    message: str,
    *,
    enabled: bool,
    after_s: float = SPINNER_AFTER_S,
    out: Console | None = None,
) -> Iterator[None]:
    """A spinner on standard error while the body runs, if it runs longer than ``after_s``:
    a long read (a year of days, status by status) no longer sits blank, a quick one shows
    nothing. The spinner is transient: it leaves nothing behind."""
    if not enabled:
        yield
        return
    spinner = _DelayedSpinner(out or Console(stderr=True), message)
    timer = threading.Timer(after_s, spinner.show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        spinner.stop()


class _DelayedSpinner:
    """rich's transient status, started from a timer thread; the lock keeps a late start from
    racing the stop (a spinner left running would outlive the command's output)."""

    def __init__(self, out: Console, message: str) -> None:
        self._status = out.status(message)
        self._lock = threading.Lock()
        self._stopped = False

    def show(self) -> None:
        with self._lock:
            if not self._stopped:
                self._status.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._status.stop()
