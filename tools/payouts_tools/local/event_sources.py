"""The template's event source mappings (a function's ``SQS`` and ``DynamoDB`` events) as local
event sources, configured from the events' own properties."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from payouts_tools.local.embedded_aws import EmbeddedAws
from payouts_tools.local.event_filter import compile_filters
from payouts_tools.local.lambda_runtime import HandlerFactory
from payouts_tools.local.resources import LocalResources
from payouts_tools.local.sqs_poller import SqsEventSource, SqsSourceConfig
from payouts_tools.local.stream_poller import StreamEventSource, StreamSourceConfig
from payouts_tools.local.template import TemplateError

# Lambda's defaults for what a mapping does not say.
_SQS_BATCH_SIZE = 10
_STREAM_BATCH_SIZE = 100
_UNBOUNDED_CONCURRENCY = 1000


@dataclass(frozen=True)
class SourceTarget:
    """The function an event source invokes: its name, and how to load an environment."""

    function_name: str
    handler_factory: HandlerFactory


def sqs_event_source(
    aws: EmbeddedAws,
    resources: LocalResources,
    target: SourceTarget,
    properties: Mapping[str, Any],
    max_workers: int,
) -> SqsEventSource:
    """An ``SQS`` event: queue, batch size, batching window, ``ReportBatchItemFailures``, and
    ``ScalingConfig.MaximumConcurrency`` bounding the concurrent pollers."""
    setting = _settings(resources, properties)
    queue_arn = str(setting("Queue", None))
    maximum = int(setting("ScalingConfig", {}).get("MaximumConcurrency", _UNBOUNDED_CONCURRENCY))
    config = SqsSourceConfig(
        queue_url=queue_url(resources, queue_arn),
        queue_arn=queue_arn,
        function_name=target.function_name,
        batch_size=int(setting("BatchSize", _SQS_BATCH_SIZE)),
        batching_window_s=float(setting("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures=_reports_failures(setting("FunctionResponseTypes", [])),
        workers=max(1, min(max_workers, maximum)),
        region=aws.region,
    )
    return SqsEventSource(aws.client("sqs"), config, target.handler_factory)


def stream_event_source(
    aws: EmbeddedAws,
    resources: LocalResources,
    target: SourceTarget,
    properties: Mapping[str, Any],
) -> StreamEventSource:
    """A ``DynamoDB`` event: stream, starting position, batch size, retries, bisecting, filters,
    ``ReportBatchItemFailures`` and the on-failure destination."""
    setting = _settings(resources, properties)
    config = StreamSourceConfig(
        stream_arn=str(setting("Stream", None)),
        function_name=target.function_name,
        batch_size=int(setting("BatchSize", _STREAM_BATCH_SIZE)),
        starting_position=str(setting("StartingPosition", "LATEST")),
        maximum_retry_attempts=int(setting("MaximumRetryAttempts", -1)),
        report_batch_item_failures=_reports_failures(setting("FunctionResponseTypes", [])),
        bisect_on_error=bool(setting("BisectBatchOnFunctionError", False)),
        filters=tuple(compile_filters(setting("FilterCriteria", None))),
        region=aws.region,
    )
    destination = setting("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    on_failure = _queue_sender(aws, resources, str(destination)) if destination else None
    return StreamEventSource(
        aws.client("dynamodbstreams"), config, target.handler_factory, on_failure=on_failure
    )


def queue_url(resources: LocalResources, queue_arn: str) -> str:
    """The URL of the local queue with ``queue_arn``."""
    for made in resources.made.values():
        if made.attributes.get("Arn") == queue_arn and "QueueUrl" in made.attributes:
            return made.attributes["QueueUrl"]
    raise TemplateError(f"no local queue has the ARN {queue_arn}")


def _settings(
    resources: LocalResources, properties: Mapping[str, Any]
) -> Callable[[str, Any], Any]:
    resolver = resources.resolver()

    def setting(name: str, default: Any) -> Any:
        return resolver.resolve(properties.get(name, default))

    return setting


def _reports_failures(response_types: Any) -> bool:
    return "ReportBatchItemFailures" in (response_types or [])


def _queue_sender(
    aws: EmbeddedAws, resources: LocalResources, queue_arn: str
) -> Callable[[dict[str, Any]], None]:
    """Sends a failure record to an on-failure destination queue, as Lambda does."""
    url = queue_url(resources, queue_arn)
    sqs = aws.client("sqs")

    def send(record: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    return send
