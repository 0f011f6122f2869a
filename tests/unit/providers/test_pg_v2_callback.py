"""pg_v2 callbacks (verified before parsing, trust, replay timestamp) and the acknowledgement."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from payouts.providers.base import Ack, CallbackMalformed, CallbackRejected, QueryKind
from payouts.providers.pg_v2 import PgV2Options
from tests.unit.providers.test_pg_v2_support import (
    ANSWER_NONCE,
    ANSWER_TIMESTAMP_MS,
    APP_SECRET,
    NOTIFY_URL,
    authorization,
    independent_sign,
    offline_adapter,
)

PAYOUT_NO = "20240426192048100800062197000010"


def _body(**changes: object) -> bytes:
    data: dict[str, object] = {
        "payoutNo": PAYOUT_NO,
        "merchantTradeNo": "MTOU-0211",
        "amount": "1.00",
        "currency": "INR",
        "status": "PAID",
        "errorCode": None,
    }
    data.update(changes)
    return json.dumps({"code": "OK", "data": data}).encode()


def _signed(
    body: bytes, *, url: str = NOTIFY_URL, secret: str = APP_SECRET, header: str = "Authorization"
) -> dict[str, str]:
    signature = independent_sign(
        "POST", url, ANSWER_TIMESTAMP_MS, ANSWER_NONCE, body, secret=secret
    )
    return {header: authorization(signature), "Content-Type": "application/json"}


def test_a_valid_signed_callback_is_parsed_but_not_trusted_by_default() -> None:
    body = _body()

    event = offline_adapter().verify_callback(_signed(body), body)

    assert event.provider == "pg_v2"
    assert event.merchant_order_id == "MTOU-0211"
    assert event.provider_order_id == PAYOUT_NO
    assert event.kind is QueryKind.SUCCEEDED
    assert (event.amount_minor, event.currency) == (100, "INR")
    assert event.signed_at == datetime(2024, 4, 26, 10, 44, 5, 401_000, tzinfo=UTC)
    assert event.trusted is False
    assert event.fields == json.loads(body)


def test_a_valid_signed_callback_is_trusted_only_when_the_option_says_so() -> None:
    body = _body()

    event = offline_adapter(PgV2Options(trust_signed_callbacks=True)).verify_callback(
        _signed(body), body
    )

    assert event.trusted is True


def test_an_unsigned_callback_is_allowed_untrusted_without_a_timestamp() -> None:
    body = _body()
    adapter = offline_adapter(PgV2Options(trust_signed_callbacks=True))

    event = adapter.verify_callback({"Content-Type": "application/json"}, body)

    assert (event.trusted, event.signed_at, event.kind) == (False, None, QueryKind.SUCCEEDED)


def test_an_unsigned_callback_is_rejected_when_signatures_are_required() -> None:
    body = _body()
    adapter = offline_adapter(PgV2Options(callback_signature="require"))

    with pytest.raises(CallbackRejected):
        adapter.verify_callback({}, body)


@pytest.mark.parametrize("header", ["authorization", "AUTHORIZATION", "Authorization"])
def test_the_signature_header_is_found_in_any_case(header: str) -> None:
    body = _body()

    event = offline_adapter().verify_callback(_signed(body, header=header), body)

    assert event.signed_at is not None


def test_a_tampered_field_is_rejected() -> None:
    body = _body()
    tampered = _body(amount="100.00")

    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback(_signed(body), tampered)


def test_an_unknown_field_added_by_the_provider_still_verifies() -> None:
    body = _body(settlementBatch="B-77")

    event = offline_adapter().verify_callback(_signed(body), body)

    assert event.fields["data"] == json.loads(body)["data"]
    assert event.kind is QueryKind.SUCCEEDED


def test_an_unknown_field_added_after_signing_is_rejected() -> None:
    body = _body()

    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback(_signed(body), _body(settlementBatch="B-77"))


def test_a_wrong_key_is_rejected() -> None:
    body = _body()

    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback(_signed(body, secret="another-key-not-secret"), body)


@pytest.mark.parametrize(
    "header",
    [
        "V2_SHA256 appId=1111b620f93b48c5904210ff47bb1111,sign=abc",
        "Bearer something",
        "",
    ],
)
def test_a_malformed_signature_header_is_rejected(header: str) -> None:
    body = _body()

    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback({"Authorization": header}, body)


def test_a_signature_for_another_url_line_is_rejected_unless_configured() -> None:
    body = _body()
    path_signed = _signed(body, url="/subscribe/payout/notify")

    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback(path_signed, body)
    event = offline_adapter(PgV2Options(signed_url="path")).verify_callback(path_signed, body)

    assert event.signed_at is not None


def test_the_signature_is_checked_before_the_body_is_parsed() -> None:
    body = b"not json"

    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback(_signed(b"something else"), body)
    with pytest.raises(CallbackMalformed):
        offline_adapter().verify_callback(_signed(body), body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"code": "OK"}',
        b'{"code": "OK", "data": "PAID"}',
        b'{"code": "OK", "data": {"payoutNo": "P-1", "status": "PAID"}}',
        b'{"code": "OK", "data": {"merchantTradeNo": "  ", "status": "PAID"}}',
    ],
)
def test_a_malformed_callback_is_refused(body: bytes) -> None:
    with pytest.raises(CallbackMalformed):
        offline_adapter().verify_callback({}, body)


@pytest.mark.parametrize(
    ("status", "error_code", "kind"),
    [
        ("PAID", None, QueryKind.SUCCEEDED),
        ("FAILED", "Payout.Common.Rejected", QueryKind.FAILED),
        # An errorCode beside a pending status is evidence, not a verdict.
        ("PROCESSING", "Payout.Common.Rejected", QueryKind.PENDING),
        ("REVERSED", None, QueryKind.REVERSED),
        ("PROCESSING", None, QueryKind.PENDING),
        ("SOMETHING_NEW", None, QueryKind.UNKNOWN),
        ("CANCELLING", None, QueryKind.UNKNOWN),
        (None, None, QueryKind.UNKNOWN),
    ],
)
def test_callback_status_uses_the_status_table(
    status: str | None, error_code: str | None, kind: QueryKind
) -> None:
    body = _body(status=status, errorCode=error_code)

    assert offline_adapter().verify_callback(_signed(body), body).kind is kind


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("250.50", "INR", 25050), ("12.34", "BRL", 1234), ("1.001", "INR", None), (1, "INR", None)],
)
def test_callback_amount_is_exact_or_none(
    amount: object, currency: str, expected: int | None
) -> None:
    body = _body(amount=amount, currency=currency)

    event = offline_adapter().verify_callback({}, body)

    assert (event.amount_minor, event.currency) == (expected, currency)


def test_ack_is_exactly_code_ok() -> None:
    assert offline_adapter().ack() == Ack(
        status_code=200, body='{"code":"OK"}', content_type="application/json"
    )


# ---- issue 10: bad input found by fuzzing --------------------------------------------------------


def test_a_signed_callback_with_a_duplicate_key_is_malformed_never_one_copy_picked() -> None:
    twice = b'"merchantTradeNo": "PO-OTHER", "merchantTradeNo"'
    body = _body().replace(b'"merchantTradeNo"', twice)

    with pytest.raises(CallbackMalformed, match="duplicate key"):
        offline_adapter().verify_callback(_signed(body), body)
    with pytest.raises(CallbackMalformed, match="duplicate key"):
        offline_adapter().verify_callback({"Content-Type": "application/json"}, body)


def test_a_deeply_nested_callback_is_malformed_not_a_recursion_error() -> None:
    body = _body()[:-1] + b', "extendInfo": ' + b"[" * 1100 + b"]" * 1100 + b"}"

    with pytest.raises(CallbackMalformed, match="nested deeper than"):
        offline_adapter().verify_callback({"Content-Type": "application/json"}, body)
