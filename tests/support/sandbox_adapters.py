"""The real adapters, pointed at a running provider sandbox with its fake credentials."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from payouts.providers.base import AdapterContext, PayoutProvider
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Credentials
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials
from payouts_tools.sandbox import Sandbox


def adapter_for(
    method: str, sandbox: Sandbox, notify_url: str, client: httpx.AsyncClient
) -> PayoutProvider:
    """The adapter that pays ``method`` (ALIPAY: gateway_v2, else pg_v2) against ``sandbox``."""
    context = AdapterContext(base_url=sandbox.base_url, notify_url=notify_url)
    config = sandbox.config
    if method == "ALIPAY":
        return GatewayV2Adapter(
            credentials=GatewayV2Credentials(
                platform_id=config.gateway.platform_id,
                platform_key=SecretStr(config.gateway.signing_key),
                query_token=SecretStr(config.gateway.query_token),
            ),
            context=context,
            client=client,
        )
    return PgV2Adapter(
        credentials=PgV2Credentials(
            app_id=config.pg.app_id, app_secret=SecretStr(config.pg.app_secret)
        ),
        context=context,
        client=client,
    )
