"""The real adapters, pointed at a running provider sandbox with its fake credentials."""

from __future__ import annotations

import httpx

from payouts.providers.base import AdapterContext, PayoutProvider
from payouts_tools.sandbox import Sandbox
from payouts_tools.sandbox.adapters import sandbox_adapter
from payouts_tools.sandbox.config import Provider


def adapter_for(
    method: str, sandbox: Sandbox, notify_url: str, client: httpx.AsyncClient
) -> PayoutProvider:
    """The adapter that pays ``method`` (ALIPAY: gateway_v2, else pg_v2) against ``sandbox``."""
    context = AdapterContext(base_url=sandbox.base_url, notify_url=notify_url)
    provider = Provider.GATEWAY_V2 if method == "ALIPAY" else Provider.PG_V2
    return sandbox_adapter(provider, sandbox.config, context, client)
