"""balance_check: publish every configured provider's available balance as a metric (scheduled)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import httpx
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts.observability import logger, metrics, tracer
from payouts.providers.registry import ProviderFactory
from payouts.services.balances import BalanceUnavailable, publish_balances, read_balances
from payouts.settings import load
from payouts.settings.base import ProviderSettings


@functools.cache
def settings() -> ProviderSettings:
    """The function's settings, validated once per container."""
    return load(ProviderSettings)


@functools.cache
def provider_factory() -> ProviderFactory:
    """Builds adapters; their credentials are cached by Powertools parameters."""
    return ProviderFactory(settings())


async def check_balances() -> dict[str, int]:
    """Read and publish every provider's balances with this invocation's HTTP client."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        rows = await read_balances(provider_factory().build_all(client))
    published = publish_balances(rows)
    return {
        "published": published,
        "unavailable": sum(isinstance(row, BalanceUnavailable) for row in rows),
    }


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Publish each provider's available balance (a schedule's event carries nothing we need)."""
    del event
    counts = asyncio.run(check_balances())
    logger.info("balances checked", counts=counts)
    return counts
