"""find_due's arithmetic: batches, the next Wait, and the time budget."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payouts.services.due import DuePlan, batched, plan_wait, seconds_until
from tests.support.orders import T0

MAX_WAIT = timedelta(seconds=30)


def test_ids_are_cut_into_batches_in_order() -> None:
    ids = [f"PO-{n}" for n in range(7)]

    assert batched(ids, 3) == [["PO-0", "PO-1", "PO-2"], ["PO-3", "PO-4", "PO-5"], ["PO-6"]]
    assert batched([], 3) == []


@pytest.mark.parametrize(
    ("next_due_in", "seconds_left", "expected"),
    [
        (None, 600, None),  # nothing unresolved at all: end, the schedule restarts the loop
        (12, 600, 12),  # due soon: wait exactly until then
        (0, 600, 1),  # due now (index lag): never a zero-second busy loop
        (3600, 600, 30),  # due later: look again after the longest Wait, for new orders
        (12, 11, None),  # waking would overrun the budget: end, the next execution carries on
        (12, 12, 12),  # waking exactly at the end of the budget is still inside it
    ],
)
def test_the_next_wait_is_bounded_by_the_longest_wait_and_the_budget(
    next_due_in: int | None, seconds_left: int, expected: int | None
) -> None:
    assert plan_wait(next_due_in, MAX_WAIT, seconds_left) == expected


def test_seconds_until_rounds_up_and_never_goes_negative() -> None:
    assert seconds_until(T0 + timedelta(seconds=1, microseconds=1), T0) == 2
    assert seconds_until(T0 + timedelta(seconds=5), T0) == 5
    assert seconds_until(T0 - timedelta(seconds=5), T0) == 0


def test_the_plan_is_what_the_state_machine_reads() -> None:
    plan = DuePlan(
        lease_held=True,
        iteration=3,
        batches=[["PO-1", "PO-2"], ["PO-3"]],
        more_due_now=True,
        next_due_in_seconds=0,
    )

    assert plan.as_output() == {
        "lease_held": True,
        "iteration": 3,
        "batches": [["PO-1", "PO-2"], ["PO-3"]],
        "batch_count": 2,
        "due_count": 3,
        "more_due_now": True,
        "next_due_in_seconds": 0,
        "wait_seconds": None,
        "budget_spent": False,
    }
