"""pg_v2 request, answer and callback signing: pure functions, no I/O.

The official signing page is not public; this follows third-party integration code (see
providers.md): the signature is the lowercase hex SHA-256 (a plain hash, not an HMAC) of seven
lines, each ending in ``\\n``::

    appId \\n appSecret \\n METHOD \\n URL \\n timestamp(ms) \\n nonce \\n raw body \\n

and travels as ``Authorization: V2_SHA256 appId=..,sign=..,timestamp=..,nonce=..``. Whether the
URL line is the full URL or only its path is an option (``UrlMode``); a request without a body
signs an empty body line. The body line is the exact bytes sent, never a re-serialisation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import httpx

SCHEME: Final = "V2_SHA256"
# The seed's nonce is 32 upper-case hex characters; we send the same shape.
NONCE_BYTES: Final = 16

UrlMode = Literal["full", "path"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SIGNATURE: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_TIMESTAMP: Final = re.compile(r"^[0-9]{1,16}$")
_TOKEN: Final = re.compile(r"^[^\s,=]+$")
_REQUIRED_PARAMS: Final = ("appId", "sign", "timestamp", "nonce")


class SignatureFormatError(ValueError):
    """An ``Authorization`` header that is not a well-formed ``V2_SHA256`` credential."""


@dataclass(frozen=True)
class Credential:
    """The parts of one ``Authorization: V2_SHA256 ...`` header."""

    app_id: str
    signature: str
    timestamp_ms: int
    nonce: str


def string_to_sign(
    *,
    app_id: str,
    app_secret: str,
    method: str,
    url: str,
    timestamp_ms: int,
    nonce: str,
    body: bytes,
) -> bytes:
    """The seven lines, each ending in a newline, as the bytes that are hashed.

    ``body`` is appended as raw bytes (never decoded and re-encoded) so the hash covers exactly
    what travelled; ``b""`` gives the empty body line of a request without a body.
    """
    head = "\n".join((app_id, app_secret, method.upper(), url, str(timestamp_ms), nonce))
    return head.encode("utf-8") + b"\n" + body + b"\n"


def sign(
    *,
    app_id: str,
    app_secret: str,
    method: str,
    url: str,
    timestamp_ms: int,
    nonce: str,
    body: bytes,
) -> str:
    """The lowercase hex SHA-256 of :func:`string_to_sign` (64 characters)."""
    material = string_to_sign(
        app_id=app_id,
        app_secret=app_secret,
        method=method,
        url=url,
        timestamp_ms=timestamp_ms,
        nonce=nonce,
        body=body,
    )
    return hashlib.sha256(material).hexdigest()


def signed_url(url: str, mode: UrlMode) -> str:
    """The URL line to sign: the full URL as given, or only its path."""
    if mode == "path":
        return httpx.URL(url).path
    return url


def authorization_header(credential: Credential) -> str:
    """``V2_SHA256 appId=<id>,sign=<hex>,timestamp=<ms>,nonce=<nonce>``, as in the seed."""
    return (
        f"{SCHEME} appId={credential.app_id},sign={credential.signature},"
        f"timestamp={credential.timestamp_ms},nonce={credential.nonce}"
    )


def parse_authorization(header: str) -> Credential:
    """The parts of a ``V2_SHA256`` header; raises SignatureFormatError when it is malformed.

    Parameters may come in any order and with spaces after the commas; unknown extra parameters
    are tolerated (the provider may add some), missing or repeated ones are not.
    """
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        raise SignatureFormatError(f"scheme is not {SCHEME}")
    params: dict[str, str] = {}
    for item in rest.split(","):
        key, separator, value = item.strip().partition("=")
        if not separator or not _TOKEN.match(key) or not _TOKEN.match(value):
            raise SignatureFormatError("a parameter is not key=value")
        if key in params:
            raise SignatureFormatError(f"parameter {key} is repeated")
        params[key] = value
    missing = [key for key in _REQUIRED_PARAMS if key not in params]
    if missing:
        raise SignatureFormatError(f"missing parameters: {', '.join(missing)}")
    if not _SIGNATURE.match(params["sign"]):
        raise SignatureFormatError("sign is not 64 hex characters")
    if not _TIMESTAMP.match(params["timestamp"]):
        raise SignatureFormatError("timestamp is not a number of milliseconds")
    return Credential(
        app_id=params["appId"],
        signature=params["sign"],
        timestamp_ms=int(params["timestamp"]),
        nonce=params["nonce"],
    )


def verify(
    credential: Credential,
    *,
    app_id: str,
    app_secret: str,
    method: str,
    url: str,
    body: bytes,
) -> bool:
    """True when ``credential`` is ours (same appId) and signs exactly these bytes.

    The header's own timestamp and nonce are part of what is hashed, so they cannot be altered
    either. Comparisons are constant-time.
    """
    expected = sign(
        app_id=app_id,
        app_secret=app_secret,
        method=method,
        url=url,
        timestamp_ms=credential.timestamp_ms,
        nonce=credential.nonce,
        body=body,
    )
    same_app = hmac.compare_digest(credential.app_id.encode(), app_id.encode())
    same_sign = hmac.compare_digest(credential.signature.lower().encode(), expected.encode())
    return same_app and same_sign


def new_nonce() -> str:
    """A fresh random nonce: 32 upper-case hex characters, like the seed's."""
    return secrets.token_hex(NONCE_BYTES).upper()


def unix_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, computed exactly (no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("a signing timestamp needs a timezone-aware datetime")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_unix_millis(timestamp_ms: int) -> datetime:
    """The UTC datetime of a millisecond Unix timestamp, exactly."""
    return _EPOCH + timedelta(milliseconds=timestamp_ms)
