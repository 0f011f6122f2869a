"""Provider events out: a provider paused (by a person or the breaker) or resumed.

Like the payouts' status events, they come from the orders table's stream (the provider's state
item, ``SETTING#provider#<name>``), so an event goes out once the pause is durable, whichever
container wrote it, and the status events function puts them on the same bus.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.store import keys
from payouts.store.provider_state import state_from_item

PAUSED_DETAIL_TYPE: Final = "ProviderPaused"
RESUMED_DETAIL_TYPE: Final = "ProviderResumed"
SCHEMA_VERSION: Final = "1"

_CHANGES: Final = frozenset({"INSERT", "MODIFY"})


class _ProviderEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: str = Field(
        default=SCHEMA_VERSION, description="Version of this detail's shape."
    )
    provider: str = Field(description="The provider (gateway_v2, pg_v2).")
    reason: str = Field(description="Why, as the person or the breaker recorded it.")
    changed_by: str = Field(
        description="`operator:<name>` for a person, `breaker` for the breaker."
    )
    set_by: PausedBy = Field(description="Who set this state: `person` or `breaker`.")
    version: Annotated[int, Field(ge=1, description="The provider state's version.")]
    changed_at: datetime = Field(description="When the state began (UTC, ISO 8601).")

    @property
    def subject(self) -> str:
        """What the event is about, for logs."""
        return f"provider:{self.provider}"


class ProviderPaused(_ProviderEvent):
    """The ``detail`` of a ``ProviderPaused`` event (source ``payouts``): no create goes to the
    provider; new payouts for it are stored and held (RECEIVED), none is lost or failed."""

    model_config = ConfigDict(title="ProviderPaused")
    detail_type: ClassVar[str] = PAUSED_DETAIL_TYPE


class ProviderResumed(_ProviderEvent):
    """The ``detail`` of a ``ProviderResumed`` event (source ``payouts``): creates go to the
    provider again; held payouts are sent at a bounded rate."""

    model_config = ConfigDict(title="ProviderResumed")
    detail_type: ClassVar[str] = RESUMED_DETAIL_TYPE


type ProviderEvent = ProviderPaused | ProviderResumed


def is_provider_state_record(record: Mapping[str, Any]) -> bool:
    """True for a stream record of a provider's state item."""
    sort_key = record.get("dynamodb", {}).get("Keys", {}).get("SK", {}).get("S")
    return bool(sort_key == keys.SETTING_SK)


def provider_event(record: Mapping[str, Any]) -> ProviderEvent | None:
    """The event a provider state record calls for: when its pause flag turned (or the state
    was first written), None otherwise. Raises KeyError/ValueError for an unreadable image."""
    if record.get("eventName") not in _CHANGES:
        return None
    stream = record.get("dynamodb", {})
    after = state_from_item(stream["NewImage"])
    old_image = stream.get("OldImage")
    before = state_from_item(old_image) if old_image else None
    if before is not None and before.paused == after.paused:
        return None  # e.g. a person taking over the breaker's pause: no news to consumers
    return _event_of(after)


def _event_of(state: ProviderState) -> ProviderEvent:
    kind: type[ProviderEvent] = ProviderPaused if state.paused else ProviderResumed
    return kind(
        provider=state.provider,
        reason=state.reason,
        changed_by=state.changed_by,
        set_by=state.set_by,
        version=state.version,
        changed_at=state.since,
    )
