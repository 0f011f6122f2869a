"""gateway_v2 create: the request on the wire, and every row of the create decision table."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime

import httpx
import pytest

from payouts.domain.order import Order
from payouts.providers.base import CreateKind, CreateOutcome, UnsupportedPayout
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Options, SignType
from payouts.providers.gateway_v2.decisions import (
    CREATE_DEFAULT_WHY,
    CREATE_RULES,
)
from tests.unit.providers.test_gateway_v2_support import (
    BASE_URL,
    EXAMPLE_PAYOUT_ID,
    QUERY_TOKEN,
    SIGNING_KEY,
    Handler,
    answer,
    failing,
    make_order,
    raw_answer,
    with_provider,
)

# The seed's request example (seed 000), verbatim. Its sign was made with a key we don't have.
SEED_EXAMPLE = {
    "amount": "50000",
    "alipay_account_name": "test_name",
    "alipay_surname": "test",
    "notify_url": "https://xxx.xx/notification",
    "payout_cl_id": "DEVPOT00143538",
    "platform_id": "PF0002",
    "request_time": "1595504997",
    "service_id": "SVC0033",
    "sign": "8ac38fb87c2bcce4cf36627d4f8aa747",
}
# What we sign for the seed's inputs (our surname field holds the one first character).
EXAMPLE_STRING_TO_SIGN = (
    "alipay_account_name=test_name&alipay_surname=t&amount=50000"
    "&notify_url=https://xxx.xx/notification&payout_cl_id=DEVPOT00143538&platform_id=PF0002"
    "&request_time=1595504997&service_id=SVC0033"
)
ACCEPTED_ANSWER = {"error_code": "0000", "data": {"payout_id": "POT00000001"}}


def capture_create(
    options: GatewayV2Options | None = None, notify_url: str | None = None
) -> httpx.Request:
    """The request the adapter sends for the seed example's order."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ACCEPTED_ANSWER)

    extra = {} if notify_url is None else {"notify_url": notify_url}
    with_provider(handler, lambda adapter: adapter.create(make_order()), options=options, **extra)
    assert len(seen) == 1
    return seen[0]


def create(handler: Handler) -> CreateOutcome:
    return with_provider(handler, lambda adapter: adapter.create(make_order()))


# -- the request ------------------------------------------------------------------------------


def test_body_has_the_seed_examples_keys_and_value_types() -> None:
    body = json.loads(capture_create().content)
    assert set(body) == set(SEED_EXAMPLE) | {"sign_type"}
    assert {key: type(value) for key, value in body.items() if key != "sign_type"} == {
        key: type(value) for key, value in SEED_EXAMPLE.items()
    }
    same_inputs = set(SEED_EXAMPLE) - {"sign", "alipay_surname"}
    assert {key: body[key] for key in same_inputs} == {
        key: SEED_EXAMPLE[key] for key in same_inputs
    }
    assert body["alipay_surname"] == "t"
    assert body["sign_type"] == "HMAC-SHA256"


def test_body_bytes_are_exact_sorted_and_signed_with_hmac() -> None:
    expected_sign = hmac.new(
        SIGNING_KEY.encode(), EXAMPLE_STRING_TO_SIGN.encode(), hashlib.sha256
    ).hexdigest()
    expected = (
        '{"alipay_account_name":"test_name","alipay_surname":"t","amount":"50000",'
        '"notify_url":"https://xxx.xx/notification","payout_cl_id":"DEVPOT00143538",'
        '"platform_id":"PF0002","request_time":"1595504997","service_id":"SVC0033",'
        f'"sign":"{expected_sign}","sign_type":"HMAC-SHA256"}}'
    )
    assert capture_create().content == expected.encode()


def test_request_line_headers_and_timeouts() -> None:
    request = capture_create()
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/gateway/api/v2/payouts"
    assert request.headers["content-type"] == "application/json;charset=utf-8"
    assert "authorization" not in request.headers  # the create is signed, not token-authorised
    assert request.extensions["timeout"] == {
        "connect": 1.5,
        "read": 7.0,
        "write": 4.0,
        "pool": 0.5,
    }


def test_md5_option_signs_string_ampersand_key_and_says_so() -> None:
    body = json.loads(capture_create(GatewayV2Options(sign_type=SignType.MD5)).content)
    expected = hashlib.md5(
        f"{EXAMPLE_STRING_TO_SIGN}&{SIGNING_KEY}".encode(), usedforsecurity=False
    ).hexdigest()
    assert body["sign_type"] == "MD5"
    assert body["sign"] == expected


def test_numbers_can_be_sent_as_integers_with_the_same_signature() -> None:
    as_strings = json.loads(capture_create().content)
    as_integers = json.loads(capture_create(GatewayV2Options(numbers_as_strings=False)).content)
    assert as_integers["amount"] == 50000
    assert as_integers["request_time"] == 1595504997
    assert as_integers["sign"] == as_strings["sign"]


def test_blank_notify_url_is_neither_sent_nor_signed() -> None:
    body = json.loads(capture_create(notify_url="").content)
    assert "notify_url" not in body
    string = EXAMPLE_STRING_TO_SIGN.replace("&notify_url=https://xxx.xx/notification", "")
    assert body["sign"] == hmac.new(SIGNING_KEY.encode(), string.encode(), "sha256").hexdigest()


def test_no_secret_travels_in_the_body() -> None:
    content = capture_create().content.decode()
    assert SIGNING_KEY not in content
    assert QUERY_TOKEN not in content


def test_a_retry_reuses_the_same_merchant_order_number() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["payout_cl_id"])
        raise httpx.ReadTimeout("lost", request=request)

    async def twice(adapter: GatewayV2Adapter) -> None:
        await adapter.create(make_order())
        await adapter.create(make_order())

    with_provider(handler, twice)
    assert sent == [EXAMPLE_PAYOUT_ID, EXAMPLE_PAYOUT_ID]


UPI_BENEFICIARY = {"method": "UPI", "vpa": "test@upi", "payee_name": "Test"}


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (make_order(currency="INR", beneficiary=UPI_BENEFICIARY), "cannot pay by UPI"),
        (make_order(currency="INR"), "pays CNY, not INR"),
        (make_order(amount=10_000_000_000), "Integer(10)"),
    ],
    ids=["not-alipay", "not-cny", "too-large"],
)
def test_orders_it_cannot_pay_are_refused_before_sending(order: Order, reason: str) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=ACCEPTED_ANSWER)

    with pytest.raises(UnsupportedPayout, match=re.escape(reason)):
        with_provider(handler, lambda adapter: adapter.create(order))
    assert calls == []


def test_order_without_a_valid_request_is_refused() -> None:
    order = make_order().model_copy(update={"request": None})
    with pytest.raises(UnsupportedPayout, match="no valid request"):
        with_provider(answer(ACCEPTED_ANSWER), lambda adapter: adapter.create(order))


def test_order_whose_request_names_another_payout_is_refused() -> None:
    order = make_order().model_copy(update={"payout_id": "PO-OTHER"})
    with pytest.raises(UnsupportedPayout, match="disagree"):
        with_provider(answer(ACCEPTED_ANSWER), lambda adapter: adapter.create(order))


def test_service_id_comes_from_the_options_map() -> None:
    options = GatewayV2Options.model_validate_json('{"service_ids": {"ALIPAY": "SVC0099"}}')
    assert json.loads(capture_create(options).content)["service_id"] == "SVC0099"


def test_naive_clock_is_refused() -> None:
    def naive() -> datetime:
        return datetime(2020, 7, 23, 12, 0)  # noqa: DTZ001 - the point of the test

    with pytest.raises(ValueError, match="timezone-aware"):
        with_provider(answer(ACCEPTED_ANSWER), lambda a: a.create(make_order()), clock=naive)


# -- the decision table, row by row -----------------------------------------------------------

HTML_502 = raw_answer(b"<html><body>502 Bad Gateway</body></html>", 502, "text/html")

# One scenario per row of CREATE_RULES, by index.
ROW_SCENARIOS: dict[int, Handler] = {
    0: failing(httpx.ConnectError),
    1: failing(httpx.ReadTimeout),
    2: HTML_502,
    3: raw_answer(b"", 200),
    4: raw_answer(b"<!DOCTYPE html><p>maintenance</p>", 200, "text/html"),
    5: raw_answer(b'{"error_code":"0000","data":', 200),
    6: answer(["0000"]),
    7: answer(ACCEPTED_ANSWER),
    8: answer({"error_code": "0000"}),
    9: answer({"data": {"payout_id": "POT00000001"}}),
    10: answer({"error_code": "0004", "error_msg": "验签错误!"}),
    11: answer({"error_code": "0006", "error_msg": "invalid Authorization"}),
}


def test_every_row_has_a_scenario_and_a_distinct_reason() -> None:
    assert set(ROW_SCENARIOS) == set(range(len(CREATE_RULES)))
    whys = [rule.why for rule in CREATE_RULES] + [CREATE_DEFAULT_WHY]
    assert len(set(whys)) == len(whys)


@pytest.mark.parametrize("row", sorted(ROW_SCENARIOS))
def test_create_row(row: int) -> None:
    outcome = create(ROW_SCENARIOS[row])
    assert outcome.reason == CREATE_RULES[row].why
    assert outcome.kind is CREATE_RULES[row].then


def test_accepted_carries_the_providers_id() -> None:
    outcome = create(answer(ACCEPTED_ANSWER))
    assert outcome.kind is CreateKind.ACCEPTED
    assert outcome.provider_order_id == "POT00000001"
    assert outcome.raw.code == "0000"
    assert outcome.raw.http_status == 200


def test_documented_refusal_is_rejected_with_its_message() -> None:
    outcome = create(answer({"error_code": "0004", "error_msg": "验签错误!"}, status=400))
    assert outcome.kind is CreateKind.REJECTED
    assert outcome.raw.code == "0004"
    assert outcome.raw.message == "验签错误!"
    assert outcome.provider_order_id is None


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout], ids=lambda e: e.__name__
)
def test_not_sent_transports(error: type[httpx.TransportError]) -> None:
    outcome = create(failing(error))
    assert outcome.kind is CreateKind.NOT_SENT
    assert outcome.raw.http_status is None


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.WriteError,
        httpx.ReadError,
        httpx.RemoteProtocolError,
    ],
    ids=lambda e: e.__name__,
)
def test_maybe_sent_transports_are_ambiguous(error: type[httpx.TransportError]) -> None:
    outcome = create(failing(error))
    assert outcome.kind is CreateKind.AMBIGUOUS
    assert outcome.raw.transport != "ok"


@pytest.mark.parametrize(
    "handler",
    [
        answer(ACCEPTED_ANSWER, status=500),  # a 5xx is ambiguous whatever the body says
        answer({"error_code": "0004"}, status=503),  # even a refusal code
        raw_answer(b"", 504),
        answer({"error_code": "0000", "data": {}}),
        answer({"error_code": "0000", "data": {"payout_id": ""}}),
        answer({"error_code": "0000", "data": "POT00000001"}),
    ],
    ids=["500-accepted", "503-refusal", "504-blank", "empty-data", "blank-id", "data-not-object"],
)
def test_more_ambiguous_answers(handler: Handler) -> None:
    outcome = create(handler)
    assert outcome.kind is CreateKind.AMBIGUOUS
    assert outcome.provider_order_id is None


@pytest.mark.parametrize(
    "document",
    [
        {"error_code": "9999", "error_msg": "system busy"},
        {"error_code": "0050"},  # "not found" means nothing on a create
        {"error_code": 4},  # not the documented "0004"
        {"error_code": 0, "data": {"payout_id": "POT00000001"}},  # not the documented "0000"
    ],
)
def test_unknown_codes_take_the_default_ambiguous(document: dict[str, object]) -> None:
    outcome = create(answer(document))
    assert outcome.kind is CreateKind.AMBIGUOUS
    assert outcome.reason == CREATE_DEFAULT_WHY


def test_accepted_code_under_a_4xx_is_not_accepted() -> None:
    outcome = create(answer(ACCEPTED_ANSWER, status=400))
    assert outcome.kind is CreateKind.AMBIGUOUS
    assert outcome.reason == CREATE_DEFAULT_WHY


def test_no_rejection_for_a_reused_merchant_order_number() -> None:
    # No documented code says "duplicate": nothing on create may ever be DUPLICATE here.
    assert all(rule.then is not CreateKind.DUPLICATE for rule in CREATE_RULES)
    assert {
        code for rule in CREATE_RULES if rule.then is CreateKind.REJECTED for code in rule.codes
    } == {
        "0004",
        "0006",
    }


def test_raw_exchange_keeps_an_excerpt_without_signatures() -> None:
    document = {
        "error_code": "0000",
        "data": {"payout_id": "POT1", "sign": "abc123"},
        "sign": "f00",
    }
    outcome = create(answer(document))
    assert outcome.raw.body_excerpt is not None
    assert "POT1" in outcome.raw.body_excerpt
    assert "abc123" not in outcome.raw.body_excerpt
    assert "f00" not in outcome.raw.body_excerpt


def test_transport_failure_is_described_in_the_raw_message() -> None:
    outcome = create(failing(httpx.ConnectError))
    assert outcome.raw.transport == "connect_error"
    assert outcome.raw.message is not None
    assert "ConnectError" in outcome.raw.message
