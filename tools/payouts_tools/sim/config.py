"""What the simulation runs with: its size and faults, and the deployed system's own numbers
(function timeouts, queue settings, loop limits, each function's settings) read from
``template.yaml``, so the simulated system is configured as the deployed one is."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from payouts.settings import load
from payouts.settings.callbacks import CallbackSettings
from payouts.settings.find_due import FindDueSettings
from payouts.settings.intake import IntakeSettings
from payouts.settings.reconcile import ReconcileSettings
from payouts.settings.retention import RetentionSettings
from payouts_tools.local.template import (
    function_properties,
    load_template,
    parameter_defaults,
    table_create_kwargs,
)
from payouts_tools.sim.faults import NONE, FaultMix

# Virtual time 0 is this moment; every clock in the simulation counts from it.
EPOCH: Final = datetime(2026, 12, 1, tzinfo=UTC)
EPOCH_SECONDS: Final = EPOCH.timestamp()
STATE_MACHINE: Final = Path(__file__).resolve().parents[3] / "statemachine" / "reconcile.asl.json"
TABLE: Final = "orders-sim"
DLQ_URL: Final = "sim://payout-requests-dlq"
BUS: Final = "sim-bus"
CALLBACK_BASE_URL: Final = "https://callbacks.sim.invalid"


@dataclass(frozen=True)
class SimConfig:
    """One run: its seed, how many payouts arrive how fast, and the faults."""

    seed: int = 1
    payouts: int = 1000
    mix: FaultMix = NONE
    mix_name: str = "none"
    arrivals_per_second: float = 20.0
    # Stop (and judge) at this many virtual hours after the last payout was published, even if
    # the system is not quiet yet.
    max_tail_hours: float = 80.0
    check_every_step: bool = True
    # The personal-data retention period: hours, not the deployed 180 days, so that erasures by
    # the index and by the sweep (which reaches orders created a day more ago) fall in the run.
    retention_hours: float = 1.0
    # The drain after the system is quiet runs retention (and nothing else) until every order
    # is due and reachable; past this many virtual hours after the quiet, it gives up (judged).
    max_drain_hours: float = 7 * 24.0

    @property
    def retention(self) -> timedelta:
        """The retention period the simulated retention function runs with."""
        return timedelta(hours=self.retention_hours)


@dataclass(frozen=True)
class Deployment:
    """The numbers the template deploys with, and each function's settings."""

    intake_timeout: float
    callback_timeout: float
    find_due_timeout: float
    reconcile_timeout: float
    status_events_timeout: float
    visibility_timeout: float
    max_receive_count: int
    intake_batch_size: int
    intake_max_concurrency: int
    status_events_batch_size: int
    status_events_max_retries: int
    schedule_every: float
    loop_budget_seconds: int
    max_wait_seconds: int
    max_iterations: int
    map_concurrency: int
    intake: IntakeSettings
    callbacks: CallbackSettings
    find_due: FindDueSettings
    reconcile: ReconcileSettings
    # Retention: its timeout, schedule and the schedule's retries; its settings (the period in
    # them is the template's default, replaced in the simulation by ``SimConfig.retention``).
    retention_timeout: float
    retention_every: float
    retention_retries: int
    retention: RetentionSettings
    extra: dict[str, Any] = field(default_factory=dict)


@functools.cache
def deployment() -> Deployment:
    """The template's defaults, read once."""
    template = load_template()
    params = parameter_defaults(template, {}, strict=False)

    def timeout(logical_id: str) -> float:
        value = function_properties(template, logical_id).get("Timeout")
        return float(params["IntakeFunctionTimeout"] if isinstance(value, dict) else str(value))

    def settings[T](logical_id: str, model: type[T]) -> T:
        variables = function_properties(template, logical_id)["Environment"]["Variables"]
        environ = {name: value for name, value in variables.items() if isinstance(value, str)}
        environ |= {
            "ORDERS_TABLE": TABLE,
            "PAYOUT_DLQ_URL": DLQ_URL,
            "CALLBACK_BASE_URL": CALLBACK_BASE_URL,
        }
        return load(model, environ)  # type: ignore[type-var]

    return Deployment(
        intake_timeout=timeout("IntakeFunction"),
        callback_timeout=timeout("CallbackFunction"),
        find_due_timeout=timeout("FindDueFunction"),
        reconcile_timeout=timeout("ReconcileFunction"),
        status_events_timeout=timeout("StatusEventsFunction"),
        visibility_timeout=float(params["RequestsVisibilityTimeout"]),
        max_receive_count=int(params["RequestsMaxReceiveCount"]),
        intake_batch_size=int(params["IntakeBatchSize"]),
        intake_max_concurrency=int(params["IntakeMaximumConcurrency"] or 5) or 5,
        status_events_batch_size=int(params["StatusEventsBatchSize"]),
        status_events_max_retries=int(params["StatusEventsMaximumRetryAttempts"]),
        schedule_every=_rate_seconds(params["ReconcileScheduleRate"]),
        loop_budget_seconds=int(params["ReconcileLoopBudgetSeconds"]),
        max_wait_seconds=int(params["ReconcileMaxWaitSeconds"]),
        max_iterations=int(params["ReconcileMaxIterations"]),
        map_concurrency=int(params["ReconcileMapConcurrency"]),
        intake=settings("IntakeFunction", IntakeSettings),
        callbacks=settings("CallbackFunction", CallbackSettings),
        find_due=settings("FindDueFunction", FindDueSettings),
        reconcile=settings("ReconcileFunction", ReconcileSettings),
        retention_timeout=timeout("RetentionFunction"),
        retention_every=_rate_seconds(_retention_schedule(template)["ScheduleExpression"]),
        retention_retries=int(_retention_schedule(template)["RetryPolicy"]["MaximumRetryAttempts"]),
        retention=_retention_settings(template, params),
    )


def _retention_schedule(template: dict[str, Any]) -> dict[str, Any]:
    properties = function_properties(template, "RetentionFunction")
    schedule: dict[str, Any] = properties["Events"]["Schedule"]["Properties"]
    return schedule


def _retention_settings(template: dict[str, Any], params: dict[str, str]) -> RetentionSettings:
    variables = function_properties(template, "RetentionFunction")["Environment"]["Variables"]
    environ = {name: value for name, value in variables.items() if isinstance(value, str)}
    environ |= {
        "ORDERS_TABLE": TABLE,
        # A !Ref to the parameter in the template: its default, as CloudFormation passes it.
        "PERSONAL_DATA_RETENTION_DAYS": params["PersonalDataRetentionDays"],
    }
    return load(RetentionSettings, environ)


def _rate_seconds(expression: str) -> float:
    """Seconds between runs of a ``rate(N unit)`` schedule expression."""
    amount, unit = expression.removeprefix("rate(").removesuffix(")").split()
    per = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
    return float(amount) * per[unit]


@functools.cache
def _orders_table() -> dict[str, Any]:
    return table_create_kwargs(load_template(), "OrdersTable", TABLE)


def table_definition() -> dict[str, Any]:
    """CreateTable arguments for the orders table, from the template's own properties."""
    return dict(_orders_table())
