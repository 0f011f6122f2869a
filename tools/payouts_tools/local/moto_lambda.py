"""Real Lambda handlers running in-process under moto's Lambda, and state machines built from their
real ``statemachine/*.asl.json`` files, so moto's ASL interpreter drives the real code.

Without Docker, moto's Lambda never runs code: ``LambdaSimpleBackend.invoke`` echoes the payload.
``InProcessLambdas`` replaces that method, while it is active, with one that looks the function up
and calls the registered Python handler, turning an exception into what Lambda returns for an
unhandled error (the ``x-amz-function-error: Unhandled`` header and ``{"errorType",
"errorMessage"}``), which Step Functions turns into a catchable error named ``errorType``.

This reaches into moto's internals (see ``/work/shared/local-aws.md``); it is kept in this one
module, checked against the moto version it was written for (``check_moto_version``), and tested
by ``tests/integration/reconcile/test_moto_lambda.py``. Works in-process (``mock_aws``) and in
moto's server mode alike, since both end in the same backend method.

Typical use (inside ``mock_aws(config=EXECUTION_CONFIG)``)::

    with InProcessLambdas({"find-due": handler}) as lambdas, instant_waits():
        arn = create_function(lambda_client, "find-due", create_role(iam_client))
        machine = create_state_machine(sfn, "reconcile", ASL_PATH, {"FindDueFunctionArn": arn},
                                       role_arn)
        execution = sfn.start_execution(stateMachineArn=machine, name="run-1")["executionArn"]
        wait_for_execution(sfn, execution)
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from unittest import mock

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        HistoryEventTypeDef,
    )

type Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``handler(event, context) -> JSON-serialisable result``."""

# The moto releases whose internals this module was written against. The patched names are
# checked on entry too, so an upgrade that moves them fails loudly instead of silently echoing.
SUPPORTED_MOTO: Final = "5.2."
_INVOKE_TARGET: Final = "moto.awslambda_simple.models.LambdaSimpleBackend.invoke"
_WAIT_TARGET: Final = (
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"
    ".WaitFunction._wait_interval"
)

# What mock_aws (or the moto server's /moto-api/config) needs for all of this to run.
EXECUTION_CONFIG: Final[DefaultConfig] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"  # moto's default account
FUNCTION_ERROR_HEADER: Final = "x-amz-function-error"
HANDLER_NOT_FOUND: Final = "Runtime.HandlerNotFound"

# ${Name} placeholders of DefinitionSubstitutions (CloudFormation replaces them in the file's text).
_PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
_TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class MotoVersionError(RuntimeError):
    """The installed moto is not a version whose internals this module knows."""


def check_moto_version() -> str:
    """The installed moto version; raises ``MotoVersionError`` unless it is a supported one."""
    import moto  # noqa: PLC0415 - moto is heavy and only needed by whoever runs this

    version = str(moto.__version__)
    if not version.startswith(SUPPORTED_MOTO):
        raise MotoVersionError(
            f"moto {version} is installed; payouts_tools.local.moto_lambda patches moto "
            f"{SUPPORTED_MOTO}x internals ({_INVOKE_TARGET}): check them, then update "
            "SUPPORTED_MOTO"
        )
    return version


@dataclass(frozen=True)
class InvocationContext:
    """The Lambda context object, with what Powertools reads from it."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 30
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "in-process"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's countdown; in-process handlers are never killed, so always the timeout."""
        return self.timeout_s * 1000


@dataclass(frozen=True)
class Invocation:
    """One call of a registered handler: the event it got, and its error type if it raised."""

    function_name: str
    event: Any
    error_type: str | None = None


class InProcessLambdas:
    """While active, moto's Docker-less Lambda runs the registered handlers in this process.

    ``handlers`` maps function names (as created in moto) to handlers. Invocations run one at a
    time: Lambda runs concurrent invocations in separate environments, but in one process they
    would share module-level singletons (Powertools' metrics, cached clients), so a Map's parallel
    iterations are serialised here. Only one instance may be active at a time.
    """

    _active_lock: Final = threading.Lock()

    def __init__(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        memory_limit_in_mb: int = 512,
        timeout_s: int = 30,
    ) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._memory = memory_limit_in_mb
        self._timeout_s = timeout_s
        self._serial = threading.Lock()
        self._record_lock = threading.Lock()
        self._invocations: list[Invocation] = []
        self._patch: Any = None

    def register(self, function_name: str, handler: Handler) -> None:
        """Run ``handler`` for ``function_name`` (replacing any earlier one)."""
        self._handlers[function_name] = handler

    @property
    def invocations(self) -> list[Invocation]:
        """Every invocation so far, in order."""
        with self._record_lock:
            return list(self._invocations)

    def count(self, function_name: str) -> int:
        """How many times ``function_name`` was invoked."""
        return sum(call.function_name == function_name for call in self.invocations)

    def __enter__(self) -> Self:
        check_moto_version()
        if not InProcessLambdas._active_lock.acquire(blocking=False):
            raise RuntimeError("another InProcessLambdas is already active in this process")
        self._patch = mock.patch(_INVOKE_TARGET, self._invoke_function())
        self._patch.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
            InProcessLambdas._active_lock.release()

    def _invoke_function(self) -> Callable[..., bytes]:
        """The replacement for ``LambdaSimpleBackend.invoke`` (called with the backend as self)."""

        def invoke(  # noqa: PLR0917 - the signature of the moto method it replaces
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            function = backend.get_function(function_name, qualifier)
            name = str(function.function_name)
            context = InvocationContext(
                function_name=name,
                invoked_function_arn=str(function.function_arn),
                memory_limit_in_mb=self._memory,
                timeout_s=self._timeout_s,
            )
            return self._run(name, _event_of(body), context, response_headers)

        return invoke

    def _run(
        self,
        name: str,
        event: Any,
        context: InvocationContext,
        response_headers: dict[str, str],
    ) -> bytes:
        handler = self._handlers.get(name)
        if handler is None:
            self._record(Invocation(name, event, HANDLER_NOT_FOUND))
            return _unhandled(
                response_headers, HANDLER_NOT_FOUND, f"no in-process handler for {name}"
            )
        with self._serial:
            try:
                result = handler(event, context)
            except Exception as error:  # noqa: BLE001 - exactly what the Lambda runtime does
                self._record(Invocation(name, event, type(error).__name__))
                return _unhandled(
                    response_headers,
                    type(error).__name__,
                    str(error),
                    traceback.format_exception(error),
                )
        self._record(Invocation(name, event))
        return json.dumps(result).encode()

    def _record(self, invocation: Invocation) -> None:
        with self._record_lock:
            self._invocations.append(invocation)


def _event_of(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body) if body else {}


def _unhandled(
    response_headers: dict[str, str],
    error_type: str,
    message: str,
    stack: list[str] | None = None,
) -> bytes:
    response_headers[FUNCTION_ERROR_HEADER] = "Unhandled"
    payload: dict[str, Any] = {"errorType": error_type, "errorMessage": message}
    if stack:
        payload["stackTrace"] = stack
    return json.dumps(payload).encode()


# ------------------------------------------------------------------------------------ waits


@contextmanager
def instant_waits(on_wait: Callable[[int], None] | None = None) -> Iterator[list[int]]:
    """Make every Wait state return at once; yields the list of seconds each Wait asked for.

    ``on_wait(seconds)`` is called instead of sleeping (e.g. to advance a virtual clock).
    """
    asked: list[int] = []
    lock = threading.Lock()

    # Called by moto as _wait_interval(env=..., wait_seconds=...): keep its parameter names.
    def wait_interval(_self: Any, env: Any, wait_seconds: int) -> None:
        del env  # the execution's environment; nothing to wait on
        with lock:
            asked.append(int(wait_seconds))
        if on_wait is not None:
            on_wait(int(wait_seconds))

    check_moto_version()
    with mock.patch(_WAIT_TARGET, wait_interval):
        yield asked


# ---------------------------------------------------------------------- functions and machines


def dummy_zip() -> bytes:
    """A deployment package moto accepts (its code never runs: the handlers run in-process)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_role(iam_client: Any, name: str = "payouts-in-process") -> str:
    """An IAM role for functions and state machines (moto checks that a function's role exists).
    Returns its ARN; an existing role of that name is reused."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    except iam_client.exceptions.EntityAlreadyExistsException:
        role = iam_client.get_role(RoleName=name)
    return str(role["Role"]["Arn"])


def create_function(
    lambda_client: LambdaClient,
    name: str,
    role_arn: str,
    *,
    handler: str = "app.lambda_handler",
    timeout_s: int = 30,
    memory_mb: int = 512,
    environment: Mapping[str, str] | None = None,
) -> str:
    """Create function ``name`` from a dummy package; returns its ARN."""
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": dummy_zip()},
        Timeout=timeout_s,
        MemorySize=memory_mb,
        Environment={"Variables": dict(environment or {})},
    )
    return created["FunctionArn"]


def placeholders(definition: str) -> set[str]:
    """The ``${Name}`` placeholders a definition expects substitutions for."""
    return set(_PLACEHOLDER.findall(definition))


def substitute(definition: str, substitutions: Mapping[str, str]) -> str:
    """Replace every ``${Name}`` as CloudFormation's ``DefinitionSubstitutions`` does.

    Raises ``ValueError`` naming any placeholder left without a value.
    """
    missing = placeholders(definition) - set(substitutions)
    if missing:
        raise ValueError(f"no substitution for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda found: str(substitutions[found.group(1)]), definition)


def create_state_machine(
    sfn_client: SFNClient,
    name: str,
    asl_path: Path,
    substitutions: Mapping[str, str],
    role_arn: str,
) -> str:
    """Create a Standard state machine from the ASL file at ``asl_path`` with its substitutions;
    moto parses the definition here. Returns its ARN."""
    definition = substitute(asl_path.read_text(encoding="utf-8"), substitutions)
    created = sfn_client.create_state_machine(
        name=name, definition=definition, roleArn=role_arn, type="STANDARD"
    )
    return created["stateMachineArn"]


def wait_for_execution(
    sfn_client: SFNClient,
    execution_arn: str,
    *,
    timeout_s: float = 60.0,
    poll_s: float = 0.02,
) -> DescribeExecutionOutputTypeDef:
    """Poll until the execution ends and return its description. On timeout the execution is
    stopped (so it cannot outlive the caller) and ``TimeoutError`` raised."""
    deadline = time.monotonic() + timeout_s
    while True:
        described = sfn_client.describe_execution(executionArn=execution_arn)
        if described["status"] in _TERMINAL_STATUSES:
            return described
        if time.monotonic() >= deadline:
            sfn_client.stop_execution(executionArn=execution_arn, error="TestTimeout")
            raise TimeoutError(f"{execution_arn} still running after {timeout_s} s; stopped")
        time.sleep(poll_s)


def execution_history(sfn_client: SFNClient, execution_arn: str) -> list[HistoryEventTypeDef]:
    """Every history event of an execution, oldest first."""
    events: list[HistoryEventTypeDef] = []
    token: str | None = None
    while True:
        page = (
            sfn_client.get_execution_history(
                executionArn=execution_arn, maxResults=1000, nextToken=token
            )
            if token
            else sfn_client.get_execution_history(executionArn=execution_arn, maxResults=1000)
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def state_transitions(events: list[HistoryEventTypeDef]) -> int:
    """State transitions in a history: one per state entered (what Standard workflows bill)."""
    return sum(event["type"].endswith("StateEntered") for event in events)
