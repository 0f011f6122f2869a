"""Fuzz runs log only errors: thousands of refusals logged one by one would cost more than
processing them, and what each refusal does is asserted, not read from logs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payouts.observability import logger


@pytest.fixture(autouse=True)
def _errors_only() -> Iterator[None]:
    level = logger.log_level
    logger.setLevel("ERROR")
    yield
    logger.setLevel(level)
