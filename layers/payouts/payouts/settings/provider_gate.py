"""Settings of the provider gate (pause cache and breaker), shared by intake and the reconcile loop.

Both functions read and trip the same pause items, so they must agree on these values (the local
stack runs every function in one process and checks that they do).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ProviderGateSettings(BaseModel):
    """How fresh a provider's pause must be, when the breaker trips, and how held orders go."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # A pause (or resume) reaches every warm container within this many seconds: the cache saves
    # a read per create, and 30 s is the longest a person waits for "pause" to take effect.
    provider_pause_cache_seconds: Annotated[int, Field(ge=1, le=30)] = 15
    # The breaker pauses a provider after this many ambiguous or unreachable creates...
    breaker_failures: Annotated[int, Field(ge=2, le=1000)] = 25
    # ...within this sliding window. 25 in 60 s is an outage, not a provider's usual bad answer
    # (a few per cent of creates) at the volumes this system is sized for; tune per deployment.
    breaker_window_seconds: Annotated[int, Field(ge=10, le=3600)] = 60
    # A held order is looked at again this often while its provider is paused (no provider
    # call, one conditional write), so it is sent within about this long of a resume.
    held_recheck_seconds: Annotated[int, Field(ge=1, le=3600)] = 60

    @property
    def pause_cache_ttl(self) -> timedelta:
        """``provider_pause_cache_seconds`` as a duration."""
        return timedelta(seconds=self.provider_pause_cache_seconds)

    @property
    def breaker_window(self) -> timedelta:
        """``breaker_window_seconds`` as a duration."""
        return timedelta(seconds=self.breaker_window_seconds)

    @property
    def held_recheck(self) -> timedelta:
        """``held_recheck_seconds`` as a duration."""
        return timedelta(seconds=self.held_recheck_seconds)
