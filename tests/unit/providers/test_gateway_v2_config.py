"""gateway_v2 credentials and options: secrets never print, assumptions have safe defaults."""

from __future__ import annotations

import json

import pydantic
import pytest

from payouts.providers.base import PayoutProvider
from payouts.providers.gateway_v2 import (
    AnswerSignaturePolicy,
    GatewayV2Credentials,
    GatewayV2Options,
    Md5KeyStyle,
    SignType,
)
from tests.unit.providers.test_gateway_v2_support import offline_adapter

SECRET = {
    "platform_id": "PF0002",
    "platform_key": "test-signing-key-not-secret",
    "query_token": "test-query-token-not-secret",
}


def test_credentials_parse_from_the_secret_string() -> None:
    credentials = GatewayV2Credentials.from_secret_string(json.dumps(SECRET))
    assert credentials.platform_id == "PF0002"
    assert credentials.platform_key.get_secret_value() == SECRET["platform_key"]
    assert credentials.query_token.get_secret_value() == SECRET["query_token"]


def test_credentials_never_print_their_secrets() -> None:
    credentials = GatewayV2Credentials.from_secret_string(json.dumps(SECRET))
    for text in (repr(credentials), str(credentials), credentials.model_dump_json()):
        assert SECRET["platform_key"] not in text
        assert SECRET["query_token"] not in text


@pytest.mark.parametrize(
    "secret",
    [
        {**SECRET, "platform_key": "  "},
        {**SECRET, "platform_id": ""},
        {key: value for key, value in SECRET.items() if key != "query_token"},
        {**SECRET, "platfrom_key": "typo"},
    ],
    ids=["blank-key", "blank-platform", "missing-token", "unknown-key"],
)
def test_bad_secrets_are_refused(secret: dict[str, str]) -> None:
    with pytest.raises(pydantic.ValidationError):
        GatewayV2Credentials.from_secret_string(json.dumps(secret))


def test_option_defaults_are_the_safe_ones() -> None:
    options = GatewayV2Options()
    assert options.service_ids == {"ALIPAY": "SVC0033"}
    assert options.currency == "CNY"
    assert options.sign_type is SignType.HMAC_SHA256
    assert options.md5_key_style is Md5KeyStyle.AMPERSAND
    assert options.callback_default_sign_type is SignType.MD5
    assert options.callback_sign_types() == frozenset({SignType.HMAC_SHA256})
    assert options.query_sign_types() == frozenset({SignType.HMAC_SHA256})
    assert options.query_unnamed_sign_type() is SignType.HMAC_SHA256
    assert options.query_signature is AnswerSignaturePolicy.VERIFY_IF_PRESENT


def test_accepted_sign_types_follow_the_configured_one_unless_given() -> None:
    md5 = GatewayV2Options(sign_type=SignType.MD5)
    assert md5.callback_sign_types() == frozenset({SignType.MD5})
    assert md5.query_unnamed_sign_type() is SignType.MD5
    explicit = GatewayV2Options(
        accepted_callback_sign_types=frozenset({SignType.MD5}),
        accepted_query_sign_types=frozenset({SignType.MD5}),
        query_default_sign_type=SignType.MD5,
    )
    assert explicit.callback_sign_types() == frozenset({SignType.MD5})
    assert explicit.query_sign_types() == frozenset({SignType.MD5})
    assert explicit.query_unnamed_sign_type() is SignType.MD5


def test_options_are_frozen_and_strict() -> None:
    with pytest.raises(pydantic.ValidationError):
        GatewayV2Options.model_validate({"sign_typ": "MD5"})
    with pytest.raises(pydantic.ValidationError):
        GatewayV2Options().currency = "USD"  # type: ignore[misc]


def test_adapter_implements_the_provider_port() -> None:
    adapter: PayoutProvider = offline_adapter()  # checked structurally by mypy, too
    assert isinstance(adapter, PayoutProvider)
    assert adapter.name == "gateway_v2"
