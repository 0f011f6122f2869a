"""Provider pause state for service tests: an in-memory ``StateStore``, and a gate around it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.services.provider_gate import BreakerPolicy, ProviderGate

# The gate's defaults in tests: a short cache, and a breaker no ordinary test trips.
CACHE_TTL = timedelta(seconds=15)
QUIET_BREAKER = BreakerPolicy(failures=1000, window=timedelta(seconds=60))


class MemoryProviderStates:
    """The table's provider state and breaker marks, kept in memory with the same conditions."""

    def __init__(self) -> None:
        self.states: dict[str, ProviderState] = {}
        self.marks: dict[str, list[tuple[datetime, str]]] = {}
        self.reads = 0

    def get(self, provider: str) -> ProviderState | None:
        self.reads += 1
        return self.states.get(provider)

    def put_if_unchanged(self, state: ProviderState, previous: ProviderState | None) -> bool:
        current = self.states.get(state.provider)
        if current != previous:
            return False
        self.states[state.provider] = state
        return True

    def record_failure(self, provider: str, at: datetime, window: timedelta, kind: str) -> None:
        del window
        self.marks.setdefault(provider, []).append((at, kind))

    def count_failures(self, provider: str, since: datetime, limit: int) -> int:
        return min(limit, sum(at > since for at, _ in self.marks.get(provider, [])))

    def pause(self, provider: str, at: datetime, *, by: str = "operator:ops") -> ProviderState:
        """Pause ``provider`` as a person would (for tests that start paused)."""
        current = self.states.get(provider)
        state = ProviderState(
            provider=provider,
            paused=True,
            reason="provider maintenance window",
            changed_by=by,
            set_by=PausedBy.PERSON,
            since=at,
            version=current.version + 1 if current else 1,
        )
        self.states[provider] = state
        return state

    def resume(self, provider: str, at: datetime) -> ProviderState:
        """Resume ``provider`` as a person would."""
        current = self.states[provider]
        state = current.model_copy(
            update={"paused": False, "reason": "back", "since": at, "version": current.version + 1}
        )
        self.states[provider] = state
        return state


def open_gate(
    clock: Callable[[], datetime],
    states: MemoryProviderStates | None = None,
    *,
    breaker: BreakerPolicy = QUIET_BREAKER,
    count: Callable[[str], None] = lambda _: None,
) -> ProviderGate:
    """A gate over ``states`` (a fresh, never-paused one by default)."""
    return ProviderGate(
        states if states is not None else MemoryProviderStates(),
        cache_ttl=CACHE_TTL,
        breaker=breaker,
        clock=clock,
        count=count,
    )
