"""The HTTP values passed between the sandbox's server and its provider and admin APIs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpRequest:
    """One request as received: ``path`` is the raw request target (path and query), ``url`` the
    full URL the client addressed (scheme://host:port/path), ``headers`` lower-cased."""

    method: str
    path: str
    url: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class HttpResponse:
    """One answer to send."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_bytes(payload: object) -> bytes:
    """Compact UTF-8 JSON, serialised once so a signature covers exactly the bytes sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    payload: object,
    status: int = 200,
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> HttpResponse:
    """An answer carrying ``payload`` as JSON."""
    return HttpResponse(status, json_bytes(payload), content_type, headers)


def parse_json_object(body: bytes) -> dict[str, object] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
