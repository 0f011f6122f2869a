"""The provider gate: may a create be sent to this provider now, and the breaker that closes it.

- ``pause_of(provider)`` answers from a per-container cache (``PauseCache``, TTL at most 30 s):
  intake and the reconcile loop ask before every create, so a person's pause reaches every warm
  container within the TTL without a table read per create.
- ``observe_create(provider, kind)`` feeds the breaker: an AMBIGUOUS or NOT_SENT create is one
  mark in the table (one put per failure, counted by a key-only query, so Lambda's many
  containers count together and no count is lost). When a provider collects ``failures`` marks
  within the sliding ``window`` (counted only since its last resume), the breaker pauses it with
  a conditional write that never overwrites a pause a person set, counts
  ``ProviderBreakerTripped`` and logs it; the table's stream carries the ``ProviderPaused`` event.

Only a person resumes a provider (``payouts providers resume``): the creates of an outage are
UNKNOWN and must be reconciled first, and a probe that sees one good answer says nothing about
the orders that were lost on the way (docs/operations.md, "Breaker tripped").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.observability import MetricUnit, logger, metrics
from payouts.providers.base import CreateKind
from payouts.settings.provider_gate import ProviderGateSettings

type Clock = Callable[[], datetime]
type Counter = Callable[[str], None]

# Creates that say the provider may be in trouble: the bytes may have arrived (AMBIGUOUS), or
# could not leave at all (NOT_SENT: refused connection, DNS, connect timeout). A definite answer
# (accepted, rejected, duplicate) is the provider working.
BREAKER_KINDS: Final = frozenset({CreateKind.AMBIGUOUS, CreateKind.NOT_SENT})

METRIC_BREAKER_TRIPPED: Final = "ProviderBreakerTripped"
METRIC_BREAKER_ERROR: Final = "ProviderBreakerErrors"
# The longest a pause may take to reach a warm container (the "short cache").
MAX_CACHE_TTL: Final = timedelta(seconds=30)


def count_metric(name: str) -> None:
    """Add 1 to the Powertools metric ``name`` (flushed by the handler's ``log_metrics``)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


class StateStore(Protocol):
    """What the gate needs of the table (``ProviderStateStore``)."""

    def get(self, provider: str) -> ProviderState | None:
        """The provider's state, or None when it was never paused."""
        ...

    def put_if_unchanged(self, state: ProviderState, previous: ProviderState | None) -> bool:
        """Write ``state`` if the item is still ``previous``."""
        ...

    def record_failure(self, provider: str, at: datetime, window: timedelta, kind: str) -> None:
        """Record one failed create."""
        ...

    def count_failures(self, provider: str, since: datetime, limit: int) -> int:
        """Failed creates after ``since``, up to ``limit``."""
        ...


class PauseCache:
    """Each provider's state as last read, for at most ``ttl`` (one per container, thread-safe:
    intake reads it from its worker threads)."""

    def __init__(self, read: Callable[[str], ProviderState | None], ttl: timedelta, clock: Clock):
        if not timedelta(0) < ttl <= MAX_CACHE_TTL:
            raise ValueError(
                f"the pause cache's TTL must be within (0, {MAX_CACHE_TTL}], not {ttl}"
            )
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[ProviderState | None, datetime]] = {}

    def state(self, provider: str) -> ProviderState | None:
        """The provider's state, read again once the cached one is ``ttl`` old."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(provider)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        state = self._read(provider)
        self.remember(provider, state, now)
        return state

    def remember(self, provider: str, state: ProviderState | None, at: datetime) -> None:
        """Keep ``state`` as read (or written) at ``at``."""
        with self._lock:
            self._entries[provider] = (state, at)


@dataclass(frozen=True)
class BreakerPolicy:
    """When the breaker trips: ``failures`` failed creates within ``window``."""

    failures: int
    window: timedelta


class ProviderGate:
    """Pause checks and the breaker, for one container (see the module docstring)."""

    def __init__(
        self,
        store: StateStore,
        *,
        cache_ttl: timedelta,
        breaker: BreakerPolicy,
        clock: Clock,
        count: Counter = count_metric,
    ) -> None:
        self._store = store
        self._cache = PauseCache(store.get, cache_ttl, clock)
        self._breaker = breaker
        self._clock = clock
        self._count = count

    @classmethod
    def from_settings(
        cls,
        store: StateStore,
        settings: ProviderGateSettings,
        clock: Clock,
        count: Counter = count_metric,
    ) -> ProviderGate:
        """The gate the settings describe."""
        return cls(
            store,
            cache_ttl=settings.pause_cache_ttl,
            breaker=BreakerPolicy(settings.breaker_failures, settings.breaker_window),
            clock=clock,
            count=count,
        )

    def pause_of(self, provider: str) -> ProviderState | None:
        """The provider's pause while it is paused (as cached); None when creates may go."""
        state = self._cache.state(provider)
        return state if state is not None and state.paused else None

    def observe_create(self, provider: str, kind: CreateKind) -> ProviderState | None:
        """Feed one create's outcome to the breaker; the pause when this call tripped it.

        A failure to write or count marks is logged and counted (ProviderBreakerErrors), never
        raised: the create's outcome is already recorded, and a missed mark only delays a trip.
        """
        if kind not in BREAKER_KINDS:
            return None
        try:
            return self._observe_failure(provider, kind)
        except (ClientError, BotoCoreError):
            self._count(METRIC_BREAKER_ERROR)
            logger.exception("breaker could not record a failed create", provider=provider)
            return None

    def _observe_failure(self, provider: str, kind: CreateKind) -> ProviderState | None:
        now = self._clock()
        self._store.record_failure(provider, now, self._breaker.window, kind.value)
        cached = self._cache.state(provider)
        if cached is not None and cached.paused:
            return None
        if self._failures_since(provider, cached, now) < self._breaker.failures:
            return None
        # Enough failures by the cached state: decide on a fresh read, which the write is
        # conditioned on (a person may have paused or resumed meanwhile).
        current = self._store.get(provider)
        self._cache.remember(provider, current, now)
        if current is not None and current.paused:
            return None
        failures = self._failures_since(provider, current, now)
        if failures < self._breaker.failures:
            return None
        return self._trip(provider, current, failures, now)

    def _failures_since(self, provider: str, state: ProviderState | None, now: datetime) -> int:
        since = now - self._breaker.window
        if state is not None and state.since > since:
            since = state.since  # a person resumed: what came before was theirs to judge
        return self._store.count_failures(provider, since, self._breaker.failures)

    def _trip(
        self, provider: str, current: ProviderState | None, failures: int, now: datetime
    ) -> ProviderState | None:
        window = int(self._breaker.window.total_seconds())
        tripped = ProviderState(
            provider=provider,
            paused=True,
            reason=(
                f"breaker: {failures} ambiguous or unreachable creates within {window} s; "
                "reconcile the UNKNOWN orders, then resume"
            ),
            changed_by="breaker",
            set_by=PausedBy.BREAKER,
            since=now,
            version=current.version + 1 if current is not None else 1,
        )
        if not self._store.put_if_unchanged(tripped, current):
            self._cache.remember(provider, self._store.get(provider), now)
            return None
        self._cache.remember(provider, tripped, now)
        self._count(METRIC_BREAKER_TRIPPED)
        logger.warning(
            "provider paused by the breaker", provider=provider, failures=failures, window_s=window
        )
        return tripped
