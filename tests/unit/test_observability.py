"""The shared observability objects: the per-payout log key, and the tracer's provider."""

from __future__ import annotations

import asyncio
import logging

import pytest

from payouts.observability import PAYOUT_ID_KEY, logger, payout_log_context, tracer
from tests.support.observed import captured_logs


def test_lines_inside_the_context_carry_the_payout_id_and_lines_after_it_do_not() -> None:
    with captured_logs() as logs:
        with payout_log_context("PO-1"):
            logger.info("inside")
        logger.info("after")

    (inside,) = logs.with_message("inside")
    (after,) = logs.with_message("after")
    assert inside[PAYOUT_ID_KEY] == "PO-1"
    assert PAYOUT_ID_KEY not in after


def test_the_key_is_removed_when_the_work_inside_fails() -> None:
    with captured_logs() as logs:
        with pytest.raises(RuntimeError), payout_log_context("PO-1"):
            raise RuntimeError("boom")
        logger.info("after")

    assert PAYOUT_ID_KEY not in logs.with_message("after")[0]


def test_concurrent_records_each_log_their_own_payout_id() -> None:
    # As in a batch: each record in its own task on one event loop, interleaved at every await.
    async def record(payout_id: str) -> None:
        with payout_log_context(payout_id):
            for step in range(3):
                await asyncio.sleep(0)
                logger.info("step", step=step, expected=payout_id)

    async def batch() -> None:
        await asyncio.gather(*(record(f"PO-{n}") for n in range(5)))

    with captured_logs() as logs:
        asyncio.run(batch())

    lines = logs.with_message("step")
    assert len(lines) == 15
    assert all(line[PAYOUT_ID_KEY] == line["expected"] for line in lines)


def test_tracing_is_off_outside_lambda_and_its_decorators_still_run_the_code() -> None:
    @tracer.capture_method
    def doubled(value: int) -> int:
        return value * 2

    assert tracer.disabled
    assert doubled(21) == 42


def test_captured_logs_see_every_line_whatever_level_an_earlier_test_left() -> None:
    # The simulator runs the services at CRITICAL in-process; log tests after it must still
    # see INFO lines, and the level it left is restored afterwards.
    before = logger.log_level
    logger.setLevel("CRITICAL")
    try:
        with captured_logs() as logs:
            logger.info("seen")
        assert len(logs.with_message("seen")) == 1
        assert logger.log_level == logging.CRITICAL
    finally:
        logger.setLevel(before)
