"""Intake: SQS payout requests -> orders -> one provider create each (partial batch failures)."""

from __future__ import annotations

import functools
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import boto3
import httpx
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts.domain.order import utc_now
from payouts.observability import logger, metrics, tracer
from payouts.providers.registry import ProviderFactory
from payouts.providers.routing import Router
from payouts.services.intake import (
    Intake,
    IntakeMessage,
    IntakeTimings,
    ProviderPool,
    SqsDeadLetters,
)
from payouts.services.provider_gate import ProviderGate
from payouts.settings import load
from payouts.settings.intake import IntakeSettings
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts.store.provider_state import ProviderStateStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

# The most records SQS hands one invocation (the template's IntakeBatchSize is at most 10).
MAX_BATCH_RECORDS: Final = 10


@functools.cache
def settings() -> IntakeSettings:
    """The function's settings, validated once per container."""
    return load(IntakeSettings)


@functools.cache
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client (standard retries for throttling)."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@functools.cache
def sqs() -> SQSClient:
    """The SQS client the dead letters are sent with."""
    return boto3.client("sqs")


@functools.cache
def provider_factory() -> ProviderFactory:
    """Builds adapters; their credentials are cached by Powertools parameters."""
    return ProviderFactory(settings())


@functools.cache
def gate() -> ProviderGate:
    """Provider pauses (cached for the container, at most 30 s) and the breaker."""
    config = settings()
    return ProviderGate.from_settings(
        ProviderStateStore(dynamodb(), config.orders_table), config, utc_now
    )


@functools.cache
def io_threads() -> ThreadPoolExecutor:
    """Worker threads for the blocking table and queue calls, kept for the container's life
    (a per-invocation pool would be torn down, thread by thread, at the end of every batch).

    One per record a batch can hold, so all of a batch's table writes are in flight together:
    PROVIDER_CONCURRENCY bounds provider creates, and a smaller pool sized by it would queue the
    table writes too. botocore's connection pool holds as many (max_pool_connections, 10).
    """
    return ThreadPoolExecutor(max_workers=MAX_BATCH_RECORDS, thread_name_prefix="intake-io")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The providers' TLS context. Loading the CA bundle costs tens of milliseconds: once per
    container, not once per invocation's client."""
    return httpx.create_ssl_context()


def open_http_client() -> httpx.AsyncClient:
    """One invocation's HTTP client: enough connections for every concurrent create."""
    return httpx.AsyncClient(
        verify=tls_context(),
        limits=httpx.Limits(max_connections=settings().provider_concurrency),
        follow_redirects=False,
    )


def build_intake(pool: ProviderPool) -> Intake:
    """The intake use case for one invocation, around that invocation's providers."""
    config = settings()
    return Intake(
        store=OrderStore(dynamodb(), config.orders_table),
        router=Router(config.payout_routes),
        providers=pool,
        dead_letters=SqsDeadLetters(sqs(), config.payout_dlq_url),
        timings=IntakeTimings.from_settings(config),
        gate=gate(),
        concurrency=config.provider_concurrency,
        threads=io_threads(),
    )


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Take a batch of payout requests in; only the records that must be retried fail."""
    pool = ProviderPool(provider_factory().build, open_http_client, len(event["Records"]))
    intake = build_intake(pool)

    async def record_handler(record: SQSRecord) -> str:
        try:
            message = IntakeMessage(message_id=record.message_id, body=record.body)
            return (await intake.handle(message)).value
        finally:
            await pool.record_done()

    return async_process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=AsyncBatchProcessor(event_type=EventType.SQS),
        context=context,
    )
