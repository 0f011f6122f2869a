"""Status events: the orders table's stream -> PayoutStatusChanged events on the payouts bus."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts.observability import logger, metrics, tracer
from payouts.services.funnel import emit_status_changes, status_changes_by_provider
from payouts.services.status_events import EventPublisher, publish_status_events, raise_if_failed
from payouts.settings import load
from payouts.settings.status_events import StatusEventsSettings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


@functools.cache
def settings() -> StatusEventsSettings:
    """The function's settings, validated once per container."""
    return load(StatusEventsSettings)


@functools.cache
def events() -> EventBridgeClient:
    """The EventBridge client."""
    return boto3.client("events")


@functools.cache
def publisher() -> EventPublisher:
    """Puts the events on the configured bus."""
    return EventPublisher(events(), settings().event_bus_name)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Publish a batch's status changes; records whose event was not put on the bus fail."""
    failures = publish_status_events(event["Records"], publisher().publish)
    emit_status_changes(status_changes_by_provider(event["Records"], failures))

    def record_handler(record: DynamoDBRecord) -> None:
        raise_if_failed(failures, str(record.dynamodb.sequence_number if record.dynamodb else ""))

    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        context=context,
    )
