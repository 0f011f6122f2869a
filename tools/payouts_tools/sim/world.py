"""The simulated world: publishers, SQS, the Lambda functions, Step Functions, the table's stream,
the providers and their callbacks, on one virtual clock, every random choice from one seed.

The functions run the real services (``Intake``, ``handle_callback``, ``acquire_lease`` /
``find_due``, ``Reconciler``, ``publish_status_events``, retention's ``erase_due``) over the real
``OrderStore``; what is simulated is only what AWS and the providers do around them, and how they
fail. Once the system is quiet, a drain runs the hourly retention alone until every order it
must erase has fallen due and been reached, so its promise is judged too.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from payouts.domain.erasure import SWEPT_CHANGES_WITHIN
from payouts.domain.order import utc_now
from payouts.domain.request import parse_request
from payouts.observability import logger, metrics
from payouts.providers.base import Ack, PayoutProvider
from payouts.providers.routing import NoRoute, Router
from payouts.services.callbacks import CallbackPolicy, CallbackRequest, handle_callback
from payouts.services.due import DuePlan, DueQuery, DueSizing, LeaseGrant, acquire_lease, find_due
from payouts.services.intake import Disposition, Intake, IntakeMessage, IntakeTimings
from payouts.services.provider_gate import METRIC_BREAKER_TRIPPED, ProviderGate
from payouts.services.provider_pause import resume_provider
from payouts.services.reconcile import ReconcilePolicy, Reconciler
from payouts.services.retention import ErasureRun, erase_due
from payouts.services.status_events import (
    PayoutStatusChanged,
    StatusEvent,
    publish_status_events,
)
from payouts.settings.find_due import RECONCILE_LEASE
from payouts.store import OrderStore
from payouts.store.provider_state import ProviderStateStore
from payouts_tools.sandbox.callbacks import CallbackMessage
from payouts_tools.sandbox.config import Provider
from payouts_tools.sandbox.ledger import EntryKind, LedgerEntry
from payouts_tools.sandbox.state import Outcome, PayoutState, SandboxOrder, Script
from payouts_tools.sim import config as cfg
from payouts_tools.sim.dynamodb import MemoryDynamoDB
from payouts_tools.sim.faults import Dice
from payouts_tools.sim.faulty_dynamodb import DynamoFault, FaultyDynamoDB
from payouts_tools.sim.lambdas import CURRENT, Invocation, LambdaCrash
from payouts_tools.sim.providers import SimProviders
from payouts_tools.sim.queue import SimQueue
from payouts_tools.sim.referee import Referee, Requested

# How long after a breaker's page the simulated person resumes the paused providers (virtual
# seconds): long enough for the outage's UNKNOWN creates to be reconciled by query first.
_RESUME_AFTER_S: Final = 1800.0
_METHODS: Final = (("ALIPAY", "CNY"), ("UPI", "INR"), ("BANK_ACCOUNT", "INR"), ("PIX", "BRL"))
_BENEFICIARIES: Final[dict[str, dict[str, str]]] = {
    "ALIPAY": {"method": "ALIPAY", "account_name": "sim_payee", "surname": "s"},
    "UPI": {"method": "UPI", "vpa": "payee@okbank", "payee_name": "Sim Payee"},
    "BANK_ACCOUNT": {
        "method": "BANK_ACCOUNT",
        "account_number": "001234567890",
        "ifsc": "HDFC0001234",
        "payee_name": "Sim Payee",
    },
    "PIX": {
        "method": "PIX",
        "pix_key_type": "EMAIL",
        "pix_key": "payee@example.com",
        "payee_name": "Sim Payee",
    },
}
_GARBAGE: Final = (
    "not json at all",
    '{"payout_id": "BAD-1", "amount": {"value": -5, "currency": "CNY"}}',
    '{"payout_id": 17}',
    "[]",
    '{"payout_id": "DUP-A", "payout_id": "DUP-B", "amount": {"value": 1, "currency": "CNY"}}',
    "[" * 5000 + "]" * 5000,
)
_WRITES: Final = frozenset({"PutItem", "DeleteItem", "UpdateItem", "TransactWriteItems"})
_DDB_FAULTS: Final[tuple[tuple[str, DynamoFault, frozenset[str] | None], ...]] = (
    ("ddb_throttle", DynamoFault.THROTTLE, None),
    ("ddb_internal_before", DynamoFault.INTERNAL_BEFORE, None),
    ("ddb_timeout_before", DynamoFault.TIMEOUT_BEFORE, None),
    ("ddb_cancel_throttling", DynamoFault.CANCEL_THROTTLING, frozenset({"TransactWriteItems"})),
    ("ddb_cancel_conflict", DynamoFault.CANCEL_CONFLICT, frozenset({"TransactWriteItems"})),
    ("ddb_retry_sees_own_write", DynamoFault.RETRIED_SEES_OWN_WRITE, frozenset({"PutItem"})),
    ("ddb_internal_after", DynamoFault.INTERNAL_AFTER, _WRITES),
    ("ddb_timeout_after", DynamoFault.TIMEOUT_AFTER, _WRITES),
)
_TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "REVERSED"})

_POLL_EVERY: Final = 1.0  # seconds between SQS polls and stream polls
# What one retention pass (up to a batch read and erased) costs in virtual seconds: a point
# between passes where the invocation's timeout can strike and other writes interleave.
_RETENTION_PASS_S: Final = 2.0
# Lambda's asynchronous invocation retries a function error after about a minute, then two.
_RETENTION_RETRY_S: Final = 60.0
# A payout scripted to settle or be reversed more than a day after it was created.
_LATE_EVENT_S: Final = (24.25 * 3600, 26 * 3600)
# The values of the published requests that are personal data (the beneficiaries' fields but
# the method and the key's type, and the description): none may stay in clear once erased.
_PERSONAL: Final = frozenset(
    {
        value
        for beneficiary in _BENEFICIARIES.values()
        for name, value in beneficiary.items()
        if name not in {"method", "pix_key_type"} and len(value) > 2
    }
    | {"simulated payout"}
)


@dataclass(frozen=True)
class FunctionError:
    """The function raised: Lambda reports a function error (the caller retries or fails)."""

    error: Exception


type Failed = LambdaCrash | TimeoutError | FunctionError
FAILED: Final = (LambdaCrash, TimeoutError, FunctionError)


class InlineExecutor(Executor):
    """Runs what it is given at once, in the calling thread: no threads in the simulation."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting coroutine
            future.set_exception(error)
        return future


@dataclass
class Payout:
    """One payout a publisher asked for."""

    payout_id: str
    body: str
    amount: int
    currency: str
    method: str
    published_at: float


@dataclass
class Figures:
    """What the run counted."""

    invocations: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    dispositions: Counter[str] = field(default_factory=Counter)
    callbacks: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    events_published: int = 0
    breaker_trips: int = 0
    resumes: int = 0
    retention: Counter[str] = field(default_factory=Counter)  # runs: all, complete, failed...
    late_scripted: int = 0
    quiet_at: float = 0.0  # virtual seconds: when the drain began


class World:
    """Everything, wired. ``await run()`` publishes the payouts and runs until quiet."""

    def __init__(self, config: cfg.SimConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.deploy = cfg.deployment()
        seed = config.seed
        self.rng = {name: random.Random(f"{seed}:{name}") for name in _STREAMS}
        self.dice = Dice(config.mix, self.rng["faults"])
        self.referee = Referee(
            retention=config.retention,
            retention_every=timedelta(seconds=self.deploy.retention_every),
            clock_tolerance=timedelta(seconds=60 + 2 * config.mix.clock_skew_seconds),
            personal=_PERSONAL,
        )
        self.figures = Figures()
        self.digest = hashlib.sha256()
        self.table = MemoryDynamoDB(clock=self._epoch_seconds)
        self.table.create_table(**cfg.table_definition())
        self.faulty = FaultyDynamoDB(self.table, decide=self._ddb_fault, around=self._ddb_around)
        self.queue = SimQueue(
            self.deploy.visibility_timeout, self.deploy.max_receive_count, self.rng["sqs"]
        )
        self.providers = SimProviders(
            seed=seed, dice=self.dice, rng=self.rng["network"], on_callback=self._on_callback
        )
        self.providers.sandbox.state.ledger.watch(self._on_ledger)
        self.router = Router(self.deploy.intake.payout_routes)
        self.payouts: dict[str, Payout] = {}
        self.events: list[PayoutStatusChanged] = []
        self._stream_backlog: list[Mapping[str, Any]] = []
        self._running: set[asyncio.Task[Any]] = set()
        self._intake_in_flight = 0
        self._published_all = False
        self._executions = 0
        self._callbacks_in_flight = 0
        self._ids = self.rng["ids"]
        self._open: set[str] = set()  # published, not yet seen finished
        self._dead_ids: set[str] = set()  # payout ids with a message in the DLQ
        self._dead_messages: set[str] = set()
        self._dead_seen = 0
        self._queue_changed = asyncio.Event()
        self._stream_changed = asyncio.Event()
        self._resume_planned = False
        # Payouts scripted to change more than a day after creation: quiet waits for them.
        self._late: dict[str, Provider] = {}
        self._retention_complete_at: float | None = None

    # ---- the run --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish every payout, run every process until the system is quiet, drain the
        retention, then judge."""
        processes = [
            self._spawn(self._publish_all()),
            self._spawn(self._poll_requests()),
            self._spawn(self._schedule_reconcile()),
        ]
        # These two run on through the drain: retention, and the stream its writes go to.
        retention = [self._spawn(self._pump_stream()), self._spawn(self._schedule_retention())]
        await self._until_quiet()
        self.figures.quiet_at = self.loop.time()
        for process in processes:
            process.cancel()
        await asyncio.gather(*processes, return_exceptions=True)
        await self._drain_retention()
        for process in retention:
            process.cancel()
        await asyncio.gather(*retention, return_exceptions=True)
        await self._drain_stream_fully()
        self.referee.at_quiescence(self._dead_lettered_ids())
        self._judge_erased_partitions()
        self.referee.judge_retention_at_end(self._clock())

    async def _until_quiet(self) -> None:
        while True:
            await asyncio.sleep(60)
            if not self._published_all:
                continue
            if self._quiet() or self._past_horizon():
                return

    def _quiet(self) -> bool:
        self._note_dead_letters()
        if self.queue.messages or self._intake_in_flight or self._callbacks_in_flight:
            return False
        if self._late_pending():
            return False
        # Payouts only ever leave the open set (a terminal status stays, an escalation stays
        # until a person resolves it), so each is looked at until it leaves: linear overall.
        for payout_id in list(self._open):
            order = self.referee.orders.get(payout_id)
            if order is None:
                if payout_id not in self._dead_ids:
                    return False
            elif not (order.status in _TERMINAL or order.needs_review):
                return False
            self._open.discard(payout_id)
        return True

    def _past_horizon(self) -> bool:
        last = max((p.published_at for p in self.payouts.values()), default=0.0)
        return self.loop.time() > last + self.config.max_tail_hours * 3600

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def log(self, *parts: object) -> None:
        """One line of the run's event log (only its digest is kept)."""
        line = f"{self.loop.time():.6f} " + " ".join(str(part) for part in parts) + "\n"
        self.digest.update(line.encode())

    # ---- time, ids ------------------------------------------------------------------------------

    def _epoch_seconds(self) -> float:
        return cfg.EPOCH_SECONDS + self.loop.time()

    def _clock(self) -> datetime:
        """Virtual time now, as a date (no skew: the referee's and the simulator's clock)."""
        return cfg.EPOCH + timedelta(seconds=self.loop.time())

    def _unique(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    # ---- Lambda invocations ------------------------------------------------------------------

    def _invocation(self, function: str) -> Invocation:
        skew = self.config.mix.clock_skew_seconds
        self.figures.invocations[function] += 1
        if self.dice.roll("lambda_cold_start"):
            self.log("cold start", function)
        return Invocation(
            function=function,
            skew=self.rng["clocks"].uniform(-skew, skew) if skew else 0.0,
            now=self.loop.time,
            dice=self.dice,
        )

    def _store(self) -> OrderStore:
        # The store's own retry pauses would block the one thread: they cost no virtual time
        # here (a real pause only spreads writers out; the order of events is what matters).
        return OrderStore(
            self.faulty.as_client(),
            cfg.TABLE,
            pause=lambda _: None,
            jitter=self.rng["jitter"].random,
            unique=self._unique,
        )

    def _gate(self, clock: Callable[[], datetime]) -> ProviderGate:
        # One gate per invocation: a container's cache would only make pauses reach it later,
        # and the simulation judges the money, not how fast a pause spreads.
        states = ProviderStateStore(self.faulty.as_client(), cfg.TABLE, unique=self._unique)
        return ProviderGate.from_settings(states, self.deploy.intake, clock, count=self._count)

    def _count(self, metric: str) -> None:
        if metric == METRIC_BREAKER_TRIPPED:
            self.figures.breaker_trips += 1
            self.log("breaker tripped")
            if not self._resume_planned:
                self._resume_planned = True
                self._spawn(self._person_resumes())

    async def _person_resumes(self) -> None:
        """The runbook's person ("Breaker tripped"): some time after the page, with the outage's
        UNKNOWN orders left to the loop, they resume every paused provider, from outside Lambda
        (no injected faults). Held orders are then sent by the loop, under the referee's eye."""
        await asyncio.sleep(_RESUME_AFTER_S)
        self._resume_planned = False
        states = ProviderStateStore(self.table.as_client(), cfg.TABLE, unique=self._unique)
        now = cfg.EPOCH + timedelta(seconds=self.loop.time())
        for provider in sorted(set(self.deploy.intake.payout_routes.values())):
            state = states.get(provider)
            if state is None or not state.paused:
                continue
            resume_provider(
                states,
                provider,
                known=[provider],
                reason="breaker page handled: provider answering again",
                operator="sim-operator",
                now=now,
            )
            self.figures.resumes += 1
            self.log("provider resumed", provider)
            self._observe()

    async def _invoke[T](
        self, invocation: Invocation, timeout: float, work: Callable[[], Awaitable[T]]
    ) -> T | Failed:
        """Run ``work`` as ``invocation``: it may crash at a crash point, be timed out (at its
        timeout, or at a random moment when the dice say so) or raise (a function error)."""
        if self.dice.roll("lambda_timeout"):
            timeout = self.rng["clocks"].uniform(0.0, min(timeout, 15.0))
        context = contextvars.copy_context()
        context.run(CURRENT.set, invocation)
        task = self.loop.create_task(_awaitable(work), context=context)
        try:
            async with asyncio.timeout(timeout):
                return await task
        except LambdaCrash as crash:
            invocation.dead = True
            self.figures.crashes[invocation.function] += 1
            self.log("crash", invocation.function, crash)
            return crash
        except TimeoutError as timed_out:
            invocation.dead = True
            self.figures.crashes[f"{invocation.function}:timeout"] += 1
            self.log("timeout", invocation.function)
            return timed_out
        except Exception as error:  # noqa: BLE001 - a function error, as Lambda reports it
            self.figures.crashes[f"{invocation.function}:{type(error).__name__}"] += 1
            self.log("function error", invocation.function, type(error).__name__)
            return FunctionError(error)
        finally:
            self._observe()
            metrics.clear_metrics()

    # ---- DynamoDB faults ----------------------------------------------------------------------

    def _ddb_fault(self, operation: str, params: Mapping[str, Any]) -> DynamoFault | None:
        if CURRENT.get() is None:
            return None  # the referee's and the simulator's own reads are never faulted
        for kind, fault, operations in _DDB_FAULTS:
            if (operations is None or operation in operations) and self.dice.roll(kind):
                return fault
        return None

    def _ddb_around(self, when: str, operation: str) -> None:
        invocation = CURRENT.get()
        if invocation is not None and operation in _WRITES:
            invocation.checkpoint(f"{when} {operation}")

    # ---- the table's stream -------------------------------------------------------------------

    def _observe(self) -> None:
        """After every step: the writes that took effect go to the referee and the stream."""
        records = self.table.drain_stream()
        if records:
            self.referee.on_stream(records, self.loop.time())
            self._stream_backlog.extend(records)
            self._stream_changed.set()
            for record in records:
                self._log_record(record)

    def _log_record(self, record: Mapping[str, Any]) -> None:
        data = record.get("dynamodb", {})
        keys = data.get("Keys", {})
        sort_key = keys.get("SK", {}).get("S", "")
        if sort_key != "ORDER":
            return
        new = data.get("NewImage") or {}
        self.log(
            "write",
            keys.get("PK", {}).get("S"),
            new.get("status", {}).get("S"),
            new.get("version", {}).get("N"),
            bool(new.get("needs_review", {}).get("BOOL")),
        )

    async def _pump_stream(self) -> None:
        while True:
            self._observe()
            if not self._stream_backlog:
                self._stream_changed.clear()
                await self._stream_changed.wait()
            await asyncio.sleep(_POLL_EVERY)
            self._observe()
            await self._deliver_stream()

    async def _drain_stream_fully(self) -> None:
        for _ in range(1000):
            self._observe()
            if not self._stream_backlog:
                return
            await self._deliver_stream()
            await asyncio.sleep(_POLL_EVERY)

    async def _deliver_stream(self) -> None:
        size = self.deploy.status_events_batch_size
        while self._stream_backlog:
            batch = self._stream_backlog[:size]
            done = await self._stream_batch(batch, self.deploy.status_events_max_retries)
            del self._stream_backlog[:done]
            if done < len(batch):
                return  # retried at the next poll
            if self.dice.roll("stream_duplicate"):
                self._stream_backlog.extend(batch)

    async def _stream_batch(self, batch: Sequence[Mapping[str, Any]], retries: int) -> int:
        """Deliver ``batch`` as Lambda's stream poller does; returns how many records are done
        (processed, or given up on after the retries and sent to the on-failure queue)."""
        for _ in range(retries + 1):
            invocation = self._invocation("status_events")
            result = await self._invoke(
                invocation,
                self.deploy.status_events_timeout,
                lambda: self._status_events(batch),
            )
            if isinstance(result, FAILED) or self.dice.roll("stream_retry"):
                if len(batch) > 1:  # BisectBatchOnFunctionError
                    half = len(batch) // 2
                    return await self._stream_batch(batch[:half], retries)
                continue
            failures = result
            if not failures:
                return len(batch)
            first = min(
                index
                for index, record in enumerate(batch)
                if str(record["dynamodb"]["SequenceNumber"]) in failures
            )
            if first > 0:
                return first
        self.referee.violation(
            f"stream records given up after {retries} retries (on-failure queue): {len(batch)}"
        )
        return len(batch)

    async def _status_events(self, batch: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        return publish_status_events(batch, self._put_events)

    def _put_events(self, details: Sequence[StatusEvent]) -> list[str | None]:
        invocation = CURRENT.get()
        if invocation is not None:
            invocation.checkpoint("before PutEvents")
        results: list[str | None] = []
        for detail in details:
            if not isinstance(detail, PayoutStatusChanged):
                # Review events are put without a roll of the dice, so a seed draws exactly the
                # faults it drew before they existed (its replay stays the same); the referee
                # judges statuses only.
                results.append(None)
                continue
            if self.dice.roll("events_put_fails"):
                results.append("InternalFailure: simulated")
                continue
            self.events.append(detail)
            self.figures.events_published += 1
            self.referee.on_status_event(detail.payout_id, detail.new_status.value)
            results.append(None)
        if invocation is not None:
            invocation.checkpoint("after PutEvents")
        return results

    # ---- publishers ---------------------------------------------------------------------------

    async def _publish_all(self) -> None:
        rng = self.rng["publishers"]
        for number in range(1, self.config.payouts + 1):
            await asyncio.sleep(rng.expovariate(self.config.arrivals_per_second))
            self._publish_one(number, rng)
        self._published_all = True

    def _publish_one(self, number: int, rng: random.Random) -> None:
        now = self.loop.time()
        if self.dice.roll("request_invalid"):
            body = rng.choice(_GARBAGE)
            self.log("publish garbage", self._send(body))
            return
        payout = self._new_payout(number, rng, now)
        self.payouts[payout.payout_id] = payout
        self.referee.requested[payout.payout_id] = Requested(payout.amount, payout.currency, now)
        self._open.add(payout.payout_id)
        self._script(payout, rng)
        self.log("publish", payout.payout_id, self._send(payout.body))
        if self.dice.roll("request_duplicate_publish"):
            self.loop.call_later(rng.uniform(0, 600), self._send_again, payout.body)
        if self.dice.roll("request_conflict"):
            other = json.loads(payout.body)
            other["amount"]["value"] += 1
            self.loop.call_later(rng.uniform(0, 600), self._send_again, json.dumps(other))

    def _send_again(self, body: str) -> None:
        self.log("publish again", self._send(body))

    def _send(self, body: str) -> str:
        message_id = self.queue.send(body, self.loop.time())
        self._queue_changed.set()
        return message_id

    def _new_payout(self, number: int, rng: random.Random, now: float) -> Payout:
        method, currency = rng.choice(_METHODS)
        amount = rng.randint(100, 5_000_000)
        payout_id = f"SIM-{self.config.seed}-{number:07d}"
        body = json.dumps(
            {
                "payout_id": payout_id,
                "amount": {"value": amount, "currency": currency},
                "beneficiary": _BENEFICIARIES[method],
                "description": "simulated payout",
                "metadata": {"sim": "1"},
            }
        )
        return Payout(payout_id, body, amount, currency, method, now)

    def _script(self, payout: Payout, rng: random.Random) -> None:
        request = parse_request(payout.body)
        route = self.router.route(request)
        if isinstance(route, NoRoute):
            return
        dice = self.dice
        outcome = Outcome.SUCCESS
        for kind, fate in (
            ("settle_failure", Outcome.FAILURE),
            ("settle_cancel", Outcome.CANCEL),
            ("settle_never", Outcome.NEVER),
            ("settle_reverse", Outcome.REVERSE),
        ):
            if dice.roll(kind):
                outcome = fate
                break
        slow = dice.roll("settle_slow")  # slower than every stale threshold, inside the deadline
        after = rng.uniform(3600, 12 * 3600) if slow else rng.uniform(2, 180)
        reverse_after = rng.uniform(60, 7200)
        # Changes more than a day after creation: listed erasable, found by the index.
        if outcome is not Outcome.NEVER and dice.roll("settle_late"):
            after = rng.uniform(*_LATE_EVENT_S)
            self._late[payout.payout_id] = Provider(route)
        if outcome is Outcome.REVERSE and dice.roll("reverse_late"):
            reverse_after = rng.uniform(*_LATE_EVENT_S)
            self._late[payout.payout_id] = Provider(route)
        self.figures.late_scripted = len(self._late)
        self.providers.sandbox.script(
            Provider(route),
            payout.payout_id,
            Script(outcome=outcome, after_s=after, reverse_after_s=reverse_after),
        )

    def _late_pending(self) -> bool:
        """Whether a payout scripted to change late has a settlement or reversal still to come
        at its provider (the reconcile loop may have escalated it already)."""
        state = self.providers.sandbox.state
        for payout_id, provider in list(self._late.items()):
            orders = state.orders_for(provider, payout_id)
            if any(_timed_change_ahead(order) for order in orders):
                return True
            del self._late[payout_id]
        return False

    # ---- SQS -> intake --------------------------------------------------------------------------

    async def _poll_requests(self) -> None:
        deploy = self.deploy
        while True:
            await self._requests_to_poll()
            now = self.loop.time()
            while self._intake_in_flight < deploy.intake_max_concurrency and (
                self.queue.has_visible(now)
            ):
                shuffle = self.dice.roll("sqs_reorder")
                batch = self.queue.receive(deploy.intake_batch_size, now, shuffle=shuffle)
                if not batch:
                    break
                self._start_intake([(m.message_id, m.body) for m in batch])
                for message in batch:
                    if self.dice.roll("sqs_copies"):
                        copies = self.rng["sqs"].randint(1, 9)
                        for _ in range(copies):
                            self._start_intake([(message.message_id, message.body)])
                    if self.dice.roll("sqs_visibility_expires"):
                        message.visible_at = now + self.rng["sqs"].uniform(0.1, 5.0)

    async def _requests_to_poll(self) -> None:
        """Long polling: a second between receives while messages are visible, else until one
        becomes visible, a message is sent or an invocation ends."""
        now = self.loop.time()
        busy = self._intake_in_flight >= self.deploy.intake_max_concurrency
        if busy or not self.queue.has_visible(now):
            upcoming = self.queue.next_visible_at()
            self._queue_changed.clear()
            wait = None if upcoming is None or busy else max(upcoming - now, 0.0)
            try:
                async with asyncio.timeout(wait):
                    await self._queue_changed.wait()
            except TimeoutError:
                pass
        await asyncio.sleep(_POLL_EVERY)

    def _start_intake(self, batch: list[tuple[str, str]]) -> None:
        self._intake_in_flight += 1
        task = self._spawn(self._intake(batch))
        task.add_done_callback(self._intake_done)

    def _intake_done(self, _: asyncio.Task[Any]) -> None:
        self._intake_in_flight -= 1
        self._queue_changed.set()

    async def _intake(self, batch: list[tuple[str, str]]) -> None:
        invocation = self._invocation("intake")
        client = self.providers.client()
        providers = _Adapters(self.providers, client, invocation)
        intake = Intake(
            store=self._store(),
            router=self.router,
            providers=providers,
            dead_letters=_DeadLetters(self),
            timings=IntakeTimings.from_settings(self.deploy.intake),
            gate=self._gate(invocation.clock),
            concurrency=self.deploy.intake.provider_concurrency,
            clock=invocation.clock,
            count=_no_count,
            threads=_INLINE,
        )

        async def records() -> list[Disposition | Exception]:
            async def one(message_id: str, body: str) -> Disposition | Exception:
                try:
                    return await intake.handle(IntakeMessage(message_id, body))
                except Exception as error:  # noqa: BLE001 - a batch item failure, as Powertools
                    return error

            results = await asyncio.gather(*(one(mid, body) for mid, body in batch))
            invocation.checkpoint("before the batch is acknowledged")
            return results

        outcome = await self._invoke(invocation, self.deploy.intake_timeout, records)
        if isinstance(outcome, FAILED):
            return  # nothing deleted: every message comes back after its visibility timeout
        for (message_id, body), result in zip(batch, outcome, strict=True):
            self._acknowledge(message_id, body, result)

    def _acknowledge(self, message_id: str, body: str, result: Disposition | Exception) -> None:
        if isinstance(result, Exception):
            self.figures.dispositions[f"retry:{type(result).__name__}"] += 1
            self.log("intake retry", message_id, type(result).__name__)
            return
        self.figures.dispositions[result.value] += 1
        self.log("intake", message_id, result.value)
        if self.dice.roll("sqs_ack_lost"):
            return
        self.queue.delete(message_id)
        payout_id = _payout_id_of(body)
        dead = message_id in self._dead_messages
        self.referee.on_intake_ack(payout_id, result.value, dead)

    def _dead_lettered_ids(self) -> set[str]:
        self._note_dead_letters()
        return self._dead_ids

    def _note_dead_letters(self) -> None:
        for letter in self.queue.dlq[self._dead_seen :]:
            self._dead_messages.add(letter.message_id)
            payout_id = _payout_id_of(letter.body)
            if payout_id is not None:
                self._dead_ids.add(payout_id)
        self._dead_seen = len(self.queue.dlq)

    # ---- the reconcile loop -------------------------------------------------------------------

    async def _schedule_reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.deploy.schedule_every)
            self._start_execution()
            if self.dice.roll("sfn_overlap"):
                self._start_execution()

    def _start_execution(self) -> None:
        self._executions += 1
        self._spawn(self._execution(f"exec-{self._executions:06d}"))

    async def _execution(self, owner: str) -> None:
        """The state machine, state by state (see statemachine/reconcile.asl.json): the lease,
        then FindDue -> Map | Wait | end, until the lease is lost, the iterations are spent or
        nothing is due within the budget. A failed task (after its Retry) takes the Catch path:
        release the lease and fail; a killed execution just stops (the lease expires)."""
        sizing = DueSizing(
            batch_size=self.deploy.find_due.reconcile_batch_size,
            batches_per_iteration=self.deploy.find_due.reconcile_batches_per_iteration,
            lease_margin=self.deploy.find_due.lease_margin,
        )
        if self._killed("AcquireLease"):
            return
        grant = await self._task("AcquireLease", functools.partial(self._acquire, owner, sizing))
        if isinstance(grant, FAILED):
            await self._release(owner)
            return
        if not grant.acquired:
            return
        budget_ends_at = cfg.EPOCH + timedelta(seconds=grant.budget_ends_at - cfg.EPOCH_SECONDS)
        max_wait = timedelta(seconds=self.deploy.max_wait_seconds)
        iteration = 0
        while not self._killed("FindDue"):
            query = DueQuery(owner, iteration, budget_ends_at, max_wait)
            plan = await self._task("FindDue", functools.partial(self._find, query, sizing))
            if isinstance(plan, FAILED):
                await self._release(owner)
                return
            iteration = plan.iteration
            self.log("find_due", owner, iteration, plan.due_count, plan.wait_seconds)
            next_step = await self._route(plan)
            if next_step == "stop":
                return
            if next_step == "release":
                await self._release(owner)
                return

    async def _route(self, plan: DuePlan) -> str:
        """The Route choice and what follows it: "again" (back to FindDue), "release" or
        "stop" (lease lost, or the execution was killed)."""
        if not plan.lease_held:
            return "stop"
        if plan.iteration >= self.deploy.max_iterations:
            return "release"
        if plan.batches:
            if self._killed("ReconcileBatches"):
                return "stop"
            return "again" if await self._map(plan.batches) else "release"
        if plan.wait_seconds is not None:
            await asyncio.sleep(plan.wait_seconds)
            return "again"
        return "release"

    async def _task[T](self, state: str, call: Callable[[Callable[[], datetime]], T]) -> T | Failed:
        """A find_due Task state with its Retry (read from the state machine file)."""
        retry = _STATE_RETRIES[state]
        result: T | Failed = FunctionError(RuntimeError("never ran"))
        for attempt in range(retry.max_attempts + 1):
            invocation = self._invocation("find_due")
            work = functools.partial(_call_with, call, invocation.clock)
            result = await self._invoke(invocation, self.deploy.find_due_timeout, work)
            if not isinstance(result, FAILED):
                return result
            await asyncio.sleep(retry.interval * retry.backoff**attempt)
        return result

    def _acquire(self, owner: str, sizing: DueSizing, clock: Callable[[], datetime]) -> LeaseGrant:
        budget = timedelta(seconds=self.deploy.loop_budget_seconds)
        return acquire_lease(self._store(), owner, budget, sizing, clock())

    def _find(self, query: DueQuery, sizing: DueSizing, clock: Callable[[], datetime]) -> DuePlan:
        return find_due(self._store(), query, sizing, clock())

    def _killed(self, state: str) -> bool:
        if self.dice.roll("sfn_kill"):
            self.log("execution stopped at", state)
            return True
        return False

    async def _map(self, batches: list[list[str]]) -> bool:
        """The Map state: every batch, at most ``map_concurrency`` at a time; False when an item
        failed (the Map fails; batches still running go on, as Lambda invocations do)."""
        slots = asyncio.Semaphore(self.deploy.map_concurrency)
        failed = asyncio.Event()

        async def item(batch: list[str]) -> None:
            async with slots:
                if failed.is_set():
                    return
                if not await self._reconcile_batch(batch):
                    failed.set()

        tasks = [self._spawn(item(batch)) for batch in batches]
        waiter = self._spawn(asyncio.wait(tasks))
        stop = self._spawn(failed.wait())
        await asyncio.wait({waiter, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        return not failed.is_set()

    async def _reconcile_batch(self, batch: list[str]) -> bool:
        invocation = self._invocation("reconcile")
        client = self.providers.client()
        adapters = _Adapters(self.providers, client, invocation)
        reconciler = Reconciler(
            store=self._store(),
            providers=adapters,
            router=self.router,
            policy=ReconcilePolicy.from_settings(self.deploy.reconcile),
            gate=self._gate(invocation.clock),
            clock=invocation.clock,
            random=self.rng["backoff"].random,
        )
        report = await self._invoke(
            invocation, self.deploy.reconcile_timeout, lambda: reconciler.reconcile(batch)
        )
        if isinstance(report, FAILED):
            return False
        for check in report.checks:
            self.figures.checks[check.outcome.value] += 1
            self.log("check", check.payout_id, check.outcome.value, check.status)
        return True

    async def _release(self, owner: str) -> None:
        # The state machine's own DeleteItem task (conditioned on the owner), with its retries.
        await asyncio.sleep(0.05)
        self._store().release_lease(RECONCILE_LEASE, owner)
        self._observe()

    # ---- retention -----------------------------------------------------------------------------

    async def _schedule_retention(self) -> None:
        """EventBridge Scheduler's hourly invocation; a failed one is retried as Lambda retries
        an asynchronous invocation (a minute, then two), at most the schedule's retries."""
        while True:
            await asyncio.sleep(self.deploy.retention_every)
            for attempt in range(self.deploy.retention_retries + 1):
                if await self._retention_run():
                    break
                await asyncio.sleep(_RETENTION_RETRY_S * 2**attempt)

    async def _retention_run(self) -> bool:
        """One invocation of the retention function, as its handler runs: passes of
        ``erase_due`` while one says there is more and time lasts. False when it failed."""
        invocation = self._invocation("retention")
        settings = self.deploy.retention
        timeout = self.deploy.retention_timeout
        started = self.loop.time()
        first_pass: list[datetime] = []

        async def passes() -> ErasureRun:
            run = ErasureRun(more=True)
            erased = skipped = 0
            while run.more and self.loop.time() - started < (
                timeout - settings.erasure_stop_margin_seconds
            ):
                now = invocation.clock()
                first_pass.append(now)
                run = erase_due(
                    self._store(),
                    retention=self.config.retention,
                    now=now,
                    limit=settings.erasure_batch_size,
                )
                erased, skipped = erased + run.erased, skipped + run.skipped
                await asyncio.sleep(_RETENTION_PASS_S)
            return ErasureRun(erased=erased, skipped=skipped, more=run.more)

        result = await self._invoke(invocation, timeout, passes)
        figures = self.figures.retention
        figures["runs"] += 1
        if isinstance(result, ErasureRun):
            self.log("retention", result.erased, result.skipped, result.more)
        incomplete = _incomplete(result)
        if incomplete is not None:
            # Judged as a miss (the erasures it delays are excused), not as a run that must
            # have reached everything due.
            figures[incomplete] += 1
            self.referee.on_retention_miss(invocation.clock())
            return incomplete != "failed"
        figures["complete"] += 1
        self._retention_complete_at = started
        self.referee.on_retention_complete(first_pass[0])
        return True

    async def _drain_retention(self) -> None:
        """After the system is quiet: run on (retention alone changes anything) until a
        complete retention run started a day and the period after the last change, when every
        terminal order must have been reached; the referee judges what it left."""
        last = self.referee.last_change
        if last is None:
            return
        reach = (last - cfg.EPOCH).total_seconds()
        reach += (self.config.retention + SWEPT_CHANGES_WITHIN).total_seconds() + 60.0
        give_up = self.loop.time() + self.config.max_drain_hours * 3600
        while self.loop.time() < give_up:
            complete = self._retention_complete_at
            if complete is not None and complete >= reach:
                return
            await asyncio.sleep(60)
        self.referee.violation(
            f"retention completed no run past every order's reach in {self.config.max_drain_hours}"
            " h of drain"
        )

    def _judge_erased_partitions(self) -> None:
        """Every item of each erased order's partition, read from the table (not faulted)."""
        client = self.table.as_client()
        for payout_id in sorted(self.referee.erasures):
            items: list[Mapping[str, Any]] = []
            query: dict[str, Any] = {
                "TableName": cfg.TABLE,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"PAYOUT#{payout_id}"}},
            }
            while True:
                answer = client.query(**query)
                items.extend(answer.get("Items", []))
                if not answer.get("LastEvaluatedKey"):
                    break
                query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
            self.referee.on_erased_partition(payout_id, items)

    # ---- callbacks -------------------------------------------------------------------------------

    def _on_ledger(self, entry: LedgerEntry) -> None:
        # Every write that took effect is judged first: money can move while the invocation
        # that stored the order is still running (its writes not yet drained from the stream).
        self._observe()
        self.log("ledger", entry.merchant_no, entry.kind.value, entry.amount_minor)
        if entry.kind is EntryKind.PAYMENT:
            self.referee.on_payment(entry.merchant_no, entry.amount_minor, entry.currency)
        else:
            self.referee.on_reversal(entry.merchant_no)

    def _on_callback(self, message: CallbackMessage, order: SandboxOrder) -> None:
        dice, rng = self.dice, self.rng["callbacks"]
        if dice.roll("callback_drop"):
            self.log("callback dropped", message.merchant_no)
            return
        delay = rng.uniform(0.2, 3.0)
        if dice.roll("callback_reorder"):
            delay += rng.uniform(5, 120)
        if dice.roll("callback_delay_hours"):
            delay += rng.uniform(3600, 6 * 3600)
        headers = dict(message.headers_for())
        self._callback_later(delay, message, headers, 1, "genuine")
        if dice.roll("callback_duplicate"):
            self._callback_later(delay + rng.uniform(0, 30), message, headers, 1, "genuine")
        if dice.roll("callback_replayed"):
            self._callback_later(delay + rng.uniform(600, 4 * 3600), message, headers, 99, "replay")
        if dice.roll("callback_tampered"):
            tampered = _tampered(message)
            self._callback_later(delay + rng.uniform(0, 60), tampered, headers, 99, "tampered")
        if dice.roll("callback_forged"):
            forged = _forged(message, order)
            self._callback_later(delay + rng.uniform(0, 60), forged, headers, 99, "forged")

    def _callback_later(
        self,
        delay: float,
        message: CallbackMessage,
        headers: Mapping[str, str],
        attempt: int,
        kind: str,
    ) -> None:
        self._callbacks_in_flight += 1
        self.loop.call_later(
            delay, lambda: self._spawn(self._deliver_callback(message, headers, attempt, kind))
        )

    async def _deliver_callback(
        self, message: CallbackMessage, headers: Mapping[str, str], attempt: int, kind: str
    ) -> None:
        self._callbacks_in_flight -= 1
        invocation = self._invocation("callback")
        client = self.providers.client()
        adapters = _Adapters(self.providers, client, invocation)
        request = CallbackRequest(
            provider=message.provider.value, raw_body=message.body, headers=dict(headers)
        )
        policy = CallbackPolicy.from_settings(self.deploy.callbacks)

        async def work() -> Ack:
            ack = await handle_callback(
                request,
                providers=adapters.get,
                store=self._store(),
                policy=policy,
                now=invocation.clock(),
            )
            invocation.checkpoint("before the callback is answered")
            return ack

        result = await self._invoke(invocation, self.deploy.callback_timeout, work)
        acknowledged = isinstance(result, Ack)
        failure = result.error if isinstance(result, FunctionError) else result
        outcome = "ack" if acknowledged else type(failure).__name__
        self.figures.callbacks[f"{kind}:{outcome}"] += 1
        self.log("callback", kind, message.merchant_no, attempt, outcome)
        if acknowledged and kind in ("tampered", "forged"):
            self.referee.violation(f"{message.merchant_no}: a {kind} callback was acknowledged")
        if acknowledged or kind != "genuine" or attempt > len(message.retry_delays_s):
            return
        fresh = dict(message.headers_for())  # a retry is signed anew
        self._callback_later(message.retry_delays_s[attempt - 1], message, fresh, attempt + 1, kind)


class _Adapters:
    """One invocation's adapters (by name), built on first use around its clock."""

    def __init__(
        self, providers: SimProviders, client: httpx.AsyncClient, invocation: Invocation
    ) -> None:
        self._providers = providers
        self._client = client
        self._invocation = invocation
        self._built: dict[str, PayoutProvider] = {}

    def get(self, name: str, /) -> PayoutProvider | None:
        if name not in {p.value for p in Provider}:
            return None
        if name not in self._built:
            self._built[name] = self._providers.adapter(name, self._client, self._invocation.clock)
        return self._built[name]

    def provider(self, name: str) -> PayoutProvider:
        adapter = self.get(name)
        if adapter is None:
            raise KeyError(f"no provider {name}")
        return adapter


class _DeadLetters:
    """Intake's SendMessage to the DLQ, with crash points either side."""

    def __init__(self, world: World) -> None:
        self._world = world

    def send(self, message: IntakeMessage, reason: str) -> None:
        invocation = CURRENT.get()
        if invocation is not None:
            invocation.checkpoint("before the DLQ send")
        world = self._world
        world.queue.add_dead_letter(message.message_id, message.body, reason, world.loop.time())
        world._note_dead_letters()
        world.log("dead letter", message.message_id, reason[:60])
        if invocation is not None:
            invocation.checkpoint("after the DLQ send")


@dataclass(frozen=True)
class _Retry:
    """A Task state's Retry: attempts after the first, the first interval, the backoff rate."""

    max_attempts: int
    interval: float
    backoff: float


def _state_retries() -> dict[str, _Retry]:
    definition = json.loads(cfg.STATE_MACHINE.read_text(encoding="utf-8"))
    retries: dict[str, _Retry] = {}
    for name in ("AcquireLease", "FindDue"):
        (rule,) = definition["States"][name]["Retry"]
        retries[name] = _Retry(rule["MaxAttempts"], rule["IntervalSeconds"], rule["BackoffRate"])
    return retries


_STATE_RETRIES: Final = _state_retries()
_STREAMS: Final = (
    "faults",
    "sqs",
    "network",
    "publishers",
    "callbacks",
    "clocks",
    "ids",
    "jitter",
    "backoff",
)
_INLINE: Final = InlineExecutor()


def _no_count(_: str) -> None:
    """Metrics are not the simulation's business."""


async def _awaitable[T](work: Callable[[], Awaitable[T]]) -> T:
    return await work()


async def _ready[T](value: T) -> T:
    return value


async def _call_with[T](
    call: Callable[[Callable[[], datetime]], T], clock: Callable[[], datetime]
) -> T:
    return call(clock)


def _incomplete(result: ErasureRun | Failed) -> str | None:
    """Why a retention invocation did not finish its work, or None when it did."""
    if isinstance(result, FAILED):
        return "failed"
    if result.more:
        return "cut short"
    return None


def _timed_change_ahead(order: SandboxOrder) -> bool:
    """A settlement or reversal is still to come at a time set for it."""
    pending = order.state is PayoutState.PENDING and order.outcome is not Outcome.NEVER
    return order.reverse_due is not None or (pending and order.due_at is not None)


def _payout_id_of(body: str) -> str | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    payout_id = document.get("payout_id") if isinstance(document, dict) else None
    return payout_id if isinstance(payout_id, str) else None


def _tampered(message: CallbackMessage) -> CallbackMessage:
    """The same callback with its amount changed, its signature left as it was."""
    document = json.loads(message.body)
    target = document.get("data", document)
    for key in ("amount", "payoutAmount", "orderAmount"):
        if key in target:
            value = target[key]
            target[key] = str(int(float(value)) + 1) if isinstance(value, str) else value + 1
    body = json.dumps(document, separators=(",", ":")).encode()
    return _replace_body(message, body)


def _forged(message: CallbackMessage, order: SandboxOrder) -> CallbackMessage:
    """A callback claiming the opposite outcome, signed with a key that is not the provider's."""
    document = json.loads(message.body)
    target = document.get("data", document)
    paid = order.state is PayoutState.PAID
    if "status" in target:
        target["status"] = 3 if not paid else 4
    if "sign" in document:
        document["sign"] = "0" * len(str(document["sign"]))
    body = json.dumps(document, separators=(",", ":")).encode()
    return _replace_body(message, body)


def _replace_body(message: CallbackMessage, body: bytes) -> CallbackMessage:
    return CallbackMessage(
        provider=message.provider,
        merchant_no=message.merchant_no,
        url=message.url,
        body=body,
        headers_for=message.headers_for,
        acknowledged=message.acknowledged,
        retry_delays_s=(),
        timeout_s=message.timeout_s,
    )


@contextmanager
def quiet_services() -> Iterator[None]:
    """Powertools logs at CRITICAL only while a run lasts (a simulated run makes millions of log
    calls), then at the level it had: the logger is shared with whatever runs next in the
    process (tests reading log lines, in the same pytest worker)."""
    level = logger.log_level
    logger.setLevel("CRITICAL")
    _ = utc_now  # services get their clocks injected; nothing here reads the wall clock
    try:
        yield
    finally:
        logger.setLevel(level)
