"""An asyncio event loop that runs on virtual time.

``time()`` is a number the loop owns. When nothing is ready to run, the loop does not wait: it
jumps straight to the next timer. So ``await asyncio.sleep(3600)`` costs nothing, timeouts
(``asyncio.timeout``) fire in virtual time, and with no sockets or threads involved the order in
which callbacks run depends only on the program and its seed: the run is deterministic.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class Idle(RuntimeError):
    """The loop had nothing ready and no timer to wait for while a task was still pending."""


class _VirtualSelector(selectors.SelectSelector):
    """A selector that never blocks: a wait of ``timeout`` seconds advances the clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise Idle("nothing is scheduled: the simulation would wait forever")
        if timeout > 0:
            self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual (seconds since the loop was made)."""

    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)
        # Callbacks "slower than 100 ms" are a wall-clock notion: meaningless here.
        self.slow_callback_duration = float("inf")

    def time(self) -> float:
        """Virtual seconds since the loop was made."""
        return self._virtual.now

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Surface errors that would otherwise only be logged (a task nobody awaited)."""
        exception = context.get("exception")
        if isinstance(exception, BaseException) and not isinstance(
            exception, asyncio.CancelledError
        ):
            super().call_exception_handler(context)
