"""A create is never in flight once its order could be judged stale.

The reconcile loop treats a SUBMITTING order as unknown once its claim is older than
``stale_submitting_after``. So intake claims an order only when a send slot is free, never sends
a create later than ``send_within`` after the claim, and gives up waiting for an answer after
``create_budget`` (the order becomes UNKNOWN: queried, never failed).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, CreateOutcome
from payouts.services.intake import Disposition, IntakeMessage, IntakeTimings, RetryLater
from tests.integration.intake.test_intake_service import ACCEPTED, World, body, world

S = OrderStatus
__all__ = ["world"]  # the fixture, shared with the service tests


def test_timings_keep_every_create_inside_the_stale_threshold() -> None:
    timings = IntakeTimings(
        received_grace=timedelta(hours=1),
        stale_submitting_after=timedelta(seconds=120),
        submitted_first_check=timedelta(minutes=1),
        unknown_first_check=timedelta(seconds=5),
        create_budget=timedelta(seconds=30),
        clock_margin=timedelta(seconds=10),
    )
    assert timings.send_within + timings.create_budget + timings.clock_margin == timedelta(
        seconds=120
    )
    with pytest.raises(ValueError, match="stale"):
        IntakeTimings(
            received_grace=timedelta(hours=1),
            stale_submitting_after=timedelta(seconds=30),
            submitted_first_check=timedelta(minutes=1),
            unknown_first_check=timedelta(seconds=5),
            create_budget=timedelta(seconds=30),
        )


def test_an_order_waiting_for_a_send_slot_is_not_claimed_yet(world: World) -> None:
    # One slot: while PO-1's create is in flight, PO-2 is not stored yet (it is stored and
    # claimed in one write once it has the slot), so a long wait for the slot can never age its
    # claim, and nothing is stranded if the function dies while waiting (SQS delivers again).
    released = asyncio.Event()

    async def slow_create(order: Order) -> CreateOutcome:
        if order.payout_id == "PO-1":
            await released.wait()
        return ACCEPTED

    world.gateway.create = slow_create  # type: ignore[method-assign]

    async def both() -> tuple[list[Disposition], OrderStatus | None]:
        intake = world.intake()
        intake._sending = asyncio.Semaphore(1)  # one slot for the test
        first = asyncio.ensure_future(intake.handle(IntakeMessage("m-1", body("PO-1"))))
        await asyncio.sleep(0.2)  # PO-1 holds the slot
        second = asyncio.ensure_future(intake.handle(IntakeMessage("m-2", body("PO-2"))))
        await asyncio.sleep(0.3)  # PO-2 stored, and waiting for the slot
        waiting = world.store.get("PO-2")
        released.set()
        return [await first, await second], waiting.status if waiting else None

    dispositions, status_while_waiting = asyncio.run(both())
    assert dispositions == [Disposition.SUBMITTED, Disposition.SUBMITTED]
    assert status_while_waiting is None


def test_a_claim_too_old_to_send_safely_is_released_unsent_and_retried(world: World) -> None:
    # The clock jumps between the claim and the send (a frozen container, a starved loop).
    readings = 0

    def jumping_clock() -> object:
        nonlocal readings
        readings += 1
        return world.now + (timedelta(minutes=5) if readings > 1 else timedelta(0))

    world.clock = jumping_clock  # type: ignore[method-assign,assignment]
    with pytest.raises(RetryLater, match="not sent"):
        world.deliver(body("PO-1"))

    order = world.order("PO-1")
    assert world.gateway.creates == []
    assert order.status is S.RECEIVED
    assert order.next_check_at is not None


def test_a_create_with_no_answer_within_its_budget_is_unknown_never_failed(world: World) -> None:
    async def hanging_create(order: Order) -> CreateOutcome:
        world.gateway.creates.append(order.payout_id)
        await asyncio.sleep(3600)
        raise AssertionError("the budget should have ended the wait")

    world.gateway.create = hanging_create  # type: ignore[method-assign]
    world.timings = IntakeTimings(
        received_grace=timedelta(hours=1),
        stale_submitting_after=timedelta(seconds=60),
        submitted_first_check=timedelta(minutes=1),
        unknown_first_check=timedelta(seconds=5),
        create_budget=timedelta(seconds=0.05),
        clock_margin=timedelta(seconds=1),
    )

    disposition = world.deliver(body("PO-1"))

    order = world.order("PO-1")
    assert disposition is Disposition.UNKNOWN
    assert world.gateway.creates == ["PO-1"]
    assert order.status is S.UNKNOWN
    assert "no answer within" in (order.status_reason or "")
    assert world.store.history("PO-1")[-1].detail["outcome"] == CreateKind.AMBIGUOUS.value
