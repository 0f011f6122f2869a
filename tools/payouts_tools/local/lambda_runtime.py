"""Running a real handler (``functions/<name>/app.py``) in this process, as Lambda would.

Each loaded module is one "execution environment": its cached settings and clients are its own.
Event sources load one module per concurrent worker, because Lambda never runs two invocations
in one environment at the same time, and a handler module's objects (Powertools' batch processor,
for one) are not made for that.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from payouts_tools.local.template import REPO_ROOT, TemplateError

type Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``handler(event, context) -> result``."""

type HandlerFactory = Callable[[], Handler]
"""Makes a fresh execution environment (a new module) and returns its handler."""

_ACCOUNT_ID: Final = "123456789012"
_loads = itertools.count(1)


@dataclass
class LocalLambdaContext:
    """The Lambda context object, with what Powertools reads from it."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 30
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN, as Lambda reports it."""
        return f"arn:aws:lambda:{self.region}:{_ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's countdown; the local runtime never kills a handler, so always the timeout."""
        return self.timeout_s * 1000


@dataclass(frozen=True)
class FunctionSpec:
    """Where a template function's code lives and how it is configured."""

    logical_id: str
    function_name: str
    module_path: Path
    handler_name: str
    timeout_s: int
    memory_mb: int

    def load(self) -> Handler:
        """A fresh module for this function (a new execution environment) and its handler."""
        module_name = f"payouts_local_{self.logical_id}_{next(_loads)}"
        spec = importlib.util.spec_from_file_location(module_name, self.module_path)
        if spec is None or spec.loader is None:
            raise TemplateError(f"cannot load {self.module_path}")
        module = importlib.util.module_from_spec(spec)
        # Registered like an imported module: pydantic resolves the handler's models' postponed
        # annotations through sys.modules.
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        handler = getattr(module, self.handler_name, None)
        if not callable(handler):
            raise TemplateError(f"{self.module_path} has no callable {self.handler_name}")
        return handler  # type: ignore[no-any-return]

    def context(self) -> LocalLambdaContext:
        """A context for one invocation."""
        return LocalLambdaContext(
            function_name=self.function_name,
            memory_limit_in_mb=self.memory_mb,
            timeout_s=self.timeout_s,
        )


def function_spec(
    logical_id: str, function_name: str, properties: Mapping[str, Any]
) -> FunctionSpec:
    """Where ``logical_id``'s code is, from its resolved properties (Globals merged): ``CodeUri``
    (a folder of the checkout) and ``Handler`` (``app.lambda_handler``)."""
    code_uri = properties.get("CodeUri")
    handler = properties.get("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{logical_id} needs a CodeUri folder and a Handler like app.handler")
    module_name, _, attribute = handler.rpartition(".")
    path = REPO_ROOT / code_uri / f"{module_name.replace('.', '/')}.py"
    if not path.is_file():
        raise TemplateError(f"{logical_id}: {path} does not exist")
    return FunctionSpec(
        logical_id=logical_id,
        function_name=function_name,
        module_path=path,
        handler_name=attribute,
        timeout_s=_int_or(properties.get("Timeout"), 3),
        memory_mb=_int_or(properties.get("MemorySize"), 128),
    )


def _int_or(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else default


class EnvironmentPool:
    """A handler that runs each concurrent invocation in an execution environment of its own.

    Lambda never runs two invocations in one environment at once; handler modules rely on it
    (an event handler's ``current_event``, a batch processor's records). Idle environments are
    reused, new ones are loaded on demand, so concurrency costs one module load per extra
    simultaneous invocation, as cold starts do.
    """

    def __init__(self, factory: HandlerFactory) -> None:
        self._factory = factory
        self._idle: list[Handler] = []
        self._lock = threading.Condition()
        self._active = 0
        self.environments = 0

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        handler = self._take()
        try:
            return handler(event, context)
        finally:
            with self._lock:
                self._idle.append(handler)
                self._active -= 1
                self._lock.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no invocation is running; False if one still is after ``timeout_s``."""
        with self._lock:
            return self._lock.wait_for(lambda: self._active == 0, timeout_s)

    def _take(self) -> Handler:
        with self._lock:
            self._active += 1
            if self._idle:
                return self._idle.pop()
            self.environments += 1
        return self._factory()
