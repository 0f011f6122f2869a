"""``payouts``: the ops CLI, and the local stack (``up``, ``demo``).

Global options choose the deployment (see ``target.py``); every read command takes ``--json``.
Every error is one line on standard error with a non-zero exit code: 1 for a failed command,
2 for bad arguments.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from botocore.exceptions import BotoCoreError, ClientError
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from payouts.domain.order import utc_now
from payouts.domain.status import OrderStatus
from payouts.settings import SettingsError
from payouts.settings.base import KNOWN_PROVIDERS
from payouts.store.orders import ReadIncomplete
from payouts_tools.cli import finance, finance_tables, operations, render
from payouts_tools.cli.operations import DeadLetter
from payouts_tools.cli.providers import providers_app
from payouts_tools.cli.table import table_app
from payouts_tools.cli.target import (
    DEFAULT_STACK_NAME,
    CliError,
    Target,
    TargetOptions,
)
from payouts_tools.cli.views import evidence_view, order_view, summary_view
from payouts_tools.local.template import TemplateError

PROGRAM = "payouts"


class _OneLineErrors(TyperGroup):
    """Every failure as one line on stderr, whether the arguments or the command failed."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        del standalone_mode
        try:
            result = super().main(
                args=args,
                prog_name=prog_name or PROGRAM,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except TyperException as error:  # bad arguments: typer's (vendored click) usage errors
            _usage_error(error)
        except (CliError, TemplateError, SettingsError) as error:
            _fail(str(error), 1)
        except ClientError as error:
            details = error.response.get("Error", {})
            _fail(f"AWS {details.get('Code', 'error')}: {details.get('Message', error)}", 1)
        except BotoCoreError as error:
            _fail(f"AWS: {error}", 1)
        except (Abort, KeyboardInterrupt):
            _fail("aborted", 130)
        sys.exit(result if isinstance(result, int) else 0)


def _usage_error(error: TyperException) -> NoReturn:
    context = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
        sys.stdout.write(context.get_help() + "\n")
        sys.exit(0)
    where = context.command_path if context is not None else PROGRAM
    _fail(f"{where}: {error.format_message()} (see --help)", 2)


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"{PROGRAM}: error: {' '.join(message.split())}\n")
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    name=PROGRAM,
    help="Payouts: the ops CLI, and the whole system on this machine (up, demo, sim).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
orders_app = typer.Typer(help="One payout order: list, show, requery, resubmit, review, close.")
dlq_app = typer.Typer(help="The payout requests' dead-letter queue.")
app.add_typer(orders_app, name="orders", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq", no_args_is_help=True)
app.add_typer(providers_app, name="providers", no_args_is_help=True)
app.add_typer(table_app, name="table", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
FromDay = Annotated[
    datetime | None,
    typer.Option("--from", formats=["%Y-%m-%d"], help="First creation day, YYYY-MM-DD (UTC)."),
]
ToDay = Annotated[
    datetime | None,
    typer.Option("--to", formats=["%Y-%m-%d"], help="Last creation day, YYYY-MM-DD (UTC)."),
]
Operator = Annotated[
    str | None,
    typer.Option(
        help="Your name, for the evidence (default: your login locally; deployed, your IAM "
        "principal is always recorded and this adds your name to it)."
    ),
]


@app.callback()
def choose_target(
    ctx: typer.Context,
    *,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="PAYOUTS_ENDPOINT_URL", help="AWS endpoint (the local stack's)."),
    ] = None,
    stack_name: Annotated[
        str,
        typer.Option(envvar="PAYOUTS_STACK_NAME", help="CloudFormation stack to read names from."),
    ] = DEFAULT_STACK_NAME,
    profile: Annotated[str | None, typer.Option(envvar="AWS_PROFILE", help="AWS profile.")] = None,
    region: Annotated[str | None, typer.Option(envvar="AWS_REGION", help="AWS region.")] = None,
    table: Annotated[
        str | None, typer.Option(envvar="PAYOUTS_TABLE", help="Orders table (skips the stack).")
    ] = None,
    queue_url: Annotated[
        str | None, typer.Option(envvar="PAYOUTS_QUEUE_URL", help="Requests queue URL.")
    ] = None,
    dlq_url: Annotated[
        str | None, typer.Option(envvar="PAYOUTS_DLQ_URL", help="Dead-letter queue URL.")
    ] = None,
) -> None:
    """Which deployment to talk to: a stack's outputs, or explicit names."""
    ctx.obj = Target(
        TargetOptions(
            endpoint_url=endpoint_url,
            stack_name=stack_name,
            profile=profile,
            region=region,
            table=table,
            queue_url=queue_url,
            dlq_url=dlq_url,
        )
    )


def _target(ctx: typer.Context) -> Target:
    target = ctx.find_root().obj
    if not isinstance(target, Target):
        raise CliError("no deployment chosen")
    return target


# ---- orders -------------------------------------------------------------------------------------


@orders_app.command("list")
def list_orders(
    ctx: typer.Context,
    *,
    status: Annotated[
        list[OrderStatus] | None, typer.Option("--status", "-s", help="Repeat for several.")
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="gateway_v2 or pg_v2.", callback=_known_provider)
    ] = None,
    from_day: FromDay = None,
    to_day: ToDay = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days back from --to.")] = 7,
    review: Annotated[
        bool, typer.Option("--review", help="Only orders flagged for review.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Orders by status, provider and creation day, or those flagged for review (no Scan)."""
    first, last = operations.day_range(utc_now(), _utc(from_day), _utc(to_day), days)
    with render.waiting(_reading(first, last), enabled=render.spinner_wanted(as_json=as_json)):
        rows = operations.list_orders(
            _target(ctx).store,
            statuses=status or [],
            first_day=first,
            last_day=last,
            provider=provider,
            review_only=review,
            limit=limit,
        )
    views = [summary_view(row) for row in rows]
    if as_json:
        render.print_json({"orders": views, "count": len(views)})
    else:
        render.console().print(render.orders_table(views))


@orders_app.command("show")
def show_order(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Payout id, or <provider>:<provider order id>.")],
    as_json: JsonFlag = False,
) -> None:
    """One order and its evidence timeline (beneficiary details masked)."""
    store = _target(ctx).store
    with render.waiting("reading the order", enabled=render.spinner_wanted(as_json=as_json)):
        order = operations.get_order(store, reference)
        timeline = [evidence_view(item) for item in store.history(order.payout_id)]
    view = order_view(order)
    if as_json:
        render.print_json({"order": view, "timeline": timeline})
        return
    out = render.console()
    out.print(render.order_panel(view))
    out.print(render.timeline_table(timeline))


@orders_app.command("requery")
def requery_order(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Payout id, or <provider>:<provider order id>.")],
    as_json: JsonFlag = False,
) -> None:
    """Query the order's provider now and apply the answer (the reconcile loop's own check)."""
    from payouts_tools.cli.provider_ops import requery  # noqa: PLC0415 - loads the adapters

    target = _target(ctx)
    with render.waiting("asking the provider", enabled=render.spinner_wanted(as_json=as_json)):
        report, order = asyncio.run(
            requery(
                target.store,
                target.provider_states,
                target.provider_settings(),
                target.secret_source,
                reference,
            )
        )
    result = {
        "payout_id": order.payout_id,
        "outcome": report.outcome.value,
        "why": report.why,
        "status": order.status.value,
        "escalated": report.escalated,
        "provider_calls": report.provider_calls,
    }
    if as_json:
        render.print_json(result)
        return
    render.console().print(
        f"{order.payout_id}: {report.outcome.value}"
        f"{f' ({report.why})' if report.why else ''}, now ",
        render.status_text(order.status.value),
        f"{' [escalated]' if order.needs_review else ''}",
    )


@orders_app.command("resubmit")
def resubmit_order(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Payout id.")],
    *,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Required: you checked it is safe to send again.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why it is safe (recorded as evidence).")] = "",
    accept_duplicate_risk: Annotated[
        bool,
        typer.Option(
            "--accept-duplicate-risk",
            help="Where a resend may pay twice (gateway_v2, UNKNOWN): the provider confirmed it"
            " has no such order. Without it you are asked, or refused when not at a terminal.",
        ),
    ] = False,
    operator: Operator = None,
    as_json: JsonFlag = False,
) -> None:
    """Send the order's create again under the same merchant number (RECEIVED or UNKNOWN only)."""
    from payouts_tools.cli.provider_ops import resubmit  # noqa: PLC0415 - loads the adapters

    if not confirm:
        raise CliError("resubmit sends money: add --confirm once you have checked it is safe")
    target = _target(ctx)
    done = asyncio.run(
        resubmit(
            target.store,
            target.provider_settings(),
            target.secret_source,
            reference,
            reason=reason,
            operator=_target(ctx).operator(operator),
            confirm_risk=lambda warning: _confirm_duplicate_risk(warning, accept_duplicate_risk),
        )
    )
    order = done.submission.order
    result = {
        "payout_id": order.payout_id,
        "provider": done.provider,
        "result": done.submission.result.value,
        "create": done.submission.outcome.kind.value if done.submission.outcome else None,
        "status": order.status.value,
        "warning": done.warning,
    }
    if as_json:
        render.print_json(result)
        return
    render.console().print(
        f"{order.payout_id}: {result['result']} via {done.provider}, now ",
        render.status_text(order.status.value),
    )


def _confirm_duplicate_risk(warning: str, accepted: bool) -> None:
    """Called before anything is written or sent. The flag accepts the risk; a person at a
    terminal is asked; anything else is refused, so no script pays twice by default."""
    if not accepted and not _interactive():
        raise CliError(
            f"nothing sent: {warning}. Once the provider has confirmed it has no such order, "
            "run again with --accept-duplicate-risk"
        )
    typer.echo(f"warning: {warning}", err=True)
    if not accepted and not typer.confirm("Send it again anyway?", default=False, err=True):
        raise CliError("nothing sent: resubmit declined")


@orders_app.command("review")
def review_order(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Payout id, or <provider>:<provider order id>.")],
    resolve: Annotated[str, typer.Option("--resolve", help="What you found and did.")],
    operator: Operator = None,
    as_json: JsonFlag = False,
) -> None:
    """Clear an order's review flag with your note as evidence (its status is untouched)."""
    order = operations.resolve_review(
        _target(ctx).store, reference, resolve, _target(ctx).operator(operator), utc_now()
    )
    if as_json:
        render.print_json({"order": order_view(order)})
        return
    render.console().print(f"{order.payout_id}: review resolved, status {order.status.value}")


class CloseStatus(StrEnum):
    """What a person may close an order as."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@orders_app.command("close")
def close_order(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="Payout id, or <provider>:<provider order id>.")],
    *,
    status: Annotated[CloseStatus, typer.Option("--status", help="How the payout ended.")],
    reason: Annotated[str, typer.Option(help="What you found (recorded as evidence).")] = "",
    reference_text: Annotated[
        str | None,
        typer.Option(
            "--reference", help="The provider's ticket or statement line (required for SUCCEEDED)."
        ),
    ] = None,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Required: this order's outcome is now final.")
    ] = False,
    operator: Operator = None,
    as_json: JsonFlag = False,
) -> None:
    """Finish an escalated order as SUCCEEDED or FAILED on your word (never over a final status)."""
    if not confirm:
        raise CliError("close makes the order's outcome final: add --confirm once you are sure")
    order = operations.close(
        _target(ctx).store,
        reference,
        OrderStatus(status.value),
        reason=reason,
        reference_text=reference_text,
        operator=_target(ctx).operator(operator),
        now=utc_now(),
    )
    if as_json:
        render.print_json({"order": order_view(order)})
        return
    render.console().print(
        f"{order.payout_id}: closed by you, now ", render.status_text(order.status.value)
    )


# ---- stats, publish, dlq ------------------------------------------------------------------------


@app.command("stats")
def stats(
    ctx: typer.Context,
    *,
    from_day: FromDay = None,
    to_day: ToDay = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days back from --to.")] = 7,
    limit: Annotated[int, typer.Option(min=1, help="Orders counted per status.")] = 10_000,
    as_json: JsonFlag = False,
) -> None:
    """Counts by status, the oldest unresolved order, and the escalations."""
    now = utc_now()
    first, last = operations.day_range(now, _utc(from_day), _utc(to_day), days)
    with render.waiting(_reading(first, last), enabled=render.spinner_wanted(as_json=as_json)):
        figures = operations.stats(_target(ctx).store, first, last, now, limit)
    if as_json:
        render.print_json(figures.as_json())
    else:
        render.console().print(render.stats_table(figures))


class ReportFormat(StrEnum):
    """How ``report`` prints: a table for people, CSV or JSON for finance's tools."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@app.command("report")
def report(
    ctx: typer.Context,
    *,
    from_day: Annotated[
        datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First creation day, YYYY-MM-DD (UTC)."),
    ],
    to_day: Annotated[
        datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last creation day, YYYY-MM-DD (UTC)."),
    ],
    provider: Annotated[
        str | None, typer.Option(help="gateway_v2 or pg_v2.", callback=_known_provider)
    ] = None,
    output: Annotated[ReportFormat, typer.Option("--format", help="table, csv or json.")] = (
        ReportFormat.TABLE
    ),
    orders: Annotated[
        bool, typer.Option("--orders", help="One line per order, for statement matching.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Money for finance: per provider, creation day, currency and status, the count, amount
    and the provider's fees; --orders lists each order with its provider ids, reference, fee,
    credited amount and paid time. Reads the by-day index (no Scan)."""
    first, last = operations.day_range(utc_now(), _utc(from_day), _utc(to_day), 1)
    if (last.date() - first.date()).days + 1 > finance.MAX_REPORT_DAYS:
        raise CliError(f"a report covers at most {finance.MAX_REPORT_DAYS} days")
    chosen = ReportFormat.JSON if as_json else output
    spinner = render.spinner_wanted(as_json=chosen is not ReportFormat.TABLE)
    total = finance.partitions(first, last)
    with finance_tables.reading_progress(_reading(first, last), total, enabled=spinner) as step:
        try:
            lines = finance.read_lines(
                _target(ctx).store, first, last, provider=provider, step=step
            )
        except ReadIncomplete as error:
            raise CliError(f"report not complete: {error}; run it again") from None
    _print_report(chosen, first, last, provider, lines, per_order=orders)


def _print_report(
    chosen: ReportFormat,
    first: datetime,
    last: datetime,
    provider: str | None,
    lines: list[finance.OrderLine],
    *,
    per_order: bool,
) -> None:
    fields: tuple[str, ...]
    if per_order:
        document = finance.orders_document(first, last, provider, lines)
        rows, fields = document["orders"], finance.LINE_FIELDS
    else:
        document = finance.report_document(first, last, provider, lines)
        rows, fields = document["totals"], finance.TOTAL_FIELDS
    if chosen is ReportFormat.JSON:
        render.print_json(document)
        return
    if chosen is ReportFormat.CSV:
        sys.stdout.write(finance.to_csv(fields, rows))
        return
    scope = f"{first.date()} .. {last.date()}{f', {provider}' if provider else ''}"
    title = f"{len(lines)} order(s) created {scope}"
    table = (
        finance_tables.orders_table(title, lines)
        if per_order
        else finance_tables.totals_table(title, finance.totals(lines))
    )
    render.console().print(table)


@app.command("publish")
def publish(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="JSON request(s): an object, an array, or lines; - for stdin.")
    ],
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Refuse invalid requests first.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Send payout request event(s) to the requests queue, as another service would."""
    text = sys.stdin.read() if file == "-" else _read(Path(file))
    documents = operations.read_requests(text)
    target = _target(ctx)
    sent = operations.publish(target.sqs, target.queue_url, documents, validate=validate)
    if as_json:
        render.print_json(
            {"published": [{"payout_id": s.payout_id, "message_id": s.message_id} for s in sent]}
        )
    else:
        render.console().print(render.published_table(sent))


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Dead-lettered requests and why (bodies are not shown: they hold beneficiary details)."""
    target = _target(ctx)
    with render.waiting("reading dead letters", enabled=render.spinner_wanted(as_json=as_json)):
        letters = operations.list_dead_letters(target.sqs, target.dlq_url, limit)
    if as_json:
        render.print_json({"dead_letters": [letter.as_json() for letter in letters]})
    else:
        render.console().print(render.dead_letters_table(letters))


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    *,
    message_id: Annotated[
        str | None,
        typer.Option("--id", help="Only this dead letter: its message id (or payout id)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would move, and move nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Move without asking.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Dead letters read.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Move dead letters back to the requests queue (intake dedupes by payout id): shows what
    will move and asks first (--yes to skip, --dry-run to only look)."""
    target = _target(ctx)
    letters = _dead_letters_to_move(target, limit, message_id)
    if dry_run or not letters:
        _show_redrive_plan(letters, as_json)
        return
    if not yes:
        _confirm_redrive(letters)
    chosen = {letter.message_id for letter in letters}
    moved = operations.redrive(target.sqs, target.dlq_url, target.queue_url, limit, only=chosen)
    if as_json:
        render.print_json({"redriven": moved, "count": len(moved)})
    else:
        render.console().print(f"{len(moved)} message(s) moved back to the requests queue")


def _dead_letters_to_move(target: Target, limit: int, wanted: str | None) -> list[DeadLetter]:
    """What a redrive will move: every dead letter read, or the one ``--id`` names."""
    letters = operations.list_dead_letters(target.sqs, target.dlq_url, limit)
    if wanted is None:
        return letters
    chosen = [letter for letter in letters if wanted in {letter.message_id, letter.payout_id}]
    if not chosen:
        raise CliError(f"no dead letter {wanted} among the {len(letters)} read (raise --limit)")
    if len(chosen) > 1:
        raise CliError(f"{len(chosen)} dead letters have payout id {wanted}: pass a message id")
    return chosen


def _show_redrive_plan(letters: list[DeadLetter], as_json: bool) -> None:
    if as_json:
        render.print_json(
            {"would_redrive": [letter.message_id for letter in letters], "redriven": []}
        )
        return
    out = render.console()
    out.print(render.dead_letters_table(letters))
    out.print(f"dry run: {len(letters)} message(s) would move; nothing was moved")


def _confirm_redrive(letters: list[DeadLetter]) -> None:
    """Moving re-runs intake on each message; a person sees them and says yes, or --yes."""
    if not _interactive():
        raise CliError(
            f"dlq redrive would move {len(letters)} message(s): add --yes to move them, or "
            "--dry-run to see them (nothing was moved)"
        )
    render.console(stderr=True).print(render.dead_letters_table(letters))
    if not typer.confirm(
        f"Move {len(letters)} message(s) back to the requests queue?", default=False, err=True
    ):
        raise CliError("nothing moved: redrive declined")


# ---- the local stack ----------------------------------------------------------------------------


@app.command("up")
def up(
    *,
    faults: Annotated[
        str, typer.Option(help="Sandbox trouble: none | realistic | heavy, then name=ratio,...")
    ] = "none",
    seed: Annotated[int, typer.Option(help="Seed of the sandbox's random choices.")] = 7,
    reconcile_every: Annotated[
        float, typer.Option(min=1.0, help="Seconds between reconcile executions.")
    ] = 5.0,
    quiet: Annotated[bool, typer.Option("--quiet", help="Do not print status events.")] = False,
) -> None:
    """Run the whole system locally until Ctrl-C; prints the endpoints to use."""
    from payouts_tools.cli.local import serve  # noqa: PLC0415 - moto is heavy; load on use

    serve(faults=faults, seed=seed, reconcile_every_s=reconcile_every, print_events=not quiet)


@app.command("demo")
def demo(
    *,
    count: Annotated[int, typer.Option(min=1, max=5000, help="Payouts to publish.")] = 300,
    faults: Annotated[
        str, typer.Option(help="Sandbox trouble: none | realistic | heavy, then name=ratio,...")
    ] = "realistic",
    seed: Annotated[int, typer.Option(help="Seed of the payouts and the sandbox.")] = 7,
    timeout: Annotated[
        float, typer.Option(min=10.0, help="Seconds to wait for every payout to settle.")
    ] = 240.0,
    as_json: JsonFlag = False,
) -> None:
    """Publish payouts into a local stack with faults on, follow them, check the ledger."""
    from payouts_tools.cli.local import run_demo_command  # noqa: PLC0415 - moto is heavy

    ok = run_demo_command(count=count, faults=faults, seed=seed, timeout_s=timeout, as_json=as_json)
    if not ok:
        raise typer.Exit(1)


@app.command("sim")
def sim(
    *,
    payouts: Annotated[int, typer.Option(min=1, help="Payouts per seed.")] = 2000,
    faults: Annotated[str, typer.Option(help="Fault mix: none | realistic | storm.")] = "storm",
    seed: Annotated[int, typer.Option(help="The first seed.")] = 1,
    seeds: Annotated[int, typer.Option(min=1, help="How many seeds, from --seed on.")] = 1,
    jobs: Annotated[int, typer.Option(min=1, help="Processes (each run is one thread).")] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Simulate the whole system on a virtual clock with faults everywhere; check the money."""
    import time  # noqa: PLC0415

    from payouts_tools.sim.report import as_json as sim_json  # noqa: PLC0415 - heavy
    from payouts_tools.sim.report import as_text  # noqa: PLC0415
    from payouts_tools.sim.run import SimResult, simulate_many  # noqa: PLC0415

    started = time.perf_counter()

    def progress(result: SimResult) -> None:
        if not as_json:  # a line per finished seed on stderr, so a long run never sits blank
            state = "ok" if result.ok else f"{len(result.violations)} VIOLATION(S)"
            elapsed = time.perf_counter() - started
            typer.echo(f"  seed {result.seed}: {state} ({elapsed:.0f} s)", err=True)

    try:
        results = simulate_many(
            range(seed, seed + seeds), payouts, faults, jobs=jobs, on_result=progress
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    wall = time.perf_counter() - started
    typer.echo(sim_json(results) if as_json else as_text(results, wall))
    if not all(result.ok for result in results):
        raise typer.Exit(1)


# ---- helpers ------------------------------------------------------------------------------------


def _known_provider(value: str | None) -> str | None:
    """--provider is checked like --status: a typo is a usage error, not an empty listing."""
    if value is not None and value not in KNOWN_PROVIDERS:
        choices = ", ".join(sorted(KNOWN_PROVIDERS))
        raise typer.BadParameter(f"{value!r} is not one of {choices}.")
    return value


def _interactive() -> bool:
    """A person at a terminal who can answer a question (not a script, not a pipe)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _reading(first: datetime, last: datetime) -> str:
    days = (last.date() - first.date()).days + 1
    return (
        f"reading orders created {first.date()} .. {last.date()} ({days} day(s), status by status)"
    )


def _utc(day: datetime | None) -> datetime | None:
    return day.replace(tzinfo=UTC) if day is not None else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


def main() -> None:
    """The ``payouts`` console script."""
    app()


__all__ = ["app", "main"]
