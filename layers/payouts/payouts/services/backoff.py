"""When to check an unresolved order next, and when it has waited too long. Pure arithmetic.

Each order carries its own schedule: the n-th check is followed by a wait of ``steps[n - 1]``
(15 s, 30 s, 1 min, ... up to the last step, the cap), spread by a random jitter so that orders
created together do not hit the provider together forever. After the deadline the order is
escalated once and then polled at the cap: nothing here ever decides that an order failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

type RandomSource = Callable[[], float]
"""Returns a float in [0, 1) (``random.random``); injectable so tests are deterministic."""

DEFAULT_STEPS_SECONDS: Final[tuple[int, ...]] = (15, 30, 60, 120, 300, 900, 3600)
DEFAULT_JITTER: Final = 0.10
DEFAULT_DEADLINE: Final = timedelta(hours=24)


@dataclass(frozen=True)
class BackoffSchedule:
    """The waits between checks, the last one being the cap, and the jitter applied to each."""

    steps: tuple[timedelta, ...]
    jitter: float = DEFAULT_JITTER

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a backoff schedule needs at least one step")
        if any(step <= timedelta(0) for step in self.steps):
            raise ValueError("backoff steps must be positive")
        if list(self.steps) != sorted(self.steps):
            raise ValueError("backoff steps must not shrink")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")

    @classmethod
    def of_seconds(cls, steps: Sequence[float], jitter: float = DEFAULT_JITTER) -> BackoffSchedule:
        """A schedule from step lengths in seconds."""
        return cls(tuple(timedelta(seconds=step) for step in steps), jitter)

    @property
    def cap(self) -> timedelta:
        """The longest wait: where polling stays once the steps run out."""
        return self.steps[-1]

    @property
    def shortest(self) -> timedelta:
        """The shortest wait any check can be followed by, jitter included."""
        return self.steps[0] * (1 - self.jitter)

    def base_delay(self, checks_done: int) -> timedelta:
        """The wait after ``checks_done`` checks, before jitter (``checks_done`` >= 1)."""
        index = min(max(checks_done, 1), len(self.steps)) - 1
        return self.steps[index]

    def delay(self, checks_done: int, random: RandomSource, *, at_cap: bool = False) -> timedelta:
        """The jittered wait after ``checks_done`` checks; ``at_cap`` waits the cap instead."""
        base = self.cap if at_cap else self.base_delay(checks_done)
        # random() in [0, 1) -> factor in [1 - jitter, 1 + jitter): a uniform spread around base.
        factor = 1 + self.jitter * (2 * random() - 1)
        return base * factor


def next_check_at(
    now: datetime,
    checks_done: int,
    schedule: BackoffSchedule,
    random: RandomSource,
    *,
    at_cap: bool = False,
) -> datetime:
    """When to check an order next, ``checks_done`` checks in (``at_cap`` after its deadline)."""
    return now + schedule.delay(checks_done, random, at_cap=at_cap)


def deadline_of(first_unresolved_at: datetime, deadline: timedelta) -> datetime:
    """The moment an order still unresolved is handed to a person."""
    return first_unresolved_at + deadline


def deadline_passed(first_unresolved_at: datetime, deadline: timedelta, now: datetime) -> bool:
    """True once an order unresolved since ``first_unresolved_at`` has reached its deadline."""
    return now >= deadline_of(first_unresolved_at, deadline)
