"""What erasing a payout's personal data costs, once its retention period is over: every payout
pays it once, outside the callback path.

A hundred payouts live through the real services on the in-memory engine (settled within a
day of creation, as nearly all are); the retention service then runs as its function does at
the end of the period, in passes of the template's batch size, and the write and read units it
used, by AWS's rules, are divided by the orders it erased. The sweep's position is first set
just before the payouts' creation (as an hourly function keeps it), so its reads are those of
the sweep over these orders only, at this bench's density (about 24 payouts a day: its 16
queries per day and pass weigh more per order than at production volumes; the BatchGetItem's half
unit per order does not shrink). Lambda's share (a few ms per order) is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from bench.cost_life import METHODS, START, Lives
from payouts.services.retention import erase_due
from payouts.store import OrderStore
from payouts_tools.local.template import function_properties, load_template, parameter_defaults
from payouts_tools.sim import config as cfg
from payouts_tools.sim.dynamodb import MemoryDynamoDB

PAYOUTS: Final = 100
# Later than the last payout's settlement (the lives settle an hour apart: about 4 days for
# 100), and no later: the sweep reads by-day day by day, so a longer gap would add empty days'
# queries that an hourly function never makes.
AFTER_THE_LAST_SETTLEMENT: Final = timedelta(days=5)


@dataclass(frozen=True)
class ErasureCost:
    """Units per erased order, by AWS's rules."""

    write_units: float
    read_units: float
    erased: int


def measure() -> ErasureCost:
    """Live ``PAYOUTS`` payouts, then erase them all as the retention function would."""
    engine = MemoryDynamoDB(clock=START.timestamp)
    engine.create_table(**cfg.table_definition())
    client = engine.as_client()
    store = OrderStore(client, cfg.TABLE)
    retention, batch = _deployed_retention()
    # The hourly function has swept up to just before these payouts were created (it reaches
    # the orders created retention + 1 day before it runs).
    swept_before = START + retention + timedelta(days=1) - timedelta(microseconds=1)
    erase_due(store, retention=retention, now=swept_before, limit=batch)
    lives = Lives(client, cfg.TABLE, _NoMeter())
    methods = sorted(METHODS)
    for number in range(PAYOUTS):
        method = methods[number % len(methods)]
        lives.live(f"ERASE-{number}", method, pending_check=False, callback_retry=False)
    writes, reads = sum(engine.write_units_by_index().values()), _reads(engine)
    now = START + AFTER_THE_LAST_SETTLEMENT + retention + timedelta(days=1)
    erased = 0
    while True:
        run = erase_due(store, retention=retention, now=now, limit=batch)
        erased += run.erased
        if not run.more:
            break
    if erased != PAYOUTS:
        raise RuntimeError(f"erased {erased} of {PAYOUTS} payouts")
    return ErasureCost(
        write_units=(sum(engine.write_units_by_index().values()) - writes) / erased,
        read_units=(_reads(engine) - reads) / erased,
        erased=erased,
    )


def _reads(engine: MemoryDynamoDB) -> float:
    return sum(engine.read_units_by_index().values())


def _deployed_retention() -> tuple[timedelta, int]:
    template = load_template()
    days = int(parameter_defaults(template, {}, strict=False)["PersonalDataRetentionDays"])
    variables = function_properties(template, "RetentionFunction")["Environment"]["Variables"]
    return timedelta(days=days), int(variables["ERASURE_BATCH_SIZE"])


class _NoMeter:
    """The lives' own phase accounting is not needed here: the engine's totals are read."""

    def writes(self) -> dict[str, float]:
        return {}

    def reads(self) -> dict[str, float]:
        return {}

    def transaction_index_writes(self) -> dict[str, float]:
        return {}
