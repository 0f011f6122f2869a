"""``payouts table``: the orders table's migration to the by-day index (docs/table-migration.md).

``backfill`` gives every order written before the index its ``day_pk`` (step 2), and with
``--remove-legacy`` removes the old by-status-day index's attributes once it is gone (step 4).
Progress goes to standard error, the summary to standard output; the exit code is 1 while any
order could not be handled, so a script can tell a finished migration from one that is not.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from typing import Annotated, Final

import typer

from payouts_tools.cli import render
from payouts_tools.cli.target import CliError, Target
from payouts_tools.table_backfill import (
    BackfillCounts,
    BackfillOptions,
    BackfillRefused,
    Pass,
    run_backfill,
)

table_app = typer.Typer(
    help="The orders table's migration to the by-day index.", no_args_is_help=True
)

# Progress lines on stderr at most this often.
_PROGRESS_EVERY_S: Final = 2.0


def _target(ctx: typer.Context) -> Target:
    target = ctx.find_root().obj
    if not isinstance(target, Target):
        raise CliError("no deployment chosen")
    return target


class _ProgressLines:
    """Running totals on standard error, at most every few seconds."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._last = 0.0

    def __call__(self, counts: BackfillCounts) -> None:
        now = time.monotonic()
        if now - self._last < _PROGRESS_EVERY_S:
            return
        self._last = now
        sys.stderr.write(f"{self._label}: {_line(counts)}\n")


def _line(counts: BackfillCounts) -> str:
    return (
        f"scanned {counts.scanned:,} · updated {counts.updated:,} · "
        f"already done {counts.already_done:,} · done concurrently "
        f"{counts.done_concurrently:,} · not orders {counts.not_orders:,} · "
        f"problems {counts.problems:,}"
    )


@table_app.command("backfill")
def backfill(
    ctx: typer.Context,
    *,
    remove_legacy: Annotated[
        bool,
        typer.Option(
            "--remove-legacy",
            help="Remove the legacy index's attributes (step 4, once by-status-day is deleted) "
            "instead of adding day_pk (step 2).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be updated; write nothing.")
    ] = False,
    segments: Annotated[
        int, typer.Option(min=1, max=64, help="Parallel Scan segments (threads).")
    ] = 4,
    rate: Annotated[
        float,
        typer.Option(
            min=0.1, help="At most this many updates a second (each one table and one index write)."
        ),
    ] = 50.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Give pre-migration orders their by-day key (or remove the legacy attributes): parallel
    Scan, one conditional update per order, idempotent."""
    which = Pass.REMOVE_LEGACY if remove_legacy else Pass.ADD_DAY_KEY
    target = _target(ctx)
    label = f"{which.value}{' (dry run)' if dry_run else ''}"
    options = BackfillOptions(
        which=which, segments=segments, items_per_second=rate, dry_run=dry_run
    )
    try:
        counts = run_backfill(
            target.dynamodb, target.table_name, options, progress=_ProgressLines(label)
        )
    except BackfillRefused as refused:
        raise CliError(str(refused)) from None
    if as_json:
        render.print_json({"pass": which.value, "dry_run": dry_run, **asdict(counts)})
    else:
        sys.stdout.write(f"{label} of {target.table_name}: {_line(counts)}\n")
        for problem in counts.problem_ids:
            sys.stdout.write(f"  problem: {problem}\n")
    if counts.problems:
        raise typer.Exit(1)
