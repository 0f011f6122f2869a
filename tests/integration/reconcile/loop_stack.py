"""The reconcile loop as deployed, on this machine: moto executing the real
``statemachine/reconcile.asl.json`` with the real ``find_due`` and ``reconcile`` handlers running
in-process, a table built from template.yaml, credentials in moto's Secrets Manager, and the
provider sandbox on loopback. Time is virtual: every Wait advances the handlers' clock instead of
sleeping."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from moto import mock_aws

from payouts.domain.order import Order
from payouts.providers.base import CreateKind
from payouts.providers.registry import ProviderFactory
from payouts.settings import load
from payouts.settings.find_due import RECONCILE_LEASE
from payouts.settings.reconcile import ReconcileSettings
from payouts.store import OrderStore, keys
from payouts.store.codec import to_attribute_values
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.local.moto_lambda import (
    EXECUTION_CONFIG,
    InProcessLambdas,
    create_function,
    create_role,
    create_state_machine,
    execution_history,
    instant_waits,
    wait_for_execution,
)
from payouts_tools.sandbox import CallbackOptions, Sandbox, SandboxConfig
from tests.integration.reconcile.reconcile_support import VirtualClock
from tests.support.cfn import TEMPLATE_PATH, load_template, table_create_kwargs
from tests.support.handlers import load_handler
from tests.support.orders import T0

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        HistoryEventTypeDef,
    )

REGION = "us-east-1"
ASL_PATH = TEMPLATE_PATH.parent / "statemachine" / "reconcile.asl.json"
GATEWAY_SECRET = "payouts/test/gateway_v2"
PG_SECRET = "payouts/test/pg_v2"
_names = itertools.count(1)
# The sandbox's credentials as secret documents, filled per stack; read by create_at_provider.
SECRETS: dict[str, str] = {}


@dataclass(frozen=True)
class LoopLimits:
    """The state machine's DefinitionSubstitutions for the loop's limits."""

    budget_seconds: int = 600
    max_wait_seconds: int = 30
    max_iterations: int = 60
    map_concurrency: int = 4


@dataclass
class LoopStack:
    """One test's running loop: start executions, look at the table and the sandbox."""

    store: OrderStore
    dynamodb: DynamoDBClient
    table: str
    sfn: SFNClient
    machine_arn: str
    sandbox: Sandbox
    clock: VirtualClock
    lambdas: InProcessLambdas
    waits: list[int]
    settings: ReconcileSettings
    release_waits: threading.Event
    find_due_module: ModuleType
    reconcile_module: ModuleType

    def start(self, name: str | None = None) -> str:
        """Start an execution (named uniquely: the name is the lease owner's tail)."""
        execution = self.sfn.start_execution(
            stateMachineArn=self.machine_arn, name=name or f"run-{next(_names)}", input="{}"
        )
        return execution["executionArn"]

    def finish(self, execution_arn: str, timeout_s: float = 60.0) -> DescribeExecutionOutputTypeDef:
        """Wait until the execution ends (stopping it if it does not)."""
        return wait_for_execution(self.sfn, execution_arn, timeout_s=timeout_s)

    def run(self, timeout_s: float = 60.0) -> DescribeExecutionOutputTypeDef:
        """Start an execution and wait until it ends."""
        return self.finish(self.start(), timeout_s)

    def history(self, execution_arn: str) -> list[HistoryEventTypeDef]:
        """The execution's events."""
        return execution_history(self.sfn, execution_arn)

    def lease_item_exists(self) -> bool:
        """True while someone holds (or abandoned) the reconcile lease."""
        found = self.dynamodb.get_item(
            TableName=self.table,
            Key=to_attribute_values({"PK": keys.lease_pk(RECONCILE_LEASE), "SK": keys.LEASE_SK}),
            ConsistentRead=True,
        )
        return "Item" in found

    def order(self, payout_id: str) -> Order:
        """The stored order."""
        order = self.store.get(payout_id)
        assert order is not None, payout_id
        return order

    def create_at_provider(self, order: Order, provider: str) -> str:
        """Send ``order``'s create to the sandbox with the real adapter (as intake would have);
        returns the provider's order id."""
        return asyncio.run(_create(self.settings, order, provider))


def _secret_document(sandbox: Sandbox, secret_id: str) -> str:
    config = sandbox.config
    if secret_id == GATEWAY_SECRET:
        return json.dumps(
            {
                "platform_id": config.gateway.platform_id,
                "platform_key": config.gateway.signing_key,
                "query_token": config.gateway.query_token,
            }
        )
    return json.dumps({"app_id": config.pg.app_id, "app_secret": config.pg.app_secret})


async def _create(settings: ReconcileSettings, order: Order, provider: str) -> str:
    def secrets(secret_id: str, _max_age: int) -> str:
        return SECRETS[secret_id]

    async with httpx.AsyncClient() as client:
        adapter = ProviderFactory(settings, secrets).build(provider, client)
        outcome = await adapter.create(order)
    assert outcome.kind is CreateKind.ACCEPTED, outcome
    assert outcome.provider_order_id is not None
    return outcome.provider_order_id


def handler_environment(sandbox: Sandbox, table: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The functions' environment, as the template sets it, pointing at the sandbox."""
    return {
        "ORDERS_TABLE": table,
        "CALLBACK_BASE_URL": "https://callbacks.example.test/prod",
        "GATEWAY_V2_BASE_URL": sandbox.base_url,
        "GATEWAY_V2_SECRET_ID": GATEWAY_SECRET,
        "PG_V2_BASE_URL": sandbox.base_url,
        "PG_V2_SECRET_ID": PG_SECRET,
        "SECRET_MAX_AGE_SECONDS": "0",
        "PROVIDER_READ_TIMEOUT": "5",
        **extra,
    }


@contextmanager
def loop_stack(
    monkeypatch: pytest.MonkeyPatch,
    *,
    limits: LoopLimits = LoopLimits(),
    environment: Mapping[str, str] | None = None,
    handlers: Mapping[str, Callable[[dict[str, Any], Any], Any]] | None = None,
    block_waits: bool = False,
) -> Iterator[LoopStack]:
    """Everything the loop needs, torn down in order; no execution outlives it.

    ``block_waits``: every Wait blocks until ``release_waits`` is set (to hold an execution
    mid-loop). ``handlers`` replace the real ones by function name.
    """
    clock = VirtualClock(T0)
    release = threading.Event()
    if not block_waits:
        release.set()

    def on_wait(seconds: int) -> None:
        release.wait(timeout=120)  # a blocked Wait never outlives a stuck test for long
        clock.advance(seconds)

    config = SandboxConfig(
        seed=6, settle_after_s=None, callbacks=CallbackOptions(enabled=False), fault_sleep_s=1.0
    )
    with ExitStack() as stack:
        sandbox = stack.enter_context(Sandbox(config))
        stack.enter_context(mock_aws(config=EXECUTION_CONFIG))
        table = f"orders-{uuid.uuid4().hex[:8]}"
        dynamodb = boto3.client("dynamodb", region_name=REGION, config=CLIENT_CONFIG)
        dynamodb.create_table(**_table_kwargs(table))
        secrets_client = boto3.client("secretsmanager", region_name=REGION)
        for secret_id in (GATEWAY_SECRET, PG_SECRET):
            SECRETS[secret_id] = _secret_document(sandbox, secret_id)
            secrets_client.create_secret(Name=secret_id, SecretString=SECRETS[secret_id])
        env = handler_environment(sandbox, table, environment or {})
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        find_due_module, reconcile_module = _handlers(monkeypatch, clock)
        registered = {
            "find-due": find_due_module.lambda_handler,
            "reconcile": reconcile_module.lambda_handler,
            **(handlers or {}),
        }
        lambdas = stack.enter_context(InProcessLambdas(registered))
        waits = stack.enter_context(instant_waits(on_wait))
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine_arn = _machine(sfn, limits, table)
        loop = LoopStack(
            store=OrderStore(dynamodb, table),
            dynamodb=dynamodb,
            table=table,
            sfn=sfn,
            machine_arn=machine_arn,
            sandbox=sandbox,
            clock=clock,
            lambdas=lambdas,
            waits=waits,
            settings=load(ReconcileSettings),
            release_waits=release,
            find_due_module=find_due_module,
            reconcile_module=reconcile_module,
        )
        stack.callback(_stop_running, sfn, machine_arn, release)
        yield loop


def _table_kwargs(table: str) -> dict[str, Any]:
    """The template's table, without its stream: moto deep-copies the whole table, stream
    records included, on every transaction, which makes a long run quadratic; the loop never
    reads the stream. Keys and indexes are the template's own."""
    kwargs = table_create_kwargs(load_template(), "OrdersTable", table)
    kwargs.pop("StreamSpecification", None)
    return kwargs


def _handlers(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> tuple[ModuleType, ModuleType]:
    find_due_module = load_handler("find_due")
    reconcile_module = load_handler("reconcile")
    monkeypatch.setattr(find_due_module, "now", clock.now)
    monkeypatch.setattr(reconcile_module, "now", clock.now)
    return find_due_module, reconcile_module


def _machine(sfn: SFNClient, limits: LoopLimits, table: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = create_role(iam)
    lambda_client = boto3.client("lambda", region_name=REGION)
    substitutions = {
        "FindDueFunctionArn": create_function(lambda_client, "find-due", role),
        "ReconcileFunctionArn": create_function(lambda_client, "reconcile", role, timeout_s=90),
        "OrdersTableName": table,
        "LoopBudgetSeconds": str(limits.budget_seconds),
        "MaxWaitSeconds": str(limits.max_wait_seconds),
        "MaxIterations": str(limits.max_iterations),
        "MapMaxConcurrency": str(limits.map_concurrency),
    }
    return create_state_machine(sfn, "reconcile", ASL_PATH, substitutions, role)


def _stop_running(sfn: SFNClient, machine_arn: str, release: threading.Event) -> None:
    release.set()
    running = sfn.list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING")
    for execution in running["executions"]:
        sfn.stop_execution(executionArn=execution["executionArn"], error="TestTeardown")
        wait_for_execution(sfn, execution["executionArn"], timeout_s=10)
