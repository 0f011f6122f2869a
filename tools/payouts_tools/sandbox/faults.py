"""Fault injection: which provider calls misbehave, and how.

A fault targets a provider and an operation (either may be left open), optionally one merchant
order number, and fires for the next ``times`` matching calls (or until cleared), each with
probability ``ratio`` drawn from the sandbox's seed. Latency faults add up; of the other kinds,
the first matching fault decides the call's fate.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from itertools import count
from typing import Final, Self

from pydantic import Field, model_validator

from payouts_tools.sandbox.config import Operation, Provider, SandboxModel


class FaultKind(StrEnum):
    """What goes wrong."""

    LATENCY = "latency"  # answer normally, late
    READ_TIMEOUT = "read_timeout"  # hold the connection past the client's wait; nothing created
    LOST_ANSWER = "lost_answer"  # do the work (order created), then never answer
    RESET = "reset"  # TCP reset before doing anything; nothing created
    HTTP_500 = "http_500"
    HTML_502 = "html_502"  # a proxy's text/html error page
    BLANK_200 = "blank_200"
    MALFORMED_200 = "malformed_200"  # HTTP 200 with JSON cut short
    REFUSE = "refuse"  # close the listener for `seconds`, then reopen it on the same port


# Faults that replace the answer; ``applied`` says whether the work was done first.
ANSWER_FAULTS: Final = frozenset(
    {FaultKind.HTTP_500, FaultKind.HTML_502, FaultKind.BLANK_200, FaultKind.MALFORMED_200}
)


class Fault(SandboxModel):
    """One injected misbehaviour."""

    kind: FaultKind
    provider: Provider | None = None  # None: both providers
    operation: Operation | None = None  # None: every operation
    merchant_no: str | None = None  # None: any order
    times: int | None = Field(default=None, ge=1)  # None: until cleared
    ratio: float = Field(default=1.0, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0)  # LATENCY only
    sleep_s: float | None = Field(default=None, ge=0)  # READ_TIMEOUT / LOST_ANSWER hold time
    # Answer faults: True (the pessimistic default) does the work before answering badly, so a
    # client that treats the bad answer as "not created" is caught creating twice.
    applied: bool = True
    seconds: float = Field(default=0.0, ge=0)  # REFUSE only

    @model_validator(mode="after")
    def _parameters_fit_kind(self) -> Self:
        if self.kind is FaultKind.LATENCY and self.latency_ms <= 0:
            raise ValueError("a latency fault needs latency_ms > 0")
        if self.kind is FaultKind.REFUSE and self.seconds <= 0:
            raise ValueError("a refuse fault needs seconds > 0")
        return self


class ArmedFault(SandboxModel):
    """A fault as currently armed: its id and how many firings are left (None: unlimited)."""

    id: str
    fault: Fault
    remaining: int | None


@dataclass(frozen=True)
class CallSite:
    """The call a fault decision is made for."""

    provider: Provider
    operation: Operation
    merchant_no: str | None


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one call: a total extra latency, then at most one other fault."""

    latency_s: float = 0.0
    fault: Fault | None = None


class FaultBook:
    """The armed faults, thread-safe, with their own seeded random source."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, ArmedFault] = {}
        self._ids = count(1)
        self._rng = random.Random(seed)

    def arm(self, fault: Fault) -> str:
        """Arm a per-call fault and return its id (REFUSE is not per call: see the Sandbox)."""
        if fault.kind is FaultKind.REFUSE:
            raise ValueError("refusal is not per call; use Sandbox.refuse_for")
        with self._lock:
            fault_id = f"F{next(self._ids)}"
            self._armed[fault_id] = ArmedFault(id=fault_id, fault=fault, remaining=fault.times)
            return fault_id

    def disarm(self, fault_id: str) -> bool:
        """Remove one fault; False when there is no such fault."""
        with self._lock:
            return self._armed.pop(fault_id, None) is not None

    def clear(self) -> int:
        """Remove every fault and say how many there were."""
        with self._lock:
            cleared = len(self._armed)
            self._armed.clear()
            return cleared

    def armed(self) -> list[ArmedFault]:
        """The faults still armed, in the order they were added."""
        with self._lock:
            return list(self._armed.values())

    def reseed(self, seed: int) -> None:
        """Restart the random source (reset, or a new seed)."""
        with self._lock:
            self._rng = random.Random(seed)

    def plan(self, call: CallSite) -> FaultPlan:
        """Decide what happens to ``call``, consuming the firings it uses."""
        latency_s = 0.0
        chosen: Fault | None = None
        with self._lock:
            for armed in list(self._armed.values()):
                fault = armed.fault
                is_latency = fault.kind is FaultKind.LATENCY
                if not is_latency and chosen is not None:
                    continue
                if not _targets(fault, call) or not self._fires(fault):
                    continue
                self._consume(armed)
                if is_latency:
                    latency_s += fault.latency_ms / 1000
                else:
                    chosen = fault
        return FaultPlan(latency_s=latency_s, fault=chosen)

    def _fires(self, fault: Fault) -> bool:
        # Draw only for partial ratios so that certain faults leave the seeded sequence alone.
        return fault.ratio >= 1.0 or self._rng.random() < fault.ratio

    def _consume(self, armed: ArmedFault) -> None:
        if armed.remaining is None:
            return
        if armed.remaining <= 1:
            del self._armed[armed.id]
        else:
            self._armed[armed.id] = armed.model_copy(update={"remaining": armed.remaining - 1})


def _targets(fault: Fault, call: CallSite) -> bool:
    return (
        (fault.provider is None or fault.provider is call.provider)
        and (fault.operation is None or fault.operation is call.operation)
        and (fault.merchant_no is None or fault.merchant_no == call.merchant_no)
    )
