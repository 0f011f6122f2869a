"""gateway_v2 callbacks: verification over every received field, parsing, and the ack."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from payouts.providers.base import CallbackMalformed, CallbackRejected, QueryKind
from payouts.providers.gateway_v2 import GatewayV2Options, Md5KeyStyle, SignType
from payouts.providers.gateway_v2.signing import string_to_sign
from tests.unit.providers.test_gateway_v2_support import (
    EXAMPLE_PAYOUT_ID,
    PLATFORM_ID,
    SIGNING_KEY,
    offline_adapter,
    signed,
)

HEADERS = {"content-type": "application/json"}


def callback_fields(**overrides: object) -> dict[str, object]:
    """A documented callback's fields, before signing."""
    fields: dict[str, object] = {
        "payout_id": "POT00000001",
        "payout_cl_id": EXAMPLE_PAYOUT_ID,
        "platform_id": PLATFORM_ID,
        "amount": 50000,
        "fee": 300,
        "status": 3,
        "real_amount": 50000,
        "create_time": 1595504997,
        "update_time": 1595505100,
    }
    fields.update(overrides)
    return fields


def body(fields: dict[str, object]) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


def verify_callback(raw: bytes, options: GatewayV2Options | None = None) -> object:
    return offline_adapter(options=options).verify_callback(HEADERS, raw)


def test_valid_callback_is_trusted_and_read() -> None:
    # Signed here independently of the adapter's signing code, over the documented fields.
    string_to_sign = (
        "amount=50000&create_time=1595504997&fee=300&payout_cl_id=DEVPOT00143538"
        "&payout_id=POT00000001&platform_id=PF0002&real_amount=50000&status=3"
        "&update_time=1595505100"
    )
    fields = callback_fields()
    fields["sign_type"] = "HMAC-SHA256"
    fields["sign"] = hmac.new(
        SIGNING_KEY.encode(), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()

    event = offline_adapter().verify_callback(HEADERS, body(fields))

    assert event.provider == "gateway_v2"
    assert event.merchant_order_id == EXAMPLE_PAYOUT_ID
    assert event.provider_order_id == "POT00000001"
    assert event.kind is QueryKind.SUCCEEDED
    assert event.trusted is True
    assert event.amount_minor == 50000
    assert event.currency == "CNY"
    # Retries of the same signed body come for an hour: no replay window from update_time.
    assert event.signed_at is None


def test_evidence_fields_keep_everything_but_the_signature() -> None:
    fields = signed(callback_fields(alipay_account_name="test_name"))
    event = offline_adapter().verify_callback(HEADERS, body(fields))
    assert "sign" not in event.fields
    assert event.fields["sign_type"] == "HMAC-SHA256"
    assert event.fields["update_time"] == 1595505100
    assert event.fields["alipay_account_name"] == "**********me"


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", 4), ("amount", 1), ("payout_cl_id", "PO-OTHER"), ("fee", 0)],
)
def test_tampered_field_is_rejected(field: str, value: object) -> None:
    fields = signed(callback_fields())
    fields[field] = value
    with pytest.raises(CallbackRejected, match="does not verify"):
        verify_callback(body(fields))


def test_new_field_signed_by_the_provider_verifies() -> None:
    fields = signed(callback_fields(settlement_batch="B-7", tags=["a", "b"]))
    event = offline_adapter().verify_callback(HEADERS, body(fields))
    assert event.fields["settlement_batch"] == "B-7"


def test_new_field_added_after_signing_is_rejected() -> None:
    fields = signed(callback_fields())
    fields["bonus"] = "1"
    with pytest.raises(CallbackRejected):
        verify_callback(body(fields))


def test_wrong_key_is_rejected() -> None:
    fields = signed(callback_fields(), key="another-test-key-not-secret")
    with pytest.raises(CallbackRejected):
        verify_callback(body(fields))


@pytest.mark.parametrize("sign", [None, "", 12345])
def test_missing_or_blank_sign_is_rejected(sign: object) -> None:
    fields = signed(callback_fields())
    if sign is None:
        del fields["sign"]
    else:
        fields["sign"] = sign
    with pytest.raises(CallbackRejected, match="no sign"):
        verify_callback(body(fields))


def test_uppercase_hex_signature_verifies() -> None:
    fields = signed(callback_fields())
    fields["sign"] = str(fields["sign"]).upper()
    assert offline_adapter().verify_callback(HEADERS, body(fields)).kind is QueryKind.SUCCEEDED


def test_absent_sign_type_means_md5_which_is_refused_by_default() -> None:
    fields = signed(callback_fields(), sign_type=None)
    with pytest.raises(CallbackRejected, match="MD5 is not accepted"):
        verify_callback(body(fields))


def test_md5_callback_verifies_when_md5_is_accepted() -> None:
    options = GatewayV2Options(
        accepted_callback_sign_types=frozenset({SignType.MD5, SignType.HMAC_SHA256})
    )
    unnamed = signed(callback_fields(), sign_type=None)
    named = signed(callback_fields(), sign_type=SignType.MD5)
    assert verify_callback(body(unnamed), options) is not None
    assert verify_callback(body(named), options) is not None


def test_md5_account_accepts_md5_callbacks_by_default() -> None:
    options = GatewayV2Options(sign_type=SignType.MD5)
    assert verify_callback(body(signed(callback_fields(), sign_type=None)), options) is not None
    with pytest.raises(CallbackRejected, match="HMAC-SHA256 is not accepted"):
        verify_callback(body(signed(callback_fields())), options)


def test_callback_signed_with_the_key_equals_md5_variant_needs_that_option() -> None:
    fields = callback_fields()
    suffix = "&key=" + SIGNING_KEY
    fields["sign"] = hashlib.md5(
        (string_to_sign(fields) + suffix).encode(), usedforsecurity=False
    ).hexdigest()
    md5 = frozenset({SignType.MD5})
    with pytest.raises(CallbackRejected):
        verify_callback(body(fields), GatewayV2Options(accepted_callback_sign_types=md5))
    key_equals = GatewayV2Options(
        accepted_callback_sign_types=md5, md5_key_style=Md5KeyStyle.AMPERSAND_KEY_EQUALS
    )
    assert verify_callback(body(fields), key_equals) is not None


@pytest.mark.parametrize("sign_type", ["SHA1", "RSA", 256])
def test_unknown_sign_type_is_rejected(sign_type: object) -> None:
    fields = signed(callback_fields())
    fields["sign_type"] = sign_type
    with pytest.raises(CallbackRejected, match="not recognised"):
        verify_callback(body(fields))


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b'{"amount": NaN}'],
    ids=["empty", "text", "array", "string", "bad-utf8", "nan"],
)
def test_unreadable_body_is_malformed(raw: bytes) -> None:
    with pytest.raises(CallbackMalformed):
        verify_callback(raw)


@pytest.mark.parametrize("payout_cl_id", [None, "", 42])
def test_signed_callback_without_merchant_order_id_is_malformed(payout_cl_id: object) -> None:
    fields = callback_fields(payout_cl_id=payout_cl_id)
    if payout_cl_id is None:
        del fields["payout_cl_id"]
    with pytest.raises(CallbackMalformed, match="payout_cl_id"):
        verify_callback(body(signed(fields)))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (1, QueryKind.PENDING),
        (2, QueryKind.PENDING),
        (3, QueryKind.SUCCEEDED),
        ("3", QueryKind.SUCCEEDED),
        (4, QueryKind.FAILED),
        (5, QueryKind.FAILED),
        (9, QueryKind.UNKNOWN),
        (None, QueryKind.UNKNOWN),
    ],
)
def test_callback_status_mapping(status: object, kind: QueryKind) -> None:
    fields = signed(callback_fields(status=status))
    assert offline_adapter().verify_callback(HEADERS, body(fields)).kind is kind


# A decimal amount ("500.00") is malformed (test_every_signed_field_must_have_its_documented_shape).
@pytest.mark.parametrize(("amount", "minor"), [("50000", 50000), (50000, 50000), (None, None)])
def test_callback_amount(amount: object, minor: int | None) -> None:
    fields = signed(callback_fields(amount=amount))
    assert offline_adapter().verify_callback(HEADERS, body(fields)).amount_minor == minor


def test_callback_amount_field_is_an_option() -> None:
    fields = signed(callback_fields(amount=50000, real_amount=49700))
    options = GatewayV2Options(callback_amount_field="real_amount")
    event = offline_adapter(options=options).verify_callback(HEADERS, body(fields))
    assert event.amount_minor == 49700


def test_ack_is_exactly_what_stops_the_retries() -> None:
    ack = offline_adapter().ack()
    assert ack.status_code == 200
    assert ack.body == '{"error_code":"0000"}'
    assert ack.content_type == "application/json"


# ---- issue 10: bad input found by fuzzing --------------------------------------------------------


def test_a_signed_callback_with_a_duplicate_key_is_malformed_whichever_copy_was_signed() -> None:
    fields = signed(callback_fields())
    text = body(fields).decode()
    # The signed amount comes last, so a last-wins reader verifies it; a first-wins one reads 1.
    first_wins = text.replace('{"payout_id"', '{"amount": 1, "payout_id"', 1)
    payout_twice = text.replace('"payout_id"', '"payout_cl_id": "PO-OTHER", "payout_id"', 1)
    for raw in (first_wins, payout_twice):
        with pytest.raises(CallbackMalformed, match="duplicate key"):
            verify_callback(raw.encode())


def test_a_deeply_nested_callback_is_malformed_not_a_recursion_error() -> None:
    fields = callback_fields()
    deep = body(signed(fields)).decode()[:-1] + ', "extra": ' + "[" * 1100 + "]" * 1100 + "}"
    with pytest.raises(CallbackMalformed, match="nested deeper than"):
        verify_callback(deep.encode())


def _regrouped(fields: dict[str, object], into: str, taken: str) -> bytes:
    """A genuinely signed body whose field ``taken`` is folded into ``into`` as ``&taken=...``:
    the string to sign (``k=v`` joined by ``&``, unescaped) is byte for byte the same."""
    regrouped = dict(fields)
    regrouped[into] = f"{regrouped[into]}&{taken}={regrouped.pop(taken)}"
    return body(regrouped)


@pytest.mark.parametrize(
    ("into", "taken"),
    [("amount", "create_time"), ("create_time", "fee"), ("payout_cl_id", "payout_id")],
)
def test_a_regrouped_genuine_callback_verifies_the_same_but_is_malformed(
    into: str, taken: str
) -> None:
    fields = signed(callback_fields(amount="206424", create_time="1595504997"))
    regrouped = _regrouped(fields, into, taken)
    # The ambiguity this guards against: the regrouped fields sign exactly like the genuine ones.
    assert string_to_sign(json.loads(regrouped)) == string_to_sign(fields)

    with pytest.raises(CallbackMalformed, match=f"callback field {into}"):
        verify_callback(regrouped)


def test_a_key_holding_a_separator_is_malformed() -> None:
    fields = signed(callback_fields())
    fields["amount=50000&create_time"] = fields.pop("create_time")
    del fields["amount"]

    with pytest.raises(CallbackMalformed, match="field name"):
        verify_callback(body(fields))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "500.00"),
        ("amount", -1),
        ("amount", True),
        ("amount", "0050"),
        ("amount", 12345678901),
        ("real_amount", "1e3"),
        ("status", "SUCCESS"),
        ("status", 3.0),
        ("status", [3]),
        ("fee", "-3"),
        ("payout_id", "POT 1"),
        ("payout_cl_id", "PO-1=2"),
        ("platform_id", {"id": "PF0002"}),
        ("update_time", "tomorrow"),
        ("error_msg", "a&b"),
        ("settlement_batch", "B-7&status=3"),
    ],
)
def test_every_signed_field_must_have_its_documented_shape(field: str, value: object) -> None:
    # Signed correctly, so only the shape can refuse it.
    fields = signed(callback_fields(**{field: value}))
    with pytest.raises(CallbackMalformed, match=f"callback field {field}"):
        verify_callback(body(fields))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "50000"),
        ("fee", "3.10"),
        ("status", "3"),
        ("update_time", "2020-07-23 12:00:00"),
        ("error_msg", "余额不足 (code=51)"),
        ("error_msg", None),
        ("settlement_batch", {"id": "B-7", "tags": ["a"]}),
    ],
)
def test_documented_variants_keep_verifying(field: str, value: object) -> None:
    fields = signed(callback_fields(**{field: value}))
    assert verify_callback(body(fields)) is not None
