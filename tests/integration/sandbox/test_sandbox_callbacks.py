"""Callbacks: signed as each provider signs them, retried until acknowledged, and the duplicate,
reorder and drop options."""

from __future__ import annotations

import time

from payouts_tools.sandbox import CallbackMode, Outcome, Provider, Sandbox
from tests.integration.sandbox.conftest import (
    CallbackReceiver,
    GatewayClient,
    PgClient,
    eventually,
    gw_sign,
    pg_signed,
)


def test_a_gateway_callback_carries_every_field_and_a_valid_hmac(
    gateway: GatewayClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    payout_id = gateway.create("PO-CB", 50000, notify_url=receiver.url("gateway_v2")).json()[
        "data"
    ]["payout_id"]

    (callback,) = receiver.wait_for(1)

    fields = callback.json()
    assert set(fields) == {
        "payout_id",
        "payout_cl_id",
        "platform_id",
        "amount",
        "fee",
        "status",
        "error_msg",
        "real_amount",
        "create_time",
        "update_time",
        "sign_type",
        "sign",
    }
    assert fields["sign_type"] == "HMAC-SHA256"
    assert fields["sign"] == gw_sign(fields, gateway.key)
    assert (fields["payout_id"], fields["payout_cl_id"], fields["status"]) == (
        payout_id,
        "PO-CB",
        3,
    )
    assert (fields["amount"], fields["platform_id"]) == (50000, sandbox.config.gateway.platform_id)


def test_an_acknowledged_callback_is_sent_once(
    gateway: GatewayClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    gateway.create("PO-ONCE", notify_url=receiver.url("gateway_v2"))
    receiver.wait_for(1)
    # A later payout's callback arrives after any retry of the first would have (0.1 s).
    gateway.create("PO-LATER", notify_url=receiver.url("gateway_v2"))

    received = receiver.wait_for(2)

    assert [r.json()["payout_cl_id"] for r in received] == ["PO-ONCE", "PO-LATER"]
    eventually(lambda: len(sandbox.callbacks()) == 2, what="both attempts logged")
    assert [(a.attempt, a.acknowledged) for a in sandbox.callbacks()] == [(1, True), (1, True)]


def test_a_pg_callback_is_signed_over_the_notify_url(
    pg: PgClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    notify_url = receiver.url("pg_v2")
    pg.create("PO-CB", "4.20", notify_url=notify_url)

    (callback,) = receiver.wait_for(1)

    assert pg_signed(callback.headers["Authorization"], sandbox, notify_url, callback.body)
    body = callback.json()
    assert body["code"] == "OK"
    queried = pg.query(merchantTradeNo="PO-CB").json()["data"]
    assert body["data"] == queried
    assert (body["data"]["status"], body["data"]["amount"]) == ("PAID", "4.20")


def test_a_callback_is_retried_until_acknowledged(
    gateway: GatewayClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    receiver.answers.extend([(500, b"oops"), (200, b'{"error_code":"0001"}'), (200, b"success")])
    gateway.create("PO-RETRY", notify_url=receiver.url("gateway_v2"))

    received = receiver.wait_for(4)

    assert len({r.body for r in received}) == 1
    eventually(lambda: len(sandbox.callbacks()) == 4, what="the 4th attempt logged")
    assert [(a.attempt, a.status_code, a.acknowledged) for a in sandbox.callbacks()] == [
        (1, 500, False),
        (2, 200, False),
        (3, 200, False),
        (4, 200, True),
    ]


def test_a_pg_callback_needs_code_ok_to_count_as_acknowledged(
    pg: PgClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    receiver.answers.append((200, b'{"code":"FAIL"}'))
    pg.create("PO-ACK", notify_url=receiver.url("pg_v2"))

    received = receiver.wait_for(2)

    assert received[0].body == received[1].body
    eventually(lambda: len(sandbox.callbacks()) == 2, what="the 2nd attempt logged")
    assert [a.acknowledged for a in sandbox.callbacks()] == [False, True]


def test_retries_stop_when_the_schedule_runs_out(
    gateway: GatewayClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    receiver.answers.extend([(503, b"down")] * 10)
    gateway.create("PO-GIVEUP", notify_url=receiver.url("gateway_v2"))

    receiver.wait_for(4)  # the first attempt and one per configured retry delay (0.1, 0.2, 0.3)
    time.sleep(0.6)  # twice the longest retry delay: a 5th attempt would have come by now

    assert len(receiver.received) == 4
    assert not any(attempt.acknowledged for attempt in sandbox.callbacks())


def test_the_duplicate_option_sends_each_callback_twice(
    pg: PgClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    sandbox.configure(callbacks={"duplicate_ratio": 1.0})
    pg.create("PO-TWICE", notify_url=receiver.url("pg_v2"))

    first, second = receiver.wait_for(2)

    assert first.body == second.body
    assert first.json()["data"]["merchantTradeNo"] == "PO-TWICE"


def test_a_dropped_callback_is_never_sent(
    gateway: GatewayClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-DROP", Outcome.SUCCESS, callback=CallbackMode.DROP)
    gateway.create("PO-DROP", notify_url=receiver.url("gateway_v2"))
    eventually(lambda: bool(sandbox.ledger()), what="PO-DROP paid")
    gateway.create("PO-KEPT", notify_url=receiver.url("gateway_v2"))

    received = receiver.wait_for(1)

    assert [r.json()["payout_cl_id"] for r in received] == ["PO-KEPT"]


def test_a_reordered_callback_arrives_after_a_later_one(
    pg: PgClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    sandbox.script(
        Provider.PG_V2,
        "PO-R",
        Outcome.REVERSE,
        after_queries=1,
        reverse_after_s=0.05,
        callback=CallbackMode.REORDER,
    )
    pg.create("PO-R", notify_url=receiver.url("pg_v2"))
    pg.status("PO-R")

    received = receiver.wait_for(2)

    assert [r.json()["data"]["status"] for r in received] == ["REVERSED", "PAID"]


def test_callbacks_can_be_switched_off(
    gateway: GatewayClient, sandbox: Sandbox, receiver: CallbackReceiver
) -> None:
    sandbox.configure(callbacks={"enabled": False})
    gateway.create("PO-QUIET", notify_url=receiver.url("gateway_v2"))
    eventually(lambda: bool(sandbox.ledger()), what="PO-QUIET paid")
    sandbox.configure(callbacks={"enabled": True})
    gateway.create("PO-LOUD", notify_url=receiver.url("gateway_v2"))

    received = receiver.wait_for(1)

    assert [r.json()["payout_cl_id"] for r in received] == ["PO-LOUD"]
