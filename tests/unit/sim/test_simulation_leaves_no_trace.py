"""A simulation run in a process leaves the services' shared logger as it found it: tests that
read log lines may run after it in the same process (one pytest worker runs both)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from payouts.observability import logger
from payouts_tools.sim.run import config_for, simulate


@pytest.fixture
def logging_at_info() -> Iterator[None]:
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        yield
    finally:
        logger.setLevel(level)


@pytest.mark.usefixtures("logging_at_info")
def test_a_run_quiets_the_services_only_while_it_runs() -> None:
    result = simulate(config_for(7, 3, "none"))

    assert result.violations == []
    assert logger.log_level == logging.INFO
