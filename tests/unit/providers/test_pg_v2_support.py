"""Shared helpers for the pg_v2 adapter tests (this module holds no tests itself).

The signing helper here is written independently of ``payouts.providers.pg_v2.signing`` (hashlib
over the literal seven lines) so that tests check the adapter against the scheme, not against
itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from payouts.domain.order import Order
from payouts.domain.request import PayoutRequest
from payouts.domain.status import OrderStatus
from payouts.providers.base import AdapterContext, ProviderTimeouts
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials, PgV2Options

# The seed's example appId, timestamp and nonce; the secret is ours and obviously fake.
APP_ID = "1111b620f93b48c5904210ff47bb1111"
APP_SECRET = "test-signing-key-not-secret"
SEED_TIMESTAMP_MS = 1714128828114
SEED_NONCE = "C7CA27DC6D55DA935DFC8450C721CC99"
BASE_URL = "https://pg.example.test"
NOTIFY_URL = "https://example.com/subscribe/payout/notify"
CREATE_URL = f"{BASE_URL}/pg/v2/payout/create"
QUERY_URL = f"{BASE_URL}/pg/v2/payout/query"
BALANCE_URL = f"{BASE_URL}/pg/v2/balance/query"
ANSWER_TIMESTAMP_MS = 1714128245401
ANSWER_NONCE = "28FA11BF8FD1309767551B4FD8A57BD5"
TIMEOUTS = ProviderTimeouts(connect=1.5, read=7.0, write=4.0, pool=0.5)

Handler = Callable[[httpx.Request], httpx.Response]


def independent_sign(
    method: str,
    url: str,
    timestamp_ms: int,
    nonce: str,
    body: bytes,
    *,
    app_id: str = APP_ID,
    secret: str = APP_SECRET,
) -> str:
    """SHA-256 over the seven newline-terminated lines, computed here from scratch."""
    head = f"{app_id}\n{secret}\n{method}\n{url}\n{timestamp_ms}\n{nonce}\n".encode()
    return hashlib.sha256(head + body + b"\n").hexdigest()


def authorization(
    signature: str, timestamp_ms: int = ANSWER_TIMESTAMP_MS, nonce: str = ANSWER_NONCE
) -> str:
    """A V2_SHA256 Authorization header value for ``signature``."""
    return f"V2_SHA256 appId={APP_ID},sign={signature},timestamp={timestamp_ms},nonce={nonce}"


def seed_clock() -> datetime:
    """The seed example's request time."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=SEED_TIMESTAMP_MS)


def make_request(**changes: Any) -> PayoutRequest:
    """A valid UPI request shaped like the seed's example; ``changes`` override fields."""
    document: dict[str, Any] = {
        "payout_id": "MTOU-0211",
        "amount": {"value": 100, "currency": "INR"},
        "beneficiary": {"method": "UPI", "vpa": "test.payee@upi", "payee_name": "test payeeName"},
        "description": "upi payout test",
        "metadata": {"merchant_attach": "merchant attach"},
    }
    document.update(changes)
    return PayoutRequest.model_validate(document)


def make_order(request: PayoutRequest | None = None, payout_id: str | None = None) -> Order:
    """A SUBMITTING order for ``request`` (the seed-like UPI request by default)."""
    request = request if request is not None else make_request()
    moment = seed_clock()
    return Order(
        payout_id=payout_id or request.payout_id,
        request=request,
        fingerprint="test-fingerprint",
        status=OrderStatus.SUBMITTING,
        version=2,
        provider="pg_v2",
        created_at=moment,
        updated_at=moment,
    )


@dataclass
class Recorder:
    """A MockTransport handler that records each request and answers with ``respond``."""

    respond: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def answer(
    document: object,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Handler:
    """A handler answering ``document`` as compact JSON (unsigned unless headers say so)."""
    body = json.dumps(document).encode()
    return lambda _request: httpx.Response(status, headers=headers or {}, content=body)


def raw_answer(
    body: bytes, *, status: int = 200, content_type: str = "application/json"
) -> Handler:
    """A handler answering ``body`` verbatim."""
    return lambda _request: httpx.Response(
        status, headers={"content-type": content_type}, content=body
    )


def signed_answer(
    document: object, *, status: int = 200, secret: str = APP_SECRET, path_only: bool = False
) -> Handler:
    """A handler answering ``document`` with an Authorization header signed as the provider
    would (assumed: the request's method and URL, the answer's own timestamp, nonce and body)."""
    body = json.dumps(document).encode()

    def respond(request: httpx.Request) -> httpx.Response:
        url = request.url.path if path_only else str(request.url)
        signature = independent_sign(
            request.method, url, ANSWER_TIMESTAMP_MS, ANSWER_NONCE, body, secret=secret
        )
        return httpx.Response(
            status, headers={"Authorization": authorization(signature)}, content=body
        )

    return respond


def failing(error: type[httpx.TransportError] | type[httpx.DecodingError]) -> Handler:
    """A handler raising the httpx exception ``error``, as a failing network would."""

    def respond(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return respond


def run_adapter[T](
    handler: Handler,
    action: Callable[[PgV2Adapter], Awaitable[T]],
    options: PgV2Options | None = None,
) -> T:
    """Build an adapter over a MockTransport with ``handler`` and run ``action`` on it."""

    async def go() -> T:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await action(make_adapter(client, options))

    return asyncio.run(go())


def make_adapter(client: httpx.AsyncClient, options: PgV2Options | None = None) -> PgV2Adapter:
    """The adapter under test: fake credentials, the seed's clock and nonce."""
    return PgV2Adapter(
        credentials=PgV2Credentials.model_validate({"app_id": APP_ID, "app_secret": APP_SECRET}),
        context=AdapterContext(base_url=BASE_URL, notify_url=NOTIFY_URL, timeouts=TIMEOUTS),
        client=client,
        options=options,
        clock=seed_clock,
        nonces=lambda: SEED_NONCE,
    )


def offline_adapter(options: PgV2Options | None = None) -> PgV2Adapter:
    """An adapter for synchronous calls (callbacks, ack) that never touches its client."""
    return make_adapter(httpx.AsyncClient(transport=httpx.MockTransport(_unused)), options)


def _unused(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no HTTP call expected, got {request.method} {request.url}")
