"""The callback use case's pure parts: the envelope checks and their order, the replay window,
the evidence a callback leaves (digest, IP, redacted fields, never a signature)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payouts.providers.base import (
    Ack,
    BalanceEntry,
    CallbackEvent,
    CallbackMalformed,
    CallbackRejected,
    QueryKind,
    QueryOutcome,
)
from payouts.services.callbacks import (
    MAX_EVIDENCE_FIELDS_CHARS,
    BodyTooLarge,
    CallbackPolicy,
    CallbackRequest,
    ReplayRejected,
    UnsupportedContentType,
    callback_evidence,
    check_envelope,
    media_type_of,
    redact,
    stated_mismatch,
    verdict_from_callback,
    verify,
)
from payouts.services.settlement import Verdict
from payouts.settings import load
from payouts.settings.callbacks import CallbackSettings
from tests.support.orders import make_order

NOW = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
POLICY = CallbackPolicy(
    max_body_bytes=100,
    content_types=frozenset({"application/json"}),
    replay_tolerance=timedelta(minutes=5),
    confirm_by_query=frozenset(),
    confirm_timeout_seconds=5.0,
)
JSON = {"Content-Type": "application/json"}


def _request(body: bytes = b'{"a":1}', headers: Mapping[str, str] = JSON) -> CallbackRequest:
    return CallbackRequest("gateway_v2", body, headers, source_ip="198.51.100.7")


EVENT = CallbackEvent(
    provider="gateway_v2",
    merchant_order_id="PO-1",
    kind=QueryKind.SUCCEEDED,
    trusted=True,
    fields={"payout_cl_id": "PO-1", "amount": 50000},
    provider_order_id="POT1",
    amount_minor=50000,
    currency="CNY",
)


def _event(**changes: Any) -> CallbackEvent:
    return replace(EVENT, **changes)


class StubProvider:
    """A provider whose verification returns (or raises) what it is told."""

    name = "gateway_v2"

    def __init__(self, result: CallbackEvent | Exception) -> None:
        self.result = result
        self.verified: list[bytes] = []

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        self.verified.append(raw_body)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    async def create(self, order: object) -> object:
        raise AssertionError("a callback never creates")

    async def query(self, order: object) -> QueryOutcome:
        raise AssertionError("not queried here")

    def ack(self) -> Ack:
        return Ack(200, '{"error_code":"0000"}')

    async def balance(self) -> list[BalanceEntry]:
        raise AssertionError("not asked")


# ---- envelope ------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_anything_else() -> None:
    # Also the wrong media type and not JSON: size is checked first, before any parsing.
    request = _request(b"x" * 101, {"Content-Type": "text/html"})

    with pytest.raises(BodyTooLarge, match="101 bytes; the limit is 100"):
        check_envelope(request, POLICY)


def test_a_body_at_the_limit_passes() -> None:
    check_envelope(_request(b"{" + b" " * 98 + b"}"), POLICY)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json;charset=utf-8",
        " application/json ; charset=UTF-8",
    ],
)
def test_json_with_any_parameters_or_case_is_accepted(content_type: str) -> None:
    check_envelope(_request(headers={"content-TYPE": content_type}), POLICY)


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Content-Type": "text/plain"}, "text/plain"),
        ({}, "(none)"),
        ({"Content-Type": ""}, "(none)"),
    ],
)
def test_another_or_no_media_type_is_415(headers: dict[str, str], named: str) -> None:
    with pytest.raises(UnsupportedContentType, match=named):
        check_envelope(_request(headers=headers), POLICY)


@pytest.mark.parametrize("body", [b"", b" \r\n\t "])
def test_an_empty_body_is_malformed(body: bytes) -> None:
    with pytest.raises(CallbackMalformed, match="empty"):
        check_envelope(_request(body), POLICY)


def test_media_type_drops_parameters() -> None:
    assert media_type_of("application/json; charset=utf-8") == "application/json"
    assert media_type_of(None) == ""


def test_headers_are_read_whatever_their_case() -> None:
    request = _request(headers={"AUTHORIZATION": "V2_SHA256 x"})

    assert request.header("authorization") == "V2_SHA256 x"
    assert request.header("content-type") is None


# ---- verification and the replay window ------------------------------------------------------


def test_the_adapter_verifies_the_exact_raw_bytes() -> None:
    provider = StubProvider(_event())
    body = b'{"b": 2,   "a": 1}'

    event = verify(provider, _request(body), POLICY, NOW)

    assert provider.verified == [body]
    assert event.merchant_order_id == "PO-1"


@pytest.mark.parametrize(
    "error", [CallbackRejected("sign does not verify"), CallbackMalformed("x")]
)
def test_the_adapters_refusal_passes_through(error: Exception) -> None:
    with pytest.raises(type(error)):
        verify(StubProvider(error), _request(), POLICY, NOW)


def test_a_recursion_error_while_reading_is_a_malformed_callback_not_a_500() -> None:
    # Belt and braces: the adapters bound the depth they parse; whatever still recurses too deep
    # is the sender's fault (400), not ours (500, which the provider would retry for an hour).
    provider = StubProvider(RecursionError("maximum recursion depth exceeded"))

    with pytest.raises(CallbackMalformed, match="nested too deeply"):
        verify(provider, _request(), POLICY, NOW)


@pytest.mark.parametrize(
    ("signed_at", "refused"),
    [
        (NOW - timedelta(minutes=5), False),
        (NOW - timedelta(minutes=5, seconds=1), True),
        (NOW + timedelta(minutes=5), False),
        (NOW + timedelta(minutes=5, seconds=1), True),
        (NOW - timedelta(days=30), True),
        (None, False),
    ],
)
def test_a_signed_time_outside_the_window_is_a_replay(
    signed_at: datetime | None, refused: bool
) -> None:
    provider = StubProvider(_event(signed_at=signed_at))

    if refused:
        with pytest.raises(ReplayRejected, match="window"):
            verify(provider, _request(), POLICY, NOW)
    else:
        assert verify(provider, _request(), POLICY, NOW).signed_at == signed_at


def test_a_replay_is_a_signature_refusal() -> None:
    # So the endpoint maps it to 401 with every other signature refusal.
    assert issubclass(ReplayRejected, CallbackRejected)


# ---- evidence ------------------------------------------------------------------------------------


def test_callback_evidence_holds_the_digest_ip_and_report_but_no_signature() -> None:
    body = b'{"payout_cl_id":"PO-1","sign":"abc","alipay_account_name":"test_name"}'
    event = _event(
        fields={"payout_cl_id": "PO-1", "sign": "abc", "alipay_account_name": "test_name"},
        signed_at=NOW,
    )

    evidence = callback_evidence(_request(body), event, "merchant_order_id", NOW)

    detail = evidence.detail
    assert detail["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert detail["source_ip"] == "198.51.100.7"
    assert detail["signed_at"] == NOW.isoformat()
    assert detail["fields"] == {"payout_cl_id": "PO-1", "alipay_account_name": "**********me"}
    assert detail["reported"] == {
        "kind": "SUCCEEDED",
        "merchant_order_id": "PO-1",
        "amount_minor": 50000,
        "currency": "CNY",
    }
    assert "abc" not in json.dumps(detail)
    assert evidence.at == NOW


def test_nested_beneficiary_fields_are_masked_and_signatures_dropped() -> None:
    document = {
        "code": "OK",
        "data": {
            "payoutMethod": {"type": "UPI", "vpa": "payee@okbank", "payeeName": "Test Payee"},
            "items": [{"accountNo": "001234567890", "Signature": "deadbeef"}],
        },
    }

    redacted = redact(document)

    assert redacted == {
        "code": "OK",
        "data": {
            "payoutMethod": {"type": "UPI", "vpa": "**********nk", "payeeName": "**********ee"},
            "items": [{"accountNo": "**********90"}],
        },
    }


def test_callback_evidence_masks_beneficiary_values_under_any_field_name() -> None:
    # Fields no list of names foresees: renamed, nested, as JSON inside a string.
    event = _event(
        fields={
            "payout_cl_id": "PO-1",
            "Beneficiary": {"acct": "001234567890", "holder": "Ravi Kumar"},
            "extra": json.dumps({"upi": "ravi@okhdfc"}),
            "real_amount": 50000,
        },
    )

    detail = callback_evidence(_request(), event, "merchant_order_id", NOW).detail

    text = json.dumps(detail)
    for secret in ("001234567890", "Ravi Kumar", "ravi@okhdfc"):
        assert secret not in text
    fields = detail["fields"]
    assert isinstance(fields, dict)
    assert fields["payout_cl_id"] == "PO-1"
    assert fields["real_amount"] == 50000


def test_huge_fields_are_kept_as_an_excerpt() -> None:
    # Masked values are at most 64 characters: only many of them make fields this large.
    event = _event(fields={f"note{n}": "x" * 100 for n in range(MAX_EVIDENCE_FIELDS_CHARS // 50)})

    detail = callback_evidence(_request(), event, "merchant_order_id", NOW).detail

    assert "fields" not in detail
    excerpt = detail["fields_excerpt"]
    assert isinstance(excerpt, str)
    assert len(excerpt) == MAX_EVIDENCE_FIELDS_CHARS


# ---- verdicts ------------------------------------------------------------------------------------


def test_a_trusted_callback_becomes_a_callback_verdict() -> None:
    verdict = verdict_from_callback(_event())

    assert verdict == Verdict(
        kind=QueryKind.SUCCEEDED,
        source="callback",
        reason="gateway_v2 callback: SUCCEEDED",
        provider="gateway_v2",
        provider_order_id="POT1",
        amount_minor=50000,
        currency="CNY",
    )


@pytest.mark.parametrize(
    ("amount", "currency", "mismatched"),
    [(50000, "CNY", False), (49999, "CNY", True), (50000, "INR", True), (None, None, False)],
)
def test_only_a_stated_amount_or_currency_can_mismatch(
    amount: int | None, currency: str | None, mismatched: bool
) -> None:
    order = make_order("PO-1", "ALIPAY", 50000)
    verdict = Verdict(QueryKind.SUCCEEDED, "callback", "r", amount_minor=amount, currency=currency)

    assert (stated_mismatch(order, verdict) is not None) is mismatched


def test_the_policy_follows_the_settings() -> None:
    settings = load(
        CallbackSettings,
        {
            "ORDERS_TABLE": "orders",
            "CALLBACK_BASE_URL": "https://example.invalid/dev",
            "REPLAY_TOLERANCE_SECONDS": "60",
            "CALLBACK_CONFIRM_BY_QUERY": '["gateway_v2"]',
            "CALLBACK_QUERY_WINDOW_SECONDS": "5",
        },
    )

    policy = CallbackPolicy.from_settings(settings)

    assert policy.replay_tolerance == timedelta(seconds=60)
    assert policy.query_window == timedelta(seconds=5)
    assert policy.max_body_bytes == 64 * 1024
    assert policy.confirm_by_query == {"gateway_v2"}
    assert policy.content_types == {"application/json"}
