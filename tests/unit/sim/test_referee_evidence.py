"""The referee's rule that every status change has its evidence: in a separate evidence item of
the same transaction, or on the order item itself when this very write put it there."""

from __future__ import annotations

import json
from typing import Any

from payouts_tools.sim.referee import Referee


def _order(status: str, version: int, final_to: str | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {
        "PK": {"S": "PAYOUT#PO-1"},
        "SK": {"S": "ORDER"},
        "status": {"S": status},
        "version": {"N": str(version)},
    }
    if final_to is not None:
        evidence = {"kind": "CALLBACK", "summary": "paid", "to_status": final_to}
        image["final_evidence"] = {"S": json.dumps(evidence)}
    return image


def _modify(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    keys = {"PK": new["PK"], "SK": new["SK"]}
    return {
        "eventName": "MODIFY",
        "dynamodb": {"Keys": keys, "OldImage": old, "NewImage": new},
    }


def test_a_terminal_change_with_its_evidence_on_the_order_is_justified() -> None:
    referee = Referee()
    referee.on_stream([_modify(_order("SUBMITTED", 3), _order("SUCCEEDED", 4, "SUCCEEDED"))], 0.0)
    assert referee.violations == []


def test_a_change_without_any_evidence_is_a_violation() -> None:
    referee = Referee()
    referee.on_stream([_modify(_order("SUBMITTED", 3), _order("SUCCEEDED", 4))], 0.0)
    assert referee.violations == ["PO-1: v4 -> SUCCEEDED has no evidence item"]


def test_evidence_carried_over_from_an_earlier_write_justifies_no_new_change() -> None:
    # A reversal copies the order item, final_evidence included: that old record is not the
    # reversal's evidence.
    referee = Referee()
    paid = _order("SUCCEEDED", 4, "SUCCEEDED")
    reversed_without_evidence = _order("REVERSED", 5, "SUCCEEDED")
    referee.on_stream([_modify(paid, reversed_without_evidence)], 0.0)
    assert referee.violations == ["PO-1: v5 -> REVERSED has no evidence item"]
