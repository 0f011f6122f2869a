"""gateway_v2's query-answer sign location, at both values, against the sandbox (which signs
independently of the adapter): believed where the options look for it, never elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from pydantic import SecretStr

from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import AdapterContext, CreateKind, QueryKind, QueryOutcome
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Credentials, GatewayV2Options
from payouts_tools.sandbox import Outcome, Sandbox
from payouts_tools.sandbox.config import Provider, SandboxConfig
from tests.support.orders import T0, make_request

type Location = Literal["data", "answer"]


@pytest.fixture(params=["data", "answer"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    config = SandboxConfig(settle_after_s=0.1, seed=11, gateway_query_sign_location=request.param)
    with Sandbox(config).start() as running:
        yield running


def _order() -> Order:
    request = make_request("PO-SIGN-LOC", method="ALIPAY", value=50000)
    return Order(
        payout_id=request.payout_id,
        request=request,
        fingerprint=request_fingerprint(request),
        status=OrderStatus.SUBMITTING,
        version=2,
        created_at=T0,
        updated_at=T0,
    )


def _paid_then_queried(sandbox: Sandbox, options: GatewayV2Options) -> QueryOutcome:
    order = _order()
    sandbox.script(Provider.GATEWAY_V2, order.payout_id, Outcome.SUCCESS, after_s=0.05)
    config = sandbox.config

    async def scenario() -> QueryOutcome:
        async with httpx.AsyncClient() as client:
            adapter = GatewayV2Adapter(
                credentials=GatewayV2Credentials(
                    platform_id=config.gateway.platform_id,
                    platform_key=SecretStr(config.gateway.signing_key),
                    query_token=SecretStr(config.gateway.query_token),
                ),
                context=AdapterContext(base_url=sandbox.base_url, notify_url=""),
                client=client,
                options=options,
            )
            created = await adapter.create(order)
            assert created.kind is CreateKind.ACCEPTED, created
            await asyncio.sleep(0.3)
            return await adapter.query(order)

    return asyncio.run(scenario())


def _options(location: Location) -> GatewayV2Options:
    return GatewayV2Options.model_validate(
        {"query_signature": "require", "query_sign_location": location}
    )


def test_the_sign_is_verified_where_the_provider_puts_it(sandbox: Sandbox) -> None:
    where = sandbox.config.gateway_query_sign_location

    outcome = _paid_then_queried(sandbox, _options(where))

    assert (outcome.kind, outcome.amount_minor) == (QueryKind.SUCCEEDED, 50000)


def test_a_required_sign_looked_for_elsewhere_is_not_believed(sandbox: Sandbox) -> None:
    elsewhere: Location = (
        "answer" if sandbox.config.gateway_query_sign_location == "data" else "data"
    )

    outcome = _paid_then_queried(sandbox, _options(elsewhere))

    assert outcome.kind is QueryKind.UNKNOWN
    assert "not believed" in outcome.reason
