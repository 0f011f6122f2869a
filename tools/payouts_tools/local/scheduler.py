"""Starting state machine executions on a schedule, as EventBridge Scheduler would (moto never
fires schedules)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)

_STOP_EXECUTIONS_TIMEOUT_S: Final = 20.0


class ExecutionScheduler:
    """Starts executions every ``every_s`` seconds, as the template's schedule would (moto never
    fires schedules). Overlapping executions end quietly on the reconcile lease."""

    def __init__(self, sfn: SFNClient, state_machine_arn: str, every_s: float) -> None:
        self._sfn = sfn
        self._arn = state_machine_arn
        self._every_s = every_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reconcile-schedule", daemon=True)
        self._started: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the first execution now, then one every interval."""
        self._thread.start()

    def start_one(self) -> str:
        """Start one execution; returns its ARN."""
        name = f"local-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:8]}"
        arn = self._sfn.start_execution(stateMachineArn=self._arn, name=name)["executionArn"]
        with self._lock:
            self._started.append(arn)
        return arn

    def stop(self) -> None:
        """Stop starting executions, stop the running ones and wait for them to end."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        for arn in self._running():
            with contextlib.suppress(Exception):
                self._sfn.stop_execution(executionArn=arn, error="LocalStackStopped")
        deadline = time.monotonic() + _STOP_EXECUTIONS_TIMEOUT_S
        while self._running() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _running(self) -> list[str]:
        """The executions still running (finished ones are forgotten, so a stack that ran for
        hours does not describe thousands of old executions when it stops)."""
        with self._lock:
            started = list(self._started)
        running = []
        for arn in started:
            with contextlib.suppress(Exception):
                if self._sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                    running.append(arn)
        with self._lock:
            finished = set(started) - set(running)
            self._started = [arn for arn in self._started if arn not in finished]
        return running

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.start_one()
            except Exception:
                log.exception("could not start a reconcile execution")
            self._running()
            self._stopping.wait(self._every_s)
