"""reconcile: query the providers of one batch of due orders and apply their answers."""

from __future__ import annotations

import asyncio
import functools
import random
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import boto3
import httpx
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payouts.domain.order import utc_now
from payouts.observability import MetricUnit, logger, metrics, tracer
from payouts.providers.registry import ProviderFactory
from payouts.providers.routing import Router
from payouts.services.provider_gate import ProviderGate
from payouts.services.reconcile import (
    BatchReport,
    LazyProviders,
    ReconcilePolicy,
    Reconciler,
)
from payouts.settings import load
from payouts.settings.reconcile import ReconcileSettings
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts.store.provider_state import ProviderStateStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PayoutId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]

# Batch counts published as metrics (namespace POWERTOOLS_METRICS_NAMESPACE). OrderEscalated
# feeds the escalation alarm, ReconcileErrors the check-failure alarm (template.yaml).
METRICS: dict[str, str] = {
    "checked": "OrdersChecked",
    "settled": "OrdersSettled",
    "resent": "OrdersResent",
    "sent": "NeverSentOrdersSent",
    "held": "OrdersHeld",
    "escalated": "OrderEscalated",
    "error": "ReconcileErrors",
    "provider_calls": "ProviderCalls",
}


class ReconcileBatch(BaseModel):
    """One Map item: a batch of payout ids from find_due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payout_ids: Annotated[list[PayoutId], Field(min_length=1, max_length=100)]
    owner: str | None = None  # the execution id, for the logs


@functools.cache
def settings() -> ReconcileSettings:
    """The function's settings, validated once per container."""
    return load(ReconcileSettings)


@functools.cache
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client (standard retries for throttling)."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@functools.cache
def store() -> OrderStore:
    """The order store."""
    return OrderStore(dynamodb(), settings().orders_table)


@functools.cache
def provider_factory() -> ProviderFactory:
    """Builds adapters; their credentials are cached by Powertools parameters."""
    return ProviderFactory(settings())


@functools.cache
def policy() -> ReconcilePolicy:
    """The per-order thresholds."""
    return ReconcilePolicy.from_settings(settings())


@functools.cache
def gate() -> ProviderGate:
    """Provider pauses (cached for the container, at most 30 s) and the breaker."""
    return ProviderGate.from_settings(
        ProviderStateStore(dynamodb(), settings().orders_table), settings(), now
    )


def now() -> datetime:
    """The current time (tests replace it to run the loop on a virtual clock)."""
    return utc_now()


async def reconcile(payout_ids: list[str]) -> BatchReport:
    """Check one batch with this invocation's HTTP client (bound to this invocation's loop)."""
    config = settings()
    limits = httpx.Limits(max_connections=config.query_concurrency)
    factory = provider_factory()
    async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
        reconciler = Reconciler(
            store=store(),
            providers=LazyProviders(factory.names(), lambda name: factory.build(name, client)),
            router=Router(config.payout_routes),
            policy=policy(),
            gate=gate(),
            clock=now,
            random=random.random,
        )
        return await reconciler.reconcile(payout_ids)


# The execution id (``owner``, from the state machine) is every line's correlation id, as in
# find_due; each order's lines also carry its payout id (services.reconcile).
@logger.inject_lambda_context(correlation_id_path="owner")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Reconcile one batch; returns the counts by outcome."""
    batch = ReconcileBatch.model_validate(event)
    counts = asyncio.run(reconcile(batch.payout_ids)).counts()
    for key, name in METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[key])
    logger.info("batch reconciled", owner=batch.owner, counts=counts)
    return counts
