"""Reconcile benchmark: what one sweep over the due orders costs, and that it does not depend on
how many resolved orders the table holds.

Setup: DynamoDB Local (a real engine, in its own JVM, ``-sharedDb`` because moto's state machine
interpreter calls DynamoDB with its own fixed credentials and DynamoDB Local otherwise keeps one
database per access key) holds the orders table built from template.yaml: 100,000 resolved
orders written in bulk with ``batch_write_item``, and 1,000 due orders (SUBMITTED, accepted by
the provider sandbox, which settles each on its first query). The real
``statemachine/reconcile.asl.json`` runs on moto's interpreter with the real ``find_due`` and
``reconcile`` handlers in-process (moto also serves Lambda, Step Functions, IAM and Secrets
Manager), with the template's default limits, until nothing is due.

- ``reconcile_items_read_per_due_order``: items read by the due-index queries of the sweep
  (``ScannedCount``, which DynamoDB Local reports like DynamoDB), over the due orders. Only due
  orders are in the sparse index, so this cannot depend on the resolved ones:
  ``reconcile_first_read_items_*`` are the items read by the same first due read before and after
  the 100,000 resolved orders were written (equal).
- ``reconcile_provider_calls_per_due_order``: queries and creates the sandbox received during the
  sweep, over the due orders.
- ``reconcile_sfn_transitions_per_order``: states entered in the execution's history (Standard
  workflows bill per state transition), over the orders checked.

Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
from moto import mock_aws

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.observability import logger, metrics
from payouts.providers.base import CreateKind
from payouts.providers.registry import ProviderFactory
from payouts.settings import load
from payouts.settings.find_due import FindDueSettings
from payouts.settings.reconcile import ReconcileSettings
from payouts.store import OrderStore, keys
from payouts.store.codec import order_to_item
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.local.moto_lambda import (
    EXECUTION_CONFIG,
    InProcessLambdas,
    create_function,
    create_role,
    create_state_machine,
    execution_history,
    instant_waits,
    state_transitions,
    wait_for_execution,
)
from payouts_tools.sandbox import CallbackOptions, Sandbox, SandboxConfig
from tests.support.cfn import TEMPLATE_PATH, load_template, table_create_kwargs
from tests.support.dynamodb_local import ensure_installed, find_jar
from tests.support.handlers import load_handler
from tests.support.orders import make_request

RESOLVED = 100_000
DUE = 1_000
WRITE_THREADS = 4
BATCH_WRITE = 25  # DynamoDB's limit per BatchWriteItem
CREATE_CONCURRENCY = 4  # the sandbox listens with a small backlog
REGION = "us-east-1"
ASL_PATH = TEMPLATE_PATH.parent / "statemachine" / "reconcile.asl.json"
# The template's default limits (Parameters), so the figures are those of a deployment.
LIMITS = {
    "LoopBudgetSeconds": "600",
    "MaxWaitSeconds": "30",
    "MaxIterations": "60",
    "MapMaxConcurrency": "4",
}
METHODS = ("ALIPAY", "UPI", "BANK_ACCOUNT", "PIX")
PROVIDERS = {"ALIPAY": "gateway_v2", "UPI": "pg_v2", "BANK_ACCOUNT": "pg_v2", "PIX": "pg_v2"}
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "payouts",
    "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "CALLBACK_BASE_URL": "https://callbacks.example.com/bench",
    "SECRET_MAX_AGE_SECONDS": "300",
}
_READY_TIMEOUT_S = 60.0


@dataclass
class DueReads:
    """Items the due-index queries read (ScannedCount), the read units they consumed, and how
    many queries there were."""

    items: int = 0
    read_units: float = 0.0
    queries: int = 0

    def watch(self, client: Any) -> None:
        """Count the due-index queries ``client`` makes from now on."""
        client.meta.events.register("before-parameter-build.dynamodb.Query", self._before_query)
        client.meta.events.register("after-call.dynamodb.Query", self._after_query)

    @staticmethod
    def _before_query(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["index_name"] = params.get("IndexName")
        params["ReturnConsumedCapacity"] = "TOTAL"

    def _after_query(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("index_name") == "due":
            self.items += int(parsed.get("ScannedCount", 0))
            self.read_units += float((parsed.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))
            self.queries += 1


# ------------------------------------------------------------------------------ environment


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


@contextmanager
def _shared_dynamodb_local() -> Iterator[str]:
    """DynamoDB Local in memory with one database for every access key; yields its URL."""
    ensure_installed()
    jar = find_jar()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        "java",
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-inMemory",
        "-sharedDb",
        "-port",
        str(port),
        "-disableTelemetry",
    ]
    process = subprocess.Popen(  # noqa: S603 - a fixed command
        command, cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(endpoint)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_ready(endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - DynamoDB Local checks nothing
    )
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while True:
        try:
            client.list_tables(Limit=1)
        except Exception:  # the JVM is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        else:
            return


# ---------------------------------------------------------------------------------- orders


def _resolved_items(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Full order items of SUCCEEDED orders (as the store writes them), cheap to make: one
    template order, with each item's own keys and index attributes."""
    template = Order(
        payout_id="R0",
        request=make_request("R0"),
        fingerprint="bench",
        status=OrderStatus.SUCCEEDED,
        version=4,
        provider="gateway_v2",
        provider_order_id="POT0",
        created_at=now - timedelta(days=1),
        updated_at=now - timedelta(hours=20),
        check_attempts=2,
        submit_attempts=1,
        first_unresolved_at=now - timedelta(days=1),
    )
    base = order_to_item(template)
    for number in range(count):
        payout_id = f"R{number:07d}"
        item = dict(base)
        item["PK"] = {"S": f"PAYOUT#{payout_id}"}
        item["payout_id"] = {"S": payout_id}
        # Each order's own index keys (the template order's would put them all on one shard).
        item["day_pk"] = {"S": keys.day_partition(template.created_at, payout_id)}
        item["erase_pk"] = {"S": keys.erase_shard(payout_id)}
        item["erase_sk"] = {"S": keys.erase_sort_key(template.updated_at, payout_id)}
        item["provider_order_id"] = {"S": f"POT{number:08d}"}
        item["provider_ref"] = {"S": f"gateway_v2#POT{number:08d}"}
        yield item


def _write_resolved(client: Any, table: str, now: datetime) -> float:
    """Write the resolved orders with BatchWriteItem from a few threads; returns seconds."""
    started = time.monotonic()
    chunk: list[dict[str, Any]] = []
    chunks: list[list[dict[str, Any]]] = []
    for item in _resolved_items(RESOLVED, now):
        chunk.append({"PutRequest": {"Item": item}})
        if len(chunk) == BATCH_WRITE:
            chunks.append(chunk)
            chunk = []
    if chunk:
        chunks.append(chunk)

    def write(requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(WRITE_THREADS) as threads:
        list(threads.map(write, chunks))
    return time.monotonic() - started


def _due_orders(settings: ReconcileSettings, secrets: dict[str, str], now: datetime) -> list[Order]:
    """The due orders, each created at the sandbox by the real adapter (as intake does)."""
    orders = []
    for number in range(DUE):
        method = METHODS[number % len(METHODS)]
        payout_id = f"D{number:05d}"
        orders.append(
            Order(
                payout_id=payout_id,
                request=make_request(payout_id, method),
                fingerprint="bench",
                status=OrderStatus.SUBMITTED,
                version=3,
                provider=PROVIDERS[method],
                created_at=now - timedelta(minutes=5),
                updated_at=now - timedelta(minutes=5),
                next_check_at=now - timedelta(seconds=1),
                submit_attempts=1,
                first_unresolved_at=now - timedelta(minutes=5),
            )
        )
    ids = asyncio.run(_create_all(settings, secrets, orders))
    return [
        order.model_copy(update={"provider_order_id": provider_id})
        for order, provider_id in zip(orders, ids, strict=True)
    ]


async def _create_all(
    settings: ReconcileSettings, secrets: dict[str, str], orders: list[Order]
) -> list[str]:
    slots = asyncio.Semaphore(CREATE_CONCURRENCY)
    async with httpx.AsyncClient() as client:
        adapters = ProviderFactory(settings, lambda secret_id, _: secrets[secret_id]).build_all(
            client
        )

        async def create(order: Order) -> str:
            async with slots:
                outcome = await adapters[str(order.provider)].create(order)
            if outcome.kind is not CreateKind.ACCEPTED or outcome.provider_order_id is None:
                raise RuntimeError(f"sandbox did not accept {order.payout_id}: {outcome}")
            return outcome.provider_order_id

        return await asyncio.gather(*(create(order) for order in orders))


def _write_orders(client: Any, table: str, orders: list[Order]) -> None:
    for start in range(0, len(orders), BATCH_WRITE):
        requests = [
            {"PutRequest": {"Item": order_to_item(order)}}
            for order in orders[start : start + BATCH_WRITE]
        ]
        client.batch_write_item(RequestItems={table: requests})


def _first_read(table: str, now: datetime) -> int:
    """Items read by one due read as find_due makes it (about capacity keys: each shard's share)."""
    reads = DueReads()
    probe = boto3.client("dynamodb", config=CLIENT_CONFIG)
    reads.watch(probe)
    capacity = load(FindDueSettings, {"ORDERS_TABLE": table}).capacity
    OrderStore(probe, table).due(now, capacity)
    return reads.items


# ------------------------------------------------------------------------------- the sweep


def _secrets(sandbox: Sandbox) -> dict[str, str]:
    gateway, pg = sandbox.config.gateway, sandbox.config.pg
    return {
        "bench/gateway_v2": json.dumps(
            {
                "platform_id": gateway.platform_id,
                "platform_key": gateway.signing_key,
                "query_token": gateway.query_token,
            }
        ),
        "bench/pg_v2": json.dumps({"app_id": pg.app_id, "app_secret": pg.app_secret}),
    }


def _machine(table: str) -> tuple[Any, str]:
    role = create_role(boto3.client("iam", region_name=REGION))
    functions = boto3.client("lambda", region_name=REGION)
    substitutions = {
        "FindDueFunctionArn": create_function(functions, "find-due", role),
        "ReconcileFunctionArn": create_function(functions, "reconcile", role, timeout_s=90),
        "OrdersTableName": table,
        **LIMITS,
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn, create_state_machine(sfn, "reconcile", ASL_PATH, substitutions, role)


def _sweep(sandbox: Sandbox, table: str) -> dict[str, float]:
    """Run the state machine until nothing is due; count reads, provider calls, transitions."""
    find_due = load_handler("find_due")
    reconcile = load_handler("reconcile")
    reads = DueReads()
    reads.watch(find_due.dynamodb())
    calls_before = _provider_calls(sandbox)
    checked = 0

    def counting_reconcile(event: dict[str, Any], context: Any) -> dict[str, int]:
        nonlocal checked
        counts: dict[str, int] = reconcile.lambda_handler(event, context)
        checked += counts["checked"]
        return counts

    lambdas = InProcessLambdas(
        {"find-due": find_due.lambda_handler, "reconcile": counting_reconcile}
    )
    sfn, machine = _machine(table)
    # The handlers print their metrics (EMF) for every invocation: keep the bench output short.
    with lambdas, instant_waits(), contextlib.redirect_stdout(io.StringIO()):
        started = time.monotonic()
        execution = sfn.start_execution(stateMachineArn=machine, name="bench-sweep")
        result = wait_for_execution(sfn, execution["executionArn"], timeout_s=600)
        seconds = time.monotonic() - started
    if result["status"] != "SUCCEEDED":
        raise RuntimeError(f"the sweep ended {result['status']}: {result.get('cause')}")
    transitions = state_transitions(execution_history(sfn, execution["executionArn"]))
    print(
        f"   sweep: {reads.queries} due-index queries, {lambdas.count('reconcile')} reconcile "
        f"invocations, {checked} orders checked, {transitions} state transitions"
    )
    return {
        "reconcile_items_read_per_due_order": reads.items / DUE,
        "reconcile_read_units_per_due_order": reads.read_units / DUE,
        "reconcile_provider_calls_per_due_order": (_provider_calls(sandbox) - calls_before) / DUE,
        "reconcile_sfn_transitions_per_order": transitions / checked,
        "reconcile_sweep_seconds": seconds,
    }


def _provider_calls(sandbox: Sandbox) -> int:
    """Queries and creates the sandbox has received so far."""
    views = sandbox.orders()
    return sum(view.queries for view in views) + len(views)


def run() -> dict[str, float]:
    """Run the benchmark and return its figures."""
    config = SandboxConfig(
        settle_after_s=None, settle_after_queries=1, callbacks=CallbackOptions(enabled=False)
    )
    metrics.namespace = "Payouts"  # payouts.observability may predate this environment
    logger.setLevel("WARNING")
    now = datetime.now(UTC)
    with _shared_dynamodb_local() as endpoint, Sandbox(config) as sandbox:
        secrets = _secrets(sandbox)
        environment = {
            **ENVIRONMENT,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "GATEWAY_V2_BASE_URL": sandbox.base_url,
            "GATEWAY_V2_SECRET_ID": "bench/gateway_v2",
            "PG_V2_BASE_URL": sandbox.base_url,
            "PG_V2_SECRET_ID": "bench/pg_v2",
        }
        with _environment(environment), mock_aws(config=EXECUTION_CONFIG):
            table = f"orders-bench-{uuid.uuid4().hex[:8]}"
            environment["ORDERS_TABLE"] = table
            os.environ["ORDERS_TABLE"] = table
            dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
            dynamodb.create_table(**table_create_kwargs(load_template(), "OrdersTable", table))
            secrets_client = boto3.client("secretsmanager")
            for name, value in secrets.items():
                secrets_client.create_secret(Name=name, SecretString=value)
            settings = load(ReconcileSettings)
            _write_orders(dynamodb, table, _due_orders(settings, secrets, now))
            before = _first_read(table, datetime.now(UTC))
            load_seconds = _write_resolved(dynamodb, table, now)
            after = _first_read(table, datetime.now(UTC))
            figures = _sweep(sandbox, table)
            os.environ.pop("ORDERS_TABLE", None)
    figures |= {
        "reconcile_first_read_items_0_resolved": float(before),
        "reconcile_first_read_items_100k_resolved": float(after),
        "reconcile_resolved_load_seconds": load_seconds,
    }
    print(
        f"   {DUE} due among {RESOLVED} resolved orders (DynamoDB Local): resolved orders "
        f"written in {load_seconds:.0f} s, sweep {figures['reconcile_sweep_seconds']:.1f} s"
    )
    return figures
