"""The admin API under /_sandbox/ and the Python API say the same things and do the same
things."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from payouts_tools.sandbox import Outcome, Provider, Sandbox
from tests.integration.sandbox.conftest import (
    CallbackReceiver,
    GatewayClient,
    PgClient,
    eventually,
)


def _admin(http: httpx.Client, sandbox: Sandbox, method: str, name: str, **json: Any) -> Any:
    answer = http.request(method, f"{sandbox.base_url}/_sandbox/{name}", json=json or None)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_ledger_orders_and_callbacks_agree_with_the_python_api(
    gateway: GatewayClient,
    pg: PgClient,
    sandbox: Sandbox,
    http: httpx.Client,
    receiver: CallbackReceiver,
) -> None:
    gateway.create("PO-TWICE", notify_url=receiver.url("gateway_v2"))
    gateway.create("PO-TWICE", notify_url=receiver.url("gateway_v2"))
    pg.create("PO-PG", notify_url=receiver.url("pg_v2"))
    sandbox.script(Provider.PG_V2, "PO-HELD", Outcome.NEVER)
    pg.create("PO-HELD")
    receiver.wait_for(3)
    eventually(lambda: len(sandbox.callbacks()) == 3, what="3 attempts logged")

    ledger = _admin(http, sandbox, "GET", "ledger")
    orders = _admin(http, sandbox, "GET", "orders")
    callbacks = _admin(http, sandbox, "GET", "callbacks")

    assert ledger["entries"] == [entry.model_dump(mode="json") for entry in sandbox.ledger()]
    assert ledger["double_payouts"] == sandbox.double_payouts() == ["PO-TWICE"]
    assert len(ledger["entries"]) == 3
    assert orders["orders"] == [order.model_dump(mode="json") for order in sandbox.orders()]
    assert [o["state"] for o in orders["orders"]] == ["PAID", "PAID", "PAID", "PENDING"]
    assert callbacks["attempts"] == [a.model_dump(mode="json") for a in sandbox.callbacks()]


def test_faults_posted_to_the_admin_api_behave_like_injected_ones(
    pg: PgClient, sandbox: Sandbox, http: httpx.Client
) -> None:
    posted = _admin(
        http,
        sandbox,
        "POST",
        "faults",
        kind="http_500",
        provider="pg_v2",
        operation="create",
        times=1,
        applied=False,
    )

    listed = _admin(http, sandbox, "GET", "faults")["faults"]
    assert [armed.model_dump(mode="json") for armed in sandbox.faults()] == listed
    assert listed[0]["id"] == posted["id"]
    assert pg.create("PO-A").status_code == 500
    assert pg.create("PO-A").json()["code"] == "OK"
    assert _admin(http, sandbox, "GET", "faults")["faults"] == []


def test_faults_can_be_cleared_all_at_once_or_one_by_one(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    first = _admin(http, sandbox, "POST", "faults", kind="reset", operation="query")["id"]
    _admin(http, sandbox, "POST", "faults", kind="blank_200", operation="balance")

    assert _admin(http, sandbox, "DELETE", f"faults/{first}") == {"cleared": 1}
    assert [armed.fault.kind.value for armed in sandbox.faults()] == ["blank_200"]
    assert _admin(http, sandbox, "DELETE", "faults") == {"cleared": 1}
    assert sandbox.faults() == []


def test_config_posted_partially_changes_only_what_it_names(
    pg: PgClient, sandbox: Sandbox, http: httpx.Client
) -> None:
    before = sandbox.config

    answer = _admin(
        http,
        sandbox,
        "POST",
        "config",
        settle_after_s=None,
        settle_after_queries=1,
        callbacks={"duplicate_ratio": 0.5},
    )

    assert answer == sandbox.config.model_dump(mode="json")
    assert _admin(http, sandbox, "GET", "config") == answer
    assert sandbox.config.callbacks.duplicate_ratio == 0.5
    assert sandbox.config.callbacks.retry_delays_s == before.callbacks.retry_delays_s
    assert sandbox.config.pg == before.pg
    pg.create("PO-CFG")
    assert pg.status("PO-CFG") == "PAID"


def test_a_script_posted_to_the_admin_api_decides_the_payout(
    pg: PgClient, sandbox: Sandbox, http: httpx.Client
) -> None:
    _admin(http, sandbox, "POST", "orders/pg_v2/PO-7/script", outcome="failure", after_queries=1)

    pg.create("PO-7")

    assert pg.status("PO-7") == "FAILED"


def test_reset_forgets_orders_ledger_and_faults(
    gateway: GatewayClient, sandbox: Sandbox, http: httpx.Client
) -> None:
    gateway.create("PO-OLD")
    eventually(lambda: bool(sandbox.ledger()), what="PO-OLD paid")
    _admin(http, sandbox, "POST", "faults", kind="http_500", operation="balance")

    assert _admin(http, sandbox, "POST", "reset") == {"reset": True}

    assert (sandbox.orders(), sandbox.ledger(), sandbox.faults()) == ([], [], [])
    assert gateway.query("PO-OLD").json()["error_code"] == "0050"
    new_id = gateway.create("PO-NEW").json()["data"]["payout_id"]
    assert new_id != "POT00000001"  # provider ids are never reused


def test_refusal_can_be_asked_for_through_the_admin_api(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    answer = _admin(http, sandbox, "POST", "faults", kind="refuse", seconds=0.3)

    assert answer == {"id": None, "refusing_for_s": 0.3}
    with pytest.raises(httpx.ConnectError):
        http.get(f"{sandbox.base_url}/_sandbox/orders")


@pytest.mark.parametrize(
    "call",
    [
        ("POST", "faults", b'{"kind":"meteor"}', 400),
        ("POST", "faults", b'{"kind":"http_500","typo":1}', 400),
        ("POST", "faults", b'{"kind":"latency"}', 400),  # latency_ms missing
        ("POST", "faults", b"not json", 400),
        ("POST", "config", b'{"port":1}', 400),
        ("POST", "config", b'{"mix":{"success":0}}', 400),
        ("POST", "orders/nobody/PO-1/script", b'{"outcome":"success"}', 400),
        ("POST", "orders/pg_v2/PO-1/script", b'{"outcome":"maybe"}', 400),
        ("GET", "nothing-here", b"", 404),
        ("DELETE", "faults/F999", b"", 404),
    ],
)
def test_bad_admin_calls_are_refused_and_change_nothing(
    sandbox: Sandbox, http: httpx.Client, call: tuple[str, str, bytes, int]
) -> None:
    method, name, body, status = call
    before = sandbox.config

    answer = http.request(method, f"{sandbox.base_url}/_sandbox/{name}", content=body)

    assert answer.status_code == status
    assert answer.json()["error"]
    assert sandbox.config == before
    assert sandbox.faults() == []


def test_an_unknown_provider_route_is_404(sandbox: Sandbox, http: httpx.Client) -> None:
    assert http.post(f"{sandbox.base_url}/gateway/api/v3/payouts").status_code == 404
