"""find_due: take or renew the reconcile lease, and hand out the due orders in batches."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from payouts.domain.order import utc_now
from payouts.observability import MetricUnit, logger, metrics, tracer
from payouts.services.due import DueQuery, DueSizing, acquire_lease, find_due
from payouts.settings import load
from payouts.settings.find_due import FindDueSettings
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_STRICT = ConfigDict(frozen=True, extra="forbid")

# Where the execution id is in this function's input (a JMESPath expression, as Powertools takes).
EXECUTION_ID_PATH: Final = "owner"


class AcquireCommand(BaseModel):
    """First state of an execution: take the lease for the execution's time budget."""

    model_config = _STRICT

    action: Literal["acquire"]
    owner: Annotated[str, Field(min_length=1)]  # the execution id ($$.Execution.Id)
    budget_seconds: Annotated[int, Field(ge=60, le=24 * 3600)]


class FindCommand(BaseModel):
    """Every loop iteration: renew the lease and list what is due."""

    model_config = _STRICT

    action: Literal["find"]
    owner: Annotated[str, Field(min_length=1)]
    iteration: Annotated[int, Field(ge=0)]
    budget_ends_at: Annotated[int, Field(ge=0)]  # epoch seconds, from the acquire answer
    max_wait_seconds: Annotated[int, Field(ge=1, le=3600)]


Command = Annotated[AcquireCommand | FindCommand, Field(discriminator="action")]


@functools.cache
def command_adapter() -> TypeAdapter[AcquireCommand | FindCommand]:
    """Validates the state machine's input to this function."""
    return TypeAdapter(Command)


@functools.cache
def settings() -> FindDueSettings:
    """The function's settings, validated once per container."""
    return load(FindDueSettings)


@functools.cache
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client (standard retries for throttling)."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@functools.cache
def store() -> OrderStore:
    """The order store (the due index and the lease item)."""
    return OrderStore(dynamodb(), settings().orders_table)


def now() -> datetime:
    """The current time (tests replace it to run the loop on a virtual clock)."""
    return utc_now()


def sizing() -> DueSizing:
    """How much one loop iteration hands out."""
    config = settings()
    return DueSizing(
        batch_size=config.reconcile_batch_size,
        batches_per_iteration=config.reconcile_batches_per_iteration,
        lease_margin=config.lease_margin,
    )


# Every log line of an invocation carries the execution's id (the state machine passes
# $$.Execution.Id as ``owner``), which ties find_due's lines to the reconcile batches it handed out.
@logger.inject_lambda_context(correlation_id_path=EXECUTION_ID_PATH)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, JsonValue]:
    """``acquire`` the lease, or ``find`` the due orders (see statemachine/reconcile.asl.json)."""
    command = command_adapter().validate_python(event)
    if isinstance(command, AcquireCommand):
        grant = acquire_lease(
            store(), command.owner, timedelta(seconds=command.budget_seconds), sizing(), now()
        )
        metrics.add_metric(name="ReconcileLeaseTaken", unit=MetricUnit.Count, value=grant.acquired)
        logger.info("reconcile lease", owner=command.owner, acquired=grant.acquired)
        return grant.as_output()
    query = DueQuery(
        owner=command.owner,
        iteration=command.iteration,
        budget_ends_at=datetime.fromtimestamp(command.budget_ends_at, tz=UTC),
        max_wait=timedelta(seconds=command.max_wait_seconds),
    )
    plan = find_due(store(), query, sizing(), now())
    metrics.add_metric(name="DueOrdersHandedOut", unit=MetricUnit.Count, value=plan.due_count)
    logger.info(
        "due orders",
        iteration=plan.iteration,
        due=plan.due_count,
        more_due_now=plan.more_due_now,
        wait_seconds=plan.wait_seconds,
        lease_held=plan.lease_held,
        budget_spent=plan.budget_spent,
    )
    return plan.as_output()
