"""``payouts report`` for people: tables that fit the terminal, and a progress bar on long reads.

Like every CLI table (``render.Fitted``), narrower terminals drop optional columns, and below the
narrowest layout rows are stacked as ``header: value`` lines: ids, references and amounts are
never cut, since they are what a statement is matched on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from payouts_tools.cli import render
from payouts_tools.cli.finance import OrderLine, Step, Total, major
from payouts_tools.cli.render import Column, Fitted, status_text


def totals_table(title: str, rows: Sequence[Total]) -> Fitted:
    """Totals per provider, day, currency and status; a "no fee" column (orders whose fee the
    provider has not reported) only when there are some. Narrower terminals lose the day's
    year, then the provider."""
    provider = Column("provider", [row.provider or render.UNKNOWN_VALUE for row in rows])
    day = Column("day", [row.day.isoformat() for row in rows])
    # The title names the range, years included, so a narrow table may drop the year.
    day_short = Column("day", [row.day.strftime("%m-%d") for row in rows])
    currency = Column("cur", [row.currency for row in rows])
    status = Column("status", [status_text(row.status.value) for row in rows])
    count = Column("count", [str(row.count) for row in rows], justify="right")
    amount = Column(
        "amount", [_major(row.amount_minor, row.currency) for row in rows], justify="right"
    )
    fees = Column("fees", [_major(row.fees_minor, row.currency) for row in rows], justify="right")
    missing = Column("no fee", [str(row.without_fee) for row in rows], justify="right")
    unknown_fees = [missing] if any(row.without_fee for row in rows) else []
    layouts = [
        [provider, day, currency, status, count, amount, fees, *unknown_fees],
        [provider, day_short, currency, status, count, amount, fees, *unknown_fees],
        [day_short, currency, status, count, amount, fees, *unknown_fees],
    ]
    return Fitted(title, layouts)


def orders_table(title: str, lines: Sequence[OrderLine]) -> Fitted:
    """One line per order. Narrower terminals lose, in order: the credited amount, the paid
    time's date, the provider, the provider's order id (the reference and payout id stay)."""
    ids = Column("payout id", [line.payout_id for line in lines])
    provider = Column("provider", [line.provider or render.UNKNOWN_VALUE for line in lines])
    provider_id = Column("provider order id", [_text(line.provider_order_id) for line in lines])
    reference = Column("reference", [_text(line.provider_reference) for line in lines])
    status = Column("status", [status_text(line.status.value) for line in lines])
    amount = Column(
        "amount", [_money(line.amount_minor, line.currency) for line in lines], justify="right"
    )
    fee = Column(
        "fee", [_money(line.fee_minor, line.fee_currency) for line in lines], justify="right"
    )
    credited = Column(
        "credited", [_money(line.credited_minor, line.currency) for line in lines], justify="right"
    )
    paid = Column("paid (UTC)", [_time(line, short=False) for line in lines])
    paid_short = Column("paid (UTC)", [_time(line, short=True) for line in lines])
    layouts = [
        [ids, provider, provider_id, reference, status, amount, fee, credited, paid],
        [ids, provider, provider_id, reference, status, amount, fee, paid],
        [ids, provider, provider_id, reference, status, amount, fee, paid_short],
        [ids, provider_id, reference, status, amount, fee, paid_short],
        [ids, reference, status, amount, fee, paid_short],
    ]
    return Fitted(title, layouts)


@contextmanager
def reading_progress(
    message: str,
    total: int,
    *,
    enabled: bool,
    after_s: float = render.SPINNER_AFTER_S,
    out: Console | None = None,
) -> Iterator[Step]:
    """A progress bar on standard error (index partitions read of ``total``) once the read has
    taken ``after_s``, as ``render.waiting`` shows its spinner: a quick read shows nothing, and
    the bar leaves nothing behind. Yields the step to call after each partition."""
    if not enabled:
        yield lambda: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out or Console(stderr=True),
        transient=True,
    )
    task = progress.add_task(message, total=total)
    lock = threading.Lock()
    state = {"started": False, "stopped": False}

    def start() -> None:
        with lock:
            if not state["stopped"]:
                state["started"] = True
                progress.start()

    timer = threading.Timer(after_s, start)
    timer.daemon = True
    timer.start()
    try:
        yield lambda: progress.advance(task)
    finally:
        timer.cancel()
        with lock:
            state["stopped"] = True
            if state["started"]:
                progress.stop()


def _major(minor: int, currency: str) -> str:
    return major(minor, currency) or render.UNKNOWN_VALUE


def _money(minor: int | None, currency: str | None) -> str:
    shown = major(minor, currency)
    return f"{shown} {currency}" if shown is not None else render.UNKNOWN_VALUE


def _text(value: str | None) -> str:
    return value or render.UNKNOWN_VALUE


def _time(line: OrderLine, *, short: bool) -> str:
    if line.paid_at is None:
        return render.UNKNOWN_VALUE
    return line.paid_at.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")
