"""Fault injection: each kind does what it says to the client *and* to the provider's books, and
faults are targeted by provider, operation, merchant number, count and seeded ratio."""

from __future__ import annotations

import json

import httpx
import pytest

from payouts_tools.sandbox import (
    Fault,
    FaultKind,
    Operation,
    Provider,
    Sandbox,
    SandboxConfig,
)
from tests.integration.sandbox.conftest import GatewayClient, PgClient, eventually

GW, PG = Provider.GATEWAY_V2, Provider.PG_V2
CREATE, QUERY, BALANCE = Operation.CREATE, Operation.QUERY, Operation.BALANCE


def test_latency_delays_the_answer_but_not_the_work(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.LATENCY, provider=PG, operation=CREATE, latency_ms=400))

    with pytest.raises(httpx.ReadTimeout):
        pg.create("PO-SLOW", timeout=0.1)
    patient = pg.create("PO-PATIENT", timeout=3.0)

    assert patient.json()["code"] == "OK"
    eventually(lambda: len(sandbox.orders()) == 2, what="the slow create to complete")


def test_a_read_timeout_creates_nothing(gateway: GatewayClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.READ_TIMEOUT, provider=GW, operation=CREATE, times=1))

    with pytest.raises(httpx.ReadTimeout):
        gateway.create("PO-RT", timeout=0.3)

    assert gateway.query("PO-RT").json()["error_code"] == "0050"
    assert sandbox.orders() == []
    assert gateway.create("PO-RT").json()["error_code"] == "0000"  # the fault fired once


def test_a_lost_answer_times_the_client_out_but_the_order_exists_and_gets_paid(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.inject(Fault(kind=FaultKind.LOST_ANSWER, provider=GW, operation=CREATE))

    with pytest.raises(httpx.ReadTimeout):
        gateway.create("PO-LOST", 777, timeout=0.3)

    eventually(lambda: gateway.status("PO-LOST") == 3, what="the unanswered payout to be paid")
    assert [(e.merchant_no, e.amount_minor) for e in sandbox.ledger()] == [("PO-LOST", 777)]


def test_a_lost_answer_ends_with_the_connection_dropped(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.LOST_ANSWER, provider=PG, operation=CREATE, sleep_s=0.1))

    with pytest.raises(httpx.RemoteProtocolError):
        pg.create("PO-DROPPED", timeout=3.0)

    assert [order.merchant_no for order in sandbox.orders()] == ["PO-DROPPED"]


def test_a_reset_answers_nothing_and_creates_nothing(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.RESET, provider=PG, operation=CREATE, times=1))

    with pytest.raises(httpx.ReadError):
        pg.create("PO-RESET")

    assert sandbox.orders() == []
    assert pg.query(merchantTradeNo="PO-RESET").json()["code"] == "Payout.Not_Found"


@pytest.mark.parametrize("applied", [True, False])
def test_http_500_creates_the_order_only_when_applied(
    pg: PgClient, sandbox: Sandbox, applied: bool
) -> None:
    sandbox.inject(Fault(kind=FaultKind.HTTP_500, provider=PG, operation=CREATE, applied=applied))

    answer = pg.create("PO-500")

    assert answer.status_code == 500
    assert "Authorization" not in answer.headers
    assert [o.merchant_no for o in sandbox.orders()] == (["PO-500"] if applied else [])


def test_html_502_is_a_proxy_page(gateway: GatewayClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.HTML_502, provider=GW, operation=CREATE, applied=False))

    answer = gateway.create("PO-502")

    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text.startswith("<html>")
    assert sandbox.orders() == []


def test_a_blank_200_has_no_body_but_the_order_exists(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.inject(Fault(kind=FaultKind.BLANK_200, provider=GW, operation=CREATE))

    answer = gateway.create("PO-BLANK")

    assert (answer.status_code, answer.content) == (200, b"")
    assert [o.merchant_no for o in sandbox.orders()] == ["PO-BLANK"]


def test_a_malformed_200_cannot_be_parsed(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.MALFORMED_200, provider=PG, operation=QUERY))
    pg.create("PO-MAL")

    answer = pg.query(merchantTradeNo="PO-MAL")

    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_balance_calls_can_fail_too(gateway: GatewayClient, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(kind=FaultKind.HTTP_500, provider=GW, operation=BALANCE, times=1))
    url = f"{sandbox.base_url}/gateway/api/v2/platforms/balance"
    token = {"Authorization": sandbox.config.gateway.query_token}

    assert gateway.http.get(url, headers=token).status_code == 500
    assert gateway.http.get(url, headers=token).json()["error_code"] == "0000"


def test_the_refused_base_url_refuses_connections(sandbox: Sandbox, http: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError):
        http.get(f"{sandbox.refused_base_url}/gateway/api/v2/platforms/balance")


def test_refusing_closes_the_listener_and_reopens_it_on_the_same_port(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    port = sandbox.port
    sandbox.inject(Fault(kind=FaultKind.REFUSE, seconds=0.3))

    with pytest.raises(httpx.ConnectError):
        gateway.create("PO-REFUSED")
    assert sandbox.orders() == []

    def reopened() -> bool:
        try:
            return bool(gateway.create("PO-AFTER").json()["error_code"] == "0000")
        except httpx.ConnectError:
            return False

    eventually(reopened, what="the listener to reopen")
    assert sandbox.port == port
    assert [o.merchant_no for o in sandbox.orders()] == ["PO-AFTER"]


def test_a_fault_for_one_merchant_number_leaves_the_others_alone(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.inject(Fault(kind=FaultKind.HTTP_500, merchant_no="PO-X", applied=False))

    assert gateway.create("PO-Y").status_code == 200
    assert gateway.create("PO-X").status_code == 500
    assert gateway.query("PO-Y").status_code == 200
    assert gateway.query("PO-X").status_code == 500


def test_faults_are_scoped_by_provider_and_operation(
    gateway: GatewayClient, pg: PgClient, sandbox: Sandbox
) -> None:
    sandbox.inject(Fault(kind=FaultKind.HTTP_500, provider=PG, operation=QUERY))

    assert pg.create("PO-1").status_code == 200
    gateway.create("PO-1")
    assert gateway.query("PO-1").status_code == 200
    assert pg.query(merchantTradeNo="PO-1").status_code == 500


def test_a_counted_fault_fires_that_many_times(gateway: GatewayClient, sandbox: Sandbox) -> None:
    gateway.create("PO-C")
    sandbox.inject(Fault(kind=FaultKind.HTTP_500, operation=QUERY, times=2))

    codes = [gateway.query("PO-C").status_code for _ in range(3)]

    assert codes == [500, 500, 200]
    assert sandbox.faults() == []


def test_cleared_faults_stop_firing(gateway: GatewayClient, sandbox: Sandbox) -> None:
    gateway.create("PO-C")
    sandbox.inject(Fault(kind=FaultKind.HTTP_500, operation=QUERY))
    assert gateway.query("PO-C").status_code == 500

    assert sandbox.clear_faults() == 1

    assert gateway.query("PO-C").status_code == 200


def _ratio_pattern(seed: int, http: httpx.Client) -> list[int]:
    with Sandbox(SandboxConfig(seed=seed)) as sandbox:
        gateway = GatewayClient(sandbox, http)
        gateway.create("PO-R")
        sandbox.inject(Fault(kind=FaultKind.HTTP_500, operation=QUERY, ratio=0.5))
        return [gateway.query("PO-R").status_code for _ in range(16)]


def test_a_ratio_fault_is_reproducible_from_the_seed(http: httpx.Client) -> None:
    first, again, other = _ratio_pattern(3, http), _ratio_pattern(3, http), _ratio_pattern(4, http)

    assert first == again
    assert first != other
    assert set(first) == {200, 500}
