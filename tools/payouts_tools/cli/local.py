"""``payouts up`` and ``payouts demo``: the local stack from the command line."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from payouts.domain.status import OrderStatus
from payouts_tools.cli import render
from payouts_tools.cli.target import CliError
from payouts_tools.local.demo import DemoOptions, run_demo
from payouts_tools.local.demo import Progress as DemoProgress
from payouts_tools.local.events_consumer import BusEvent
from payouts_tools.local.scenario import (
    FaultMix,
    ScenarioError,
    parse_fault_mix,
    sandbox_config,
    sandbox_faults,
)
from payouts_tools.local.stack import LOCAL_TIMINGS, Endpoints, LocalStack, StackOptions

SETTLED = "settled"


def fault_mix(text: str) -> FaultMix:
    """The ``--faults`` option, or a one-line error."""
    try:
        return parse_fault_mix(text)
    except ScenarioError as error:
        raise CliError(f"--faults: {error}") from None


# ---- up -----------------------------------------------------------------------------------------


def serve(*, faults: str, seed: int, reconcile_every_s: float, print_events: bool) -> None:
    """Run the local stack until Ctrl-C (or SIGTERM), then stop everything."""
    mix = fault_mix(faults)
    out = render.console()
    read_timeout = float(LOCAL_TIMINGS["PROVIDER_READ_TIMEOUT"])
    options = StackOptions(
        sandbox=sandbox_config(mix, seed, read_timeout),
        faults=tuple(sandbox_faults(mix)),
        reconcile_every_s=reconcile_every_s,
        on_event=_event_printer(out) if print_events else None,
    )
    stack = LocalStack(options)
    with out.status("starting the local stack (moto, sandbox, handlers)..."):
        stack.start()
    try:
        out.print(endpoints_table(stack.endpoints))
        out.print(usage_hint(stack.endpoints), soft_wrap=True)
        out.print("[bold]Ctrl-C stops everything.[/]")
        with _until_interrupted() as stopping:
            stopping.wait()
    finally:
        with out.status("stopping..."):
            stack.stop()
        out.print("stopped: no server, thread or port left behind")


@contextmanager
def _until_interrupted() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM (the previous handlers are put back afterwards)."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def endpoints_table(endpoints: Endpoints) -> Table:
    """Where everything runs."""
    table = Table(title="payouts: local stack", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("where", overflow="fold")
    rows = [
        ("AWS endpoint (moto)", endpoints.aws),
        ("stack name", endpoints.stack_name),
        ("orders table", endpoints.table),
        ("requests queue", endpoints.queue_url),
        ("dead-letter queue", endpoints.dlq_url or "-"),
        ("event bus", endpoints.event_bus or "-"),
        ("reconcile state machine", endpoints.state_machine or "-"),
        ("callbacks (API Gateway bridge)", endpoints.callbacks or "-"),
        ("provider sandbox", f"{endpoints.sandbox}  (admin: {endpoints.sandbox}/_sandbox/)"),
        ("handler logs", str(endpoints.log_path)),
    ]
    for what, where in rows:
        table.add_row(what, where)
    return table


def usage_hint(endpoints: Endpoints) -> str:
    """What to type in another terminal."""
    return (
        "In another terminal:\n"
        f"  export PAYOUTS_ENDPOINT_URL={endpoints.aws} PAYOUTS_STACK_NAME={endpoints.stack_name}\n"
        "  payouts publish events/sqs/batch-10.json   # a request file, or a sample SQS event\n"
        "  payouts orders list        payouts orders show <payout id>        payouts stats"
    )


def _event_printer(out: Console) -> Callable[[BusEvent], None]:
    def print_event(event: BusEvent) -> None:
        detail = event.detail
        old = detail.get("old_status") or "(new)"
        line = Text.assemble(
            (time.strftime("%H:%M:%S"), "dim"),
            f" {detail.get('payout_id')} {old} -> ",
            render.status_text(str(detail.get("new_status"))),
            (" needs review" if detail.get("needs_review") else "", "bold red"),
            (f" {detail.get('provider') or ''}", "dim"),
        )
        out.print(line)

    return print_event


# ---- demo ---------------------------------------------------------------------------------------


def run_demo_command(
    *, count: int, faults: str, seed: int, timeout_s: float, as_json: bool
) -> bool:
    """Run the demo, print its progress and summary; True when every invariant held."""
    options = DemoOptions(count=count, faults=fault_mix(faults), seed=seed, timeout_s=timeout_s)
    # With --json, stdout carries only the summary; progress goes to a terminal's stderr.
    out = Console(stderr=as_json, highlight=False)
    show_progress = not as_json or sys.stderr.isatty()
    started = time.monotonic()
    progress = _progress_bars(out, count) if show_progress else None
    try:
        if progress is not None:
            progress.start()
        report = run_demo(
            options,
            on_progress=_updater(progress, count) if progress is not None else None,
            on_started=lambda stack: out.print(
                f"local stack up ({stack.endpoints.aws}); publishing {count} payouts, "
                f"faults: {faults}, seed {seed}"
            ),
        )
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        render.print_json(report.as_json())
        return report.invariants_ok
    for table in render.demo_tables(report):
        out.print(table)
    figures = report.extra
    out.print(
        f"settled in {figures.get('settle_seconds')} s; whole demo "
        f"{time.monotonic() - started:.1f} s (stack up and down included); "
        f"{report.status_events} status events received"
    )
    verdict = (
        "[bold green]all invariants hold[/]"
        if report.invariants_ok
        else "[bold red]INVARIANT BROKEN[/]"
    )
    out.print(verdict)
    return report.invariants_ok


_BARS = [status.value for status in OrderStatus]


def _progress_bars(out: Console, count: int) -> Progress:
    progress = Progress(
        TextColumn("{task.description:>11}"),
        BarColumn(bar_width=40),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=False,
    )
    for name in [SETTLED, *_BARS]:
        progress.add_task(name, total=count, completed=0)
    return progress


def _updater(progress: Progress, count: int) -> Callable[[DemoProgress], None]:
    ids = {task.description: task.id for task in progress.tasks}

    def update(state: DemoProgress) -> None:
        progress.update(ids[SETTLED], completed=min(state.settled, count))
        for status in _BARS:
            progress.update(ids[status], completed=state.by_status.get(status, 0))

    return update
