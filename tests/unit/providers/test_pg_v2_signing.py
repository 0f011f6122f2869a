"""pg_v2 signing: the seven-line SHA-256, the Authorization header, and their verification."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from payouts.providers.pg_v2.signing import (
    Credential,
    SignatureFormatError,
    authorization_header,
    from_unix_millis,
    new_nonce,
    parse_authorization,
    sign,
    signed_url,
    string_to_sign,
    unix_millis,
    verify,
)
from tests.unit.providers.test_pg_v2_support import (
    APP_ID,
    APP_SECRET,
    SEED_NONCE,
    SEED_TIMESTAMP_MS,
)

URL = "https://pg.example.test/pg/v2/payout/create"
BODY = b'{"merchantTradeNo":"MTOU-0211","amount":"1.00"}'
# The seed's header, verbatim: its format is what ours must match (its sign needs the real secret).
SEED_HEADER = (
    "V2_SHA256 appId=1111b620f93b48c5904210ff47bb1111,"
    "sign=9e494e8a91bcdd08f18ad5b2cfdbfd5654f5c00c89f8216eebd7c1637b6ce01b,"
    "timestamp=1714128828114,nonce=C7CA27DC6D55DA935DFC8450C721CC99"
)
HEADER_FORMAT = re.compile(
    r"^V2_SHA256 appId=[0-9a-f]{32},sign=[0-9a-f]{64},timestamp=[0-9]{13},nonce=[0-9A-F]{32}$"
)


@dataclass(frozen=True)
class Lines:
    """The seven inputs of a signature; each test changes only what it is about."""

    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    method: str = "POST"
    url: str = URL
    timestamp_ms: int = SEED_TIMESTAMP_MS
    nonce: str = SEED_NONCE
    body: bytes = BODY

    def sign(self) -> str:
        return sign(
            app_id=self.app_id,
            app_secret=self.app_secret,
            method=self.method,
            url=self.url,
            timestamp_ms=self.timestamp_ms,
            nonce=self.nonce,
            body=self.body,
        )

    def verifies(self, credential: Credential) -> bool:
        return verify(
            credential,
            app_id=self.app_id,
            app_secret=self.app_secret,
            method=self.method,
            url=self.url,
            body=self.body,
        )


def _sign() -> str:
    return Lines().sign()


def _credential(signature: str | None = None) -> Credential:
    return Credential(APP_ID, signature or _sign(), SEED_TIMESTAMP_MS, SEED_NONCE)


def test_known_answer_is_sha256_of_the_seven_literal_lines() -> None:
    literal = (
        b"1111b620f93b48c5904210ff47bb1111\n"
        b"test-signing-key-not-secret\n"
        b"POST\n"
        b"https://pg.example.test/pg/v2/payout/create\n"
        b"1714128828114\n"
        b"C7CA27DC6D55DA935DFC8450C721CC99\n"
        b'{"merchantTradeNo":"MTOU-0211","amount":"1.00"}\n'
    )

    assert _sign() == hashlib.sha256(literal).hexdigest()


def test_signature_is_64_lowercase_hex_of_a_plain_hash_not_an_hmac() -> None:
    signature = _sign()

    assert re.fullmatch(r"[0-9a-f]{64}", signature)
    assert string_to_sign(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        method="POST",
        url=URL,
        timestamp_ms=SEED_TIMESTAMP_MS,
        nonce=SEED_NONCE,
        body=BODY,
    ).endswith(BODY + b"\n")


def test_a_request_without_body_signs_an_empty_body_line() -> None:
    material = string_to_sign(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        method="get",
        url=URL,
        timestamp_ms=SEED_TIMESTAMP_MS,
        nonce=SEED_NONCE,
        body=b"",
    )

    assert material.endswith(f"GET\n{URL}\n{SEED_TIMESTAMP_MS}\n{SEED_NONCE}\n\n".encode())
    assert material.count(b"\n") == 7


def test_body_bytes_are_signed_verbatim_not_re_encoded() -> None:
    spaced = b'{ "merchantTradeNo" : "MTOU-0211" }'
    non_ascii = '{"payeeName":"Jo\u00e3o"}'.encode()

    assert Lines(body=spaced).sign() != Lines(body=b'{"merchantTradeNo":"MTOU-0211"}').sign()
    assert string_to_sign(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        method="POST",
        url=URL,
        timestamp_ms=1,
        nonce="N",
        body=non_ascii,
    ).endswith(non_ascii + b"\n")


@pytest.mark.parametrize(
    "changed",
    [
        Lines(app_secret="another-key-not-secret"),
        Lines(app_id="2222b620f93b48c5904210ff47bb2222"),
        Lines(method="PUT"),
        Lines(url="https://pg.example.test/pg/v2/payout/query"),
        Lines(timestamp_ms=SEED_TIMESTAMP_MS + 1),
        Lines(nonce="C7CA27DC6D55DA935DFC8450C721CC98"),
        Lines(body=BODY.replace(b"1.00", b"1.01")),
    ],
)
def test_every_line_changes_the_signature(changed: Lines) -> None:
    assert changed.sign() != _sign()


def test_url_modes_full_and_path() -> None:
    assert signed_url(URL, "full") == URL
    assert signed_url(URL, "path") == "/pg/v2/payout/create"


def test_header_matches_the_seed_format() -> None:
    header = authorization_header(_credential())

    assert HEADER_FORMAT.match(SEED_HEADER)
    assert HEADER_FORMAT.match(header)
    assert header == (
        f"V2_SHA256 appId={APP_ID},sign={_sign()},timestamp={SEED_TIMESTAMP_MS},nonce={SEED_NONCE}"
    )


def test_parse_reads_the_seed_header() -> None:
    credential = parse_authorization(SEED_HEADER)

    assert credential == Credential(
        app_id="1111b620f93b48c5904210ff47bb1111",
        signature="9e494e8a91bcdd08f18ad5b2cfdbfd5654f5c00c89f8216eebd7c1637b6ce01b",
        timestamp_ms=1714128828114,
        nonce="C7CA27DC6D55DA935DFC8450C721CC99",
    )


def test_parse_tolerates_spaces_other_order_and_extra_parameters() -> None:
    header = (
        f"V2_SHA256 nonce={SEED_NONCE}, timestamp={SEED_TIMESTAMP_MS}, "
        f"sign={_sign()}, appId={APP_ID}, version=2"
    )

    assert parse_authorization(header) == _credential()


@pytest.mark.parametrize(
    "header",
    [
        "",
        f"Bearer appId={APP_ID},sign={'a' * 64},timestamp=1,nonce=N",
        f"V2_SHA256 appId={APP_ID},sign={'a' * 64},timestamp=1",
        f"V2_SHA256 appId={APP_ID},sign={'a' * 63},timestamp=1,nonce=N",
        f"V2_SHA256 appId={APP_ID},sign={'g' * 64},timestamp=1,nonce=N",
        f"V2_SHA256 appId={APP_ID},sign={'a' * 64},timestamp=soon,nonce=N",
        f"V2_SHA256 appId={APP_ID},sign={'a' * 64},timestamp=1,nonce=N,nonce=M",
        f"V2_SHA256 appId={APP_ID},sign={'a' * 64},timestamp=1,nonce",
        f"V2_SHA256 appId={APP_ID},sign={'a' * 64},timestamp=1,nonce=",
    ],
)
def test_parse_refuses_malformed_headers(header: str) -> None:
    with pytest.raises(SignatureFormatError):
        parse_authorization(header)


def test_verify_accepts_the_right_signature_in_either_hex_case() -> None:
    assert Lines().verifies(_credential())
    assert Lines().verifies(_credential(_sign().upper()))


@pytest.mark.parametrize(
    "expected",
    [
        Lines(app_secret="wrong-key-not-secret"),
        Lines(body=BODY + b" "),
        Lines(url="/pg/v2/payout/create"),
        Lines(method="GET"),
    ],
)
def test_verify_refuses_a_mismatch(expected: Lines) -> None:
    assert not expected.verifies(_credential())


def test_verify_refuses_a_header_naming_another_app_id() -> None:
    # The signature itself is right for our appId: only the header's appId is wrong.
    credential = Credential(
        "2222b620f93b48c5904210ff47bb2222", _sign(), SEED_TIMESTAMP_MS, SEED_NONCE
    )

    assert not Lines().verifies(credential)


def test_verify_refuses_a_replayed_signature_with_a_new_timestamp() -> None:
    replayed = Credential(APP_ID, _sign(), SEED_TIMESTAMP_MS + 60_000, SEED_NONCE)

    assert not Lines().verifies(replayed)


def test_nonces_are_32_uppercase_hex_and_fresh() -> None:
    nonces = {new_nonce() for _ in range(50)}

    assert len(nonces) == 50
    assert all(re.fullmatch(r"[0-9A-F]{32}", nonce) for nonce in nonces)


def test_unix_millis_is_exact_and_round_trips() -> None:
    moment = datetime(2024, 4, 26, 10, 53, 48, 114_999, tzinfo=UTC)
    in_another_zone = moment.astimezone(timezone(timedelta(hours=5, minutes=30)))

    assert unix_millis(moment) == SEED_TIMESTAMP_MS
    assert unix_millis(in_another_zone) == SEED_TIMESTAMP_MS
    assert from_unix_millis(SEED_TIMESTAMP_MS) == moment.replace(microsecond=114_000)


def test_unix_millis_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        unix_millis(datetime(2024, 4, 26, 10, 53, 48))  # noqa: DTZ001
