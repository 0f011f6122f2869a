"""The demo's verdict catches every broken invariant, and its scenario is what it says."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from payouts.domain.request import parse_request
from payouts.domain.status import OrderStatus
from payouts_tools.local.events_consumer import BusEvent
from payouts_tools.local.report import build_report
from payouts_tools.local.scenario import (
    PRESETS,
    ScenarioError,
    parse_fault_mix,
    payout_requests,
    sandbox_config,
    sandbox_faults,
)
from payouts_tools.sandbox import EntryKind, FaultKind, LedgerEntry, Operation, Provider
from tests.support.orders import T0, make_order

pytestmark = pytest.mark.e2e

S = OrderStatus


def paid(merchant_no: str, amount: int = 50000, currency: str = "CNY") -> LedgerEntry:
    return LedgerEntry(
        provider=Provider.GATEWAY_V2,
        merchant_no=merchant_no,
        provider_order_id=f"POT-{merchant_no}",
        amount_minor=amount,
        currency=currency,
        at=0.0,
        kind=EntryKind.PAYMENT,
    )


def event(payout_id: str, status: OrderStatus, version: int = 2) -> BusEvent:
    detail = {"payout_id": payout_id, "new_status": status.value, "version": version}
    return BusEvent(f"{payout_id}-{version}", "PayoutStatusChanged", "payouts", "", detail)


def test_a_clean_run_holds_every_invariant() -> None:
    done = make_order("A", status=S.SUCCEEDED, updated_at=T0 + timedelta(seconds=4))
    failed = make_order("B", status=S.FAILED, updated_at=T0 + timedelta(seconds=8))

    report = build_report(
        ["A", "B"],
        {"A": done, "B": failed},
        [paid("A")],
        [event("A", S.SUCCEEDED), event("B", S.FAILED)],
    )

    assert report.invariants_ok
    assert report.by_status == {"SUCCEEDED": 1, "FAILED": 1}
    assert report.resolution_seconds == {"p50": 4.0, "p95": 8.0, "max": 8.0}


@pytest.mark.parametrize(
    ("orders", "ledger", "broken"),
    [
        ({"A": make_order("A", status=S.SUCCEEDED)}, [paid("A"), paid("A")], "paid_at_most_once"),
        ({"A": make_order("A", status=S.FAILED)}, [paid("A")], "no_failed_order_paid"),
        ({"A": make_order("A", status=S.REJECTED)}, [paid("A")], "no_failed_order_paid"),
        ({"A": make_order("A", status=S.SUCCEEDED)}, [], "no_succeeded_order_unpaid"),
        ({"A": make_order("A", status=S.SUCCEEDED)}, [paid("A", 1)], "paid_amounts_match"),
        ({"A": make_order("A", status=S.SUBMITTED)}, [], "all_terminal_or_escalated"),
        ({"A": None}, [], "every_request_an_order"),
    ],
)
def test_each_broken_invariant_is_reported(
    orders: dict[str, object], ledger: list[LedgerEntry], broken: str
) -> None:
    events = [event("A", S.SUCCEEDED), event("A", S.FAILED), event("A", S.REJECTED)]

    report = build_report(["A"], orders, ledger, events)  # type: ignore[arg-type]

    assert [name for name, held in report.invariants.items() if not held] == [broken]
    assert report.as_json()["invariants_ok"] is False


def test_an_escalated_unresolved_order_is_settled_and_listed() -> None:
    flagged = make_order("A", status=S.UNKNOWN, needs_review=True, review_reason="not found")

    report = build_report(["A"], {"A": flagged}, [], [])

    assert report.invariants_ok
    assert [(e.payout_id, e.reason) for e in report.escalations] == [("A", "not found")]


def test_a_final_status_never_published_breaks_the_events_invariant() -> None:
    done = make_order("A", status=S.SUCCEEDED)

    report = build_report(["A"], {"A": done}, [paid("A")], [event("A", S.SUBMITTED)])

    assert report.without_final_event == ["A"]
    assert not report.invariants_ok


# ---- scenario ----------------------------------------------------------------------------------


def test_payout_requests_are_valid_spread_over_the_routes_and_reproducible() -> None:
    requests = payout_requests(40, seed=5)

    parsed = [parse_request(json.dumps(request)) for request in requests]
    assert {request.method for request in parsed} == {"ALIPAY", "UPI", "BANK_ACCOUNT", "PIX"}
    assert len({request.payout_id for request in parsed}) == 40
    assert payout_requests(40, seed=5) == requests
    assert payout_requests(40, seed=6) != requests


def test_fault_mix_presets_and_overrides() -> None:
    assert parse_fault_mix("none") == PRESETS["none"]
    assert parse_fault_mix("") == PRESETS["realistic"]
    mix = parse_fault_mix("none,lost_answer=0.2,slow_ms=50")
    assert (mix.lost_answer, mix.slow_ms, mix.http_500) == (0.2, 50, 0.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chaos", "unknown fault preset"),
        ("lost=0.1", "unknown fault"),
        ("timeout=lots", "needs a number"),
        ("timeout=1.5", "between 0 and 1"),
        ("failures=0.6,cancels=0.6", "cannot exceed 1"),
    ],
)
def test_fault_mix_refuses_what_it_cannot_mean(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_fault_mix(text)


def test_the_mix_becomes_sandbox_faults_and_settings() -> None:
    mix = parse_fault_mix("none,lost_answer=0.1,query_500=0.2,dropped_callbacks=0.3,failures=0.1")

    faults = {(fault.kind, fault.operation): fault.ratio for fault in sandbox_faults(mix)}
    config = sandbox_config(mix, seed=1, provider_read_timeout_s=5.0)

    assert faults == {
        (FaultKind.LOST_ANSWER, Operation.CREATE): 0.1,
        (FaultKind.HTTP_500, Operation.QUERY): 0.2,
    }
    assert config.callbacks.drop_ratio == 0.3
    assert config.mix.failure == 0.1
    # A provider "timeout" must outlast the adapters' read timeout, or it would not be one.
    assert config.fault_sleep_s > 5.0
    assert sandbox_faults(PRESETS["none"]) == []
