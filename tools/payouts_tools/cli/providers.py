"""``payouts providers``: pause, resume and status of each provider, and their balances.

A pause stops every create to the provider within the functions' cache TTL (15 s deployed):
intake holds new payouts RECEIVED, the reconcile loop sends none. A resume lets the loop send
the held payouts at its bounded rate. NAME must be a provider the deployment routes payouts to
(read from the reconcile function's settings, as ``requery`` does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from payouts.domain.order import utc_now
from payouts.domain.provider_state import ProviderState
from payouts.providers.registry import ProviderFactory
from payouts.services.balances import (
    BalanceRow,
    BalanceUnavailable,
    ProviderBalance,
    read_balances,
)
from payouts.services.provider_pause import (
    PauseRefused,
    pause_provider,
    provider_states,
    resume_provider,
)
from payouts_tools.cli import render
from payouts_tools.cli.render import Column, Fitted
from payouts_tools.cli.target import CliError, Target

providers_app = typer.Typer(
    help="Providers: pause, resume, status (held payouts), balance.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
Operator = Annotated[
    str | None,
    typer.Option(
        help="Your name, for the record (default: your login locally; deployed, your IAM "
        "principal is always recorded and this adds your name to it)."
    ),
]
Name = Annotated[str, typer.Argument(help="The provider (one the deployment routes to).")]


def _target(ctx: typer.Context) -> Target:
    target = ctx.find_root().obj
    if not isinstance(target, Target):
        raise CliError("no deployment chosen")
    return target


def _configured(target: Target) -> list[str]:
    return sorted(target.provider_settings().configured_providers())


def _set_pause(
    ctx: typer.Context,
    change: Callable[..., ProviderState],
    name: str,
    reason: str,
    operator: str | None,
) -> ProviderState:
    """Pause or resume ``name`` as the acting person; a refusal is one line for the operator."""
    target = _target(ctx)
    try:
        return change(
            target.provider_states,
            name,
            known=_configured(target),
            reason=reason,
            operator=target.operator(operator),
            now=utc_now(),
        )
    except PauseRefused as refused:
        raise CliError(str(refused)) from None


@providers_app.command("pause")
def pause(
    ctx: typer.Context,
    name: Name,
    *,
    reason: Annotated[str, typer.Option(help="Why (recorded on the pause and in its event).")],
    operator: Operator = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop sending creates to NAME: new payouts are stored and held, none is lost or failed."""
    state = _set_pause(ctx, pause_provider, name, reason, operator)
    _print_state(state, as_json, "paused: new payouts are held, nothing is sent")


@providers_app.command("resume")
def resume(
    ctx: typer.Context,
    name: Name,
    *,
    reason: Annotated[str, typer.Option(help="What you checked (recorded).")] = "",
    operator: Operator = None,
    as_json: JsonFlag = False,
) -> None:
    """Send creates to NAME again; the reconcile loop sends its held payouts at a bounded rate."""
    state = _set_pause(ctx, resume_provider, name, reason, operator)
    _print_state(state, as_json, "resumed: held payouts are sent by the reconcile loop")


@providers_app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each configured provider: sending or paused, by whom, since when, and why."""
    target = _target(ctx)
    names = _configured(target)
    with render.waiting("reading provider states", enabled=render.spinner_wanted(as_json=as_json)):
        states = provider_states(target.provider_states, names)
    views = [state_view(name, state) for name, state in zip(names, states, strict=True)]
    if as_json:
        render.print_json({"providers": views})
    else:
        render.console().print(states_table(views))


@providers_app.command("balance")
def balance(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each configured provider's balances, in major units (read from the provider now)."""
    target = _target(ctx)
    settings = target.provider_settings()

    async def read() -> list[BalanceRow]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            factory = ProviderFactory(settings, target.secret_source)
            return await read_balances(factory.build_all(client))

    with render.waiting("asking the providers", enabled=render.spinner_wanted(as_json=as_json)):
        rows = asyncio.run(read())
    views = [balance_view(row) for row in rows]
    if as_json:
        render.print_json({"balances": views})
    else:
        render.console().print(balances_table(views))
    if any(isinstance(row, BalanceUnavailable) for row in rows):
        raise typer.Exit(1)


# ---- views and tables ---------------------------------------------------------------------------


def state_view(provider: str, state: ProviderState | None) -> dict[str, Any]:
    """A provider's state as JSON (null where nothing is known: never paused)."""
    paused = state is not None and state.paused
    return {
        "provider": provider,
        "state": "PAUSED" if paused else "SENDING",
        "paused": paused,
        "set_by": state.set_by.value if state is not None else None,
        "changed_by": state.changed_by if state is not None else None,
        "since": state.since.isoformat() if state is not None else None,
        "reason": state.reason if state is not None else None,
        "version": state.version if state is not None else None,
    }


def balance_view(row: BalanceRow) -> dict[str, Any]:
    """A balance as JSON: exact decimal strings in major units, and the minor units."""
    if isinstance(row, BalanceUnavailable):
        return {
            "provider": row.provider,
            "currency": None,
            "available": None,
            "frozen": None,
            "available_minor": None,
            "frozen_minor": None,
            "error": row.error,
        }
    return _balance(row)


def _balance(row: ProviderBalance) -> dict[str, Any]:
    return {
        "provider": row.provider,
        "currency": row.currency,
        "available": str(row.available_major),
        "frozen": str(row.frozen_major),
        "available_minor": row.available_minor,
        "frozen_minor": row.frozen_minor,
        "error": None,
    }


def states_table(views: Sequence[dict[str, Any]]) -> Fitted:
    """Provider states; narrower terminals drop the version, then put who above the reason."""
    states = [Text(view["state"], style="red" if view["paused"] else "green") for view in views]
    who = [_who(view) for view in views]
    provider = Column("provider", [view["provider"] for view in views])
    state = Column("state", states)
    by = Column("by", who)
    since = Column("since", [render.short_time(view["since"]) for view in views])
    version = Column("ver", [_text(view["version"]) for view in views], justify="right")
    reason = Column("reason", [_text(view["reason"]) for view in views], wrap=True)
    by_and_reason = Column(
        "by, reason",
        [f"{w}\n{_text(view['reason'])}" for w, view in zip(who, views, strict=True)],
        wrap=True,
    )
    layouts = [
        [provider, state, by, since, version, reason],
        [provider, state, by, since, reason],
        [provider, state, since, by_and_reason],
    ]
    return Fitted(f"{len(views)} provider(s)", layouts)


def balances_table(views: Sequence[dict[str, Any]]) -> Fitted:
    """Balances in major units; a provider that did not answer shows why."""
    provider = Column("provider", [view["provider"] for view in views])
    currency = Column("currency", [_text(view["currency"]) for view in views])
    available = Column("available", [_text(view["available"]) for view in views], justify="right")
    frozen = Column("frozen", [_text(view["frozen"]) for view in views], justify="right")
    error = Column("error", [_text(view["error"]) for view in views], wrap=True, min_width=12)
    layouts = [
        [provider, currency, available, frozen, error],
        [provider, currency, available, error],
    ]
    if all(view["error"] is None for view in views):
        layouts = [[provider, currency, available, frozen], [provider, currency, available]]
    return Fitted("balances (major units)", layouts)


def _who(view: dict[str, Any]) -> str:
    if view["set_by"] is None:
        return render.UNKNOWN_VALUE
    return "breaker" if view["set_by"] == "breaker" else str(view["changed_by"])


def _text(value: object) -> str:
    return render.UNKNOWN_VALUE if value is None else str(value)


def _print_state(state: ProviderState, as_json: bool, what: str) -> None:
    if as_json:
        render.print_json({"provider": state_view(state.provider, state)})
        return
    render.console().print(f"{state.provider}: {what} ({state.reason})")
