"""``payouts demo``: publish a few hundred payouts into the local stack, with the sandbox making
realistic trouble, follow them to the end, and check the outcome against the sandbox's ledger.

The demo talks to the stack only as other services and operators do: it publishes request
messages to the requests queue, and it reads orders through the by-day index (progress)
and by id (the final check). Everything in between is the real system.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.store import OrderStore
from payouts_tools.cli.operations import publish
from payouts_tools.local.report import DemoReport, build_report
from payouts_tools.local.scenario import (
    FaultMix,
    payout_requests,
    sandbox_config,
    sandbox_faults,
)
from payouts_tools.local.stack import LOCAL_TIMINGS, LocalStack, StackOptions

DEFAULT_COUNT: Final = 300
DEFAULT_SEED: Final = 7
# Long enough for the slowest path (an unknown create not found, a grace period, a re-send and
# its settlement); the default scenario settles in well under half of it.
DEFAULT_TIMEOUT_S: Final = 240.0
# How long the end of the demo waits for the last status events to arrive from the bus.
_EVENTS_GRACE_S: Final = 15.0
_POLL_S: Final = 0.5


@dataclass(frozen=True)
class DemoOptions:
    """What ``payouts demo`` was asked for."""

    count: int = DEFAULT_COUNT
    faults: FaultMix = field(default_factory=FaultMix)
    seed: int = DEFAULT_SEED
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Progress:
    """Where the published payouts stand at one moment."""

    published: int
    by_status: dict[str, int]
    escalated: int
    settled: int  # terminal, or unresolved but escalated to a person
    elapsed_s: float


type ProgressCallback = Callable[[Progress], None]


def stack_options(options: DemoOptions) -> StackOptions:
    """The local stack for a demo: the sandbox's trouble from the fault mix."""
    read_timeout = float(LOCAL_TIMINGS["PROVIDER_READ_TIMEOUT"])
    return StackOptions(
        sandbox=sandbox_config(options.faults, options.seed, read_timeout),
        faults=tuple(sandbox_faults(options.faults)),
        reconcile_every_s=5.0,
        # Provider answers are slow or lost in places: more pollers overlap those waits.
        sqs_workers=4,
    )


def run_demo(
    options: DemoOptions,
    on_progress: ProgressCallback | None = None,
    on_started: Callable[[LocalStack], None] | None = None,
) -> DemoReport:
    """Start a local stack, run the scenario, stop the stack, and return the verdict."""
    started = time.monotonic()
    with LocalStack(stack_options(options)) as stack:
        if on_started is not None:
            on_started(stack)
        return run_scenario(stack, options, started, on_progress)


def run_scenario(
    stack: LocalStack,
    options: DemoOptions,
    started: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> DemoReport:
    """Publish the scenario's payouts into a running stack and follow them to the end."""
    started = time.monotonic() if started is None else started
    store = stack.store()
    requests = payout_requests(options.count, options.seed)
    ids = [str(request["payout_id"]) for request in requests]
    first_day = datetime.now(UTC)
    published_at = time.monotonic()
    bodies = [json.dumps(request) for request in requests]
    publish(stack.aws.client("sqs"), stack.endpoints.queue_url, bodies, validate=True)
    deadline = published_at + options.timeout_s
    tracker = ProgressTracker(store, ids, first_day)
    while True:
        progress = tracker.measure(stack, started)
        if on_progress is not None:
            on_progress(progress)
        if progress.settled >= len(ids) or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_S)
    settled_s = time.monotonic() - published_at
    orders = {payout_id: store.get(payout_id) for payout_id in ids}
    _wait_for_events(stack, orders)
    report = build_report(ids, orders, stack.sandbox.ledger(), stack.status_events())
    report.extra.update(
        {
            "seed": options.seed,
            "faults": options.faults.as_json(),
            "elapsed_seconds": round(time.monotonic() - started, 1),
            "settle_seconds": round(settled_s, 1),
            "sandbox": _sandbox_figures(stack),
        }
    )
    return report


class ProgressTracker:
    """Where the published payouts stand, read the way other services and operators would.

    With the status events consumer running, statuses come from the ``PayoutStatusChanged``
    events (no table reads at all: the latest version of each payout wins). Escalation is a flag,
    not a status, so it publishes no event: once few payouts are left unsettled, those are read by
    id to see whether a person has them. Without a consumer, the by-day index is read.
    """

    _READ_BY_ID_BELOW: Final = 40

    def __init__(self, store: OrderStore, ids: list[str], first_day: datetime) -> None:
        self._store = store
        self._ids = ids
        self._first_day = first_day

    def measure(self, stack: LocalStack, started: float) -> Progress:
        """The current progress."""
        if stack.consumer is None:
            return self._from_index(started)
        latest: dict[str, tuple[int, str]] = {}
        for event in stack.status_events():
            version, status = event.detail.get("version"), event.detail.get("new_status")
            payout_id = event.payout_id
            if payout_id is None or not isinstance(version, int) or not isinstance(status, str):
                continue
            if payout_id not in latest or latest[payout_id][0] < version:
                latest[payout_id] = (version, status)
        statuses = {payout_id: status for payout_id, (_, status) in latest.items()}
        open_ids = [
            payout_id
            for payout_id in self._ids
            if OrderStatus(statuses.get(payout_id, "RECEIVED")) not in _TERMINAL
        ]
        escalated = 0
        if len(open_ids) <= self._READ_BY_ID_BELOW:
            for payout_id in open_ids:
                order = self._store.get(payout_id)
                if order is None:
                    continue
                statuses[payout_id] = order.status.value
                escalated += int(order.needs_review and not order.is_terminal)
        by_status: dict[str, int] = {}
        for status in statuses.values():
            by_status[status] = by_status.get(status, 0) + 1
        terminal = sum(1 for status in statuses.values() if OrderStatus(status) in _TERMINAL)
        return Progress(
            published=len(self._ids),
            by_status=by_status,
            escalated=escalated,
            settled=terminal + escalated,
            elapsed_s=time.monotonic() - started,
        )

    def _from_index(self, started: float) -> Progress:
        """Counts by status from the by-day index (no Scan)."""
        now = datetime.now(UTC)
        by_status: dict[str, int] = {}
        escalated_unresolved = 0
        # One read of the days for every status (by-day holds them all).
        listed = self._store.list_by_statuses(
            list(OrderStatus), self._first_day, now, limit=len(OrderStatus) * (len(self._ids) + 1)
        )
        for status in OrderStatus:
            rows = [row for row in listed if row.status is status]
            if rows:
                by_status[status.value] = len(rows)
            if status not in _TERMINAL:
                escalated_unresolved += sum(row.needs_review for row in rows)
        terminal = sum(
            count for status, count in by_status.items() if OrderStatus(status) in _TERMINAL
        )
        return Progress(
            published=len(self._ids),
            by_status=by_status,
            escalated=escalated_unresolved,
            settled=terminal + escalated_unresolved,
            elapsed_s=time.monotonic() - started,
        )


_TERMINAL: Final = frozenset(
    {OrderStatus.SUCCEEDED, OrderStatus.FAILED, OrderStatus.REJECTED, OrderStatus.REVERSED}
)


def _wait_for_events(stack: LocalStack, orders: dict[str, Order | None]) -> None:
    """Give the status events (stream -> publisher -> bus -> consumer) time to catch up."""
    if stack.consumer is None:
        return
    wanted = {
        (order.payout_id, order.status.value)
        for order in orders.values()
        if order is not None and order.is_terminal
    }
    deadline = time.monotonic() + _EVENTS_GRACE_S
    while time.monotonic() < deadline:
        seen = {
            (event.payout_id, event.detail.get("new_status")) for event in stack.status_events()
        }
        if wanted <= seen:
            return
        time.sleep(_POLL_S)


def _sandbox_figures(stack: LocalStack) -> dict[str, int]:
    """What the sandbox did, for the summary: payouts it holds, callbacks it sent."""
    attempts = stack.sandbox.callbacks()
    return {
        "provider_orders": len(stack.sandbox.orders()),
        "ledger_entries": len(stack.sandbox.ledger()),
        "callback_attempts": len(attempts),
        "callbacks_acknowledged": sum(attempt.acknowledged for attempt in attempts),
    }
