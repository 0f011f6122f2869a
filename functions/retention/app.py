"""retention: erase the personal data of orders terminal for longer than the retention period."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import JsonValue

from payouts.domain.order import utc_now
from payouts.observability import MetricUnit, logger, metrics, tracer
from payouts.services.retention import ErasureRun, erase_due
from payouts.settings import load
from payouts.settings.retention import RetentionSettings
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@functools.cache
def settings() -> RetentionSettings:
    """The function's settings, validated once per container."""
    return load(RetentionSettings)


@functools.cache
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client (standard retries for throttling)."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@functools.cache
def store() -> OrderStore:
    """The order store (the erasable and by-day indexes, order partitions, the sweep position)."""
    return OrderStore(dynamodb(), settings().orders_table)


def now() -> datetime:
    """The current time (tests replace it to run on a virtual clock)."""
    return utc_now()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, JsonValue]:
    """Erase pass after pass while orders are due and time lasts; the next schedule carries on."""
    config = settings()
    margin_ms = config.erasure_stop_margin_seconds * 1000
    erased = skipped = passes = 0
    run = ErasureRun(more=True)
    while run.more and context.get_remaining_time_in_millis() > margin_ms:
        run = erase_due(
            store(), retention=config.retention, now=now(), limit=config.erasure_batch_size
        )
        passes += 1
        erased += run.erased
        skipped += run.skipped
    metrics.add_metric(name="PersonalDataErased", unit=MetricUnit.Count, value=erased)
    logger.info("retention run", erased=erased, skipped=skipped, passes=passes, more=run.more)
    return {"erased": erased, "skipped": skipped, "more": run.more}
