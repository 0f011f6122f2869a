"""``LocalStack``: the whole system on one machine, in this process.

What runs, and what stands in for what on AWS:

- **AWS** is moto in server mode on loopback (``EmbeddedAws``); the table, queues, event bus and
  alarms are made from ``template.yaml`` (``resources.ResourceBuilder``), the provider secrets
  hold the sandbox's fake credentials, and the stack registers itself as a CloudFormation stack
  (the template's functions as Lambda functions, the template's outputs) so the ops CLI finds it
  exactly as it finds a deployed one.
- **Providers** are the sandbox (``payouts_tools.sandbox``) on loopback.
- **Lambda** is this process: every function's real handler (``functions/<name>/app.py``) runs
  in-process, with its environment from the template; each concurrent invocation gets its own
  execution environment (``EnvironmentPool``).
- **Event sources**: the template's SQS events become ``SqsEventSource`` (Lambda's batch
  semantics), DynamoDB stream events ``StreamEventSource``, API events the API Gateway bridge
  (``apigw_bridge``), and the state machine's schedule a timer that starts executions of the
  real ASL file, which moto interprets while ``moto_lambda.InProcessLambdas`` runs its tasks.
- **Other services** subscribe to the status events as they would on AWS: a rule on the bus to
  a queue of their own (``StatusEventsConsumer``).

Handler logs go to a file (``Endpoints.log_path``), not the terminal. One LocalStack per process:
handlers read ``os.environ``, and moto's backends are process-wide.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import boto3
from aws_lambda_powertools.utilities import parameters

from payouts.store import OrderStore
from payouts_tools.local import moto_lambda
from payouts_tools.local.apigw_bridge import ApiGatewayBridge
from payouts_tools.local.embedded_aws import EmbeddedAws
from payouts_tools.local.environment import EnvironmentPatch
from payouts_tools.local.event_sources import (
    SourceTarget,
    sqs_event_source,
    stream_event_source,
)
from payouts_tools.local.events_consumer import BusEvent, StatusEventsConsumer
from payouts_tools.local.handler_logs import HandlerLogs
from payouts_tools.local.in_process_transport import InProcessTransport
from payouts_tools.local.lambda_runtime import EnvironmentPool, FunctionSpec, function_spec
from payouts_tools.local.moto_patches import LocalMotoPatches
from payouts_tools.local.resources import LocalResources, ResourceBuilder
from payouts_tools.local.scheduler import ExecutionScheduler
from payouts_tools.local.sqs_poller import SqsEventSource
from payouts_tools.local.stream_poller import StreamEventSource
from payouts_tools.local.template import (
    REPO_ROOT,
    LocalResource,
    Resolver,
    Template,
    TemplateError,
    Unresolved,
    function_properties,
    load_template,
    parameter_defaults,
    parameters_behind_variables,
    resources_of_type,
)
from payouts_tools.sandbox import Fault, Sandbox, SandboxConfig

log = logging.getLogger(__name__)

LOCAL_STACK_NAME: Final = "payouts-local"

# Settings (environment variables of the functions) that make one machine behave like a deployed
# system compressed in time: the first checks come within seconds, backoff steps are seconds,
# the provider read timeout is short (the sandbox's "timeouts" outlast it). Each name is a field
# of a settings model in payouts/settings (``check_known_settings`` fails loudly on a rename);
# values at the models' minimums say so.
LOCAL_TIMINGS: Final[dict[str, str]] = {
    "PROVIDER_READ_TIMEOUT": "5",
    "SUBMITTED_FIRST_CHECK_SECONDS": "4",
    "UNKNOWN_FIRST_CHECK_SECONDS": "1",
    "FIRST_CHECK_SECONDS": "2",
    "BACKOFF_SECONDS": "[1, 2, 3, 5, 8]",
    # Longer than a create may take to land (CREATE_BUDGET_SECONDS + the 10 s clock margin).
    "NOT_FOUND_GRACE_SECONDS": "25",
    "STALE_SUBMITTING_SECONDS": "30",  # the minimum allowed
    "STALE_SUBMITTING_AFTER_SECONDS": "30",  # the minimum allowed
    # A create starts within 30 - 12 - 10 (clock margin) = 8 s of its claim and is waited for at
    # most 12 s (the adapters' own timeouts are 3 + 5 + 5 s), so none is in flight when stale.
    "CREATE_BUDGET_SECONDS": "12",
    "RECEIVED_GRACE_SECONDS": "60",  # the minimum allowed
    "RECONCILE_DEADLINE_SECONDS": "120",
    # An assumed failure (pg_v2's FAILED, gateway_v2's 5) is confirmed by a query 5 s later.
    "ASSUMED_FAILURE_SETTLE_SECONDS": "5",
    # A pause reaches every handler within a second; held orders are looked at every 2 s.
    "PROVIDER_PAUSE_CACHE_SECONDS": "1",
    "HELD_RECHECK_SECONDS": "2",
    # The demo's fault mixes are many times a real provider's bad answers, on a compressed clock:
    # only an outage (100 failed creates within 10 s) trips the breaker here. Tests that want it
    # to trip set BREAKER_FAILURES lower.
    "BREAKER_FAILURES": "100",
    "BREAKER_WINDOW_SECONDS": "10",
}

# The state machine's DefinitionSubstitutions that differ locally: short Waits, the shortest
# time budget find_due accepts. Keys must exist in the template (checked).
LOCAL_SUBSTITUTIONS: Final[dict[str, str]] = {
    "MaxWaitSeconds": "2",
    "LoopBudgetSeconds": "60",
}

# Powertools in-process: no X-Ray daemon here. (Metrics stay on: their EMF lines go to the log
# file, see handler_logs.py.)
_POWERTOOLS_LOCAL: Final = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
_DRAIN_TIMEOUT_S: Final = 30.0

# Dozens of threads share one interpreter here: the handlers, the event sources, the sandbox's
# server and callback sender, moto's server and its state machine workers. Most wait on I/O and
# need the GIL only briefly; with the default 5 ms switch interval they queue behind CPU-heavy
# moto requests, and the sandbox answers late enough to cause connect and read timeouts a
# deployed system would not see. 1 ms keeps them responsive (measured: a 300-payout demo
# settles in about half the time, with no spurious timeouts).
_SWITCH_INTERVAL_S: Final = 0.001


@dataclass(frozen=True)
class StackOptions:
    """How to run the local stack."""

    stack_name: str = LOCAL_STACK_NAME
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    faults: tuple[Fault, ...] = ()
    # Template parameters, by name (those without a default are given from local values).
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    # Function environment variables, on top of LOCAL_TIMINGS and the local endpoints.
    environment_overrides: Mapping[str, str] = field(default_factory=dict)
    substitution_overrides: Mapping[str, str] = field(
        default_factory=lambda: dict(LOCAL_SUBSTITUTIONS)
    )
    # How often the reconcile state machine is started (the template's schedule, compressed).
    reconcile_every_s: float = 5.0
    # Concurrent pollers per SQS event source (bounded by the mapping's MaximumConcurrency).
    sqs_workers: int = 2
    # Where handler logs go; a temporary file when None.
    log_path: Path | None = None
    on_event: Callable[[BusEvent], None] | None = None


@dataclass(frozen=True)
class Endpoints:
    """Where everything is, for ``payouts up`` to print and tests to use."""

    aws: str
    stack_name: str
    sandbox: str
    callbacks: str | None
    table: str
    queue_url: str
    dlq_url: str | None
    event_bus: str | None
    state_machine: str | None
    log_path: Path
    outputs: dict[str, str]


@dataclass
class _Function:
    logical_id: str
    name: str
    arn: str
    spec: FunctionSpec
    pool: EnvironmentPool
    properties: Mapping[str, Any]
    environment: dict[str, str] = field(default_factory=dict)


class LocalStack:
    """Start it (or use it as a context manager); ``stop()`` leaves no thread, port or
    environment change behind."""

    _running: Final = threading.Event()

    def __init__(self, options: StackOptions | None = None, template: Template | None = None):
        self.options = options or StackOptions()
        self.template = template or load_template()
        self.aws = EmbeddedAws()
        self.sandbox = Sandbox(self.options.sandbox)
        self.resources: LocalResources | None = None
        self.consumer: StatusEventsConsumer | None = None
        self.sources: list[SqsEventSource | StreamEventSource] = []
        self._functions: dict[str, _Function] = {}
        self._bridges: list[ApiGatewayBridge] = []
        self._bridged_apis: dict[str, str] = {}  # API logical id -> the bridge's base URL
        self._environment = EnvironmentPatch()
        self._lambdas = moto_lambda.InProcessLambdas()
        self._logs = HandlerLogs(self.options.log_path)
        self._scheduler: ExecutionScheduler | None = None
        self._state_machine_arn: str | None = None
        self._endpoints: Endpoints | None = None
        self._exit = contextlib.ExitStack()

    # ---- lifecycle ------------------------------------------------------------------------------

    @classmethod
    def running(cls) -> bool:
        """True while a local stack is started in this process (there can be only one)."""
        return cls._running.is_set()

    def start(self) -> Self:
        """Bring everything up; on failure, whatever was started is stopped again."""
        if LocalStack._running.is_set():
            raise RuntimeError("a local stack is already running in this process")
        LocalStack._running.set()
        self._exit.callback(LocalStack._running.clear)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(_SWITCH_INTERVAL_S)
        self._exit.callback(sys.setswitchinterval, previous_interval)
        self._exit.callback(self._environment.restore)
        # boto3's default session caches the credentials it first resolves (here, the local
        # fake ones): the handlers' clients are made from it, so it is put back afterwards.
        self._exit.callback(_restore_default_session, boto3.DEFAULT_SESSION)
        # Before anything imports the handlers' shared Powertools objects, which read these once.
        self._environment.set(self._early_environment())
        self._exit.callback(self._logs.close)
        self._logs.open()
        self._exit.enter_context(LocalMotoPatches())
        self.aws.start()
        self._exit.callback(self.aws.stop)
        self._exit.enter_context(InProcessTransport(self.aws.port, [self.aws.session]))
        self.sandbox.start()
        self._exit.callback(self.sandbox.stop)
        self._exit.enter_context(self._lambdas)
        self._start_bridges()
        overrides = self._local_environment()
        compute = _Compute(self)
        builder = ResourceBuilder(
            self.aws,
            self.template,
            self.options.stack_name,
            self._parameters(overrides),
            compute,
        )
        self.resources = builder.build(overrides)
        self._environment.set(self._process_environment(overrides))
        # Powertools keeps its parameter providers (and their boto3 clients, bound to the endpoint
        # they were made with) per process, as a warm Lambda container would: a stack started
        # after another one in this process needs cold ones.
        _clear_parameter_caches()
        self._exit.callback(_clear_parameter_caches)
        self._register_stack()
        self._start_sources()
        for fault in self.options.faults:
            self.sandbox.inject(fault)
        self._endpoints = self._describe()

    def stop(self) -> None:
        """Stop everything, newest first; safe to call twice."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        for source in reversed(self.sources):
            source.stop()
        self.sources.clear()
        if self.consumer is not None:
            self.consumer.stop()
            self.consumer = None
        for bridge in self._bridges:
            bridge.stop()
        self._bridges.clear()
        # Aborted executions may still be inside a task: let the handlers finish before their
        # environment and the embedded AWS go away.
        for function in self._functions.values():
            if not function.pool.wait_idle(_DRAIN_TIMEOUT_S):
                log.warning("%s was still running when the stack stopped", function.name)
        self._exit.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def _made(self) -> LocalResources:
        if self.resources is None:
            raise RuntimeError("the local stack's resources are not made yet")
        return self.resources

    # ---- what callers use -----------------------------------------------------------------------

    @property
    def endpoints(self) -> Endpoints:
        """Where everything is (after ``start()``)."""
        if self._endpoints is None:
            raise RuntimeError("the local stack is not started")
        return self._endpoints

    def store(self) -> OrderStore:
        """An order store over the local table."""
        return OrderStore(self.aws.client("dynamodb"), self.endpoints.table)

    def status_events(self) -> list[BusEvent]:
        """Every PayoutStatusChanged event the local consumer received."""
        return self.consumer.events() if self.consumer is not None else []

    def start_reconcile(self) -> str | None:
        """Start one execution of the reconcile state machine now (as its schedule would)."""
        return self._scheduler.start_one() if self._scheduler is not None else None

    # ---- pieces ---------------------------------------------------------------------------------

    def _start_bridges(self) -> None:
        """One API Gateway bridge per function with API events, before anything needs its URL."""
        parameters = parameter_defaults(self.template, self._parameters({}), strict=False)
        resolver = Resolver(self.template, parameters, {}, {})
        for logical_id in resources_of_type(self.template, "AWS::Serverless::Function"):
            events = function_properties(self.template, logical_id).get("Events", {})
            api_events = [event for event in events.values() if event.get("Type") == "Api"]
            if not api_events:
                continue
            paths = [str(event["Properties"]["Path"]) for event in api_events]
            stage = self._api_stage(api_events[0], resolver)
            bridge = ApiGatewayBridge(
                self._lazy_handler(logical_id), stage=stage, resources=paths
            ).start()
            self._bridges.append(bridge)
            api = api_events[0].get("Properties", {}).get("RestApiId")
            if isinstance(api, dict) and "Ref" in api:
                self._bridged_apis[str(api["Ref"])] = bridge.base_url

    def _api_stage(self, event: Mapping[str, Any], resolver: Resolver) -> str:
        api = event.get("Properties", {}).get("RestApiId")
        if isinstance(api, dict) and "Ref" in api:
            body = self.template["Resources"].get(api["Ref"], {})
            stage = body.get("Properties", {}).get("StageName")
            if stage is not None:
                return str(resolver.resolve(stage))
        return "local"

    def _lazy_handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        def handler(event: dict[str, Any], context: Any) -> Any:
            return self._functions[logical_id].pool(event, context)

        return handler

    def _early_environment(self) -> dict[str, str]:
        """The Globals' variables that need no resource (Powertools' service name, namespace,
        log level), and the local Powertools switches."""
        parameters = parameter_defaults(self.template, self._parameters({}), strict=False)
        resolver = Resolver(self.template, parameters, {}, {})
        variables = self.template.get("Globals", {}).get("Function", {}).get("Environment", {})
        early: dict[str, str] = {}
        for name, value in variables.get("Variables", {}).items():
            with contextlib.suppress(TemplateError):
                early[name] = str(resolver.resolve(value))
        return {**early, **_POWERTOOLS_LOCAL}

    def _local_environment(self) -> dict[str, str]:
        """Function settings that point at local things, then local timings, then the caller's."""
        check_known_settings(LOCAL_TIMINGS)
        gateway_secret, pg_secret = self._create_provider_secrets()
        local = {
            "GATEWAY_V2_BASE_URL": self.sandbox.base_url,
            "PG_V2_BASE_URL": self.sandbox.base_url,
            "GATEWAY_V2_SECRET_ID": gateway_secret,
            "PG_V2_SECRET_ID": pg_secret,
            "LOG_LEVEL": "INFO",
        }
        if self._bridges:
            local["CALLBACK_BASE_URL"] = self._bridges[0].base_url
        return {**local, **LOCAL_TIMINGS, **self.options.environment_overrides}

    def _create_provider_secrets(self) -> tuple[str, str]:
        """The providers' secrets, holding the sandbox's fake merchant credentials."""
        secrets = self.aws.client("secretsmanager")
        config = self.sandbox.config
        documents = {
            "gateway_v2": {
                "platform_id": config.gateway.platform_id,
                "platform_key": config.gateway.signing_key,
                "query_token": config.gateway.query_token,
            },
            "pg_v2": {"app_id": config.pg.app_id, "app_secret": config.pg.app_secret},
        }
        arns = {
            provider: secrets.create_secret(
                Name=f"{self.options.stack_name}/{provider}", SecretString=json.dumps(document)
            )["ARN"]
            for provider, document in documents.items()
        }
        return arns["gateway_v2"], arns["pg_v2"]

    def _parameters(self, environment: Mapping[str, str]) -> dict[str, str]:
        """Parameter values: those behind a locally set variable take its local value."""
        behind = parameters_behind_variables(self.template)
        derived = {behind[name]: value for name, value in environment.items() if name in behind}
        if "LOG_LEVEL" in environment and "LogLevel" in self.template.get("Parameters", {}):
            derived["LogLevel"] = environment["LOG_LEVEL"]
        return {**derived, **self.options.parameter_overrides}

    def _process_environment(self, overrides: Mapping[str, str]) -> dict[str, str]:
        """Every function's environment in one (handlers share this process), the local
        overrides, and what the AWS SDK needs to reach the embedded AWS."""
        merged: dict[str, str] = {}
        for function in self._functions.values():
            for name, value in function.environment.items():
                if name in merged and merged[name] != value and name not in overrides:
                    raise TemplateError(
                        f"functions disagree on {name} ({merged[name]!r} vs {value!r}): they "
                        "cannot share one process"
                    )
                merged[name] = value
        return {**merged, **overrides, **self.aws.client_environment(), **_POWERTOOLS_LOCAL}

    def _register_stack(self) -> None:
        """The stack as CloudFormation sees it: the functions and the template's outputs."""
        role_arn = moto_lambda.create_role(self.aws.client("iam"))
        resources: dict[str, Any] = {
            function.logical_id: _lambda_function_resource(function, role_arn)
            for function in self._functions.values()
        }
        if not resources:
            resources["LocalStack"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
        outputs = {name: {"Value": value} for name, value in self._outputs().items()}
        self.aws.client("cloudformation").create_stack(
            StackName=self.options.stack_name,
            TemplateBody=json.dumps({"Resources": resources, "Outputs": outputs}),
        )

    def _outputs(self) -> dict[str, str]:
        """The template's outputs with local values; an output naming an API the bridge serves
        is the bridge's base URL (the API's execute-api URL on AWS)."""
        values = self._made.outputs()
        resolver = self._made.resolver()
        for name, output in self.template.get("Outputs", {}).items():
            if name in values:
                continue
            try:
                resolver.resolve(output["Value"])
            except Unresolved as missing:
                if missing.logical_id in self._bridged_apis:
                    values[name] = self._bridged_apis[missing.logical_id]
        return values

    def _start_sources(self) -> None:
        for function in self._functions.values():
            for name, event in function.properties.get("Events", {}).items():
                kind = event.get("Type")
                if kind == "SQS":
                    self.sources.append(
                        sqs_event_source(
                            self.aws,
                            self._made,
                            SourceTarget(function.name, function.spec.load),
                            event["Properties"],
                            self.options.sqs_workers,
                        )
                    )
                elif kind == "DynamoDB":
                    self.sources.append(
                        stream_event_source(
                            self.aws,
                            self._made,
                            SourceTarget(function.name, function.spec.load),
                            event["Properties"],
                        )
                    )
                elif kind != "Api":
                    log.warning("%s event %s (%s) is not run locally", function.name, name, kind)
        for source in self.sources:
            source.start()
        self._start_consumer()
        self._start_scheduler()

    def _start_consumer(self) -> None:
        buses = [
            logical_id
            for logical_id in resources_of_type(self.template, "AWS::Events::EventBus")
            if self.resources is not None and logical_id in self.resources.made
        ]
        if len(buses) != 1:
            log.warning("status events are not consumed locally: %d event buses", len(buses))
            return
        self.consumer = StatusEventsConsumer(
            self.aws.client("events"),
            self.aws.client("sqs"),
            self._made.ref(buses[0]),
            f"{self.options.stack_name}-status-events-consumer",
            on_event=self.options.on_event,
        )
        self.consumer.start()

    def _start_scheduler(self) -> None:
        if self._state_machine_arn is None:
            log.warning("no state machine in the template: nothing reconciles locally")
            return
        self._scheduler = ExecutionScheduler(
            self.aws.client("stepfunctions"),
            self._state_machine_arn,
            self.options.reconcile_every_s,
        )
        self._scheduler.start()

    def _describe(self) -> Endpoints:
        outputs = self._outputs()
        queues = [
            logical_id
            for logical_id in resources_of_type(self.template, "AWS::SQS::Queue")
            if logical_id in self._made.made
        ]
        source_queue = next(
            (
                source.config.queue_url
                for source in self.sources
                if isinstance(source, SqsEventSource)
            ),
            self._made.ref(queues[0]) if queues else "",
        )
        return Endpoints(
            aws=self.aws.endpoint_url,
            stack_name=self.options.stack_name,
            sandbox=self.sandbox.base_url,
            callbacks=self._bridges[0].base_url if self._bridges else None,
            table=_only_ref(self._made, "AWS::DynamoDB::Table"),
            queue_url=source_queue,
            dlq_url=outputs.get("PayoutRequestsDLQUrl"),
            event_bus=_only_ref(self._made, "AWS::Events::EventBus", required=False),
            state_machine=self._state_machine_arn,
            log_path=self._logs.path,
            outputs=outputs,
        )


class _Compute:
    """The ResourceBuilder's ComputeFactory: functions run in-process, the state machine from
    its real ASL file through ``moto_lambda``."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack

    def create_function(
        self, logical_id: str, name: str, properties: Mapping[str, Any], environment: dict[str, str]
    ) -> LocalResource:
        """Register the handler (the Lambda function itself is made with the stack)."""
        spec = function_spec(logical_id, name, properties)
        pool = EnvironmentPool(spec.load)
        arn = f"arn:aws:lambda:{self._stack.aws.region}:{moto_lambda.ACCOUNT_ID}:function:{name}"
        self._stack._functions[logical_id] = _Function(
            logical_id, name, arn, spec, pool, properties, environment
        )
        self._stack._lambdas.register(name, pool)
        return LocalResource(ref=name, attributes={"Arn": arn})

    def create_state_machine(
        self, logical_id: str, name: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> LocalResource:
        """Create the machine from its DefinitionUri file with its DefinitionSubstitutions."""
        stack = self._stack
        substitutions = {
            key: str(resolver.resolve(value))
            for key, value in properties.get("DefinitionSubstitutions", {}).items()
        }
        unknown = set(stack.options.substitution_overrides) - set(substitutions)
        if unknown:
            raise TemplateError(f"{logical_id} has no DefinitionSubstitutions {sorted(unknown)}")
        substitutions.update(stack.options.substitution_overrides)
        path = REPO_ROOT / str(resolver.resolve(properties["DefinitionUri"]))
        role_arn = moto_lambda.create_role(stack.aws.client("iam"))
        arn = moto_lambda.create_state_machine(
            stack.aws.client("stepfunctions"), name, path, substitutions, role_arn
        )
        stack._state_machine_arn = arn
        return LocalResource(ref=arn, attributes={"Arn": arn, "Name": name})


def _restore_default_session(session: boto3.session.Session | None) -> None:
    boto3.DEFAULT_SESSION = session


def _clear_parameter_caches() -> None:
    clear: Callable[[], None] = parameters.clear_caches  # untyped in Powertools
    clear()


def check_known_settings(environment: Mapping[str, str]) -> None:
    """Every name must be a field of some function's settings model: a rename must not turn a
    local timing into a silently ignored variable."""
    from payouts.settings.callbacks import CallbackSettings  # noqa: PLC0415
    from payouts.settings.find_due import FindDueSettings  # noqa: PLC0415
    from payouts.settings.intake import IntakeSettings  # noqa: PLC0415
    from payouts.settings.reconcile import ReconcileSettings  # noqa: PLC0415
    from payouts.settings.status_events import StatusEventsSettings  # noqa: PLC0415

    models = (
        CallbackSettings,
        IntakeSettings,
        FindDueSettings,
        ReconcileSettings,
        StatusEventsSettings,
    )
    known = {name.upper() for model in models for name in model.model_fields}
    unknown = sorted(set(environment) - known)
    if unknown:
        raise TemplateError(f"no settings model has the fields {unknown}")


def _lambda_function_resource(function: _Function, role_arn: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": function.name,
            "Runtime": str(function.properties.get("Runtime", "python3.13")),
            "Handler": f"{function.spec.module_path.stem}.{function.spec.handler_name}",
            "Role": role_arn,
            "Timeout": function.spec.timeout_s,
            "MemorySize": function.spec.memory_mb,
            # Never runs: the handler runs in-process (moto_lambda.InProcessLambdas).
            "Code": {"ZipFile": "def lambda_handler(event, context):\n    return event\n"},
            "Environment": {"Variables": function.environment},
        },
    }


def _only_ref(resources: LocalResources, resource_type: str, *, required: bool = True) -> str:
    made = [
        logical_id
        for logical_id in resources_of_type(resources.template, resource_type)
        if logical_id in resources.made
    ]
    if len(made) == 1:
        return resources.ref(made[0])
    if required:
        raise TemplateError(f"expected one local {resource_type}, found {len(made)}")
    return ""
