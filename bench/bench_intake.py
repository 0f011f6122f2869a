"""Intake benchmark: what a batch of 10 payout requests costs, in time and in DynamoDB.

Setup: the real intake handler and adapters; the provider sandbox in a child process on
loopback, with 200 ms of latency added to every create; DynamoDB Local (a real engine, in its
own JVM, warmed up first) for the table; moto for SQS and Secrets Manager.

- ``intake_batch10_concurrency_ratio``: wall time of 10 requests handled one per invocation, one
  after the other (the sequential baseline), over one invocation with a batch of 10 (creates
  concurrent on one event loop, table writes in worker threads). Medians of ``ROUNDS``.
  A batch's table writes overlap (measured at load 9 on the 2-core machine: its ten puts start
  within 12 ms and end within 35 ms of each other, its ten recorded answers likewise); what keeps
  the ratio under 10 is the CPU of ten payouts on one interpreter and the sandbox's answers, which
  a busy machine spreads over ~100 ms.
- (Write units are bench_cost's: by AWS's rules, ``write_units_per_payout``. DynamoDB Local's own
  figure doubles index writes inside transactions, so it is not reported here.)
- ``intake_api_calls_per_order``: AWS API calls per order made by a warm invocation (secrets
  already cached): DynamoDB and SQS.
- ``intake_batch10_concurrent_ms`` / ``intake_batch10_sequential_ms``: the two medians.
- ``intake_cpu_ms_per_payout``: Python CPU time (``time.process_time``: every thread of this
  process, the handler's event loop and its worker threads; DynamoDB Local and the sandbox run in
  other processes) of a warm invocation with a batch of 10, per payout, median of
  ``CPU_ROUNDS``; ``..._spread`` is max - min. As in Lambda: logged at INFO (the template's
  default level) and metrics flushed by every invocation, both into /dev/null; one event loop for
  all invocations; moto's hooks off (they see every botocore request).
- A cProfile breakdown of ``PROFILED_BATCHES`` more batches is printed (top cumulative entries).
  cProfile keeps one call stack for all threads, so for that pass only the table calls run inline
  on the event loop's thread (one stack, true attribution); the thread handoff it leaves out is in
  the CPU figure above. ``intake_python_calls_per_payout``: the function calls it counted per
  payout, a measure of the work done that a busy machine does not change (CPU time does: on the
  shared 2-core machine it moves by a third with the load average, which is printed). The pass
  also prints each library's own CPU time and calls per payout (C functions charged to their
  callers): the DynamoDB client (botocore with urllib3, http.client and the email header parser)
  against the providers' HTTP stack (httpx, httpcore, anyio, h11), asyncio and this code.
- Not in the figures: the sandbox speaks plain HTTP. In production each payout's create opens a
  new TLS connection (one client per invocation, ten concurrent creates), a handshake that an ad
  hoc loopback measurement put at about 4 ms of client CPU (TLS 1.3, one RSA-2048 certificate,
  on the shared machine): more than any single item of the profile.

Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import logging
import multiprocessing
import os
import pstats
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path, PurePath
from tempfile import TemporaryDirectory
from types import ModuleType
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from moto import mock_aws
from moto.core.models import MockAWS

from payouts.domain.order import Evidence, EvidenceKind
from payouts.domain.status import OrderStatus
from payouts.store import Applied, OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.sandbox import (
    CallbackOptions,
    Fault,
    FaultKind,
    Operation,
    Sandbox,
    SandboxConfig,
)
from payouts_tools.sandbox.server import SandboxHttpServer
from payouts_tools.sim.world import InlineExecutor
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.dynamodb_local import ensure_installed, find_jar, running_server
from tests.support.handlers import load_handler
from tests.support.orders import T0, make_request, request_document

BATCH = 10
LATENCY_MS = 200
ROUNDS = 7
CPU_ROUNDS = 15
PROFILED_BATCHES = 5
PROFILE_TOP = 40
PROFILE_TOP_OWN = 15
ACCEPT_BACKLOG = 128
ENGINE_WARM_UP_ORDERS = 300
HANDLER_WARM_UP_BATCHES = 3
METHODS = ("ALIPAY", "UPI", "BANK_ACCOUNT", "PIX")
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "payouts",
    "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "CALLBACK_BASE_URL": "https://callbacks.example.com/bench",
}


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str = "payouts-intake-bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:intake-bench"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Meter:
    """AWS API calls and write capacity seen by the handler's clients."""

    calls: int = 0
    write_units: float = 0.0

    def reset(self) -> None:
        self.calls, self.write_units = 0, 0.0

    def watch_dynamodb(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", _ask_for_capacity)
        client.meta.events.register("after-call.dynamodb.*", self._after_dynamodb_call)

    def watch(self, client: Any) -> None:
        client.meta.events.register("after-call.*.*", self._after_call)

    def _after_call(self, **_: Any) -> None:
        self.calls += 1

    def _after_dynamodb_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls += 1
        if model.name not in _WRITES:
            return
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            self.write_units += float(entry.get("CapacityUnits", 0.0))


def _ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
    params["ReturnConsumedCapacity"] = "INDEXES"


def _record(payout_id: str, number: int) -> dict[str, Any]:
    body = json.dumps(request_document(payout_id, METHODS[number % len(METHODS)]))
    return {
        "messageId": uuid.uuid4().hex,
        "receiptHandle": "bench",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:payout-requests",
        "awsRegion": "us-east-1",
    }


def _batch(label: str) -> list[dict[str, Any]]:
    # Fresh payout ids every time: the sandbox remembers every merchant order number it saw.
    run = uuid.uuid4().hex[:8]
    return [_record(f"B-{run}-{label}-{number}", number) for number in range(BATCH)]


def _invoke(handler: ModuleType, records: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    answer = handler.lambda_handler({"Records": records}, LambdaContext())
    elapsed = time.perf_counter() - started
    if answer["batchItemFailures"]:
        raise RuntimeError(f"benchmark batch failed: {answer['batchItemFailures']}")
    return elapsed


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class RemoteSandbox:
    """The provider sandbox running in its own process: its address and fake credentials."""

    base_url: str
    config: SandboxConfig


def _serve_sandbox(address: Queue[tuple[str, str]], stop: EventType) -> None:
    """The child process: both providers with 200 ms on every create, until ``stop`` is set.

    The listener's backlog is raised from socketserver's default of 5: a batch connects 10 at
    once, and on a busy machine the overflow costs a 1 s SYN retransmission, which would time
    the sandbox's accept loop, not the intake (providers' servers have deep backlogs).
    ``request_queue_size`` is socketserver's documented class attribute, read at listen().
    """
    SandboxHttpServer.request_queue_size = ACCEPT_BACKLOG
    config = SandboxConfig(settle_after_s=None, callbacks=CallbackOptions(enabled=False))
    with Sandbox(config) as sandbox:
        sandbox.inject(
            Fault(kind=FaultKind.LATENCY, operation=Operation.CREATE, latency_ms=LATENCY_MS)
        )
        address.put((sandbox.base_url, sandbox.config.model_dump_json()))
        stop.wait()


@contextmanager
def _sandbox_process() -> Iterator[RemoteSandbox]:
    """The sandbox in a child process, so that serving the providers does not compete with the
    intake for this process's GIL: in production the providers are elsewhere."""
    context = multiprocessing.get_context("spawn")
    address: Queue[tuple[str, str]] = context.Queue()
    stop = context.Event()
    child = context.Process(target=_serve_sandbox, args=(address, stop), name="bench-sandbox")
    child.start()
    try:
        base_url, config = address.get(timeout=60)
        yield RemoteSandbox(base_url, SandboxConfig.model_validate_json(config))
    finally:
        stop.set()
        child.join(timeout=30)


def _secrets(sandbox: RemoteSandbox) -> dict[str, str]:
    secrets = boto3.client("secretsmanager")
    gateway, pg = sandbox.config.gateway, sandbox.config.pg
    gateway_arn = secrets.create_secret(
        Name="bench/gateway_v2",
        SecretString=json.dumps(
            {
                "platform_id": gateway.platform_id,
                "platform_key": gateway.signing_key,
                "query_token": gateway.query_token,
            }
        ),
    )["ARN"]
    pg_arn = secrets.create_secret(
        Name="bench/pg_v2",
        SecretString=json.dumps({"app_id": pg.app_id, "app_secret": pg.app_secret}),
    )["ARN"]
    return {
        "GATEWAY_V2_BASE_URL": sandbox.base_url,
        "GATEWAY_V2_SECRET_ID": gateway_arn,
        "PG_V2_BASE_URL": sandbox.base_url,
        "PG_V2_SECRET_ID": pg_arn,
    }


def _warm_up_engine(dynamodb: Any, table: str) -> None:
    """Write a few hundred orders the way intake does, from as many threads: DynamoDB Local
    answers ten times slower, and queues concurrent writes, until the JVM's JIT has compiled
    its write paths. Without this the figures time the JIT, not the intake."""
    store = OrderStore(dynamodb, table)

    def one_order(number: int) -> None:
        request = make_request(f"W-{number}", METHODS[number % len(METHODS)])
        order = store.create(request, T0, T0 + timedelta(hours=1)).order
        for status in (OrderStatus.SUBMITTING, OrderStatus.SUBMITTED):
            evidence = Evidence(kind=EvidenceKind.TRANSITION, summary="warm-up", at=T0)
            written = store.transition(order, status, evidence, T0, next_check_at=T0)
            if not isinstance(written, Applied):
                raise TypeError(f"warm-up write of W-{number} lost a race")
            order = written.order

    with ThreadPoolExecutor(max_workers=BATCH) as threads:
        list(threads.map(one_order, range(ENGINE_WARM_UP_ORDERS)))


def _wall_times(handler: ModuleType) -> dict[str, float]:
    """Median wall times of a batch of 10 in one invocation, and of the same kind of 10
    requests one per invocation, one after the other."""
    concurrent = [_invoke(handler, _batch(f"c{number}")) for number in range(ROUNDS)]
    sequential = [
        sum(_invoke(handler, [record]) for record in _batch(f"s{number}"))
        for number in range(ROUNDS)
    ]
    concurrent_s, sequential_s = statistics.median(concurrent), statistics.median(sequential)
    return {
        "intake_batch10_concurrency_ratio": sequential_s / concurrent_s,
        "intake_batch10_concurrent_ms": concurrent_s * 1000,
        "intake_batch10_sequential_ms": sequential_s * 1000,
    }


def _costs(handler: ModuleType) -> dict[str, float]:
    """AWS calls per order of warm batches of 10."""
    meter = Meter()
    meter.watch_dynamodb(handler.dynamodb())
    meter.watch(handler.sqs())
    for number in range(ROUNDS):
        _invoke(handler, _batch(f"cost{number}"))
    orders = ROUNDS * BATCH
    return {
        "intake_api_calls_per_order": meter.calls / orders,
    }


def _cpu(handler: ModuleType) -> dict[str, float]:
    """CPU milliseconds per payout of warm batches of 10: median and max - min."""
    samples = []
    for number in range(CPU_ROUNDS):
        records = _batch(f"cpu{number}")  # built outside the measurement
        started = time.process_time()
        _invoke(handler, records)
        samples.append((time.process_time() - started) * 1000 / BATCH)
    return {
        "intake_cpu_ms_per_payout": statistics.median(samples),
        "intake_cpu_ms_per_payout_spread": max(samples) - min(samples),
    }


def _profile(handler: ModuleType) -> tuple[dict[str, float], str]:
    """A CPU-time cProfile of ``PROFILED_BATCHES`` warm batches of 10: Python function calls per
    payout, and the top entries by cumulative time, then by own time."""
    batches = [_batch(f"prof{number}") for number in range(PROFILED_BATCHES)]
    namespace = vars(handler)  # the handler's module-level io_threads() factory, swapped
    threads = namespace["io_threads"]
    namespace["io_threads"] = InlineExecutor
    profile = cProfile.Profile(time.process_time)  # CPU, not time spent waiting for answers
    try:
        profile.enable()
        for records in batches:
            _invoke(handler, records)
        profile.disable()
    finally:
        namespace["io_threads"] = threads
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    text.write(library_table(own_time_by_library(stats), PROFILED_BATCHES * BATCH))
    stats.strip_dirs().sort_stats(pstats.SortKey.CUMULATIVE).print_stats(PROFILE_TOP)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(PROFILE_TOP_OWN)
    calls: int = getattr(stats, "total_calls", 0)
    return {"intake_python_calls_per_payout": calls / (PROFILED_BATCHES * BATCH)}, text.getvalue()


@dataclass
class LibraryShare:
    """One library's part of a profile: own CPU seconds of its functions, and their calls."""

    seconds: float = 0.0
    calls: int = 0


def library_of(filename: str) -> str:
    """The library a profiled function's file belongs to: the top-level package under
    site-packages, the standard library's top-level module, ``payouts`` for this repository's
    code (layer, handlers, tools), ``builtins`` for functions written in C."""
    if filename == "~":
        return "builtins"
    if filename.startswith("<frozen "):
        return filename.removeprefix("<frozen ").removesuffix(">").split(".")[0]
    path = PurePath(filename)
    parts = path.parts
    if "site-packages" in parts:
        below = parts[parts.index("site-packages") + 1 :]
        return PurePath(below[0]).stem if below else filename
    standard = [index for index, part in enumerate(parts) if part.startswith("python3")]
    if standard and parts[standard[-1] - 1] == "lib" and len(parts) > standard[-1] + 1:
        return PurePath(parts[standard[-1] + 1]).stem
    return "payouts"


type _Key = tuple[str, int, str]


def own_time_by_library(stats: pstats.Stats) -> dict[str, LibraryShare]:
    """Each library's own CPU time and calls in ``stats`` (before ``strip_dirs``, which drops
    the paths this needs). A function written in C (``str.lower``, ``isinstance``) is charged to
    the libraries that called it, in proportion to what each call cost, so botocore's header
    handling counts as botocore; ``builtins`` keeps only what no profiled caller made."""
    shares: dict[str, LibraryShare] = {}
    entries: dict[_Key, tuple[int, int, float, float, dict[_Key, tuple[Any, ...]]]] = getattr(
        stats, "stats", {}
    )

    def charge(filename: str, calls: int, seconds: float) -> None:
        share = shares.setdefault(library_of(filename), LibraryShare())
        share.seconds += seconds
        share.calls += calls

    for (filename, _, _), (_, calls, own_seconds, _, callers) in entries.items():
        if filename != "~" or not callers:
            charge(filename, calls, own_seconds)
            continue
        for (caller_file, _, _), (_, caller_calls, caller_seconds, *_) in callers.items():
            charge(caller_file, caller_calls, caller_seconds)
    return shares


def library_table(shares: dict[str, LibraryShare], payouts: int, top: int = 15) -> str:
    """The libraries that spend the most own CPU time, with their share and calls per payout."""
    total = sum(share.seconds for share in shares.values()) or 1.0
    ranked = sorted(shares.items(), key=lambda item: item[1].seconds, reverse=True)[:top]
    lines = [
        "own CPU time by library (profiled pass)",
        f"{'library':<22} {'share':>6} calls/payout",
    ]
    lines += [
        f"{name:<22} {share.seconds / total:>6.1%} {share.calls / payouts:>12,.0f}"
        for name, share in ranked
    ]
    return "\n".join(lines) + "\n\n"


@contextmanager
def _as_in_production_into_nowhere(logger: Logger) -> Iterator[None]:
    """Log lines at INFO and metrics flushed at every invocation, as in Lambda, both written
    into /dev/null (the rest of the benchmark keeps its output readable: WARNING, no metrics)."""
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise TypeError(f"expected the logger's stream handler, found {handler!r}")
    level = logger.log_level
    with (
        open(os.devnull, "w") as nowhere,
        redirect_stdout(nowhere),  # Powertools prints the metrics (CloudWatch EMF)
        _environment({"POWERTOOLS_METRICS_DISABLED": "false"}),
    ):
        stream = handler.setStream(nowhere)
        logger.setLevel("INFO")
        try:
            yield
        finally:
            logger.setLevel(level)
            if stream is not None:
                handler.setStream(stream)


@contextmanager
def _one_event_loop_as_in_lambda() -> Iterator[None]:
    """Invocations share one event loop, as in Lambda: Powertools' batch processor runs each on
    the current loop when LAMBDA_TASK_ROOT is set (elsewhere ``asyncio.run`` builds and tears down
    a loop per invocation, CPU that Lambda does not spend)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with _environment({"LAMBDA_TASK_ROOT": "/var/task"}):
            yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@contextmanager
def _moto_paused(aws: MockAWS) -> Iterator[None]:
    """moto's hooks off, its data kept: moto otherwise matches every botocore request's URL
    against each service it mocks before letting it through to DynamoDB Local, CPU that Lambda
    does not spend. The warm handler needs no moto meanwhile (secrets cached, no dead letters)."""
    aws.stop(remove_data=False)
    try:
        yield
    finally:
        aws.start(reset=False)


@contextmanager
def _warm_intake(sandbox: RemoteSandbox, endpoint: str) -> Iterator[tuple[ModuleType, MockAWS]]:
    """The intake handler, warm, over a fresh DynamoDB Local table at ``endpoint``, with moto's
    SQS and Secrets Manager (returned too) and the sandbox's providers."""
    with (
        _environment({**ENVIRONMENT, "AWS_ENDPOINT_URL_DYNAMODB": endpoint}),
        mock_aws() as aws,
    ):
        table = f"orders-bench-{uuid.uuid4().hex[:8]}"
        dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
        dynamodb.create_table(**table_create_kwargs(load_template(), "OrdersTable", table))
        _warm_up_engine(dynamodb, table)
        dlq_url = boto3.client("sqs").create_queue(QueueName="bench-dlq")["QueueUrl"]
        settings = {"ORDERS_TABLE": table, "PAYOUT_DLQ_URL": dlq_url, **_secrets(sandbox)}
        with _environment(settings):
            handler = load_handler("intake")
            for number in range(HANDLER_WARM_UP_BATCHES):  # imports, secrets, connections
                _invoke(handler, _batch(f"warm{number}"))
            yield handler, aws


def run() -> dict[str, float]:
    """Run the benchmark and return its figures."""
    ensure_installed()
    with (
        TemporaryDirectory() as scratch,
        running_server(find_jar(), Path(scratch) / "jvm.log") as (endpoint, _),
        _sandbox_process() as sandbox,
        _warm_intake(sandbox, endpoint) as (handler, aws),
    ):
        with (
            _moto_paused(aws),
            _one_event_loop_as_in_lambda(),
            _as_in_production_into_nowhere(vars(handler)["logger"]),
        ):
            cpu = _cpu(handler)
            load = os.getloadavg()
            calls, profile = _profile(handler)
        figures = _wall_times(handler) | _costs(handler) | cpu | calls
    print(profile)
    print(f"   load average while CPU was measured {' / '.join(f'{one:.1f}' for one in load)}")
    print(
        f"   batch of {BATCH}, {LATENCY_MS} ms provider latency: "
        f"{figures['intake_batch10_concurrent_ms']:.0f} ms concurrent, "
        f"{figures['intake_batch10_sequential_ms']:.0f} ms one message at a time"
    )
    return figures
