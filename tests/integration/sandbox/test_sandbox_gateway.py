"""gateway_v2 in the sandbox: signed creates, refusals as the provider answers them, the query
token, signed query answers, the pessimistic non-dedupe of payout_cl_id, balance."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from payouts_tools.sandbox import Outcome, PayoutState, Provider, Sandbox
from payouts_tools.sandbox.config import FAKE_GATEWAY_SIGNING_KEY
from tests.integration.sandbox.conftest import GatewayClient, eventually, gw_sign

BAD_SIGNATURE = {"error_code": "0004", "error_msg": "验签错误!"}


def test_a_signed_create_is_accepted_but_nothing_is_paid_yet(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-1", Outcome.SUCCESS, after_queries=1)

    answer = gateway.create("PO-1", 50000)

    assert answer.status_code == 200
    body = answer.json()
    assert body["error_code"] == "0000"
    assert set(body) == {"error_code", "data"}
    assert body["data"]["payout_id"].startswith("POT")
    (order,) = sandbox.orders()
    assert (order.merchant_no, order.amount_minor, order.currency) == ("PO-1", 50000, "CNY")
    assert order.provider_order_id == body["data"]["payout_id"]
    assert order.state is PayoutState.PENDING
    assert sandbox.ledger() == []


@pytest.mark.parametrize("sign_type", [None, "MD5"])
def test_md5_signatures_are_accepted_when_declared_or_by_default(
    gateway: GatewayClient, sign_type: str | None
) -> None:
    answer = gateway.create("PO-MD5", sign_type=sign_type)

    assert answer.json()["error_code"] == "0000"


def test_an_amount_sent_as_a_digit_string_is_accepted_as_cents(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    assert gateway.create("PO-STR", "12345").json()["error_code"] == "0000"
    assert sandbox.orders()[0].amount_minor == 12345


def _wrong_key(params: dict[str, object]) -> None:
    params["sign"] = gw_sign(params, "not-the-key-not-secret")


def _amount_changed_after_signing(params: dict[str, object]) -> None:
    params["amount"] = 99999


def _uppercase_sign(params: dict[str, object]) -> None:
    params["sign"] = str(params["sign"]).upper()


def _no_sign(params: dict[str, object]) -> None:
    del params["sign"]


def _unknown_sign_type(params: dict[str, object]) -> None:
    params["sign_type"] = "SHA1"


def _md5_labelled_hmac(params: dict[str, object]) -> None:
    params["sign"] = gw_sign(params, FAKE_GATEWAY_SIGNING_KEY, "MD5")


def _legacy_md5_key_suffix(params: dict[str, object]) -> None:
    # Older mirrors of the docs append "&key=<key>"; the current docs append "&<key>".
    del params["sign_type"]
    params["sign"] = gw_sign(params, f"key={FAKE_GATEWAY_SIGNING_KEY}", "MD5")


@pytest.mark.parametrize(
    "spoil",
    [
        _wrong_key,
        _amount_changed_after_signing,
        _uppercase_sign,
        _no_sign,
        _unknown_sign_type,
        _md5_labelled_hmac,
        _legacy_md5_key_suffix,
    ],
)
def test_a_bad_signature_gets_0004_and_creates_nothing(
    gateway: GatewayClient, sandbox: Sandbox, spoil: Callable[[dict[str, object]], None]
) -> None:
    params = gateway.params("PO-BAD")
    spoil(params)

    answer = gateway.post_create(params)

    assert answer.status_code == 200
    assert answer.json() == BAD_SIGNATURE
    assert sandbox.orders() == []


@pytest.mark.parametrize(
    "field", ["alipay_account_name", "alipay_surname", "request_time", "amount", "payout_cl_id"]
)
def test_a_missing_required_field_is_refused_with_a_message(
    gateway: GatewayClient, sandbox: Sandbox, field: str
) -> None:
    params = gateway.params("PO-MISSING")
    del params[field]
    params["sign"] = gw_sign(params, gateway.key)

    body = gateway.post_create(params).json()

    assert body["error_code"] not in {"0000", "0004"}
    assert field in body["error_msg"]
    assert sandbox.orders() == []


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 500.5},
        {"amount": "500.50"},
        {"amount": -1},
        {"amount": 0},
        {"amount": True},
        {"amount": 12345678901},
        {"service_id": "SVC0001"},
        {"payout_cl_id": "X" * 33},
        {"request_time": "yesterday"},
        {"alipay_account_name": 42},
    ],
)
def test_invalid_fields_are_refused_and_create_nothing(
    gateway: GatewayClient, sandbox: Sandbox, changes: dict[str, object]
) -> None:
    params = gateway.params("PO-INVALID")
    params.update(changes)
    params["sign"] = gw_sign(params, gateway.key)

    body = gateway.post_create(params).json()

    assert body["error_code"] not in {"0000", "0004"}
    assert body["error_msg"]
    assert sandbox.orders() == []


def test_a_foreign_platform_id_is_refused(gateway: GatewayClient, sandbox: Sandbox) -> None:
    body = gateway.create("PO-PF", platform_id="PF9999").json()

    assert body["error_code"] != "0000"
    assert sandbox.orders() == []


def test_bank_card_service_needs_no_alipay_fields(gateway: GatewayClient, sandbox: Sandbox) -> None:
    params = gateway.params("PO-CARD", service_id="SVC0004")
    del params["alipay_account_name"], params["alipay_surname"]
    params["sign"] = gw_sign(params, gateway.key)

    assert gateway.post_create(params).json()["error_code"] == "0000"
    assert sandbox.orders()[0].method == "BANK_CARD"


@pytest.mark.parametrize(
    "token", ["", "Bearer sandbox-query-token-not-secret", "wrong-token-not-secret"]
)
def test_a_query_without_the_right_token_gets_0006(gateway: GatewayClient, token: str) -> None:
    gateway.create("PO-TOKEN")

    body = gateway.query("PO-TOKEN", token=token).json()

    assert body["error_code"] == "0006"
    assert "data" not in body


def test_a_query_with_no_authorization_header_gets_0006(
    gateway: GatewayClient, sandbox: Sandbox, http: httpx.Client
) -> None:
    answer = http.get(f"{sandbox.base_url}/gateway/api/v2/payouts/PO-NONE")

    assert answer.json()["error_code"] == "0006"


def test_a_query_for_an_unknown_order_gets_0050(gateway: GatewayClient) -> None:
    assert gateway.query("PO-NEVER-SENT").json()["error_code"] == "0050"


def test_the_query_answer_carries_every_documented_field_and_a_valid_sign(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.script(Provider.GATEWAY_V2, "PO-Q", Outcome.SUCCESS, after_queries=2)
    gateway.create("PO-Q", 50000)

    first = gateway.query("PO-Q").json()["data"]
    second = gateway.query("PO-Q").json()["data"]

    documented = {"payout_id", "payout_cl_id", "amount", "fee", "status", "error_msg"}
    assert documented | {"create_time", "success_time", "sign"} == set(first)
    for data in (first, second):
        assert data["sign"] == gw_sign(data, gateway.key)
    assert (first["payout_cl_id"], first["amount"], first["status"]) == ("PO-Q", 50000, 1)
    assert first["success_time"] is None
    assert second["status"] == 3
    assert isinstance(second["success_time"], int)


def test_a_tampered_query_answer_no_longer_verifies(gateway: GatewayClient) -> None:
    gateway.create("PO-T")
    data = gateway.query("PO-T").json()["data"]

    data["amount"] = 1

    assert data["sign"] != gw_sign(data, gateway.key)


def test_a_reused_payout_cl_id_makes_a_second_payout_and_the_ledger_shows_it(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    first = gateway.create("PO-DUP").json()
    second = gateway.create("PO-DUP").json()

    assert first["error_code"] == second["error_code"] == "0000"
    assert first["data"]["payout_id"] != second["data"]["payout_id"]
    eventually(lambda: len(sandbox.ledger()) == 2, what="both payouts paid")
    assert sandbox.double_payouts() == ["PO-DUP"]
    assert {entry.provider_order_id for entry in sandbox.ledger()} == {
        first["data"]["payout_id"],
        second["data"]["payout_id"],
    }


def test_with_dedupe_on_a_reused_payout_cl_id_returns_the_same_payout(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    sandbox.configure(gateway_dedupe=True)

    first = gateway.create("PO-ONCE").json()
    second = gateway.create("PO-ONCE").json()

    assert first == second
    eventually(lambda: len(sandbox.ledger()) == 1, what="the payout paid")
    assert len(sandbox.orders()) == 1
    assert sandbox.double_payouts() == []


def test_balance_counts_pending_payouts_as_frozen_and_paid_ones_as_spent(
    gateway: GatewayClient, sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.configure(fee_minor=7)
    sandbox.script(Provider.GATEWAY_V2, "PO-HELD", Outcome.NEVER)
    gateway.create("PO-HELD", 1000)
    gateway.create("PO-SPENT", 2000)
    eventually(lambda: len(sandbox.ledger()) == 1, what="PO-SPENT paid")
    url = f"{sandbox.base_url}/gateway/api/v2/platforms/balance"

    body = http.get(url, headers={"Authorization": sandbox.config.gateway.query_token}).json()
    refused = http.get(url, headers={"Authorization": "wrong-token-not-secret"}).json()

    opening = sandbox.config.opening_balance_minor
    assert body == {
        "error_code": "0000",
        "data": {"total_balance": opening - 2000 - 7, "total_frozen_balance": 1000},
    }
    assert refused["error_code"] == "0006"
