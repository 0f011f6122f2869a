"""Both signing implementations (the test side's and the sandbox's own) against the public vector
and against each other."""

from __future__ import annotations

import pytest

from payouts_tools.sandbox.signing import (
    GatewaySignType,
    gateway_sign,
    gateway_sign_string,
    parse_pg_authorization,
    pg_sign,
)
from tests.integration.sandbox.conftest import PgSigning, gw_sign

# providers.md's public test vector: the provider's documented example key and parameters.
VECTOR_KEY = "ThisIsYourSecretKey123"
VECTOR_PARAMS: dict[str, object] = {
    "amount": 50000,
    "notify_url": "https://your-domain.com/callback",
    "payment_cl_id": "DEVPM00014581",
    "platform_id": "PF0002",
    "request_time": 1595504136,
    "service_id": "SVC0001",
}
VECTOR_STRING = (
    "amount=50000&notify_url=https://your-domain.com/callback&payment_cl_id=DEVPM00014581"
    "&platform_id=PF0002&request_time=1595504136&service_id=SVC0001"
)
VECTOR_HMAC = "d8857715eece9c4b52b5e128ba541ee918effdc052c1152f6d1db0be7f1db509"
VECTOR_MD5 = "49be5fa304b5f536c6e2ea89435e211a"


def test_the_public_vector_reproduces_with_the_test_signer() -> None:
    assert gw_sign(VECTOR_PARAMS, VECTOR_KEY, "HMAC-SHA256") == VECTOR_HMAC
    assert gw_sign(VECTOR_PARAMS, VECTOR_KEY, "MD5") == VECTOR_MD5


def test_the_public_vector_reproduces_with_the_sandbox_signer() -> None:
    assert gateway_sign_string(VECTOR_PARAMS) == VECTOR_STRING
    assert gateway_sign(VECTOR_PARAMS, VECTOR_KEY, GatewaySignType.HMAC_SHA256) == VECTOR_HMAC
    assert gateway_sign(VECTOR_PARAMS, VECTOR_KEY, GatewaySignType.MD5) == VECTOR_MD5


def test_sign_fields_and_empty_values_stay_out_and_digit_strings_sign_like_integers() -> None:
    noisy = {
        **VECTOR_PARAMS,
        "amount": "50000",
        "sign": "whatever",
        "sign_type": "HMAC-SHA256",
        "error_msg": "",
        "success_time": None,
    }
    assert gateway_sign_string(noisy) == VECTOR_STRING


@pytest.mark.parametrize("changed", ["app_id", "secret", "method", "url", "timestamp", "nonce"])
def test_the_two_pg_signers_agree_and_every_line_counts(changed: str) -> None:
    signing = PgSigning(
        app_id="test-app-id-not-secret",
        secret="test-app-secret-not-secret",
        method="POST",
        url="http://127.0.0.1:9/pg/v2/payout/create",
        timestamp="1714128828114",
        nonce="C7CA27DC6D55DA935DFC8450C721CC99",
        body=b'{"merchantTradeNo":"MTOU-0211"}',
    )
    sandbox_sign = pg_sign(
        app_id=signing.app_id,
        app_secret=signing.secret,
        method=signing.method,
        url=signing.url,
        timestamp=signing.timestamp,
        nonce=signing.nonce,
        body=signing.body,
    )
    assert sandbox_sign == signing.sign()
    altered = PgSigning(**{**signing.__dict__, changed: getattr(signing, changed) + "x"})
    assert altered.sign() != sandbox_sign


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "V2_SHA256 appId=a,sign=b,timestamp=1714128828114",  # no nonce
        "V2_SHA256 appId=a,sign=b,timestamp=1714128828,nonce=n",  # seconds, not milliseconds
        "V2_SHA256 appId=a;sign=b;timestamp=1714128828114;nonce=n",
    ],
)
def test_malformed_pg_authorization_headers_are_not_parsed(header: str | None) -> None:
    assert parse_pg_authorization(header) is None


def test_a_well_formed_pg_authorization_header_is_parsed() -> None:
    auth = parse_pg_authorization("V2_SHA256 appId=a,sign=b,timestamp=1714128828114,nonce=n")
    assert auth is not None
    assert (auth.app_id, auth.sign, auth.timestamp, auth.nonce) == ("a", "b", "1714128828114", "n")
