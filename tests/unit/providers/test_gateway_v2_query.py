"""gateway_v2 query: the request, every row of the query table, statuses, signatures, amounts."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from payouts.providers.base import QueryKind, QueryOutcome
from payouts.providers.gateway_v2 import AnswerSignaturePolicy, GatewayV2Options, SignType
from payouts.providers.gateway_v2.decisions import QUERY_DEFAULT_WHY, QUERY_RULES, QueryStep
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
    signed,
    with_provider,
)


def order_data(**overrides: object) -> dict[str, object]:
    """A query answer's ``data`` for the example order, as documented."""
    data: dict[str, object] = {
        "payout_id": "POT00000001",
        "payout_cl_id": EXAMPLE_PAYOUT_ID,
        "amount": 50000,
        "fee": 300,
        "status": 3,
        "error_msg": "",
        "create_time": 1595504997,
        "success_time": 1595505100,
    }
    data.update(overrides)
    return data


def found(data: dict[str, object]) -> Handler:
    return answer({"error_code": "0000", "data": data})


def query(handler: Handler, options: GatewayV2Options | None = None) -> QueryOutcome:
    return with_provider(handler, lambda adapter: adapter.query(make_order()), options=options)


# -- the request ------------------------------------------------------------------------------


def test_query_request_uses_the_token_without_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"error_code": "0000", "data": order_data()})

    query(handler)
    (request,) = seen
    assert request.method == "GET"
    assert str(request.url) == f"{BASE_URL}/gateway/api/v2/payouts/{EXAMPLE_PAYOUT_ID}"
    assert request.headers["authorization"] == QUERY_TOKEN
    assert request.content == b""
    assert request.extensions["timeout"]["read"] == 7.0


# -- the query table, row by row --------------------------------------------------------------

ROW_SCENARIOS: dict[int, Handler] = {
    0: failing(httpx.ReadTimeout),
    1: answer({"error_code": "0000", "data": order_data()}, status=503),
    2: raw_answer(b"", 200),
    3: answer({"error_code": "0050", "error_msg": "order not found"}),
    4: found(order_data()),
}


def test_every_query_row_has_a_scenario_and_a_distinct_reason() -> None:
    assert set(ROW_SCENARIOS) == set(range(len(QUERY_RULES)))
    whys = [rule.why for rule in QUERY_RULES] + [QUERY_DEFAULT_WHY]
    assert len(set(whys)) == len(whys)


@pytest.mark.parametrize("row", sorted(ROW_SCENARIOS))
def test_query_row(row: int) -> None:
    rule = QUERY_RULES[row]
    outcome = query(ROW_SCENARIOS[row])
    assert outcome.reason.startswith(rule.why)
    if rule.then is QueryStep.READ_STATUS:
        assert outcome.kind is QueryKind.SUCCEEDED  # the scenario's data.status is 3
    else:
        assert outcome.kind.value == rule.then.value


@pytest.mark.parametrize(
    "handler",
    [
        failing(httpx.ConnectError),
        failing(httpx.ConnectTimeout),
        failing(httpx.RemoteProtocolError),
        raw_answer(b"<html>bad gateway</html>", 502, "text/html"),
        raw_answer(b"   ", 200),
        raw_answer(b"{not json", 200),
        answer([{"status": 3}]),
        raw_answer(b"<html>ok</html>", 200, "text/html"),
    ],
    ids=["refused", "connect-timeout", "reset", "502-html", "blank", "malformed", "list", "html"],
)
def test_provider_trouble_is_unknown_never_failed(handler: Handler) -> None:
    assert query(handler).kind is QueryKind.UNKNOWN


@pytest.mark.parametrize(
    "document",
    [
        {"error_code": "0006", "error_msg": "invalid Authorization"},
        {"error_code": "9999"},
        {"data": order_data()},
    ],
    ids=["0006", "unknown-code", "no-code"],
)
def test_other_codes_take_the_default_unknown(document: dict[str, object]) -> None:
    outcome = query(answer(document))
    assert outcome.kind is QueryKind.UNKNOWN
    assert outcome.reason == QUERY_DEFAULT_WHY


def test_not_found_carries_the_code() -> None:
    outcome = query(answer({"error_code": "0050", "error_msg": "order not found"}))
    assert outcome.kind is QueryKind.NOT_FOUND
    assert outcome.raw.code == "0050"
    assert outcome.raw.message == "order not found"


# -- status table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (1, QueryKind.PENDING),
        (2, QueryKind.PENDING),
        (3, QueryKind.SUCCEEDED),
        (4, QueryKind.FAILED),
        (5, QueryKind.FAILED),
        ("3", QueryKind.SUCCEEDED),
        ("4", QueryKind.FAILED),
        (0, QueryKind.UNKNOWN),
        (6, QueryKind.UNKNOWN),
        ("SUCCESS", QueryKind.UNKNOWN),
        (None, QueryKind.UNKNOWN),
        (True, QueryKind.UNKNOWN),
        (3.0, QueryKind.UNKNOWN),
    ],
)
def test_status_mapping(status: object, kind: QueryKind) -> None:
    assert query(found(order_data(status=status))).kind is kind


def test_0000_without_data_object_is_unknown() -> None:
    assert query(answer({"error_code": "0000"})).kind is QueryKind.UNKNOWN
    assert query(answer({"error_code": "0000", "data": [order_data()]})).kind is QueryKind.UNKNOWN


def test_answer_about_another_order_is_not_believed() -> None:
    outcome = query(found(order_data(payout_cl_id="SOMEONE-ELSE")))
    assert outcome.kind is QueryKind.UNKNOWN
    assert "SOMEONE-ELSE" in outcome.reason


# -- amounts -----------------------------------------------------------------------------------


def test_success_reports_ids_amount_and_currency() -> None:
    outcome = query(found(order_data()))
    assert outcome.provider_order_id == "POT00000001"
    assert outcome.amount_minor == 50000
    assert outcome.currency == "CNY"


@pytest.mark.parametrize(
    ("amount", "minor"),
    [
        (50000, 50000),
        ("50000", 50000),
        (0, 0),
        ("500.00", None),  # cents never carry decimals
        (500.5, None),
        (-1, None),
        ("-1", None),
        ("0050", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_amount_in_integer_cents_or_none(amount: object, minor: int | None) -> None:
    assert query(found(order_data(amount=amount))).amount_minor == minor


def test_missing_amount_is_none() -> None:
    data = order_data()
    del data["amount"]
    assert query(found(data)).amount_minor is None


def test_currency_is_the_accounts_option() -> None:
    outcome = query(found(order_data()), GatewayV2Options(currency="USD"))
    assert outcome.currency == "USD"


# -- signed answers ----------------------------------------------------------------------------


def test_signed_answer_is_believed() -> None:
    outcome = query(found(signed(order_data())))
    assert outcome.kind is QueryKind.SUCCEEDED


def test_tampered_signed_answer_is_unknown() -> None:
    data = signed(order_data(status=4))
    data["status"] = 3
    outcome = query(found(data))
    assert outcome.kind is QueryKind.UNKNOWN
    assert "does not verify" in outcome.reason


def test_answer_signed_with_another_key_is_unknown() -> None:
    outcome = query(found(signed(order_data(), key="another-test-key-not-secret")))
    assert outcome.kind is QueryKind.UNKNOWN


def test_new_fields_are_covered_by_the_signature() -> None:
    assert query(found(signed(order_data(new_field="x")))).kind is QueryKind.SUCCEEDED
    data = signed(order_data())
    data["new_field"] = "x"
    assert query(found(data)).kind is QueryKind.UNKNOWN


def test_answer_naming_no_sign_type_is_checked_with_the_configured_one() -> None:
    data = signed(order_data(), sign_type=None)  # MD5-signed, no sign_type
    assert query(found(data)).kind is QueryKind.UNKNOWN
    md5_account = GatewayV2Options(sign_type=SignType.MD5)
    assert query(found(data), md5_account).kind is QueryKind.SUCCEEDED


def test_answer_in_an_algorithm_not_accepted_is_unknown() -> None:
    data = signed(order_data(), sign_type=SignType.MD5)
    outcome = query(found(data))
    assert outcome.kind is QueryKind.UNKNOWN
    assert "not accepted" in outcome.reason
    both = frozenset({SignType.MD5, SignType.HMAC_SHA256})
    assert query(found(data), GatewayV2Options(accepted_query_sign_types=both)).kind is (
        QueryKind.SUCCEEDED
    )


def test_unsigned_answer_is_believed_unless_signatures_are_required() -> None:
    assert query(found(order_data())).kind is QueryKind.SUCCEEDED
    require = GatewayV2Options(query_signature=AnswerSignaturePolicy.REQUIRE)
    outcome = query(found(order_data()), require)
    assert outcome.kind is QueryKind.UNKNOWN
    assert "no sign" in outcome.reason
    assert query(found(signed(order_data())), require).kind is QueryKind.SUCCEEDED


def test_ignore_policy_does_not_verify() -> None:
    data = signed(order_data())
    data["sign"] = "0" * 64
    ignore = GatewayV2Options(query_signature=AnswerSignaturePolicy.IGNORE)
    assert query(found(data), ignore).kind is QueryKind.SUCCEEDED
    assert query(found(data)).kind is QueryKind.UNKNOWN


def test_decimal_literals_are_signed_as_received() -> None:
    # "fee": 3.10 is signed as the provider wrote it ("3.10"), not as Python's float ("3.1").
    string_to_sign = "amount=50000&fee=3.10&payout_cl_id=DEVPOT00143538&status=3"
    signature = hmac.new(SIGNING_KEY.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    body = (
        '{"error_code":"0000","data":{"payout_cl_id":"DEVPOT00143538","amount":50000,'
        f'"status":3,"fee":3.10,"sign_type":"HMAC-SHA256","sign":"{signature}"}}}}'
    )
    assert query(raw_answer(body.encode())).kind is QueryKind.SUCCEEDED


def test_excerpt_never_carries_the_answers_signature() -> None:
    data = signed(order_data())
    outcome = query(found(data))
    assert outcome.raw.body_excerpt is not None
    assert "POT00000001" in outcome.raw.body_excerpt
    assert str(data["sign"]) not in outcome.raw.body_excerpt


# -- issue 10: the string to sign is ambiguous, so shapes are checked first ----------------------


def test_a_regrouped_signed_answer_is_unreadable_not_believed() -> None:
    data = signed(order_data(amount="206424", create_time="1595504997"))
    data["amount"] = f"{data['amount']}&create_time={data.pop('create_time')}"

    outcome = query(found(data))

    assert outcome.kind is QueryKind.UNKNOWN
    assert "field amount" in outcome.reason
    assert outcome.amount_minor is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "3&x=1"), ("payout_id", "POT&1"), ("success_time", "now"), ("extra", "a&b")],
)
def test_a_field_out_of_shape_makes_the_answer_unknown(field: str, value: object) -> None:
    outcome = query(found(signed(order_data(**{field: value}))))
    assert outcome.kind is QueryKind.UNKNOWN
    assert f"field {field}" in outcome.reason
