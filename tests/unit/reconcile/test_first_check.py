"""When an accepted order is first queried: the claim's time kept when close enough, so the due
index entry written with the order is not moved (two index write units per payout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payouts.services.submission import first_check_at

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WAIT = timedelta(seconds=60)


def test_a_claim_time_within_one_wait_after_the_wanted_time_is_kept() -> None:
    claimed_check = NOW + timedelta(seconds=119)
    assert first_check_at(claimed_check, NOW, WAIT) == claimed_check


def test_the_bounds_are_inclusive() -> None:
    assert first_check_at(NOW + WAIT, NOW, WAIT) == NOW + WAIT
    assert first_check_at(NOW + 2 * WAIT, NOW, WAIT) == NOW + 2 * WAIT


def test_a_time_earlier_than_wanted_is_moved_later() -> None:
    # Never queried sooner than asked: the provider may not know the order yet.
    assert first_check_at(NOW + timedelta(seconds=59), NOW, WAIT) == NOW + WAIT


def test_a_time_more_than_one_wait_late_is_moved_earlier() -> None:
    # A long abandon threshold (the loop's resends) would delay the first query too much.
    assert first_check_at(NOW + timedelta(seconds=121), NOW, WAIT) == NOW + WAIT


def test_an_order_with_no_check_gets_the_wanted_time() -> None:
    assert first_check_at(None, NOW, WAIT) == NOW + WAIT
