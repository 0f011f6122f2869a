"""Backoff schedule and deadline arithmetic: when an unresolved order is checked next."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts.services.backoff import (
    DEFAULT_STEPS_SECONDS,
    BackoffSchedule,
    deadline_of,
    deadline_passed,
    next_check_at,
)
from tests.support.orders import T0

SCHEDULE = BackoffSchedule.of_seconds(DEFAULT_STEPS_SECONDS, jitter=0.10)


def middle() -> float:
    """A random source exactly in the middle of the jitter range: no jitter at all."""
    return 0.5


@pytest.mark.parametrize(
    ("checks_done", "expected_seconds"),
    [(1, 15), (2, 30), (3, 60), (4, 120), (5, 300), (6, 900), (7, 3600), (8, 3600), (500, 3600)],
)
def test_the_wait_grows_from_seconds_to_the_one_hour_cap(
    checks_done: int, expected_seconds: int
) -> None:
    delay = SCHEDULE.delay(checks_done, middle)

    assert delay == timedelta(seconds=expected_seconds)


def test_before_any_check_the_first_step_applies() -> None:
    assert SCHEDULE.base_delay(0) == timedelta(seconds=15)


@pytest.mark.parametrize(
    ("draw", "expected_seconds"),
    [(0.0, 54.0), (0.25, 57.0), (0.75, 63.0), (0.999_999, 65.99994)],
)
def test_jitter_spreads_the_wait_by_ten_percent_either_way(
    draw: float, expected_seconds: float
) -> None:
    delay = SCHEDULE.delay(3, lambda: draw)

    assert delay.total_seconds() == pytest.approx(expected_seconds)


@given(checks=st.integers(min_value=1, max_value=50), draw=st.floats(0, 1, exclude_max=True))
def test_every_wait_stays_within_the_jitter_band_of_its_step(checks: int, draw: float) -> None:
    base = SCHEDULE.base_delay(checks)

    delay = SCHEDULE.delay(checks, lambda: draw)

    # Inclusive at the top: timedelta rounds to whole microseconds.
    assert base * 0.9 <= delay <= base * 1.1
    assert delay >= SCHEDULE.shortest


def test_after_the_deadline_polling_stays_at_the_cap_whatever_the_attempts() -> None:
    delay = SCHEDULE.delay(1, middle, at_cap=True)

    assert delay == SCHEDULE.cap == timedelta(hours=1)


def test_next_check_is_now_plus_the_jittered_wait() -> None:
    assert next_check_at(T0, 2, SCHEDULE, lambda: 0.0) == T0 + timedelta(seconds=27)


def test_the_deadline_is_measured_from_when_the_order_became_unresolved() -> None:
    deadline = timedelta(hours=24)

    assert deadline_of(T0, deadline) == T0 + timedelta(hours=24)
    assert not deadline_passed(T0, deadline, T0 + timedelta(hours=23, minutes=59, seconds=59))
    assert deadline_passed(T0, deadline, T0 + timedelta(hours=24))
    assert deadline_passed(T0, deadline, T0 + timedelta(days=3))


def test_the_schedule_to_the_tenth_check_adds_up() -> None:
    # The order resolving on its 10th query in the state machine test waits this long in all.
    waits = [SCHEDULE.delay(checks, middle) for checks in range(1, 10)]

    assert sum(waits, timedelta()) == timedelta(seconds=15 + 30 + 60 + 120 + 300 + 900 + 3 * 3600)


@pytest.mark.parametrize(
    ("steps", "jitter", "message"),
    [
        ((), 0.1, "at least one step"),
        ((15, 0), 0.1, "positive"),
        ((30, 15), 0.1, "must not shrink"),
        ((15,), 1.0, "jitter"),
        ((15,), -0.1, "jitter"),
    ],
)
def test_a_schedule_that_makes_no_sense_is_refused(
    steps: tuple[int, ...], jitter: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BackoffSchedule.of_seconds(steps, jitter)
