"""Sending one HTTP request and classifying what happened, for the decision tables.

The only question that matters for a create is whether the bytes may have reached the provider.
httpx tells us precisely: a failure to connect (refused, DNS, connect timeout, no pooled
connection) means nothing left; anything after that (write or read trouble, a reset) may have.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from payouts.domain import strict_json

EXCERPT_CHARS = 300


class Transport(StrEnum):
    """How the exchange ended at the transport level."""

    OK = "ok"  # an HTTP answer arrived (any status)
    CONNECT_ERROR = "connect_error"  # refused, DNS failure, TLS failure before sending
    CONNECT_TIMEOUT = "connect_timeout"
    POOL_TIMEOUT = "pool_timeout"  # no connection could be had: nothing was written
    WRITE_ERROR = "write_error"  # part of the request may have been written
    READ_TIMEOUT = "read_timeout"  # sent, no answer in time
    RESET = "reset"  # sent, then the connection broke (reset, closed, protocol error)


NOT_SENT_TRANSPORTS = frozenset(
    {Transport.CONNECT_ERROR, Transport.CONNECT_TIMEOUT, Transport.POOL_TIMEOUT}
)


class BodyShape(StrEnum):
    """What the answer's body looks like."""

    NONE = "none"  # no answer at all
    BLANK = "blank"  # empty or whitespace only
    JSON_OBJECT = "json_object"
    JSON_OTHER = "json_other"  # valid JSON but not an object (a list, a string, null)
    HTML = "html"
    MALFORMED = "malformed"  # anything else


@dataclass(frozen=True)
class Exchange:
    """One request's result: the transport outcome and, when an answer came, its parts."""

    transport: Transport
    http_status: int | None = None
    headers: httpx.Headers | None = None
    raw_body: bytes = b""
    shape: BodyShape = BodyShape.NONE
    document: dict[str, Any] | None = None
    error: str | None = None

    @property
    def body_excerpt(self) -> str | None:
        """The first characters of the body, for the evidence log (providers' answers carry no
        beneficiary secrets; requests are never excerpted)."""
        if not self.raw_body:
            return None
        return self.raw_body[:EXCERPT_CHARS].decode("utf-8", errors="replace")


# Checked in order: ConnectTimeout and PoolTimeout are TimeoutExceptions, ConnectError a
# TransportError, so the specific classes come first.
_FAILURES: tuple[tuple[type[httpx.TransportError], Transport], ...] = (
    (httpx.ConnectTimeout, Transport.CONNECT_TIMEOUT),
    (httpx.ConnectError, Transport.CONNECT_ERROR),
    (httpx.PoolTimeout, Transport.POOL_TIMEOUT),
    (httpx.ReadTimeout, Transport.READ_TIMEOUT),
    (httpx.WriteTimeout, Transport.WRITE_ERROR),
    (httpx.WriteError, Transport.WRITE_ERROR),
    (httpx.ReadError, Transport.RESET),
    (httpx.ProtocolError, Transport.RESET),
)


async def send(client: httpx.AsyncClient, request: httpx.Request) -> Exchange:
    """Send ``request`` and classify the result. Never raises for transport trouble."""
    try:
        response = await client.send(request)
        raw = await response.aread()
    except httpx.TransportError as error:
        return Exchange(classify_failure(error), error=_describe(error))
    except httpx.DecodingError as error:
        # An answer arrived but its encoding (gzip, charset) is broken: as good as unread.
        return Exchange(Transport.RESET, error=_describe(error))
    shape, document = classify_body(raw, response.headers.get("content-type", ""))
    return Exchange(
        Transport.OK,
        http_status=response.status_code,
        headers=response.headers,
        raw_body=raw,
        shape=shape,
        document=document,
    )


def classify_failure(error: httpx.TransportError) -> Transport:
    """The transport outcome of an httpx failure; unknown kinds count as "may have been sent"."""
    for error_type, transport in _FAILURES:
        if isinstance(error, error_type):
            return transport
    return Transport.RESET


def classify_body(raw: bytes, content_type: str = "") -> tuple[BodyShape, dict[str, Any] | None]:
    """The body's shape, and the parsed object when it is a JSON object."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return BodyShape.BLANK, None
    if "html" in content_type.lower() or text.lstrip().lower().startswith(("<!doctype", "<html")):
        return BodyShape.HTML, None
    try:
        # Strict: an answer with a duplicate key says two things (we would act on one), and a
        # deeply nested one would fail a recursive walk later: both are unreadable answers.
        parsed = strict_json.loads(text)
    except ValueError:
        return BodyShape.MALFORMED, None
    if isinstance(parsed, dict):
        return BodyShape.JSON_OBJECT, parsed
    return BodyShape.JSON_OTHER, None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:EXCERPT_CHARS]
