"""pg_v2 in the sandbox: V2_SHA256 request signing (401 when wrong), signed answers, merchantTradeNo
dedupe, validation failures as definitive refusals, query by either number, balance."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payouts_tools.sandbox import Outcome, Provider, Sandbox
from tests.integration.sandbox.conftest import PgClient, eventually, pg_signed

CREATE = "/pg/v2/payout/create"
QUERY = "/pg/v2/payout/query"
BALANCE = "/pg/v2/balance/query"


def test_a_signed_create_is_accepted_with_a_signed_answer(pg: PgClient, sandbox: Sandbox) -> None:
    answer = pg.create("PO-1", "100.05")

    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == "OK"
    assert body["errorMessage"] is None
    payout_no = body["data"].pop("payoutNo")
    assert body["data"] == {"merchantTradeNo": "PO-1", "amount": "100.05", "currency": "INR"}
    assert pg.answer_signed(answer, CREATE)
    (order,) = sandbox.orders()
    assert (order.provider_order_id, order.amount_minor, order.currency) == (
        payout_no,
        10005,
        "INR",
    )
    assert sandbox.ledger() == []


@pytest.mark.parametrize(
    "sign_with",
    [
        {"secret": "wrong-secret-not-secret"},
        {"app_id": "someone-else-not-secret"},
        {"url": CREATE},  # path only, while the sandbox expects the full URL
        {"body": b'{"merchantTradeNo":"PO-OTHER"}'},  # signed one body, sent another
        {"method": "GET"},
        {"timestamp": "1714128828"},  # seconds instead of milliseconds
    ],
    ids=["secret", "app_id", "path_only", "body", "method", "timestamp_seconds"],
)
def test_a_wrong_signature_gets_401_and_creates_nothing(
    pg: PgClient, sandbox: Sandbox, sign_with: dict[str, Any]
) -> None:
    answer = pg.post(CREATE, pg.create_payload("PO-401"), sign_with=sign_with)

    assert answer.status_code == 401
    assert answer.json()["code"] != "OK"
    assert sandbox.orders() == []


def test_a_missing_authorization_gets_401(pg: PgClient, sandbox: Sandbox) -> None:
    answer = pg.http.post(
        f"{sandbox.base_url}{CREATE}",
        json=pg.create_payload("PO-NOAUTH"),
        headers={"Accept": "application/json"},
    )

    assert answer.status_code == 401
    assert sandbox.orders() == []


def test_path_only_signing_is_accepted_when_configured(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.configure(pg_sign_url="path")

    answer = pg.post(CREATE, pg.create_payload("PO-PATH"), sign_with={"url": CREATE})

    assert answer.json()["code"] == "OK"
    assert pg_signed(answer.headers["Authorization"], sandbox, CREATE, answer.content)


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [("Content-Type", "text/plain", 415), ("Accept", "*/*", 406)],
)
def test_non_json_headers_are_refused_with_a_4xx(
    pg: PgClient, sandbox: Sandbox, header: str, value: str, status: int
) -> None:
    answer = pg.post(CREATE, pg.create_payload("PO-HDR"), headers={header: value})

    assert answer.status_code == status
    assert sandbox.orders() == []


def test_a_second_create_with_the_same_trade_no_is_a_duplicate_and_pays_once(
    pg: PgClient, sandbox: Sandbox
) -> None:
    first = pg.create("PO-DUP")
    second = pg.create("PO-DUP")

    assert first.json()["code"] == "OK"
    assert second.status_code == 200
    body = second.json()
    assert body["code"] == "Payout.Duplicate_TradeNo"
    assert body["errorMessage"]
    assert body["data"] is None
    assert pg.answer_signed(second, CREATE)
    assert len(sandbox.orders()) == 1
    eventually(lambda: len(sandbox.ledger()) == 1, what="the payout paid")
    assert sandbox.double_payouts() == []


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "100.5"},
        {"amount": "100"},
        {"amount": "100.055"},
        {"amount": "1e2"},
        {"amount": "-1.00"},
        {"amount": "0.00"},
        {"amount": "01.00"},
        {"amount": "1,00"},
        {"amount": 100.05},
        {"currency": "BRL"},
        {"currency": "USD"},
        {"method": {"type": "PIX"}},  # PIX pays BRL, the payload says INR
        {"method": {"type": "UPI", "payeeName": "Test"}},  # no vpa
        {"method": {"type": "CARD"}},
        {"merchantTradeNo": "X" * 51},
        {"description": "d" * 81},
        {"merchantTradeNo": None},
        {"amount": None},
        {"currency": None},
        {"payoutMethod": None},
    ],
)
def test_invalid_creates_are_definitive_failures_with_a_message(
    pg: PgClient, sandbox: Sandbox, changes: dict[str, Any]
) -> None:
    method = changes.pop("method", None)
    payload = pg.create_payload("PO-INVALID", method=method)
    payload.update(changes)
    payload = {key: value for key, value in payload.items() if value is not None}

    answer = pg.post(CREATE, payload)

    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] not in {"OK", "Payout.Duplicate_TradeNo"}
    assert body["errorMessage"]
    assert body["data"] is None
    assert pg.answer_signed(answer, CREATE)
    assert sandbox.orders() == []


@pytest.mark.parametrize(
    ("method", "currency"),
    [({"type": "PIX"}, "BRL"), ({"type": "BANK_ACCOUNT"}, "INR")],
)
def test_each_method_pays_in_its_own_currency(
    pg: PgClient, sandbox: Sandbox, method: dict[str, str], currency: str
) -> None:
    answer = pg.create("PO-M", "7.00", currency=currency, method=method)

    assert answer.json()["code"] == "OK"
    assert (sandbox.orders()[0].currency, sandbox.orders()[0].amount_minor) == (currency, 700)


def test_an_unparseable_body_is_a_definitive_failure(pg: PgClient, sandbox: Sandbox) -> None:
    body = pg.post(CREATE, b"{not json").json()

    assert body["code"] != "OK"
    assert body["errorMessage"]
    assert sandbox.orders() == []


def test_query_by_either_number_shows_the_same_payout_with_every_field(
    pg: PgClient, sandbox: Sandbox
) -> None:
    sandbox.script(Provider.PG_V2, "PO-Q", Outcome.NEVER)
    payout_no = pg.create("PO-Q", "2.50").json()["data"]["payoutNo"]

    by_trade_no = pg.query(merchantTradeNo="PO-Q")
    by_payout_no = pg.query(payoutNo=payout_no)

    assert pg.answer_signed(by_trade_no, QUERY)
    data = by_trade_no.json()["data"]
    assert data == by_payout_no.json()["data"]
    assert set(data) == {
        "payoutNo",
        "merchantTradeNo",
        "amount",
        "currency",
        "totalFee",
        "status",
        "rrn",
        "merchantAttach",
        "createdTime",
        "paidTime",
        "errorCode",
        "errorInfo",
    }
    assert (data["payoutNo"], data["amount"], data["currency"]) == (payout_no, "2.50", "INR")
    assert (data["status"], data["paidTime"], data["merchantAttach"]) == (
        "PROCESSING",
        None,
        "attach-1",
    )


def test_a_query_for_an_unknown_payout_is_not_found(pg: PgClient) -> None:
    answer = pg.query(merchantTradeNo="PO-NEVER-SENT")

    body = answer.json()
    assert (body["code"], body["data"]) == ("Payout.Not_Found", None)
    assert pg.answer_signed(answer, QUERY)


def test_a_query_needs_the_signature_too(pg: PgClient) -> None:
    answer = pg.post(QUERY, {"merchantTradeNo": "PO-1"}, sign_with={"secret": "x-not-secret"})

    assert answer.status_code == 401


def test_balance_lists_each_currency_asked_for(pg: PgClient, sandbox: Sandbox) -> None:
    sandbox.script(Provider.PG_V2, "PO-HELD", Outcome.NEVER)
    pg.create("PO-HELD", "1.00")
    pg.create("PO-SPENT", "2.00")
    eventually(lambda: len(sandbox.ledger()) == 1, what="PO-SPENT paid")

    answer = pg.post(BALANCE, {"currencies": ["INR"]})

    opening = sandbox.config.opening_balance_minor
    assert pg.answer_signed(answer, BALANCE)
    (inr,) = answer.json()["data"]["balanceList"]
    assert inr["currency"] == "INR"
    assert inr["frozenAmount"] == "1.00"
    assert inr["availableAmount"] == f"{(opening - 300) // 100}.00"
    everything = json.loads(pg.post(BALANCE, {}).content)["data"]["balanceList"]
    assert [entry["currency"] for entry in everything] == ["INR", "BRL"]
