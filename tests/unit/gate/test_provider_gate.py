"""The provider gate on its own: the pause cache's TTL, the breaker's count and window, who may
pause and resume, and the ProviderPaused / ProviderResumed events from the table's stream."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.providers.base import CreateKind
from payouts.services.provider_events import ProviderPaused, ProviderResumed, provider_event
from payouts.services.provider_gate import (
    METRIC_BREAKER_TRIPPED,
    BreakerPolicy,
    PauseCache,
    ProviderGate,
)
from payouts.services.provider_pause import PauseRefused, pause_provider, resume_provider
from payouts.services.status_events import stream_events
from payouts.settings.provider_gate import ProviderGateSettings
from payouts.store.provider_state import state_to_item
from tests.support.orders import T0
from tests.support.provider_states import MemoryProviderStates

KNOWN = ("gateway_v2", "pg_v2")
BREAKER = BreakerPolicy(failures=3, window=timedelta(seconds=60))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.states = MemoryProviderStates()
        self.counted: Counter[str] = Counter()
        self.gate = self.container()

    def container(self) -> ProviderGate:
        """A gate as one more Lambda container holds it: same table, its own cache."""
        return ProviderGate(
            self.states,
            cache_ttl=timedelta(seconds=15),
            breaker=BREAKER,
            clock=self.clock,
            count=lambda name: self.counted.update([name]),
        )


@pytest.fixture
def world() -> World:
    return World()


# ---- the cache -----------------------------------------------------------------------------------


def test_the_cache_reads_once_per_ttl_and_again_after_it(world: World) -> None:
    cache = PauseCache(world.states.get, timedelta(seconds=15), world.clock)
    world.states.pause("pg_v2", T0)

    assert cache.state("pg_v2") is not None
    world.states.resume("pg_v2", T0)
    world.clock.advance(14.9)
    cached = cache.state("pg_v2")
    world.clock.advance(0.1)
    fresh = cache.state("pg_v2")

    assert cached is not None
    assert cached.paused
    assert fresh is not None
    assert not fresh.paused
    assert world.states.reads == 2


@pytest.mark.parametrize("seconds", [0, 31, 3600])
def test_a_cache_ttl_outside_30_seconds_is_refused(world: World, seconds: int) -> None:
    with pytest.raises(ValueError, match="TTL"):
        PauseCache(world.states.get, timedelta(seconds=seconds), world.clock)


def test_settings_refuse_a_cache_longer_than_30_seconds() -> None:
    with pytest.raises(ValueError, match="provider_pause_cache_seconds"):
        ProviderGateSettings(provider_pause_cache_seconds=31)


def test_a_pause_reaches_another_container_within_the_ttl(world: World) -> None:
    other = world.container()
    assert other.pause_of("pg_v2") is None
    pause_provider(world.states, "pg_v2", known=KNOWN, reason="maintenance", operator="ann", now=T0)

    still_sending = other.pause_of("pg_v2")
    world.clock.advance(15)
    paused = other.pause_of("pg_v2")

    assert still_sending is None
    assert paused is not None
    assert paused.changed_by == "operator:ann"


# ---- the breaker ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [CreateKind.AMBIGUOUS, CreateKind.NOT_SENT])
def test_n_failures_within_the_window_pause_the_provider(world: World, kind: CreateKind) -> None:
    tripped = [world.gate.observe_create("gateway_v2", kind) for _ in range(BREAKER.failures)]

    assert tripped[:-1] == [None] * (BREAKER.failures - 1)
    pause = tripped[-1]
    assert pause is not None
    assert (pause.paused, pause.set_by, pause.changed_by) == (True, PausedBy.BREAKER, "breaker")
    assert world.states.states["gateway_v2"] == pause
    assert world.gate.pause_of("gateway_v2") == pause
    assert world.counted[METRIC_BREAKER_TRIPPED] == 1
    assert world.gate.pause_of("pg_v2") is None


@pytest.mark.parametrize("kind", [CreateKind.ACCEPTED, CreateKind.REJECTED, CreateKind.DUPLICATE])
def test_definite_answers_are_not_counted(world: World, kind: CreateKind) -> None:
    for _ in range(10):
        assert world.gate.observe_create("gateway_v2", kind) is None

    assert world.states.marks == {}
    assert world.gate.pause_of("gateway_v2") is None


def test_failures_spread_wider_than_the_window_do_not_trip(world: World) -> None:
    for _ in range(6):
        assert world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS) is None
        world.clock.advance(31)  # at most two marks within any 60 s

    assert world.gate.pause_of("pg_v2") is None
    assert world.counted[METRIC_BREAKER_TRIPPED] == 0


def test_containers_count_together(world: World) -> None:
    containers = [world.container() for _ in range(BREAKER.failures)]

    results = [gate.observe_create("pg_v2", CreateKind.AMBIGUOUS) for gate in containers]

    assert results[-1] is not None
    assert world.counted[METRIC_BREAKER_TRIPPED] == 1


def test_the_breaker_never_overwrites_a_persons_pause(world: World) -> None:
    assert world.gate.pause_of("pg_v2") is None  # cached as sending...
    person = world.states.pause("pg_v2", T0)  # ...and paused by a person within the TTL

    for _ in range(2 * BREAKER.failures):
        assert world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS) is None

    assert world.states.states["pg_v2"] == person
    assert world.counted[METRIC_BREAKER_TRIPPED] == 0


def test_failures_before_a_resume_are_not_counted_again(world: World) -> None:
    for _ in range(BREAKER.failures):
        world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS)
    world.clock.advance(1)
    resume_provider(world.states, "pg_v2", known=KNOWN, operator="ann", now=world.clock())
    world.clock.advance(15)  # the resume reaches this container

    one_more = world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS)
    again = [world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS) for _ in range(2)]

    assert one_more is None
    assert again[-1] is not None
    assert again[-1].version == 3  # breaker, person, breaker
    assert world.counted[METRIC_BREAKER_TRIPPED] == 2


def test_a_table_error_while_counting_is_counted_and_never_raised(world: World) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    def broken(*_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem")

    world.states.record_failure = broken  # type: ignore[method-assign]

    assert world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS) is None
    assert world.counted["ProviderBreakerErrors"] == 1


# ---- a person's pause and resume -----------------------------------------------------------------


def test_a_person_pauses_and_resumes_with_name_reason_and_version(world: World) -> None:
    paused = pause_provider(
        world.states, "pg_v2", known=KNOWN, reason="  bank   holiday ", operator="ann", now=T0
    )
    resumed = resume_provider(
        world.states, "pg_v2", known=KNOWN, operator="bob", now=T0 + timedelta(hours=1)
    )

    assert (paused.paused, paused.reason, paused.changed_by, paused.version) == (
        True,
        "bank holiday",
        "operator:ann",
        1,
    )
    assert (resumed.paused, resumed.changed_by, resumed.version) == (False, "operator:bob", 2)
    assert resumed.since == T0 + timedelta(hours=1)


def test_a_person_takes_over_the_breakers_pause(world: World) -> None:
    for _ in range(BREAKER.failures):
        world.gate.observe_create("pg_v2", CreateKind.AMBIGUOUS)

    mine = pause_provider(
        world.states, "pg_v2", known=KNOWN, reason="keep it paused", operator="ann", now=T0
    )

    assert (mine.set_by, mine.version) == (PausedBy.PERSON, 2)


@pytest.mark.parametrize(
    ("provider", "reason", "operator", "message"),
    [
        ("acme_pay", "x", "ann", "unknown provider 'acme_pay'"),
        ("pg_v2", "   ", "ann", "--reason is required"),
        ("pg_v2", "x", " ", "operator's name is required"),
        ("pg_v2", "x" * 501, "ann", "at most 500"),
    ],
)
def test_bad_pauses_are_refused_and_write_nothing(
    world: World, provider: str, reason: str, operator: str, message: str
) -> None:
    with pytest.raises(PauseRefused, match=message):
        pause_provider(
            world.states, provider, known=KNOWN, reason=reason, operator=operator, now=T0
        )
    assert world.states.states == {}


def test_a_second_pause_by_a_person_is_refused(world: World) -> None:
    first = pause_provider(world.states, "pg_v2", known=KNOWN, reason="a", operator="ann", now=T0)

    with pytest.raises(PauseRefused, match="already paused by operator:ann"):
        pause_provider(world.states, "pg_v2", known=KNOWN, reason="b", operator="bob", now=T0)
    assert world.states.states["pg_v2"] == first


def test_resuming_a_provider_that_is_not_paused_is_refused(world: World) -> None:
    with pytest.raises(PauseRefused, match="is not paused"):
        resume_provider(world.states, "pg_v2", known=KNOWN, operator="ann", now=T0)
    assert world.states.states == {}


def test_the_held_reason_names_who_why_and_since() -> None:
    state = _state(paused=True, set_by=PausedBy.PERSON)

    reason = state.held_reason()

    assert reason.startswith("held, not sent: pg_v2 paused by operator:ann since 2026-11-22T08:00")
    assert "(bank holiday)" in reason


# ---- events from the stream ----------------------------------------------------------------------


def _state(*, paused: bool, set_by: PausedBy, version: int = 1) -> ProviderState:
    return ProviderState(
        provider="pg_v2",
        paused=paused,
        reason="bank holiday",
        changed_by="breaker" if set_by is PausedBy.BREAKER else "operator:ann",
        set_by=set_by,
        since=T0,
        version=version,
    )


def _record(before: ProviderState | None, after: ProviderState) -> dict[str, Any]:
    image: dict[str, Any] = {
        "Keys": {"PK": {"S": "SETTING#provider#pg_v2"}, "SK": {"S": "SETTING"}},
        "NewImage": state_to_item(after),
        "SequenceNumber": "1",
    }
    if before is not None:
        image["OldImage"] = state_to_item(before)
    return {"eventName": "MODIFY" if before else "INSERT", "dynamodb": image}


def test_a_pause_and_a_resume_become_events() -> None:
    paused = _state(paused=True, set_by=PausedBy.BREAKER)
    resumed = _state(paused=False, set_by=PausedBy.PERSON, version=2)

    first = stream_events(_record(None, paused))
    second = stream_events(_record(paused, resumed))

    assert len(first) == 1
    assert isinstance(first[0], ProviderPaused)
    assert (first[0].provider, first[0].set_by, first[0].version) == ("pg_v2", "breaker", 1)
    assert len(second) == 1
    assert isinstance(second[0], ProviderResumed)
    assert second[0].changed_by == "operator:ann"


def test_a_person_taking_over_a_pause_is_no_news() -> None:
    breaker = _state(paused=True, set_by=PausedBy.BREAKER)
    person = _state(paused=True, set_by=PausedBy.PERSON, version=2)

    assert provider_event(_record(breaker, person)) is None
