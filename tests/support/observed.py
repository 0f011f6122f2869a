"""What a handler under test wrote: its Powertools log lines (as CloudWatch would receive them)
and its EMF metrics, and a fresh cold start."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics.provider import cold_start

from payouts.observability import logger


class LogLines:
    """The JSON log lines written through ``payouts.observability.logger`` while capturing."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def all(self) -> list[dict[str, Any]]:
        """Every line so far, parsed."""
        return [json.loads(line) for line in self._stream.getvalue().splitlines() if line]

    def with_message(self, message: str) -> list[dict[str, Any]]:
        """The lines whose message is exactly ``message``."""
        return [line for line in self.all() if line.get("message") == message]


@contextmanager
def captured_logs() -> Iterator[LogLines]:
    """Log lines formatted by the logger's own formatter (every key it would print), captured
    beside its normal output."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    # Every line, whatever level an earlier test in this process left (the simulator runs
    # the services at CRITICAL, the fuzz tests at ERROR).
    level = logger.log_level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield LogLines(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def emf_documents(output: str) -> list[dict[str, Any]]:
    """The EMF documents (metrics) printed in ``output``."""
    return [json.loads(line) for line in output.splitlines() if '"_aws"' in line]


def metric_names(document: dict[str, Any]) -> list[str]:
    """The metric names one EMF document carries."""
    return [
        definition["Name"]
        for group in document["_aws"]["CloudWatchMetrics"]
        for definition in group["Metrics"]
    ]


def cold_start_count(output: str) -> int:
    """How many ColdStart metrics ``output`` holds."""
    return sum(metric_names(document).count("ColdStart") for document in emf_documents(output))


def new_container() -> None:
    """The next invocation is a cold start again (Powertools keeps one flag per process)."""
    cold_start.reset_cold_start_flag()
