"""The referee's retention rules, judged from order images as the stream shows them: an erasure
only of a terminal order unchanged for the period, keeping the money trail and no personal value
in clear; a complete retention run leaves nothing due behind; an erasure comes within the promised
lateness unless a retention run failed meanwhile."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from payouts.store.keys import timestamp
from payouts_tools.sim.referee import Referee

T0 = datetime(2026, 12, 1, tzinfo=UTC)
RETENTION = timedelta(hours=1)
DAY = timedelta(days=1)
PAYEE = "Sim Payee"


def referee() -> Referee:
    return Referee(retention=RETENTION, personal=frozenset({PAYEE}))


def order(
    status: str,
    version: int,
    *,
    created: datetime = T0,
    updated: datetime = T0,
    erased: datetime | None = None,
    amount: int = 500,
    payee: str = PAYEE,
    listed: bool = False,
    payout_id: str = "PO-1",
) -> dict[str, Any]:
    request = {
        "payout_id": payout_id,
        "amount": {"value": amount, "currency": "INR"},
        "beneficiary": {"method": "UPI", "payee_name": payee},
    }
    image: dict[str, Any] = {
        "PK": {"S": f"PAYOUT#{payout_id}"},
        "SK": {"S": "ORDER"},
        "status": {"S": status},
        "version": {"N": str(version)},
        "request": {"S": json.dumps(request)},
        "fingerprint": {"S": "f" * 64},
        "created_at": {"S": timestamp(created)},
        "updated_at": {"S": timestamp(updated)},
    }
    if erased is not None:
        image["personal_data_erased_at"] = {"S": timestamp(erased)}
    if listed:
        image["erase_pk"] = {"S": "ERASE#03"}
    return image


def write(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"Keys": {"PK": new["PK"], "SK": new["SK"]}, "NewImage": new}
    if old is not None:
        data["OldImage"] = old
    return {"eventName": "MODIFY" if old else "INSERT", "dynamodb": data}


def erasure(old: dict[str, Any], at: datetime, **changes: Any) -> dict[str, Any]:
    """The erasure write of ``old`` at ``at``: the payee masked, the version one more."""
    status = changes.pop("status", old["status"]["S"])
    new = order(
        status,
        int(old["version"]["N"]) + 1,
        created=T0,
        updated=at,
        erased=at,
        payee=changes.pop("payee", "S*******e"),
        **changes,
    )
    return write(old, new)


SETTLED_AT = T0 + timedelta(minutes=2)
SETTLED = order("SUCCEEDED", 4, updated=SETTLED_AT)


def test_an_erasure_after_the_period_keeping_the_money_trail_is_clean() -> None:
    judge = referee()
    erased_at = T0 + DAY + RETENTION + timedelta(minutes=30)

    judge.on_stream([write(None, SETTLED), erasure(SETTLED, erased_at)], 0.0)
    judge.judge_retention_at_end(erased_at + DAY)

    assert judge.violations == []
    assert judge.erasures_by_path() == {"sweep": 1}


def test_an_erasure_before_the_period_is_a_violation() -> None:
    judge = referee()
    judge.on_stream([erasure(SETTLED, T0 + timedelta(minutes=50))], 0.0)
    assert any("before its period" in text for text in judge.violations), judge.violations


def test_an_erasure_of_an_order_not_terminal_is_a_violation() -> None:
    judge = referee()
    submitted = order("SUBMITTED", 3)
    judge.on_stream([erasure(submitted, T0 + DAY * 2)], 0.0)
    assert judge.violations == ["PO-1: erased while SUBMITTED (not terminal)"]


def test_an_erasure_that_changes_the_amount_or_the_status_is_a_violation() -> None:
    judge = referee()
    later = T0 + 2 * DAY
    judge.on_stream([erasure(SETTLED, later, amount=501)], 0.0)
    judge.on_stream([erasure(SETTLED, later, status="FAILED")], 0.0)
    assert "PO-1: the erasure changed the amount or currency" in judge.violations
    assert "PO-1: the erasure changed its status" in judge.violations


def test_an_erased_order_holding_a_personal_value_in_clear_is_a_violation() -> None:
    judge = referee()
    judge.on_stream([erasure(SETTLED, T0 + 2 * DAY, payee=PAYEE)], 0.0)
    evidence = {"PK": {"S": "PAYOUT#PO-1"}, "SK": {"S": "EVT#5"}, "summary": {"S": PAYEE}}
    judge.on_erased_partition("PO-1", [evidence])
    assert judge.violations == [
        f"PO-1: erased, but ORDER holds {PAYEE!r} in clear",
        f"PO-1: erased, but EVT#5 holds {PAYEE!r} in clear",
    ]


def test_a_complete_run_that_leaves_a_due_order_behind_is_a_violation_once() -> None:
    judge = referee()
    late = order("SUCCEEDED", 5, updated=T0 + DAY + timedelta(hours=2), listed=True)
    open_order = order("SUBMITTED", 3, payout_id="PO-2")
    judge.on_stream([write(None, SETTLED)], 0.0)
    # Not yet reachable by the sweep (created less than a day and the period ago): not owed.
    judge.on_retention_complete(T0 + DAY)
    assert judge.violations == []

    judge.on_retention_complete(T0 + DAY + RETENTION + timedelta(minutes=5))
    judge.on_retention_complete(T0 + DAY + RETENTION + timedelta(minutes=65))
    assert len(judge.violations) == 1
    assert "not erased by a complete retention run" in judge.violations[0]

    # Changed late and listed: owed once the period has passed since that change; an open
    # order never.
    other = referee()
    other.on_stream([write(None, late), write(None, open_order)], 0.0)
    other.on_retention_complete(T0 + DAY + timedelta(hours=2, minutes=59))
    assert other.violations == []
    other.on_retention_complete(T0 + DAY + timedelta(hours=3, minutes=1))
    assert len(other.violations) == 1


def test_an_erasure_later_than_promised_is_excused_only_by_a_failed_run_meanwhile() -> None:
    promised = RETENTION + DAY + timedelta(hours=1)
    too_late = SETTLED_AT + promised + timedelta(minutes=5)

    strict = referee()
    strict.on_stream([erasure(SETTLED, too_late)], 0.0)
    strict.judge_retention_at_end(too_late + DAY)

    excused = referee()
    excused.on_stream([erasure(SETTLED, too_late)], 0.0)
    excused.on_retention_miss(SETTLED_AT + DAY + RETENTION + timedelta(minutes=30))
    excused.judge_retention_at_end(too_late + DAY)

    assert len(strict.violations) == 1
    assert "every retention run complete" in strict.violations[0]
    assert excused.violations == []


def test_a_terminal_order_still_holding_its_data_past_the_promise_is_a_violation() -> None:
    judge = referee()
    judge.on_stream([write(None, SETTLED)], 0.0)
    judge.judge_retention_at_end(SETTLED_AT + RETENTION + DAY + timedelta(minutes=59))
    assert judge.violations == []
    judge.judge_retention_at_end(SETTLED_AT + RETENTION + DAY + timedelta(hours=1, minutes=2))
    assert len(judge.violations) == 1
    assert "never erased" in judge.violations[0]
