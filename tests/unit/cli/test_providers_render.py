"""``payouts providers status`` and ``balance`` at 80 and 120 columns: every line fits, no
provider name, state or amount is cut or wrapped; JSON views say null for what is not known."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.services.balances import BalanceUnavailable, ProviderBalance
from payouts_tools.cli.providers import balance_view, balances_table, state_view, states_table

WIDTHS = [80, 120]
SINCE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def printed(renderable: RenderableType, width: int) -> list[str]:
    stdout = io.StringIO()
    Console(file=stdout, width=width, color_system=None, highlight=False).print(renderable)
    return [line.rstrip() for line in stdout.getvalue().splitlines()]


def words(lines: list[str]) -> set[str]:
    return {word for line in lines for word in re.split(r"[\s│┃|]+", line) if word}


def paused_by_breaker() -> ProviderState:
    return ProviderState(
        provider="gateway_v2",
        paused=True,
        reason="breaker: 25 ambiguous or unreachable creates within 60 s; reconcile the UNKNOWN "
        "orders, then resume",
        changed_by="breaker",
        set_by=PausedBy.BREAKER,
        since=SINCE,
        version=3,
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_states_fit_and_keep_names_and_states_whole(width: int) -> None:
    views = [state_view("gateway_v2", paused_by_breaker()), state_view("pg_v2", None)]

    lines = printed(states_table(views), width)

    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    assert {"gateway_v2", "pg_v2", "PAUSED", "SENDING", "breaker"} <= words(lines)
    assert not any("…" in line for line in lines)


def test_a_provider_never_paused_is_null_in_json() -> None:
    view = state_view("pg_v2", None)

    assert view["state"] == "SENDING"
    assert (view["set_by"], view["changed_by"], view["since"], view["reason"]) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_balances_fit_in_major_units_with_the_failures_said(width: int) -> None:
    rows = [
        balance_view(ProviderBalance("gateway_v2", "CNY", 123_456_789_012, 5_000)),
        balance_view(ProviderBalance("pg_v2", "INR", 10_000_000_000, 0)),
        balance_view(BalanceUnavailable("pg_v2", "HTTP 500 from the balance endpoint")),
    ]

    lines = printed(balances_table(rows), width)

    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    assert {"1234567890.12", "100000000.00", "CNY", "INR"} <= words(lines)
    assert any("HTTP 500" in line for line in lines)


def test_balance_json_is_exact_decimal_strings_and_minor_units() -> None:
    view = balance_view(ProviderBalance("pg_v2", "BRL", 1999, 1))

    assert (view["available"], view["available_minor"], view["frozen"]) == ("19.99", 1999, "0.01")
    assert view["error"] is None
    failed = balance_view(BalanceUnavailable("gateway_v2", "timeout"))
    assert (failed["available"], failed["currency"], failed["error"]) == (None, None, "timeout")
