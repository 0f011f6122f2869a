"""gateway_v2 signing: the provider's public test vector, and the rules of the string to sign."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from payouts.providers.gateway_v2.signing import (
    CanonicalForm,
    Md5KeyStyle,
    SignType,
    digest,
    render_value,
    sign,
    string_to_sign,
    verify,
)

# The provider's own example string and test key (providers.md, "Public test vector").
VECTOR_KEY = "ThisIsYourSecretKey123"
VECTOR_STRING = (
    "amount=50000&notify_url=https://your-domain.com/callback&payment_cl_id=DEVPM00014581"
    "&platform_id=PF0002&request_time=1595504136&service_id=SVC0001"
)
VECTOR_HMAC = "d8857715eece9c4b52b5e128ba541ee918effdc052c1152f6d1db0be7f1db509"
VECTOR_MD5 = "49be5fa304b5f536c6e2ea89435e211a"
VECTOR_PARAMS: dict[str, object] = {
    "service_id": "SVC0001",
    "platform_id": "PF0002",
    "payment_cl_id": "DEVPM00014581",
    "amount": 50000,
    "notify_url": "https://your-domain.com/callback",
    "request_time": "1595504136",
    "sign_type": "HMAC-SHA256",
    "sign": "whatever-was-there-before",
}
KEY = "test-signing-key-not-secret"


def test_public_vector_string_is_built_from_params() -> None:
    assert string_to_sign(VECTOR_PARAMS) == VECTOR_STRING


def test_public_vector_hmac_sha256() -> None:
    assert digest(VECTOR_STRING, VECTOR_KEY, SignType.HMAC_SHA256) == VECTOR_HMAC
    assert sign(VECTOR_PARAMS, VECTOR_KEY, SignType.HMAC_SHA256) == VECTOR_HMAC


def test_public_vector_md5_uses_ampersand_and_bare_key() -> None:
    # The vector reproduces with "&<key>" appended (the current docs' style), the default.
    assert digest(VECTOR_STRING, VECTOR_KEY, SignType.MD5) == VECTOR_MD5
    assert sign(VECTOR_PARAMS, VECTOR_KEY, SignType.MD5) == VECTOR_MD5


def test_md5_key_equals_variant_appends_key_equals() -> None:
    expected = hashlib.md5(
        (VECTOR_STRING + "&key=" + VECTOR_KEY).encode(), usedforsecurity=False
    ).hexdigest()
    result = digest(VECTOR_STRING, VECTOR_KEY, SignType.MD5, Md5KeyStyle.AMPERSAND_KEY_EQUALS)
    assert result == expected
    assert result != VECTOR_MD5


def test_signatures_are_lowercase_hex_of_the_documented_length() -> None:
    hmac_sign = sign(VECTOR_PARAMS, KEY, SignType.HMAC_SHA256)
    md5_sign = sign(VECTOR_PARAMS, KEY, SignType.MD5)
    assert len(hmac_sign) == 64
    assert len(md5_sign) == 32
    assert hmac_sign == hmac_sign.lower()
    assert md5_sign == md5_sign.lower()


def test_hmac_appends_nothing_to_the_string() -> None:
    expected = hmac.new(KEY.encode(), b"a=1&b=2", hashlib.sha256).hexdigest()
    assert sign({"b": 2, "a": "1"}, KEY, SignType.HMAC_SHA256) == expected


def test_sign_and_sign_type_are_never_signed() -> None:
    assert string_to_sign({"a": "1", "sign": "x", "sign_type": "MD5"}) == "a=1"


def test_empty_values_are_dropped() -> None:
    assert string_to_sign({"a": "1", "b": "", "c": None, "d": 0}) == "a=1&d=0"


def test_keys_sort_by_ascii_not_alphabetically() -> None:
    # ASCII puts upper case and "_" by code point: "B" (66) < "_" (95) < "a" (97).
    assert string_to_sign({"a": "3", "_": "2", "B": "1"}) == "B=1&_=2&a=3"


def test_values_are_not_url_encoded() -> None:
    url = "https://x.test/cb?a=1&b=中"
    assert string_to_sign({"notify_url": url}) == f"notify_url={url}"


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("50000", "50000"),
        (50000, "50000"),
        (True, "true"),
        (False, "false"),
        (Decimal("1.50"), "1.50"),
        ({"b": 1, "a": [1, "x"]}, '{"b":1,"a":[1,"x"]}'),
        (["中"], '["中"]'),
        ([], "[]"),
    ],
)
def test_render_value(value: object, rendered: str) -> None:
    assert render_value(value) == rendered


def test_canonical_form_options_change_nested_rendering() -> None:
    form = CanonicalForm(sort_nested_keys=True, escape_non_ascii=True, drop_empty_containers=True)
    assert render_value({"b": "中", "a": 1}, form) == '{"a":1,"b":"\\u4e2d"}'
    assert render_value([], form) is None
    assert render_value({}, form) is None


def test_nested_decimal_renders_as_a_number() -> None:
    assert render_value({"fee": Decimal("1.5")}) == '{"fee":1.5}'


def test_unsignable_value_is_refused() -> None:
    with pytest.raises(TypeError):
        render_value({"when": object()})


def test_verify_accepts_the_right_signature_in_any_hex_case() -> None:
    params = {"payout_cl_id": "PO-1", "status": 3}
    signature = sign(params, KEY, SignType.HMAC_SHA256)
    assert verify(params, signature, KEY, SignType.HMAC_SHA256)
    assert verify(params, signature.upper(), KEY, SignType.HMAC_SHA256)


@pytest.mark.parametrize(
    ("params", "key", "sign_type"),
    [
        ({"payout_cl_id": "PO-1", "status": 4}, KEY, SignType.HMAC_SHA256),  # tampered
        ({"payout_cl_id": "PO-1", "status": 3, "extra": "x"}, KEY, SignType.HMAC_SHA256),
        ({"payout_cl_id": "PO-1", "status": 3}, "another-test-key", SignType.HMAC_SHA256),
        ({"payout_cl_id": "PO-1", "status": 3}, KEY, SignType.MD5),  # wrong algorithm
    ],
)
def test_verify_refuses_anything_else(
    params: dict[str, object], key: str, sign_type: SignType
) -> None:
    signature = sign({"payout_cl_id": "PO-1", "status": 3}, KEY, SignType.HMAC_SHA256)
    assert not verify(params, signature, key, sign_type)


def test_verify_refuses_a_non_hex_signature() -> None:
    assert not verify({"a": "1"}, "ünicode", KEY, SignType.HMAC_SHA256)
