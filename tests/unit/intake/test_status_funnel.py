"""The funnel by provider: status changes counted from the stream by provider and new status, and
written as one StatusChanged datapoint per pair (the dashboard's funnel widget reads them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from payouts.services.funnel import (
    METRIC_STATUS_CHANGED,
    NOT_ROUTED,
    emit_status_changes,
    status_changes_by_provider,
)

SAMPLE = Path(__file__).resolve().parents[3] / "events" / "dynamodb" / "order-stream.json"


@pytest.fixture
def records() -> list[dict[str, Any]]:
    """An order's first writes: stored RECEIVED (not routed yet), an evidence item, claimed
    SUBMITTING and SUBMITTED at gateway_v2, then a write that leaves the status as it is."""
    records: list[dict[str, Any]] = json.loads(SAMPLE.read_text())["Records"]
    return records


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def test_each_status_change_counts_once_under_its_provider(records: list[dict[str, Any]]) -> None:
    counts = status_changes_by_provider(records, failures={})

    # The evidence item and the write that kept SUBMITTED are not status changes.
    assert counts == {
        (NOT_ROUTED, "RECEIVED"): 1,
        ("gateway_v2", "SUBMITTING"): 1,
        ("gateway_v2", "SUBMITTED"): 1,
    }


def test_a_change_whose_event_was_not_published_is_not_counted(
    records: list[dict[str, Any]],
) -> None:
    submitted = next(
        record
        for record in records
        if record["dynamodb"].get("NewImage", {}).get("status", {}).get("S") == "SUBMITTED"
        and record["dynamodb"].get("OldImage", {}).get("status", {}).get("S") == "SUBMITTING"
    )

    counts = status_changes_by_provider(records, failures={_sequence(submitted): "throttled"})

    assert ("gateway_v2", "SUBMITTED") not in counts
    assert counts[("gateway_v2", "SUBMITTING")] == 1


def test_counts_are_written_as_one_datapoint_per_provider_and_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit_status_changes({("pg_v2", "SUCCEEDED"): 3, ("gateway_v2", "FAILED"): 1})

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert [(d["provider"], d["status"], d[METRIC_STATUS_CHANGED]) for d in documents] == [
        ("gateway_v2", "FAILED", [1.0]),
        ("pg_v2", "SUCCEEDED", [3.0]),
    ]
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Payouts"
        assert sorted(directive["Dimensions"][0]) == ["provider", "service", "status"]
        assert document["service"] == "payouts"


def test_nothing_is_written_when_nothing_changed(capsys: pytest.CaptureFixture[str]) -> None:
    emit_status_changes({})

    assert capsys.readouterr().out == ""
