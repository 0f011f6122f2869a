"""pg_v2 create: the request as sent (seed 004), and every row of the create decision table."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from payouts.domain.order import Order
from payouts.providers.base import CreateKind, CreateOutcome, PayoutProvider
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials, PgV2Options, UnsupportedPayout
from payouts.providers.pg_v2.decisions import CREATE_DEFAULT, CREATE_DEFAULT_WHY, CREATE_RULES
from payouts.providers.pg_v2.options import BankAccountFields, PixFields
from tests.unit.providers.test_pg_v2_support import (
    ANSWER_NONCE,
    ANSWER_TIMESTAMP_MS,
    APP_ID,
    APP_SECRET,
    CREATE_URL,
    NOTIFY_URL,
    SEED_NONCE,
    SEED_TIMESTAMP_MS,
    TIMEOUTS,
    Handler,
    Recorder,
    answer,
    authorization,
    failing,
    independent_sign,
    make_order,
    make_request,
    offline_adapter,
    raw_answer,
    run_adapter,
    signed_answer,
)

# The seed's example request body, verbatim except the UPI address, which the published page
# obfuscated ("[email protected]") and is replaced by the fake address our order carries.
SEED_REQUEST_BODY = """{
  "merchantTradeNo": "MTOU-0211",
  "amount": "1.00",
  "currency": "INR",
  "description": "upi payout test",
  "payoutMethod": {
    "type": "UPI",
    "vpa": "test.payee@upi",
    "payeeName": "test payeeName"
  },
  "merchantAttach": "merchant attach",
  "notifyUrl": "https://example.com/subscribe/payout/notify",
  "extendInfo": {}
}"""

# The seed's example answer: headers and body verbatim.
SEED_ANSWER_AUTHORIZATION = (
    "V2_SHA256 appId=1111b620f93b48c5904210ff47bb1111,"
    "sign=ac6ae72f8c46f5c2092c3dab9bb0e08b6cdb6d5e7ff8ad190499a8955d57f297,"
    "timestamp=1714128245401,nonce=28FA11BF8FD1309767551B4FD8A57BD5"
)
SEED_ANSWER_BODY = b"""{
    "code": "OK",
    "errorMessage": null,
    "data": {
        "payoutNo": "20240426192048100800062197000010",
        "merchantTradeNo": "MTOU-0211",
        "amount": "1.00",
        "currency": "INR"
    }
}"""
PAYOUT_NO = "20240426192048100800062197000010"


def _ok(payout_no: str | None = PAYOUT_NO, merchant_no: str = "MTOU-0211") -> dict[str, object]:
    data = {"merchantTradeNo": merchant_no, "amount": "1.00", "currency": "INR"}
    if payout_no is not None:
        data["payoutNo"] = payout_no
    return {"code": "OK", "errorMessage": None, "data": data}


def _refusal(code: str, message: str | None) -> dict[str, object]:
    return {"code": code, "errorMessage": message, "data": None}


def _create(
    handler: Handler, options: PgV2Options | None = None, order: Order | None = None
) -> CreateOutcome:
    async def action(adapter: PgV2Adapter) -> CreateOutcome:
        return await adapter.create(order or make_order())

    return run_adapter(handler, action, options)


# --- the request as sent ---------------------------------------------------------------------


def test_create_body_has_the_seed_examples_keys_order_and_values() -> None:
    recorder = Recorder(raw_answer(SEED_ANSWER_BODY))

    _create(recorder)

    sent = json.loads(recorder.requests[0].content)
    assert json.dumps(sent) == json.dumps(json.loads(SEED_REQUEST_BODY))


def test_create_header_has_the_seed_format_and_signs_the_exact_bytes_sent() -> None:
    recorder = Recorder(raw_answer(SEED_ANSWER_BODY))

    _create(recorder)

    request = recorder.requests[0]
    expected_sign = independent_sign(
        "POST", CREATE_URL, SEED_TIMESTAMP_MS, SEED_NONCE, request.content
    )
    assert request.method == "POST"
    assert str(request.url) == CREATE_URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == (
        f"V2_SHA256 appId={APP_ID},sign={expected_sign},"
        f"timestamp={SEED_TIMESTAMP_MS},nonce={SEED_NONCE}"
    )


def test_create_carries_the_explicit_timeouts() -> None:
    recorder = Recorder(raw_answer(SEED_ANSWER_BODY))

    _create(recorder)

    assert recorder.requests[0].extensions["timeout"] == {
        "connect": TIMEOUTS.connect,
        "read": TIMEOUTS.read,
        "write": TIMEOUTS.write,
        "pool": TIMEOUTS.pool,
    }


def test_path_only_signing_signs_the_path() -> None:
    recorder = Recorder(signed_answer(_ok(), path_only=True))

    outcome = _create(recorder, PgV2Options(signed_url="path", answer_signature="require"))

    request = recorder.requests[0]
    expected = independent_sign(
        "POST", "/pg/v2/payout/create", SEED_TIMESTAMP_MS, SEED_NONCE, request.content
    )
    assert f"sign={expected}," in request.headers["authorization"]
    assert outcome.kind is CreateKind.ACCEPTED


@pytest.mark.parametrize(
    ("minor", "currency", "method", "text"),
    [
        (10005, "INR", {"method": "UPI", "vpa": "a.b@upi", "payee_name": "A B"}, "100.05"),
        (1, "INR", {"method": "UPI", "vpa": "a.b@upi", "payee_name": "A B"}, "0.01"),
        (
            12345678901234567,
            "INR",
            {"method": "UPI", "vpa": "a.b@upi", "payee_name": "A B"},
            "123456789012345.67",
        ),
        (
            2500,
            "BRL",
            {"method": "PIX", "pix_key_type": "EVP", "pix_key": "k-1", "payee_name": "A B"},
            "25.00",
        ),
    ],
)
def test_amount_is_the_exact_two_place_string_of_the_minor_units(
    minor: int, currency: str, method: dict[str, str], text: str
) -> None:
    request = make_request(amount={"value": minor, "currency": currency}, beneficiary=method)
    recorder = Recorder(answer(_ok()))

    _create(recorder, order=make_order(request))

    sent = json.loads(recorder.requests[0].content)
    assert (sent["amount"], sent["currency"]) == (text, currency)


def test_merchant_trade_no_is_always_the_payout_id() -> None:
    recorder = Recorder(answer(_ok(merchant_no="PO-20261122-000123")))

    _create(recorder, order=make_order(make_request(payout_id="PO-20261122-000123")))

    assert json.loads(recorder.requests[0].content)["merchantTradeNo"] == "PO-20261122-000123"


def test_bank_account_uses_the_assumed_field_names() -> None:
    beneficiary = {
        "method": "BANK_ACCOUNT",
        "account_number": "001234567890",
        "ifsc": "HDFC0001234",
        "payee_name": "Test Payee",
    }
    recorder = Recorder(answer(_ok()))

    _create(recorder, order=make_order(make_request(beneficiary=beneficiary)))

    assert json.loads(recorder.requests[0].content)["payoutMethod"] == {
        "type": "BANK_ACCOUNT",
        "accountNo": "001234567890",
        "ifsc": "HDFC0001234",
        "payeeName": "Test Payee",
    }


def test_pix_uses_the_assumed_field_names_with_tax_id_only_when_present() -> None:
    with_tax_id = {
        "method": "PIX",
        "pix_key_type": "CPF",
        "pix_key": "12345678901",
        "payee_name": "Test Payee",
        "tax_id": "12345678901",
    }
    without_tax_id = {**with_tax_id, "pix_key_type": "EMAIL", "pix_key": "payee@example.test"}
    del without_tax_id["tax_id"]
    recorder = Recorder(answer(_ok()))
    brl = {"value": 1000, "currency": "BRL"}

    for beneficiary in (with_tax_id, without_tax_id):
        _create(recorder, order=make_order(make_request(beneficiary=beneficiary, amount=brl)))

    methods = [json.loads(request.content)["payoutMethod"] for request in recorder.requests]
    assert methods == [
        {
            "type": "PIX",
            "pixKey": "12345678901",
            "pixKeyType": "CPF",
            "payeeName": "Test Payee",
            "taxId": "12345678901",
        },
        {
            "type": "PIX",
            "pixKey": "payee@example.test",
            "pixKeyType": "EMAIL",
            "payeeName": "Test Payee",
        },
    ]


def test_assumed_field_names_are_configurable() -> None:
    options = PgV2Options(
        bank_account_fields=BankAccountFields(account_number="bankAccountNumber"),
        pix_fields=PixFields(pix_key="key"),
    )
    account = {"method": "BANK_ACCOUNT", "account_number": "001234567890", "ifsc": "HDFC0001234"}
    pix = {"method": "PIX", "pix_key_type": "EVP", "pix_key": "k-1"}
    recorder = Recorder(answer(_ok()))

    _create(recorder, options, make_order(make_request(beneficiary={**account, "payee_name": "X"})))
    _create(recorder, options, make_order(make_request(beneficiary={**pix, "payee_name": "X"})))

    first, second = (json.loads(request.content)["payoutMethod"] for request in recorder.requests)
    assert first["bankAccountNumber"] == "001234567890"
    assert "accountNo" not in first
    assert second["key"] == "k-1"
    assert "pixKey" not in second


def test_merchant_attach_is_omitted_without_the_metadata_key_and_description_falls_back() -> None:
    recorder = Recorder(answer(_ok()))

    _create(recorder, order=make_order(make_request(metadata={}, description="")))
    _create(recorder, PgV2Options(merchant_attach_key=None))

    plain, no_attach_option = (json.loads(request.content) for request in recorder.requests)
    assert "merchantAttach" not in plain
    assert plain["description"] == "payout"
    assert list(plain) == [
        "merchantTradeNo",
        "amount",
        "currency",
        "description",
        "payoutMethod",
        "notifyUrl",
        "extendInfo",
    ]
    assert "merchantAttach" not in no_attach_option
    assert no_attach_option["notifyUrl"] == NOTIFY_URL


def test_a_method_pg_v2_does_not_carry_is_refused_before_sending() -> None:
    recorder = Recorder(answer(_ok()))
    alipay = make_request(
        beneficiary={"method": "ALIPAY", "account_name": "test_name", "surname": "t"},
        amount={"value": 100, "currency": "CNY"},
    )
    invalid = make_order().model_copy(update={"request": None, "invalid_request": "{}"})

    for order in (make_order(alipay), invalid):
        with pytest.raises(UnsupportedPayout):
            _create(recorder, order=order)

    assert recorder.requests == []


# --- the seed's answer -----------------------------------------------------------------------


def test_seed_answer_is_accepted_when_answer_signatures_are_ignored() -> None:
    handler = raw_answer(SEED_ANSWER_BODY)

    outcome = _create(handler, PgV2Options(answer_signature="ignore"))

    assert outcome.kind is CreateKind.ACCEPTED
    assert outcome.provider_order_id == PAYOUT_NO


def test_seed_answer_signed_with_another_key_is_not_believed() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"Authorization": SEED_ANSWER_AUTHORIZATION}
        return httpx.Response(200, headers=headers, content=SEED_ANSWER_BODY)

    outcome = _create(handler)

    assert outcome.kind is CreateKind.AMBIGUOUS
    assert outcome.provider_order_id is None


def test_answer_signed_with_our_key_is_accepted_when_signatures_are_required() -> None:
    outcome = _create(signed_answer(_ok()), PgV2Options(answer_signature="require"))

    assert outcome.kind is CreateKind.ACCEPTED
    assert outcome.provider_order_id == PAYOUT_NO


# --- every row of the create table -----------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One way to reach a row: the provider's behaviour and the options in force."""

    label: str
    handler: Handler
    options: PgV2Options | None = None


_REQUIRE = PgV2Options(answer_signature="require")
_SIGNED_OK = json.dumps(_ok()).encode()


def _badly_signed(request: httpx.Request) -> httpx.Response:
    signature = independent_sign(
        request.method,
        str(request.url),
        ANSWER_TIMESTAMP_MS,
        ANSWER_NONCE,
        _SIGNED_OK,
        secret="another-key-not-secret",
    )
    headers = {"Authorization": authorization(signature)}
    return httpx.Response(200, headers=headers, content=_SIGNED_OK)


def _malformed_signature(_request: httpx.Request) -> httpx.Response:
    headers = {"Authorization": "V2_SHA256 appId=x,sign=short"}
    return httpx.Response(200, headers=headers, content=_SIGNED_OK)


def _bad_gzip(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip")


CREATE_SCENARIOS: dict[int, list[Scenario]] = {
    0: [
        Scenario("connection refused", failing(httpx.ConnectError)),
        Scenario("connect timeout", failing(httpx.ConnectTimeout)),
        Scenario("no pooled connection", failing(httpx.PoolTimeout)),
    ],
    1: [
        Scenario("read timeout", failing(httpx.ReadTimeout)),
        Scenario("write error", failing(httpx.WriteError)),
        Scenario("write timeout", failing(httpx.WriteTimeout)),
        Scenario("reset while reading", failing(httpx.ReadError)),
        Scenario("protocol error", failing(httpx.RemoteProtocolError)),
        Scenario("undecodable gzip answer", _bad_gzip),
    ],
    2: [
        Scenario("500 JSON", answer(_refusal("System.Error", "busy"), status=500)),
        Scenario("502 HTML", raw_answer(b"<html>Bad Gateway</html>", status=502)),
        Scenario("503 blank", raw_answer(b"", status=503)),
        Scenario("504 with OK", answer(_ok(), status=504)),
    ],
    3: [
        Scenario(f"{status} refusal", answer(_refusal("Throttled", "slow down"), status=status))
        for status in (408, 409, 425, 429)
    ],
    4: [
        Scenario("wrong answer signature", _badly_signed),
        Scenario("malformed answer signature", _malformed_signature),
        Scenario("missing signature while required", answer(_ok()), _REQUIRE),
        Scenario("unsigned refusal while required", answer(_refusal("X", "y")), _REQUIRE),
    ],
    5: [
        Scenario("accepted for another order", answer(_ok(merchant_no="MTOU-9999"))),
    ],
    6: [
        Scenario(
            "duplicate on 200",
            answer(_refusal("Payout.Duplicate_TradeNo", "trade no already exists")),
        ),
        Scenario("duplicate without message", answer(_refusal("Payout.Duplicate_TradeNo", None))),
        Scenario(
            "duplicate on 400", answer(_refusal("Payout.Duplicate_TradeNo", "dup"), status=400)
        ),
    ],
    7: [Scenario("400 saying OK", answer(_ok(), status=400))],
    8: [
        Scenario("401 signature refused", answer(_refusal("Sign.Invalid", "bad sign"), status=401)),
        Scenario("403 blank", raw_answer(b"", status=403)),
        Scenario("404 HTML", raw_answer(b"<html>nope</html>", status=404)),
    ],
    9: [
        Scenario("blank 200", raw_answer(b"")),
        Scenario("whitespace 200", raw_answer(b"  \n")),
        Scenario("HTML 200", raw_answer(b"<!DOCTYPE html><p>hi</p>", content_type="text/html")),
        Scenario("malformed JSON 200", raw_answer(b'{"code": "OK"')),
        Scenario("JSON list 200", answer([_ok()])),
        Scenario("JSON null 200", raw_answer(b"null")),
    ],
    10: [
        Scenario("no code", answer({"errorMessage": "something", "data": None})),
        Scenario("empty code", answer(_refusal("", "something"))),
        Scenario("non-string code", answer({"code": 0, "errorMessage": "something"})),
    ],
    11: [
        Scenario("OK with payoutNo", answer(_ok())),
        Scenario("OK with payoutNo on 201", answer(_ok(), status=201)),
        Scenario("OK with a correct signature", signed_answer(_ok()), _REQUIRE),
    ],
    12: [
        Scenario("OK without data", answer({"code": "OK", "errorMessage": None, "data": None})),
        Scenario("OK with blank payoutNo", answer(_ok(payout_no="  "))),
        Scenario("OK without payoutNo", answer(_ok(payout_no=None))),
        Scenario("OK on a redirect", answer(_ok(), status=302)),
    ],
    13: [
        Scenario("documented failure", answer(_refusal("Payout.Invalid_Amount", "bad amount"))),
    ],
    14: [
        Scenario("non-OK code, null message", answer(_refusal("Payout.Invalid_Amount", None))),
        Scenario("non-OK code, blank message", answer(_refusal("Payout.Invalid_Amount", " "))),
    ],
}

DEFAULT_SCENARIOS = [
    Scenario("non-OK code on 202", answer(_refusal("Payout.Queued", "later"), status=202)),
    Scenario("non-OK code on a redirect", answer(_refusal("Moved", "elsewhere"), status=301)),
]


def test_every_create_row_has_scenarios() -> None:
    assert sorted(CREATE_SCENARIOS) == list(range(len(CREATE_RULES)))


def test_create_rule_reasons_are_unique() -> None:
    reasons = [rule.why for rule in CREATE_RULES] + [CREATE_DEFAULT_WHY]
    assert len(set(reasons)) == len(reasons)


@pytest.mark.parametrize(
    ("row", "scenario"),
    [(row, scenario) for row, scenarios in CREATE_SCENARIOS.items() for scenario in scenarios],
    ids=lambda value: value.label if isinstance(value, Scenario) else f"row{value}",
)
def test_create_row(row: int, scenario: Scenario) -> None:
    outcome = _create(scenario.handler, scenario.options)

    rule = CREATE_RULES[row]
    assert (outcome.kind, outcome.reason) == (rule.then, rule.why)
    if outcome.kind is CreateKind.ACCEPTED:
        assert outcome.provider_order_id == PAYOUT_NO
    else:
        assert outcome.provider_order_id is None


@pytest.mark.parametrize("scenario", DEFAULT_SCENARIOS, ids=lambda scenario: scenario.label)
def test_create_default_is_ambiguous(scenario: Scenario) -> None:
    outcome = _create(scenario.handler, scenario.options)

    assert (outcome.kind, outcome.reason) == (CREATE_DEFAULT, CREATE_DEFAULT_WHY)
    assert CREATE_DEFAULT is CreateKind.AMBIGUOUS


def test_no_row_rejects_anything_but_documented_refusals() -> None:
    rejecting = [rule for rule in CREATE_RULES if rule.then is CreateKind.REJECTED]

    assert [rule.why for rule in rejecting] == [
        "HTTP 4xx: permission or signature problem, the order was not created (documented)",
        "HTTP 200 with a non-OK code and an errorMessage: creation failed (documented)",
    ]


# --- evidence and secrets --------------------------------------------------------------------


def test_raw_exchange_reports_the_answer_without_secrets_or_signatures() -> None:
    refusal = _refusal("Payout.Invalid_Amount", "bad amount")

    outcome = _create(signed_answer(refusal))

    raw = outcome.raw
    assert (raw.transport, raw.http_status, raw.code, raw.message) == (
        "ok",
        200,
        "Payout.Invalid_Amount",
        "bad amount",
    )
    evidence = repr(raw)
    assert APP_SECRET not in evidence
    assert "sign=" not in evidence
    assert "test.payee@upi" not in evidence


def test_raw_exchange_of_a_transport_failure_names_the_failure() -> None:
    outcome = _create(failing(httpx.ConnectError))

    assert outcome.raw.transport == "connect_error"
    assert outcome.raw.http_status is None
    assert outcome.raw.message is not None
    assert outcome.raw.message.startswith("ConnectError")


def test_credentials_never_print_the_secret() -> None:
    credentials = PgV2Credentials.model_validate({"app_id": APP_ID, "app_secret": APP_SECRET})

    assert APP_SECRET not in repr(credentials)
    assert APP_SECRET not in str(credentials.model_dump())


@pytest.mark.parametrize(
    "secret",
    [
        {"app_id": APP_ID},
        {"app_id": "has,comma", "app_secret": "x"},
        {"app_id": "", "app_secret": "x"},
    ],
)
def test_credentials_refuse_incomplete_or_unusable_secrets(secret: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        PgV2Credentials.model_validate(secret)


def test_adapter_implements_the_port() -> None:
    adapter = offline_adapter()

    assert isinstance(adapter, PayoutProvider)
    assert adapter.name == "pg_v2"
