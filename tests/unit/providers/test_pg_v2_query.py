"""pg_v2 query: the request, every row of the query-answer table, the status table, amounts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from payouts.providers.base import QueryKind, QueryOutcome
from payouts.providers.decisions import StatusMeaning
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Options
from payouts.providers.pg_v2.decisions import (
    QUERY_DEFAULT_WHY,
    QUERY_RULES,
    STATUS_DEFAULT_WHY,
    QueryAnswer,
)
from payouts.providers.pg_v2.options import DEFAULT_STATUS_WORDS
from tests.unit.providers.test_pg_v2_support import (
    ANSWER_NONCE,
    ANSWER_TIMESTAMP_MS,
    APP_ID,
    QUERY_URL,
    SEED_NONCE,
    SEED_TIMESTAMP_MS,
    Handler,
    Recorder,
    answer,
    authorization,
    failing,
    independent_sign,
    make_order,
    raw_answer,
    run_adapter,
    signed_answer,
)

PAYOUT_NO = "20240426192048100800062197000010"


def _data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "payoutNo": PAYOUT_NO,
        "merchantTradeNo": "MTOU-0211",
        "amount": "1.00",
        "currency": "INR",
        "totalFee": "0.10",
        "status": "PROCESSING",
        "rrn": None,
        "merchantAttach": "merchant attach",
        "createdTime": "2024-04-26 19:20:48",
        "paidTime": None,
        "errorCode": None,
        "errorInfo": None,
    }
    data.update(changes)
    return data


def _ok(**changes: object) -> dict[str, object]:
    return {"code": "OK", "errorMessage": None, "data": _data(**changes)}


def _code(code: str) -> dict[str, object]:
    return {"code": code, "errorMessage": "order not exist", "data": None}


def _query(handler: Handler, options: PgV2Options | None = None) -> QueryOutcome:
    async def action(adapter: PgV2Adapter) -> QueryOutcome:
        return await adapter.query(make_order())

    return run_adapter(handler, action, options)


def test_query_posts_the_merchant_trade_no_signed() -> None:
    recorder = Recorder(answer(_ok()))

    _query(recorder)

    request = recorder.requests[0]
    expected = independent_sign(
        "POST", QUERY_URL, SEED_TIMESTAMP_MS, SEED_NONCE, b'{"merchantTradeNo":"MTOU-0211"}'
    )
    assert (request.method, str(request.url)) == ("POST", QUERY_URL)
    assert request.content == b'{"merchantTradeNo":"MTOU-0211"}'
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == (
        f"V2_SHA256 appId={APP_ID},sign={expected},timestamp={SEED_TIMESTAMP_MS},nonce={SEED_NONCE}"
    )
    assert "timeout" in request.extensions


# --- every row of the query-answer table -----------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One way to reach a row: the provider's behaviour and the options in force."""

    label: str
    handler: Handler
    options: PgV2Options | None = None


_REQUIRE = PgV2Options(answer_signature="require")
_PAID = json.dumps(_ok(status="PAID")).encode()


def _badly_signed(request: httpx.Request) -> httpx.Response:
    signature = independent_sign(
        request.method,
        str(request.url),
        ANSWER_TIMESTAMP_MS,
        ANSWER_NONCE,
        _PAID,
        secret="another-key-not-secret",
    )
    return httpx.Response(200, headers={"Authorization": authorization(signature)}, content=_PAID)


def _signed_then_tampered(request: httpx.Request) -> httpx.Response:
    signed = signed_answer(_ok(status="PROCESSING"))(request)
    return httpx.Response(200, headers=signed.headers, content=_PAID)


QUERY_SCENARIOS: dict[int, list[Scenario]] = {
    0: [
        Scenario("connection refused", failing(httpx.ConnectError)),
        Scenario("read timeout", failing(httpx.ReadTimeout)),
        Scenario("reset", failing(httpx.ReadError)),
    ],
    1: [
        Scenario("500 JSON", answer(_ok(status="PAID"), status=500)),
        Scenario("502 HTML", raw_answer(b"<html>Bad Gateway</html>", status=502)),
    ],
    2: [
        Scenario("wrong signature on PAID", _badly_signed),
        Scenario("signed PROCESSING, body swapped to PAID", _signed_then_tampered),
        Scenario("missing signature while required", answer(_ok(status="PAID")), _REQUIRE),
    ],
    3: [
        Scenario("blank 200", raw_answer(b"")),
        Scenario("HTML 200", raw_answer(b"<html></html>", content_type="text/html")),
        Scenario("malformed 200", raw_answer(b'{"code":"OK",')),
        Scenario("JSON list 200", answer([_ok(status="PAID")])),
    ],
    4: [
        Scenario("answer about another order", answer(_ok(merchantTradeNo="MTOU-9", status="PAID")))
    ],
    5: [
        Scenario("Payout.Not_Found", answer(_code("Payout.Not_Found"))),
        Scenario("Payout.Order_Not_Exist", answer(_code("Payout.Order_Not_Exist"))),
    ],
    6: [Scenario("OK with a status", answer(_ok(status="PAID")))],
    7: [
        Scenario("OK without data", answer({"code": "OK", "errorMessage": None, "data": None})),
        Scenario("OK with a blank status", answer(_ok(status=" "))),
        Scenario("OK with a numeric status", answer(_ok(status=3))),
    ],
}

DEFAULT_SCENARIOS = [
    Scenario("another code", answer(_code("System.Busy"))),
    Scenario("no code", answer({"data": _data(status="PAID")})),
    Scenario("not-found code on a 404", answer(_code("Payout.Not_Found"), status=404)),
    Scenario("400 refusal", answer(_code("Sign.Invalid"), status=400)),
]

_KIND_OF = {QueryAnswer.UNKNOWN: QueryKind.UNKNOWN, QueryAnswer.NOT_FOUND: QueryKind.NOT_FOUND}


def test_every_query_row_has_scenarios() -> None:
    assert sorted(QUERY_SCENARIOS) == list(range(len(QUERY_RULES)))


def test_query_rule_reasons_are_unique() -> None:
    reasons = [rule.why for rule in QUERY_RULES] + [QUERY_DEFAULT_WHY]
    assert len(set(reasons)) == len(reasons)


@pytest.mark.parametrize(
    ("row", "scenario"),
    [(row, scenario) for row, scenarios in QUERY_SCENARIOS.items() for scenario in scenarios],
    ids=lambda value: value.label if isinstance(value, Scenario) else f"row{value}",
)
def test_query_row(row: int, scenario: Scenario) -> None:
    outcome = _query(scenario.handler, scenario.options)

    rule = QUERY_RULES[row]
    if rule.then is QueryAnswer.STATUS:
        # Only this row hands the answer to the status table, whose PAID row says SUCCEEDED.
        assert (outcome.kind, outcome.reason) == (
            QueryKind.SUCCEEDED,
            "status PAID means SUCCEEDED (seen)",
        )
        assert outcome.provider_order_id == PAYOUT_NO
    else:
        assert (outcome.kind, outcome.reason) == (_KIND_OF[rule.then], rule.why)
        assert (outcome.provider_order_id, outcome.amount_minor) == (None, None)


@pytest.mark.parametrize("scenario", DEFAULT_SCENARIOS, ids=lambda scenario: scenario.label)
def test_query_default_is_unknown(scenario: Scenario) -> None:
    outcome = _query(scenario.handler, scenario.options)

    assert (outcome.kind, outcome.reason) == (QueryKind.UNKNOWN, QUERY_DEFAULT_WHY)


def test_not_found_codes_are_configurable() -> None:
    options = PgV2Options(not_found_codes=frozenset({"Order.Missing"}))

    custom = _query(answer(_code("Order.Missing")), options)
    former = _query(answer(_code("Payout.Not_Found")), options)

    assert custom.kind is QueryKind.NOT_FOUND
    assert former.kind is QueryKind.UNKNOWN


def test_a_correctly_signed_answer_is_believed_when_signatures_are_required() -> None:
    outcome = _query(signed_answer(_ok(status="PAID")), _REQUIRE)

    assert outcome.kind is QueryKind.SUCCEEDED


# --- the status table ------------------------------------------------------------------------

# Every row of the default table, by the word the provider sends: what it means, and whether that
# meaning is documented (none is: the provider's table is not public).
STATUS_TABLE_ROWS: list[tuple[str, QueryKind, str]] = [
    ("PAID", QueryKind.SUCCEEDED, "seen"),
    ("PROCESSING", QueryKind.PENDING, "seen"),
    ("PENDING", QueryKind.PENDING, "assumed"),
    ("FAILED", QueryKind.FAILED, "assumed"),
    ("REJECTED", QueryKind.FAILED, "assumed"),
    ("CANCELLED", QueryKind.FAILED, "assumed"),
    ("REVERSED", QueryKind.REVERSED, "assumed"),
    ("REFUNDED", QueryKind.REVERSED, "assumed"),
]
# Words that merely contain a table word, or are new: unknown, keep polling, never a failure.
UNKNOWN_STATUSES = [
    "CANCELLING",
    "FAILED_RETRYING",
    "PAY_FAIL",
    "PAID_PARTIALLY",
    "NOT_REJECTED",
    "CREATED",
    "A_STATUS_NEVER_SEEN",
]


def test_the_table_rows_are_the_default_options() -> None:
    table = {word: (meaning.kind, meaning.source) for word, meaning in DEFAULT_STATUS_WORDS.items()}

    assert table == {word: (kind, source) for word, kind, source in STATUS_TABLE_ROWS}


@pytest.mark.parametrize(("word", "kind", "source"), STATUS_TABLE_ROWS)
@pytest.mark.parametrize("sent_as", [str, str.lower, lambda word: f" {word.title()} "])
def test_status_row(word: str, kind: QueryKind, source: str, sent_as: Callable[[str], str]) -> None:
    outcome = _query(answer(_ok(status=sent_as(word))))

    assert (outcome.kind, outcome.reason) == (kind, f"status {word} means {kind} ({source})")
    assert outcome.documented is False


@pytest.mark.parametrize("status", UNKNOWN_STATUSES)
@pytest.mark.parametrize("error_code", [None, "", "Payout.Common.Rejected"])
def test_a_word_outside_the_table_is_unknown_never_failed(
    status: str, error_code: str | None
) -> None:
    outcome = _query(answer(_ok(status=status, errorCode=error_code)))

    assert (outcome.kind, outcome.reason) == (QueryKind.UNKNOWN, STATUS_DEFAULT_WHY)


@pytest.mark.parametrize("status", ["PROCESSING", "PENDING"])
def test_an_error_code_beside_a_pending_status_is_evidence_not_a_verdict(status: str) -> None:
    outcome = _query(answer(_ok(status=status, errorCode="Payout.Bank.Timeout", errorInfo="slow")))

    assert outcome.kind is QueryKind.PENDING
    assert outcome.raw.message == f"status={status}; errorCode=Payout.Bank.Timeout; errorInfo=slow"


def test_the_retired_error_code_option_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="error_code_means_failed"):
        PgV2Options.model_validate({"error_code_means_failed": True})


def test_status_table_is_configurable_in_any_case_and_may_document_a_failure() -> None:
    options = PgV2Options.model_validate(
        {
            "status_words": {
                "success": {"means": "SUCCEEDED", "source": "documented"},
                "Bank_Error": {"means": "FAILED", "source": "documented"},
            }
        }
    )

    paid = _query(answer(_ok(status="Success")), options)
    failed = _query(answer(_ok(status="BANK_ERROR")), options)

    assert (paid.kind, paid.documented) == (QueryKind.SUCCEEDED, True)
    assert (failed.kind, failed.documented) == (QueryKind.FAILED, True)
    assert _query(answer(_ok(status="PAID")), options).kind is QueryKind.UNKNOWN
    assert _query(answer(_ok(status="FAILED")), options).kind is QueryKind.UNKNOWN


def test_status_words_that_collide_ignoring_case_are_refused() -> None:
    meaning = StatusMeaning(means="FAILED", source="assumed")

    with pytest.raises(ValueError, match="distinct ignoring case"):
        PgV2Options(status_words={"failed": meaning, "FAILED": meaning})


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.00", "INR", 100),
        ("100.05", "INR", 10005),
        ("100.5", "INR", 10050),
        ("100", "INR", 10000),
        (" 12.34 ", "BRL", 1234),
        ("123456789012345.67", "INR", 12345678901234567),
        ("100.055", "INR", None),
        ("1e2", "INR", None),
        ("-1.00", "INR", None),
        ("", "INR", None),
        (100.05, "INR", None),
        (100, "INR", None),
        (None, "INR", None),
    ],
)
def test_amount_is_converted_to_minor_units_exactly_or_not_at_all(
    amount: object, currency: str, expected: int | None
) -> None:
    outcome = _query(answer(_ok(status="PAID", amount=amount, currency=currency)))

    assert (outcome.amount_minor, outcome.currency) == (expected, currency)


@pytest.mark.parametrize("currency", [None, "", "XYZ"])
def test_amount_without_a_usable_currency_is_unknown(currency: str | None) -> None:
    outcome = _query(answer(_ok(status="PAID", amount="1.00", currency=currency)))

    assert outcome.amount_minor is None
    assert outcome.kind is QueryKind.SUCCEEDED


def test_query_reports_the_answers_own_currency_not_the_orders() -> None:
    outcome = _query(answer(_ok(status="PAID", amount="1.00", currency="BRL")))

    assert (outcome.amount_minor, outcome.currency) == (100, "BRL")


def test_query_evidence_carries_the_status_fields_even_when_the_excerpt_is_cut() -> None:
    failed = _ok(status="FAILED", errorCode="Payout.Common.Rejected", errorInfo="bank said no")

    outcome = _query(answer(failed))

    raw = outcome.raw
    assert (raw.transport, raw.http_status, raw.code) == ("ok", 200, "OK")
    assert raw.message == "status=FAILED; errorCode=Payout.Common.Rejected; errorInfo=bank said no"
    assert raw.body_excerpt is not None
    assert raw.body_excerpt.startswith('{"code": "OK"')
