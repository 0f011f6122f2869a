"""Lambda as the simulation sees it: an invocation with its own clock, which may die at any
crash point or be timed out, and whose death stops every task it started.

A crash is a ``LambdaCrash``, a ``BaseException``: no ``except Exception`` in the services can
swallow it, exactly as no code survives its process being killed. Sibling tasks of the dead
invocation (the other records of a batch) die at their next boundary (``checkpoint``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from payouts_tools.sim.config import EPOCH
from payouts_tools.sim.faults import Dice


class LambdaCrash(BaseException):
    """The invocation's process died here."""


@dataclass
class Invocation:
    """One Lambda invocation: its function, its clock's skew, and whether it is dead."""

    function: str
    skew: float
    now: Callable[[], float]  # virtual seconds
    dice: Dice
    dead: bool = False
    crash_points: list[str] = field(default_factory=list)

    def clock(self) -> datetime:
        """The invocation's wall clock: virtual time plus its skew."""
        return EPOCH + timedelta(seconds=self.now() + self.skew)

    def checkpoint(self, where: str) -> None:
        """A crash point: die here if the dice say so (or if the invocation already died)."""
        if self.dead:
            raise LambdaCrash(f"{self.function}: already dead ({where})")
        if self.dice.roll("lambda_crash"):
            self.dead = True
            self.crash_points.append(where)
            raise LambdaCrash(f"{self.function}: crashed {where}")


CURRENT: Final[contextvars.ContextVar[Invocation | None]] = contextvars.ContextVar(
    "sim_invocation", default=None
)


def checkpoint(where: str) -> None:
    """A crash point of whatever invocation is running (none: nothing happens)."""
    invocation = CURRENT.get()
    if invocation is not None:
        invocation.checkpoint(where)
