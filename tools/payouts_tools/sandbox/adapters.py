"""The real adapters with a sandbox's fake credentials: one place, for tests and the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from pydantic import SecretStr

from payouts.domain.order import utc_now
from payouts.providers.base import AdapterContext, PayoutProvider
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Credentials
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials
from payouts_tools.sandbox.config import Provider, SandboxConfig


def sandbox_adapter(
    provider: Provider,
    config: SandboxConfig,
    context: AdapterContext,
    client: httpx.AsyncClient,
    clock: Callable[[], datetime] = utc_now,
) -> PayoutProvider:
    """The adapter of ``provider``, signing with ``config``'s credentials."""
    if provider is Provider.GATEWAY_V2:
        return GatewayV2Adapter(
            credentials=GatewayV2Credentials(
                platform_id=config.gateway.platform_id,
                platform_key=SecretStr(config.gateway.signing_key),
                query_token=SecretStr(config.gateway.query_token),
            ),
            context=context,
            client=client,
            clock=clock,
        )
    return PgV2Adapter(
        credentials=PgV2Credentials(
            app_id=config.pg.app_id, app_secret=SecretStr(config.pg.app_secret)
        ),
        context=context,
        client=client,
        clock=clock,
    )
