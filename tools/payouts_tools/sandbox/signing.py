"""The sandbox's own implementation of both providers' signing, written from the documents.

Deliberately independent of ``payouts.providers``: the sandbox exists to catch our adapters'
mistakes, so it must not share their code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from payouts_tools.sandbox.assumptions import PG_AUTH_SCHEME, PG_MIN_TIMESTAMP_MS

# DOCUMENTED: sign and sign_type are never part of the signed string.
GATEWAY_UNSIGNED_FIELDS: Final = frozenset({"sign", "sign_type"})


class GatewaySignType(StrEnum):
    """gateway_v2 signature types. MD5 is the documented default when sign_type is absent."""

    HMAC_SHA256 = "HMAC-SHA256"
    MD5 = "MD5"


def _is_empty(value: object) -> bool:
    # DOCUMENTED: "drop empty values". ASSUMPTION: JSON null counts as empty, like "".
    return value is None or value == ""


def gateway_render(value: object) -> str:
    """A parameter value as it appears in the signed string: strings as they are, every other
    value as compact JSON would write it (50000 -> ``50000``, true -> ``true``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def gateway_sign_string(params: Mapping[str, object]) -> str:
    """``k=v&k=v`` over every non-empty parameter but sign/sign_type, keys ASCII-sorted, no
    URL-encoding."""
    kept = sorted(
        (key, value)
        for key, value in params.items()
        if key not in GATEWAY_UNSIGNED_FIELDS and not _is_empty(value)
    )
    return "&".join(f"{key}={gateway_render(value)}" for key, value in kept)


def gateway_sign(params: Mapping[str, object], key: str, sign_type: GatewaySignType) -> str:
    """The lowercase hex signature of ``params`` with the platform key."""
    text = gateway_sign_string(params)
    if sign_type is GatewaySignType.HMAC_SHA256:
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    # DOCUMENTED: MD5 of string + "&" + key (no "key=").
    return hashlib.md5(f"{text}&{key}".encode(), usedforsecurity=False).hexdigest()


def gateway_signature_ok(params: Mapping[str, object], key: str) -> bool:
    """True when ``params["sign"]`` is the right signature for the declared ``sign_type``."""
    claimed = params.get("sign")
    declared = params.get("sign_type") or GatewaySignType.MD5.value
    if not isinstance(claimed, str) or not isinstance(declared, str):
        return False
    try:
        sign_type = GatewaySignType(declared)
    except ValueError:
        return False
    return _same(claimed, gateway_sign(params, key, sign_type))


@dataclass(frozen=True)
class PgAuthorization:
    """The parts of a pg_v2 ``Authorization: V2_SHA256 appId=..,sign=..,timestamp=..,nonce=..``."""

    app_id: str
    sign: str
    timestamp: str
    nonce: str

    def header(self) -> str:
        """The header value."""
        return (
            f"{PG_AUTH_SCHEME} appId={self.app_id},sign={self.sign},"
            f"timestamp={self.timestamp},nonce={self.nonce}"
        )


def pg_sign(
    *, app_id: str, app_secret: str, method: str, url: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """Lowercase hex SHA-256 of the seven lines appId, appSecret, METHOD, URL, timestamp, nonce,
    body, each ending in a newline; the body is the exact raw bytes."""
    head = "".join(f"{line}\n" for line in (app_id, app_secret, method, url, timestamp, nonce))
    return hashlib.sha256(head.encode() + body + b"\n").hexdigest()


def pg_authorization(
    *,
    app_id: str,
    app_secret: str,
    method: str,
    url: str,
    body: bytes,
    wall: Callable[[], float] = time.time,
) -> PgAuthorization:
    """A fresh signature (new timestamp and nonce) over ``body`` for ``method url``, timestamped
    by ``wall`` (unix seconds)."""
    timestamp = str(round(wall() * 1000))
    nonce = secrets.token_hex(16).upper()
    sign = pg_sign(
        app_id=app_id,
        app_secret=app_secret,
        method=method,
        url=url,
        timestamp=timestamp,
        nonce=nonce,
        body=body,
    )
    return PgAuthorization(app_id=app_id, sign=sign, timestamp=timestamp, nonce=nonce)


def parse_pg_authorization(header: str | None) -> PgAuthorization | None:
    """The header's parts, or None when it is missing or not a well-formed V2_SHA256 header."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme != PG_AUTH_SCHEME:
        return None
    parts: dict[str, str] = {}
    for item in credentials.split(","):
        name, separator, value = item.strip().partition("=")
        if not separator:
            return None
        parts[name] = value
    try:
        auth = PgAuthorization(
            app_id=parts["appId"],
            sign=parts["sign"],
            timestamp=parts["timestamp"],
            nonce=parts["nonce"],
        )
    except KeyError:
        return None
    if not auth.timestamp.isdigit() or int(auth.timestamp) < PG_MIN_TIMESTAMP_MS:
        return None
    return auth


def pg_signature_ok(
    auth: PgAuthorization, *, app_id: str, app_secret: str, method: str, url: str, body: bytes
) -> bool:
    """True when ``auth`` is ``app_id``'s valid signature of this exact request."""
    expected = pg_sign(
        app_id=app_id,
        app_secret=app_secret,
        method=method,
        url=url,
        timestamp=auth.timestamp,
        nonce=auth.nonce,
        body=body,
    )
    return _same(auth.app_id, app_id) and _same(auth.sign, expected)


def _same(given: str, expected: str) -> bool:
    # Constant-time, and safe for non-ASCII input (compare_digest refuses non-ASCII str).
    return hmac.compare_digest(given.encode(), expected.encode())
