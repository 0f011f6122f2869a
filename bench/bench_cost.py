"""Cost benchmark: DynamoDB units per payout by AWS's rules, and dollars per million payouts.

Setup: one payout's life on the callback path -- intake (create -> claim -> SUBMITTED), the
provider settles, its signed callback (SUCCEEDED) -- run through the real services (``Intake``,
``handle_callback``, ``Reconciler``) over the table ``template.yaml`` declares (keys, GSIs,
projections read from it), the provider sandbox answering in-process. ``LIVES`` lives per payment
method, one after the other, on two engines:

- ``MemoryDynamoDB``, which bills every item write by AWS's published rules (1 unit per started
  KB of the larger of old and new item, x2 for a transaction's table writes, each GSI by its
  projected size and never doubled, a key change = delete + put, an unchanged projection = 0)
  and reads (4 KB steps, eventually consistent half, a query the sum of what it evaluated).
  These are the figures: ``write_units_per_payout`` (and ``..._table``, ``..._index_<name>``),
  ``read_units_per_payout``, ``write_units_per_pending_check``, ``write_units_per_callback_retry``.
- DynamoDB Local with ``ReturnConsumedCapacity=INDEXES`` on every call, the cross-check:
  ``dynamodb_local_write_units_per_payout``. DynamoDB Local also doubles the index writes made
  inside transactions; the bench checks that this is the whole difference, index by index.

The cost model (bench/cost_model.py, prices in bench/prices.json) then prices one payout on the
callback path, and each "still pending" check, by component: DynamoDB on-demand; Lambda at the
template's memory sizes and the durations measured here (or bench_intake's batch figure for
intake, when bench/results.json has it); SQS, Step Functions, API Gateway, EventBridge,
CloudWatch Logs (bytes the services log per payout at the template's log level, plus Lambda's
START/END/REPORT lines) and X-Ray (traces at the default sampling, and at full sampling).

Figures are printed, never asserted.
"""

from __future__ import annotations

import io
import json
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Final

from bench import cost_erasure
from bench.cost_life import (
    CALLBACK,
    CALLBACK_RETRY,
    INTAKE,
    METHODS,
    PENDING_CHECK,
    START,
    LifeCost,
    Lives,
    request_body,
)
from bench.cost_model import (
    Usage,
    chunks,
    cost_per_million,
    cost_table,
    gb_seconds,
    load_prices,
    traces_recorded,
)
from payouts.observability import logger
from payouts.services.status_events import EVENT_SOURCE, StatusEvent, publish_status_events
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.local.template import function_properties, load_template, parameter_defaults
from payouts_tools.sim import config as cfg
from payouts_tools.sim.dynamodb import MemoryDynamoDB
from tests.support.dynamodb_local import (
    dynamodb_client,
    ensure_installed,
    find_jar,
    running_server,
)

LIVES: Final = 3
RESULTS: Final = Path(__file__).resolve().parent / "results.json"
DEFAULT_SAMPLING: Final = 0.05  # X-Ray's default rule beyond its reservoir of 1 a second
_READS: Final = frozenset({"GetItem", "Query", "BatchGetItem", "Scan", "TransactGetItems"})
_CAPACITY_OPERATIONS: Final = (
    "GetItem",
    "PutItem",
    "DeleteItem",
    "UpdateItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
)


# ---- meters --------------------------------------------------------------------------------------


class MemoryMeter:
    """Units by AWS's rules, as the in-memory engine bills them."""

    def __init__(self, engine: MemoryDynamoDB) -> None:
        self._engine = engine

    def writes(self) -> dict[str, float]:
        return self._engine.write_units_by_index()

    def reads(self) -> dict[str, float]:
        return self._engine.read_units_by_index()

    def transaction_index_writes(self) -> dict[str, float]:
        return self._engine.index_write_units_in_transactions()


class ConsumedCapacityMeter:
    """Units as a real engine reports them: ``ReturnConsumedCapacity=INDEXES`` on every call
    that takes it, the answer's table and GSI figures added up by target."""

    def __init__(self, client: Any) -> None:
        self._writes: defaultdict[str, float] = defaultdict(float)
        self._reads: defaultdict[str, float] = defaultdict(float)
        for operation in _CAPACITY_OPERATIONS:
            client.meta.events.register(
                f"provide-client-params.dynamodb.{operation}", _ask_for_capacity
            )
        client.meta.events.register("after-call.dynamodb.*", self._after_call)

    def writes(self) -> dict[str, float]:
        return dict(self._writes)

    def reads(self) -> dict[str, float]:
        return dict(self._reads)

    def transaction_index_writes(self) -> dict[str, float]:
        return {}

    def _after_call(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or []
        into = self._reads if model.name in _READS else self._writes
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            table = str(entry["TableName"])
            if "Table" not in entry and "GlobalSecondaryIndexes" not in entry:
                into[table] += float(entry.get("CapacityUnits", 0.0))
                continue
            into[table] += float(entry.get("Table", {}).get("CapacityUnits", 0.0))
            for index, units in entry.get("GlobalSecondaryIndexes", {}).items():
                into[f"{table}/{index}"] += float(units.get("CapacityUnits", 0.0))


def _ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params["ReturnConsumedCapacity"] = "INDEXES"


# ---- what the lives used -------------------------------------------------------------------------


@dataclass
class Measured:
    """Per-payout averages over the lives of one engine."""

    path_writes: dict[str, float] = field(default_factory=dict)
    path_reads: dict[str, float] = field(default_factory=dict)
    path_transaction_index_writes: dict[str, float] = field(default_factory=dict)
    check_writes: dict[str, float] = field(default_factory=dict)
    check_reads: dict[str, float] = field(default_factory=dict)
    retry_writes: dict[str, float] = field(default_factory=dict)
    phase_ms: dict[str, float] = field(default_factory=dict)


def _mean_of(lives: Sequence[LifeCost], phases: Sequence[str], side: str) -> dict[str, float]:
    totals: defaultdict[str, float] = defaultdict(float)
    for life in lives:
        for phase in phases:
            for target, units in getattr(life.phases[phase], side).items():
                totals[target] += units
    return {target: units / len(lives) for target, units in sorted(totals.items())}


def _summarise(plain: Sequence[LifeCost], extra: Sequence[LifeCost]) -> Measured:
    every = [*plain, *extra]
    return Measured(
        path_writes=_mean_of(plain, (INTAKE, CALLBACK), "writes"),
        path_reads=_mean_of(plain, (INTAKE, CALLBACK), "reads"),
        path_transaction_index_writes=_mean_of(
            plain, (INTAKE, CALLBACK), "transaction_index_writes"
        ),
        check_writes=_mean_of(extra, (PENDING_CHECK,), "writes"),
        check_reads=_mean_of(extra, (PENDING_CHECK,), "reads"),
        retry_writes=_mean_of(extra, (CALLBACK_RETRY,), "writes"),
        phase_ms={
            phase: statistics.median(
                life.phases[phase].seconds * 1000 for life in every if phase in life.phases
            )
            for phase in (INTAKE, PENDING_CHECK, CALLBACK)
        },
    )


def _run_lives(lives: Lives, label: str, after_life: Callable[[str], None]) -> Measured:
    """``LIVES`` plain lives and ``LIVES`` lives with a pending check and a callback retry, per
    method (the plain ones give the callback path, the others the extras)."""
    plain: list[LifeCost] = []
    extra: list[LifeCost] = []
    for number in range(LIVES):
        for method in METHODS:
            payout_id = f"{label}-{method[:3]}-{number}"
            plain.append(lives.live(payout_id, method, pending_check=False, callback_retry=False))
            after_life("plain")
            payout_id = f"{label}-{method[:3]}-{number}-x"
            extra.append(lives.live(payout_id, method, pending_check=True, callback_retry=True))
            after_life("extra")
    return _summarise(plain, extra)


@dataclass
class Observed:
    """What the in-memory run saw besides units: stream records, events, log bytes."""

    records: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    events: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    event_chunks: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    status_events_ms: list[float] = field(default_factory=list)
    log_bytes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def mean(self, series: Mapping[str, list[int]], kind: str) -> float:
        values = series.get(kind, [])
        return statistics.fmean(values) if values else 0.0


def _event_bytes(detail: StatusEvent) -> int:
    # EventBridge bills a PutEvents entry by Time (14 bytes), Source, DetailType and Detail.
    return 14 + len(EVENT_SOURCE) + len(detail.detail_type) + len(detail.model_dump_json())


def _memory_run() -> tuple[Measured, Observed]:
    engine = MemoryDynamoDB(clock=START.timestamp)
    engine.create_table(**cfg.table_definition())
    observed = Observed()
    with _captured_logs() as logged:
        lives = Lives(engine.as_client(), cfg.TABLE, MemoryMeter(engine))
        logged_before = 0

        def after_life(kind: str) -> None:
            nonlocal logged_before
            observed.log_bytes[kind].append(len(logged.getvalue().encode()) - logged_before)
            logged_before = len(logged.getvalue().encode())
            records = engine.drain_stream()
            sizes: list[int] = []

            def publish(details: Sequence[StatusEvent]) -> list[str | None]:
                sizes.extend(_event_bytes(detail) for detail in details)
                return [None] * len(details)

            started = time.perf_counter()
            failures = publish_status_events(records, publish)
            observed.status_events_ms.append((time.perf_counter() - started) * 1000)
            if failures:
                raise RuntimeError(f"status events not published: {failures}")
            observed.records[kind].append(len(records))
            observed.events[kind].append(len(sizes))
            observed.event_chunks[kind].append(sum(chunks(size) for size in sizes))
            # The status-events function logs too: count its lines with the life's.
            observed.log_bytes[kind][-1] += len(logged.getvalue().encode()) - logged_before
            logged_before = len(logged.getvalue().encode())

        measured = _run_lives(lives, "MEM", after_life)
    return measured, observed


@contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    """The services' JSON log lines, at the template's log level, with the keys the handlers'
    ``inject_lambda_context`` adds to every line (realistic lengths, fake values)."""
    template = load_template()
    level = parameter_defaults(template, {}, strict=False)["LogLevel"]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    buffer = io.StringIO()
    handler = logger.registered_handler
    stream = getattr(handler, "stream", None)
    saved_level = logger.log_level
    context_keys = {
        "service": str(variables["POWERTOOLS_SERVICE_NAME"]),
        "cold_start": False,
        "function_name": "payouts-prod-CallbackFunction-AbCdEfGh1234",
        "function_memory_size": "512",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:"
        "payouts-prod-CallbackFunction-AbCdEfGh1234",
        "function_request_id": str(uuid.uuid4()),
        "xray_trace_id": "1-6745a1b2-0123456789abcdef01234567",
    }
    logger.setLevel(level)
    handler.setStream(buffer)  # type: ignore[attr-defined]
    logger.append_keys(**context_keys)
    try:
        yield buffer
    finally:
        logger.remove_keys(list(context_keys))
        if stream is not None:
            handler.setStream(stream)  # type: ignore[attr-defined]
        logger.setLevel(saved_level)


def _local_run() -> Measured:
    ensure_installed()
    with (
        _captured_logs(),  # the same lines again: not printed, not counted
        TemporaryDirectory() as scratch,
        running_server(find_jar(), Path(scratch) / "jvm.log") as (endpoint, _),
    ):
        client = dynamodb_client(endpoint, CLIENT_CONFIG)
        client.create_table(**cfg.table_definition())
        meter = ConsumedCapacityMeter(client)
        lives = Lives(client, cfg.TABLE, meter)
        # The JVM compiles its write paths during the first lives: warm it, then measure.
        for number in range(4):
            lives.live(f"WARM-{number}", "UPI", pending_check=True, callback_retry=True)
        return _run_lives(lives, "LOCAL", lambda _: None)


# ---- the cost model's inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    """The template's numbers the cost model needs."""

    memory_mb: dict[str, int]
    intake_batch: int
    status_events_batch: int
    reconcile_batch: int
    due_per_iteration: int


def _deployed() -> Deployed:
    template = load_template()
    params = parameter_defaults(template, {}, strict=False)
    memory = {
        name: int(function_properties(template, f"{name}Function")["MemorySize"])
        for name in ("Intake", "Callback", "Reconcile", "FindDue", "StatusEvents")
    }
    find_due = cfg.deployment().find_due
    return Deployed(
        memory_mb=memory,
        intake_batch=int(params["IntakeBatchSize"]),
        status_events_batch=int(params["StatusEventsBatchSize"]),
        reconcile_batch=find_due.reconcile_batch_size,
        due_per_iteration=find_due.reconcile_batch_size * find_due.reconcile_batches_per_iteration,
    )


def _platform_log_bytes(memory_mb: int) -> int:
    """Lambda's own START, END and REPORT lines of one invocation (text format)."""
    request = str(uuid.uuid4())
    lines = (
        f"START RequestId: {request} Version: $LATEST\n",
        f"END RequestId: {request}\n",
        f"REPORT RequestId: {request}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: 120 MB\t\n",
    )
    return sum(len(line) for line in lines)


def _intake_invocation_ms(measured_ms: float, batch: int) -> tuple[float, str]:
    """bench_intake's median batch of 10 (200 ms provider latency) when it has run, else this
    bench's one-message time x the batch (no provider latency: a floor)."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figure = results.get("intake_batch10_concurrent_ms")
    if isinstance(figure, int | float) and batch == 10:
        return float(figure), "bench_intake's batch of 10 (200 ms provider latency)"
    return measured_ms * batch, "measured here, one message x batch (no provider latency)"


def _sfn_transitions_per_check() -> float:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    return float(results.get("reconcile_sfn_transitions_per_order", 0.0))


def _usages(
    measured: Measured, observed: Observed, deployed: Deployed
) -> tuple[Usage, Usage, dict[str, Any]]:
    """One payout on the callback path, and one pending check, as billed quantities."""
    mem = deployed.memory_mb
    intake_ms, intake_source = _intake_invocation_ms(
        measured.phase_ms[INTAKE], deployed.intake_batch
    )
    records = observed.mean(observed.records, "plain")
    status_invocations = records / deployed.status_events_batch
    status_ms = statistics.median(observed.status_events_ms) * deployed.status_events_batch
    invocations = {
        "Intake": 1 / deployed.intake_batch,
        "Callback": 1.0,
        "StatusEvents": status_invocations,
    }
    platform = sum(_platform_log_bytes(mem[name]) * share for name, share in invocations.items())
    body = request_body("PO-0000000000", "BANK_ACCOUNT")
    traced_entries = invocations["Intake"] + invocations["Callback"] + status_invocations
    path = Usage(
        write_units=sum(measured.path_writes.values()),
        read_units=sum(measured.path_reads.values()),
        lambda_requests=sum(invocations.values()),
        lambda_gb_seconds=gb_seconds(mem["Intake"], intake_ms, invocations["Intake"])
        + gb_seconds(mem["Callback"], measured.phase_ms[CALLBACK], 1.0)
        + gb_seconds(mem["StatusEvents"], status_ms, status_invocations),
        # SendMessage by the publisher; Lambda's ReceiveMessage and DeleteMessageBatch per batch.
        sqs_requests=chunks(len(body.encode())) + 2 / deployed.intake_batch,
        api_requests=1.0,
        eventbridge_events=observed.mean(observed.event_chunks, "plain"),
        log_bytes=observed.mean(observed.log_bytes, "plain") + platform,
        xray_traces=traces_recorded(traced_entries, DEFAULT_SAMPLING),
    )
    check_share = 1 / deployed.reconcile_batch
    find_due_share = 1 / deployed.due_per_iteration
    extra_records = observed.mean(observed.records, "extra") - records
    check = Usage(
        write_units=sum(measured.check_writes.values()),
        read_units=sum(measured.check_reads.values()),
        lambda_requests=check_share + find_due_share,
        # find_due's duration is not measured: its share is priced at the check's duration.
        lambda_gb_seconds=gb_seconds(
            mem["Reconcile"], measured.phase_ms[PENDING_CHECK] / check_share, check_share
        )
        + gb_seconds(mem["FindDue"], measured.phase_ms[PENDING_CHECK], find_due_share),
        sfn_transitions=_sfn_transitions_per_check(),
        log_bytes=max(
            0.0,
            observed.mean(observed.log_bytes, "extra") - observed.mean(observed.log_bytes, "plain"),
        ),
        xray_traces=traces_recorded(find_due_share, DEFAULT_SAMPLING),
    )
    notes = {
        "intake_source": intake_source,
        "intake_invocation_ms": intake_ms,
        "traced_entries_path": traced_entries,
        "traced_entries_check": find_due_share,
        "extra_records_per_check_and_retry": extra_records,
    }
    return path, check, notes


# ---- figures and the printout --------------------------------------------------------------------


def _index_name(target: str) -> str:
    return target.split("/", 1)[1].replace("-", "_")


def _unit_figures(memory: Measured, local: Measured) -> dict[str, float]:
    figures: dict[str, float] = {
        "write_units_per_payout": sum(memory.path_writes.values()),
        "read_units_per_payout": sum(memory.path_reads.values()),
        "write_units_per_pending_check": sum(memory.check_writes.values()),
        "read_units_per_pending_check": sum(memory.check_reads.values()),
        "write_units_per_callback_retry": sum(memory.retry_writes.values()),
        "dynamodb_local_write_units_per_payout": sum(local.path_writes.values()),
        "dynamodb_local_read_units_per_payout": sum(local.path_reads.values()),
        "dynamodb_local_write_units_per_pending_check": sum(local.check_writes.values()),
    }
    for target, units in memory.path_writes.items():
        name = "table" if "/" not in target else f"index_{_index_name(target)}"
        figures[f"write_units_per_payout_{name}"] = units
    return figures


def _cross_check(memory: Measured, local: Measured, doubled: Mapping[str, float]) -> str:
    """Both engines' write units per payout by target, and whether the index writes made in
    transactions (counted once by AWS's rules) explain the whole difference."""
    lines = [f"{'write units per payout':<36}{'AWS rules':>12}{'DDB Local':>12}{'+tx index':>12}"]
    explained = True
    for target in sorted({*memory.path_writes, *local.path_writes}):
        ours = memory.path_writes.get(target, 0.0)
        theirs = local.path_writes.get(target, 0.0)
        extra = doubled.get(target, 0.0)
        explained = explained and abs(ours + extra - theirs) < 1e-6
        lines.append(f"{target:<36.36}{ours:>12.2f}{theirs:>12.2f}{ours + extra:>12.2f}")
    verdict = (
        "DynamoDB Local = AWS rules + index writes in transactions counted again: the whole"
        " difference"
        if explained
        else "the difference is NOT only doubled index writes in transactions: look closer"
    )
    lines.append(verdict)
    return "\n".join(lines)


def run() -> dict[str, float]:
    """Run the benchmark and return its figures."""
    memory, observed = _memory_run()
    local = _local_run()
    deployed = _deployed()
    prices = load_prices()
    path, check, notes = _usages(memory, observed, deployed)
    costs = cost_per_million(path, prices)
    check_costs = cost_per_million(check, prices)
    full = traces_recorded(notes["traced_entries_path"], 1.0)
    xray_full = prices["xray_trace_recorded"].of(full) * 1_000_000
    figures = _unit_figures(memory, local)
    figures |= {f"cost_usd_per_million_payouts_{name}": value for name, value in costs.items()}
    figures |= {
        f"cost_usd_per_million_pending_checks_{name}": value for name, value in check_costs.items()
    }
    erasure = cost_erasure.measure()
    erasure_costs = cost_per_million(
        Usage(write_units=erasure.write_units, read_units=erasure.read_units), prices
    )
    figures["write_units_per_erasure"] = erasure.write_units
    figures["read_units_per_erasure"] = erasure.read_units
    figures |= {
        f"cost_usd_per_million_erasures_{name}": value for name, value in erasure_costs.items()
    }
    figures["cost_usd_per_million_payouts_xray_full_sampling"] = xray_full
    figures["cost_usd_per_million_payouts_xray_off"] = 0.0
    figures["log_bytes_per_payout"] = path.log_bytes
    figures["eventbridge_events_per_payout"] = path.eventbridge_events
    figures["lambda_gb_seconds_per_payout"] = path.lambda_gb_seconds
    print(_cross_check(memory, local, memory.path_transaction_index_writes))
    print(f"intake duration: {notes['intake_source']}")
    print(
        f"X-Ray at the default sampling ({DEFAULT_SAMPLING:.0%}); full sampling "
        f"${xray_full:.2f}, off $0"
    )
    print(
        f"erasure after the retention period, once per payout ({erasure.erased} orders, DynamoDB"
        f" only): {erasure.write_units:.2f} write units, {erasure.read_units:.2f} read units"
    )
    columns = {"callback path": costs, "+ pending check": check_costs, "+ erasure": erasure_costs}
    print(cost_table(columns, prices))
    return figures
