"""The cost bench's pieces: a life through the real services on the in-memory engine, the meter
reading a real engine's consumed capacity, and the cross-check's verdict."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.bench_cost import ConsumedCapacityMeter, Measured, MemoryMeter, _cross_check
from bench.cost_life import CALLBACK, CALLBACK_RETRY, INTAKE, PENDING_CHECK, START, Lives
from payouts_tools.sim import config as cfg
from payouts_tools.sim.dynamodb import MemoryDynamoDB


@pytest.fixture
def engine() -> MemoryDynamoDB:
    db = MemoryDynamoDB(clock=START.timestamp)
    db.create_table(**cfg.table_definition())
    return db


def test_a_life_is_billed_phase_by_phase_and_a_repeated_callback_writes_nothing(
    engine: MemoryDynamoDB,
) -> None:
    lives = Lives(engine.as_client(), cfg.TABLE, MemoryMeter(engine))

    life = lives.live("PO-COST-1", "UPI", pending_check=True, callback_retry=True)

    assert life.final_status == "SUCCEEDED"
    phases = life.phases
    assert sum(phases[INTAKE].writes.values()) > 0
    assert sum(phases[PENDING_CHECK].writes.values()) > 0
    assert sum(phases[CALLBACK].writes.values()) > 0
    assert sum(phases[CALLBACK_RETRY].writes.values()) == 0
    billed = sum(sum(phase.writes.values()) for phase in phases.values())
    assert billed == engine.write_units()


class _Events:
    """What a botocore client's ``meta.events`` needs to register handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def register(self, name: str, handler: Any) -> None:
        self.handlers[name] = handler


def _meter() -> tuple[ConsumedCapacityMeter, _Events]:
    events = _Events()
    meter = ConsumedCapacityMeter(SimpleNamespace(meta=SimpleNamespace(events=events)))
    return meter, events


def test_the_meter_asks_for_index_capacity_on_calls_that_take_it() -> None:
    _, events = _meter()
    params: dict[str, Any] = {}

    events.handlers["provide-client-params.dynamodb.TransactWriteItems"](params=params)

    assert params == {"ReturnConsumedCapacity": "INDEXES"}
    assert "provide-client-params.dynamodb.DescribeTable" not in events.handlers


def test_the_meter_adds_table_and_index_units_by_target_reads_apart() -> None:
    meter, events = _meter()
    after = events.handlers["after-call.dynamodb.*"]
    write = {
        "ConsumedCapacity": [
            {
                "TableName": "t",
                "CapacityUnits": 6.0,
                "Table": {"CapacityUnits": 4.0},
                "GlobalSecondaryIndexes": {"due": {"CapacityUnits": 2.0}},
            }
        ]
    }
    read = {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}}

    after(parsed=write, model=SimpleNamespace(name="TransactWriteItems"))
    after(parsed=read, model=SimpleNamespace(name="GetItem"))

    assert meter.writes() == {"t": 4.0, "t/due": 2.0}
    assert meter.reads() == {"t": 0.5}


def test_the_cross_check_says_whether_doubled_index_writes_explain_the_difference() -> None:
    ours = Measured(path_writes={"t": 10.0, "t/due": 3.0})
    theirs = Measured(path_writes={"t": 10.0, "t/due": 5.0})

    assert "the whole difference" in _cross_check(ours, theirs, {"t/due": 2.0})
    assert "NOT only" in _cross_check(ours, theirs, {"t/due": 1.0})
