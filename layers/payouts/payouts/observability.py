"""One logger, one metrics emitter, one tracer for the whole package (Powertools).

Log with keyword fields (``logger.info("order submitted", payout_id=...)``), never f-strings of
payloads. Beneficiary details, keys and signatures are never logged; use ``redaction.mask``.
Everything logged while one payout is being handled carries its id: wrap that work in
``payout_log_context(payout_id)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

if TYPE_CHECKING:
    import numbers
    import traceback
    from collections.abc import Sequence

# The only libraries the functions call out with: the AWS SDK and the providers' HTTP client.
# Patching all of X-Ray's supported libraries imports each one that is installed (sqlite3,
# requests...) on every cold start, for calls these functions never make.
TRACED_MODULES: Final = ("botocore", "httpx")

# The log key that ties every line about one payout together (CloudWatch Logs Insights:
# ``filter payout_id = "PO-..."``), across intake, callback and reconcile.
PAYOUT_ID_KEY: Final = "payout_id"


class _NoSegment(BaseSegment):
    """What a disabled tracer hands to its decorators: records nothing."""

    def close(self, end_time: int | None = None) -> None:
        """Nothing to close."""

    def add_subsegment(self, subsegment: Any) -> None:
        """Nothing is recorded."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """Nothing is recorded."""

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Nothing is recorded."""

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Nothing is recorded."""

    def add_exception(
        self,
        exception: BaseException,
        stack: list[traceback.StackSummary],
        remote: bool = False,
    ) -> None:
        """Nothing is recorded."""


class _NoTracing(BaseProvider):
    """The tracer's provider where tracing is off (outside Lambda, or switched off).

    Powertools imports the X-Ray SDK for its default provider even when tracing is disabled, and
    the SDK's recorder, built at import, creates a botocore X-Ray client for centralized sampling
    whenever it does not find itself in Lambda: a few hundred milliseconds on every test run,
    local stack start and benchmark, for traces nobody sends.
    """

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        """A segment that records nothing."""
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AsyncIterator[BaseSegment]:
        """A segment that records nothing."""
        yield _NoSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Nothing is recorded."""

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Nothing is recorded."""

    def patch(self, modules: Sequence[str]) -> None:
        """Nothing is patched."""

    def patch_all(self) -> None:
        """Nothing is patched."""


def _build_tracer() -> Tracer:
    # Powertools' own rule decides whether tracing runs: inside Lambda (not SAM local), unless
    # POWERTOOLS_TRACE_DISABLED says otherwise. Only the default provider costs import time.
    if Tracer._is_tracer_disabled():
        return Tracer(disabled=True, auto_patch=False, provider=_NoTracing())
    return Tracer(patch_modules=TRACED_MODULES)


@contextmanager
def payout_log_context(payout_id: str) -> Iterator[None]:
    """Every log line written inside carries ``payout_id``, then the key is removed.

    The key lives in a context variable (Powertools' thread-safe keys): concurrent records of one
    batch, each in its own asyncio task, never see each other's id; work handed to a worker
    thread carries it only when run in a copy of the context (``contextvars.copy_context``).
    """
    logger.thread_safe_append_keys(**{PAYOUT_ID_KEY: payout_id})
    try:
        yield
    finally:
        logger.thread_safe_remove_keys([PAYOUT_ID_KEY])


# Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE from the environment
# (set in the template's Globals). These objects are cheap to build and hold no connections.
logger = Logger()
metrics = Metrics()
tracer = _build_tracer()

__all__ = ["PAYOUT_ID_KEY", "MetricUnit", "logger", "metrics", "payout_log_context", "tracer"]
