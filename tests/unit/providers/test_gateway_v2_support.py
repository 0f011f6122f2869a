"""Shared helpers for the gateway_v2 adapter tests. It holds no tests itself; its name only keeps
it inside the gateway_v2 test files' namespace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from payouts.domain.order import Order
from payouts.domain.request import PayoutRequest
from payouts.domain.status import OrderStatus
from payouts.providers.base import AdapterContext, ProviderTimeouts
from payouts.providers.gateway_v2 import (
    GatewayV2Adapter,
    GatewayV2Credentials,
    GatewayV2Options,
    SignType,
)
from payouts.providers.gateway_v2.signing import sign

SIGNING_KEY = "test-signing-key-not-secret"
QUERY_TOKEN = "test-query-token-not-secret"
PLATFORM_ID = "PF0002"
BASE_URL = "https://gateway.test"
NOTIFY_URL = "https://xxx.xx/notification"  # the seed example's notify_url
EXAMPLE_PAYOUT_ID = "DEVPOT00143538"  # the seed example's payout_cl_id
EXAMPLE_REQUEST_TIME = 1595504997  # the seed example's request_time
TIMEOUTS = ProviderTimeouts(connect=1.5, read=7.0, write=4.0, pool=0.5)

Handler = Callable[[httpx.Request], httpx.Response]


def example_clock() -> datetime:
    """A clock standing at the seed example's request_time."""
    return datetime.fromtimestamp(EXAMPLE_REQUEST_TIME, UTC)


def make_order(
    payout_id: str = EXAMPLE_PAYOUT_ID,
    *,
    amount: int = 50000,
    currency: str = "CNY",
    beneficiary: dict[str, str] | None = None,
) -> Order:
    """An order as intake would have stored it, for an Alipay payout by default."""
    request = PayoutRequest.model_validate(
        {
            "payout_id": payout_id,
            "amount": {"value": amount, "currency": currency},
            "beneficiary": beneficiary
            or {"method": "ALIPAY", "account_name": "test_name", "surname": "t"},
        }
    )
    now = example_clock()
    return Order(
        payout_id=payout_id,
        request=request,
        fingerprint="0" * 64,
        status=OrderStatus.SUBMITTING,
        version=2,
        provider="gateway_v2",
        created_at=now,
        updated_at=now,
    )


def credentials(key: str = SIGNING_KEY) -> GatewayV2Credentials:
    """Obviously fake credentials."""
    return GatewayV2Credentials.model_validate(
        {"platform_id": PLATFORM_ID, "platform_key": key, "query_token": QUERY_TOKEN}
    )


def make_adapter(
    client: httpx.AsyncClient,
    *,
    options: GatewayV2Options | None = None,
    clock: Callable[[], datetime] = example_clock,
    notify_url: str = NOTIFY_URL,
) -> GatewayV2Adapter:
    """The adapter under test, talking to ``client``."""
    context = AdapterContext(base_url=BASE_URL, notify_url=notify_url, timeouts=TIMEOUTS)
    return GatewayV2Adapter(
        credentials=credentials(), context=context, client=client, options=options, clock=clock
    )


def with_provider[T](
    handler: Handler,
    action: Callable[[GatewayV2Adapter], Awaitable[T]],
    **adapter_args: Any,
) -> T:
    """Run ``action`` on an adapter whose provider is the mock ``handler``."""

    async def scenario() -> T:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await action(make_adapter(client, **adapter_args))

    return asyncio.run(scenario())


def offline_adapter(**adapter_args: Any) -> GatewayV2Adapter:
    """An adapter for the calls that make no request (callbacks, ack)."""
    return make_adapter(httpx.AsyncClient(transport=httpx.MockTransport(refuse)), **adapter_args)


def refuse(request: httpx.Request) -> httpx.Response:
    """A provider that cannot be reached."""
    raise httpx.ConnectError("refused", request=request)


def answer(document: object, status: int = 200) -> Handler:
    """A provider answering ``document`` as JSON with HTTP ``status``."""
    return raw_answer(json.dumps(document).encode(), status, "application/json")


def raw_answer(body: bytes, status: int = 200, content_type: str = "application/json") -> Handler:
    """A provider answering exactly ``body``."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    return handler


def failing(error: type[httpx.TransportError]) -> Handler:
    """A provider whose exchange ends with the httpx transport ``error``."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return handler


def signed(
    fields: dict[str, object],
    *,
    sign_type: SignType | None = SignType.HMAC_SHA256,
    key: str = SIGNING_KEY,
) -> dict[str, object]:
    """``fields`` with ``sign_type`` (unless None: the provider's MD5 default) and ``sign``."""
    result = dict(fields)
    if sign_type is not None:
        result["sign_type"] = sign_type.value
    result["sign"] = sign(result, key, sign_type or SignType.MD5)
    return result
