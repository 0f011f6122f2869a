"""Asynchronous completion: pending, then settled by time, by query count or by script, with
seeded outcome mixes; successes (and reversals) land in the ledger."""

from __future__ import annotations

import httpx
import pytest

from payouts_tools.sandbox import (
    EntryKind,
    Outcome,
    OutcomeMix,
    PayoutState,
    Provider,
    Sandbox,
    SandboxConfig,
)
from tests.integration.sandbox.conftest import GatewayClient, PgClient, eventually


def test_a_payout_is_pending_then_settles_by_itself_after_the_delay(http: httpx.Client) -> None:
    with Sandbox(SandboxConfig(settle_after_s=1.0)) as sandbox:
        gateway = GatewayClient(sandbox, http)
        payout_id = gateway.create("PO-1", 50000).json()["data"]["payout_id"]

        assert gateway.status("PO-1") == 1
        assert sandbox.ledger() == []
        eventually(lambda: bool(sandbox.ledger()), what="the payout to settle unqueried")

        (entry,) = sandbox.ledger()
        assert (entry.provider, entry.merchant_no, entry.provider_order_id) == (
            Provider.GATEWAY_V2,
            "PO-1",
            payout_id,
        )
        assert (entry.amount_minor, entry.currency, entry.kind) == (50000, "CNY", EntryKind.PAYMENT)
        assert gateway.status("PO-1") == 3


def test_gateway_succeeds_on_its_third_query(gateway: GatewayClient, sandbox: Sandbox) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-3", Outcome.SUCCESS, after_queries=3)
    gateway.create("PO-3")

    statuses = [gateway.status("PO-3") for _ in range(3)]

    assert statuses == [1, 2, 3]
    assert [entry.merchant_no for entry in sandbox.ledger()] == ["PO-3"]


def test_pg_succeeds_on_its_third_query(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.script(Provider.PG_V2, "PO-3", Outcome.SUCCESS, after_queries=3)
    pg.create("PO-3", "10.00")

    first, second = pg.status("PO-3"), pg.status("PO-3")
    assert sandbox.ledger() == []
    third = pg.query(merchantTradeNo="PO-3").json()["data"]

    assert [first, second, third["status"]] == ["PROCESSING", "PROCESSING", "PAID"]
    assert third["paidTime"] is not None
    assert third["rrn"]
    assert [(e.merchant_no, e.amount_minor) for e in sandbox.ledger()] == [("PO-3", 1000)]


@pytest.mark.parametrize(("outcome", "status"), [(Outcome.FAILURE, 5), (Outcome.CANCEL, 4)])
def test_gateway_failures_and_cancellations_pay_nothing(
    gateway: GatewayClient, sandbox: Sandbox, outcome: Outcome, status: int
) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-7", outcome, after_queries=1)
    gateway.create("PO-7")

    data = gateway.query("PO-7").json()["data"]

    assert data["status"] == status
    assert data["error_msg"]
    assert data["success_time"] is None
    assert sandbox.ledger() == []


@pytest.mark.parametrize("outcome", [Outcome.FAILURE, Outcome.CANCEL])
def test_pg_failures_and_cancellations_pay_nothing(
    pg: PgClient, sandbox: Sandbox, outcome: Outcome
) -> None:
    sandbox.script(Provider.PG_V2, "PO-7", outcome, after_queries=1)
    pg.create("PO-7")

    data = pg.query(merchantTradeNo="PO-7").json()["data"]

    assert data["status"] == "FAILED"
    assert data["errorCode"].startswith("Payout.Common.")
    assert data["errorInfo"]
    assert (data["paidTime"], data["rrn"]) == (None, None)
    assert sandbox.ledger() == []


def test_a_payout_scripted_never_stays_pending_while_later_ones_settle(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-9", Outcome.NEVER)
    gateway.create("PO-9")
    gateway.create("PO-10")

    eventually(lambda: bool(sandbox.ledger()), what="PO-10 settled")

    assert [entry.merchant_no for entry in sandbox.ledger()] == ["PO-10"]
    assert gateway.status("PO-9") in {1, 2}
    assert {o.merchant_no: o.state for o in sandbox.orders()} == {
        "PO-9": PayoutState.PENDING,
        "PO-10": PayoutState.PAID,
    }


def test_a_script_set_after_the_create_replans_the_pending_payout(
    pg: PgClient, sandbox: Sandbox
) -> None:
    sandbox.configure(settle_after_s=None)
    pg.create("PO-LATE")
    sandbox.script(Provider.PG_V2, "PO-LATE", Outcome.FAILURE, after_queries=1)

    assert pg.status("PO-LATE") == "FAILED"


def test_pg_reversal_after_paying_writes_a_negative_entry(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.script(Provider.PG_V2, "PO-5", Outcome.REVERSE, after_queries=1, reverse_after_s=0.1)
    pg.create("PO-5", "3.00")

    assert pg.status("PO-5") == "PAID"
    eventually(lambda: pg.status("PO-5") == "REVERSED", what="the reversal")

    assert [(e.kind, e.amount_minor) for e in sandbox.ledger()] == [
        (EntryKind.PAYMENT, 300),
        (EntryKind.REVERSAL, -300),
    ]
    assert sandbox.double_payouts() == []


def test_gateway_reversal_after_paying_is_reported_as_cancelled(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-5", Outcome.REVERSE, after_queries=1)
    gateway.create("PO-5")

    assert gateway.status("PO-5") == 3
    eventually(lambda: gateway.status("PO-5") == 4, what="the reversal")

    assert [e.kind for e in sandbox.ledger()] == [EntryKind.PAYMENT, EntryKind.REVERSAL]


def test_settling_after_a_number_of_queries_can_be_the_default(
    pg: PgClient, sandbox: Sandbox
) -> None:
    sandbox.configure(settle_after_s=None, settle_after_queries=2)
    pg.create("PO-Q2")

    assert [pg.status("PO-Q2"), pg.status("PO-Q2")] == ["PROCESSING", "PAID"]


def _outcomes(seed: int, http: httpx.Client) -> list[Outcome]:
    mix = OutcomeMix(success=1, failure=1, cancel=1)
    with Sandbox(SandboxConfig(seed=seed, mix=mix, settle_after_s=None)) as sandbox:
        gateway = GatewayClient(sandbox, http)
        for number in range(16):
            gateway.create(f"PO-{number}")
        return [order.outcome for order in sandbox.orders()]


def test_the_outcome_mix_is_reproducible_from_its_seed(http: httpx.Client) -> None:
    first, again, other = _outcomes(5, http), _outcomes(5, http), _outcomes(6, http)

    assert first == again
    assert first != other
    assert set(first) == {Outcome.SUCCESS, Outcome.FAILURE, Outcome.CANCEL}
