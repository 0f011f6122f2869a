"""Where the in-process handlers' output goes while the local stack runs: a log file."""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock


class HandlerLogs:
    """Sends the handlers' Powertools logs, this package's logs and Python warnings to a file
    while the stack runs, and puts everything back afterwards."""

    def __init__(self, path: Path | None) -> None:
        self._requested = path
        self.path = (
            path or Path(tempfile.gettempdir()) / f"payouts-local-{uuid.uuid4().hex[:8]}.log"
        )
        self._file: Any = None
        self._handler: logging.Handler | None = None
        self._restore: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        """Start capturing."""
        from aws_lambda_powertools.metrics import base as metrics_base  # noqa: PLC0415
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf import (  # noqa: PLC0415
            cloudwatch,
        )

        from payouts.observability import logger  # noqa: PLC0415 - after the env is set

        self._file = self.path.open("a", encoding="utf-8")
        powertools = logger.logger_handler
        if isinstance(powertools, logging.StreamHandler):
            previous = powertools.setStream(self._file)
            self._restore.append(lambda: powertools.setStream(previous))
        # Powertools prints EMF metrics (CloudWatch reads them from the function's output);
        # locally that output is this file, not the terminal.
        emf = mock.patch.object(cloudwatch, "print", self._write_line, create=True)
        emf.start()
        self._restore.append(emf.stop)
        # single_metric (a datapoint with dimensions of its own: balances, the status funnel)
        # prints from another module; without this its EMF lines land in the CLI's --json output.
        single = mock.patch.object(metrics_base, "print", self._write_line, create=True)
        single.start()
        self._restore.append(single.stop)
        self._handler = logging.StreamHandler(self._file)
        self._handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        for name in ("payouts_tools", "py.warnings", "moto", "botocore", "werkzeug"):
            self._capture(name)
        logging.captureWarnings(True)
        self._restore.append(lambda: logging.captureWarnings(False))

    def _write_line(self, *values: object, **_: object) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(" ".join(str(value) for value in values) + "\n")

    def _capture(self, name: str) -> None:
        target = logging.getLogger(name)
        propagate = target.propagate
        assert self._handler is not None  # noqa: S101
        handler = self._handler
        target.addHandler(handler)
        target.propagate = False

        def undo() -> None:
            target.removeHandler(handler)
            target.propagate = propagate

        self._restore.append(undo)

    def close(self) -> None:
        """Stop capturing and close the file."""
        for undo in reversed(self._restore):
            undo()
        self._restore.clear()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
