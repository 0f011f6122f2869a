"""Whether a provider may be sent creates: its pause, set by a person or by the breaker.

A paused provider gets no creates at all (intake holds new orders RECEIVED, the reconcile loop
sends none); queries, callbacks and balances go on, since they move no money and are how the
orders of an outage get reconciled. Pure data: the store keeps one item per provider.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, JsonValue

# A pause's reason is a line for the evidence and the events, not a document.
MAX_REASON_CHARS: Final = 500


class PausedBy(StrEnum):
    """Who set a provider's current state."""

    PERSON = "person"  # an operator, with ``payouts providers pause|resume``
    BREAKER = "breaker"  # the breaker, after a run of ambiguous or unreachable creates


class ProviderState(BaseModel):
    """A provider's pause flag as stored (``version`` guards every change)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    paused: bool
    reason: Annotated[str, Field(max_length=MAX_REASON_CHARS)]
    # ``operator:<name>`` for a person, ``breaker`` for the breaker.
    changed_by: str
    set_by: PausedBy
    # When this state began (the pause, or the resume): the breaker counts failures only after
    # the last resume, so a run that a person already dealt with never trips it again.
    since: datetime
    version: Annotated[int, Field(ge=1)]

    def held_reason(self) -> str:
        """The status reason of an order held while this provider is paused."""
        who = "the breaker" if self.set_by is PausedBy.BREAKER else self.changed_by
        return (
            f"held, not sent: {self.provider} paused by {who} since "
            f"{self.since.isoformat(timespec='seconds')} ({self.reason}); sent after resume"
        )

    def evidence_detail(self) -> dict[str, JsonValue]:
        """The pause as an evidence item's detail (who, why, since when)."""
        return {
            "provider": self.provider,
            "paused_by": self.changed_by,
            "set_by": self.set_by.value,
            "since": self.since.isoformat(),
            "reason": self.reason,
        }
