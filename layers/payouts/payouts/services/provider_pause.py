"""What a person decides about a provider: pause it, resume it, see how every provider stands.

A pause stops every create to the provider (intake holds new orders RECEIVED; the reconcile loop
sends none) within the gate's cache TTL; a resume lets the reconcile loop send the held orders at
its bounded rate. Both are conditional writes on the version read, with the operator's name and
reason on the item; the table's stream turns each into a ``ProviderPaused`` / ``ProviderResumed``
event. Only a person resumes, even after the breaker paused a provider (see ``provider_gate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from payouts.domain.provider_state import MAX_REASON_CHARS, PausedBy, ProviderState
from payouts.services.provider_gate import StateStore

_ATTEMPTS: Final = 3


class PauseRefused(ValueError):
    """Nothing was written; the message says why, in one line."""


def pause_provider(
    store: StateStore,
    provider: str,
    *,
    known: Iterable[str],
    reason: str,
    operator: str,
    now: datetime,
) -> ProviderState:
    """Pause ``provider`` on ``operator``'s word (a pause by the breaker becomes theirs)."""
    text = _checked(provider, known, reason, operator)
    for _ in range(_ATTEMPTS):
        current = store.get(provider)
        if current is not None and current.paused and current.set_by is PausedBy.PERSON:
            raise PauseRefused(
                f"{provider} is already paused by {current.changed_by} since "
                f"{current.since.isoformat(timespec='seconds')} ({current.reason})"
            )
        paused = ProviderState(
            provider=provider,
            paused=True,
            reason=text,
            changed_by=f"operator:{operator.strip()}",
            set_by=PausedBy.PERSON,
            since=now,
            version=current.version + 1 if current is not None else 1,
        )
        if store.put_if_unchanged(paused, current):
            return paused
    raise PauseRefused(f"{provider}'s state kept changing under the pause; look again and retry")


def resume_provider(
    store: StateStore,
    provider: str,
    *,
    known: Iterable[str],
    reason: str = "",
    operator: str,
    now: datetime,
) -> ProviderState:
    """Resume ``provider``: held orders are sent by the reconcile loop from now on."""
    text = _checked(provider, known, reason or "resumed", operator)
    for _ in range(_ATTEMPTS):
        current = store.get(provider)
        if current is None or not current.paused:
            raise PauseRefused(f"{provider} is not paused: nothing to resume")
        resumed = ProviderState(
            provider=provider,
            paused=False,
            reason=text,
            changed_by=f"operator:{operator.strip()}",
            set_by=PausedBy.PERSON,
            since=now,
            version=current.version + 1,
        )
        if store.put_if_unchanged(resumed, current):
            return resumed
    raise PauseRefused(f"{provider}'s state kept changing under the resume; look again and retry")


def provider_states(store: StateStore, providers: Iterable[str]) -> list[ProviderState | None]:
    """Each provider's state, in the order given (None: never paused, so sending)."""
    return [store.get(provider) for provider in providers]


def _checked(provider: str, known: Iterable[str], reason: str, operator: str) -> str:
    names = sorted(known)
    if provider not in names:
        raise PauseRefused(f"unknown provider {provider!r}: configured are {', '.join(names)}")
    if not operator.strip():
        raise PauseRefused("the operator's name is required: it is recorded on the pause")
    text = " ".join(reason.split())
    if not text:
        raise PauseRefused("--reason is required: it is recorded on the pause and in its event")
    if len(text) > MAX_REASON_CHARS:
        raise PauseRefused(f"--reason takes at most {MAX_REASON_CHARS} characters")
    return text
