"""Sending settled payouts' callbacks, retried on a schedule until acknowledged.

One background thread delivers every callback in due order. Each attempt is signed afresh (the
message's ``headers_for``), and recorded so tests and the admin API can see retries.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import httpx

from payouts_tools.sandbox.config import Provider, SandboxModel

_log = logging.getLogger(__name__)

# The worker never sleeps longer than this, so stop() is prompt even with nothing queued.
_MAX_IDLE_S: Final = 0.25


@dataclass(frozen=True)
class CallbackMessage:
    """One callback to deliver: the body is fixed, the headers are made per attempt."""

    provider: Provider
    merchant_no: str
    url: str
    body: bytes
    headers_for: Callable[[], Mapping[str, str]]
    acknowledged: Callable[[httpx.Response], bool]
    retry_delays_s: tuple[float, ...]
    timeout_s: float


class CallbackAttempt(SandboxModel):
    """One delivery attempt as it happened."""

    provider: Provider
    merchant_no: str
    url: str
    attempt: int
    at: float  # unix seconds
    status_code: int | None
    acknowledged: bool
    error: str | None = None


@dataclass(order=True)
class _Queued:
    due: float  # monotonic
    seq: int
    message: CallbackMessage = field(compare=False)
    attempt: int = field(default=1, compare=False)
    generation: int = field(default=0, compare=False)  # callbacks from before a reset are void


class CallbackSender:
    """The background sender. ``start`` once, ``stop`` once; ``submit`` from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._seq = itertools.count()
        self._attempts: list[CallbackAttempt] = []
        self._generation = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-callbacks", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker; an attempt in flight finishes or times out first."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def submit(self, message: CallbackMessage, delay_s: float = 0.0) -> None:
        """Queue ``message`` for its first attempt after ``delay_s``."""
        with self._lock:
            generation = self._generation
        self._push(_Queued(time.monotonic() + delay_s, next(self._seq), message, 1, generation))

    def attempts(self) -> list[CallbackAttempt]:
        """Every attempt so far, in the order they were made."""
        with self._lock:
            return list(self._attempts)

    def clear(self) -> None:
        """Drop queued callbacks and the attempt log (sandbox reset)."""
        with self._lock:
            self._queue.clear()
            self._attempts.clear()
            self._generation += 1

    def _push(self, queued: _Queued) -> None:
        with self._lock:
            if queued.generation != self._generation:
                return
            heapq.heappush(self._queue, queued)
        self._wake.set()

    def _run(self) -> None:
        # Made on first use, on this thread, which alone uses it: building one costs tens of
        # milliseconds (TLS context), which a sandbox that never calls back should not pay.
        client: httpx.Client | None = None
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                queued, wait_s = self._next_due()
                if queued is None:
                    self._wake.wait(wait_s)
                    continue
                # trust_env off: loopback callbacks must never go through an environment proxy.
                client = client or httpx.Client(trust_env=False)
                self._deliver(client, queued)
        finally:
            if client is not None:
                client.close()

    def _next_due(self) -> tuple[_Queued | None, float]:
        with self._lock:
            if not self._queue:
                return None, _MAX_IDLE_S
            wait_s = self._queue[0].due - time.monotonic()
            if wait_s > 0:
                return None, min(wait_s, _MAX_IDLE_S)
            return heapq.heappop(self._queue), 0.0

    def _deliver(self, client: httpx.Client, queued: _Queued) -> None:
        message = queued.message
        status_code: int | None = None
        acknowledged = False
        error: str | None = None
        try:
            response = client.post(
                message.url,
                content=message.body,
                headers=dict(message.headers_for()),
                timeout=message.timeout_s,
            )
            status_code = response.status_code
            acknowledged = message.acknowledged(response)
        except httpx.HTTPError as exc:
            # The receiver is down or slow: that is what retries are for.
            error = type(exc).__name__
        self._record(queued, status_code, acknowledged, error)
        if not acknowledged:
            self._retry(queued)

    def _record(
        self, queued: _Queued, status_code: int | None, acknowledged: bool, error: str | None
    ) -> None:
        message = queued.message
        attempt = CallbackAttempt(
            provider=message.provider,
            merchant_no=message.merchant_no,
            url=message.url,
            attempt=queued.attempt,
            at=time.time(),
            status_code=status_code,
            acknowledged=acknowledged,
            error=error,
        )
        with self._lock:
            if queued.generation == self._generation:
                self._attempts.append(attempt)
        _log.debug(
            "callback attempt",
            extra={"provider": message.provider, "attempt": queued.attempt, "ack": acknowledged},
        )

    def _retry(self, queued: _Queued) -> None:
        delays = queued.message.retry_delays_s
        if queued.attempt > len(delays):
            return  # schedule exhausted: the provider gives up
        delay = delays[queued.attempt - 1]
        self._push(
            _Queued(
                time.monotonic() + delay,
                next(self._seq),
                queued.message,
                attempt=queued.attempt + 1,
                generation=queued.generation,
            )
        )
