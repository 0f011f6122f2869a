"""MemoryDynamoDB's BatchGetItem answers as DynamoDB does where the store's ops reads rely on it
(the by-day listing reads orders 100 keys a call)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from payouts_tools.sim.dynamodb import MemoryDynamoDB, memory_table_from_template

TABLE = "orders"


@pytest.fixture
def db() -> MemoryDynamoDB:
    return memory_table_from_template(TABLE)


def key(payout_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"PAYOUT#{payout_id}"}, "SK": {"S": "ORDER"}}


def put(db: MemoryDynamoDB, payout_id: str, status: str) -> None:
    db.put_item(TableName=TABLE, Item={**key(payout_id), "status": {"S": status}})


def test_present_keys_are_answered_and_missing_ones_left_out(db: MemoryDynamoDB) -> None:
    put(db, "PO-1", "RECEIVED")
    put(db, "PO-2", "SUCCEEDED")

    answer = db.batch_get_item(
        RequestItems={TABLE: {"Keys": [key("PO-2"), key("PO-GONE"), key("PO-1")]}}
    )

    found = {item["PK"]["S"]: item["status"]["S"] for item in answer["Responses"][TABLE]}
    assert found == {"PAYOUT#PO-1": "RECEIVED", "PAYOUT#PO-2": "SUCCEEDED"}
    assert answer["UnprocessedKeys"] == {}


def test_answers_are_copies(db: MemoryDynamoDB) -> None:
    put(db, "PO-1", "RECEIVED")

    (item,) = db.batch_get_item(RequestItems={TABLE: {"Keys": [key("PO-1")]}})["Responses"][TABLE]
    item["status"]["S"] = "SUCCEEDED"

    assert db.get_item(TableName=TABLE, Key=key("PO-1"))["Item"]["status"]["S"] == "RECEIVED"


def test_more_than_100_keys_are_refused(db: MemoryDynamoDB) -> None:
    keys = [key(f"PO-{number}") for number in range(101)]

    with pytest.raises(ClientError, match="Too many items") as refused:
        db.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_key_asked_twice_is_refused(db: MemoryDynamoDB) -> None:
    with pytest.raises(ClientError, match="duplicates"):
        db.batch_get_item(RequestItems={TABLE: {"Keys": [key("PO-1"), key("PO-1")]}})


def test_an_unknown_table_is_refused(db: MemoryDynamoDB) -> None:
    with pytest.raises(ClientError) as refused:
        db.batch_get_item(RequestItems={"nope": {"Keys": [key("PO-1")]}})
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_projection_is_not_silently_ignored(db: MemoryDynamoDB) -> None:
    with pytest.raises(NotImplementedError, match="ProjectionExpression"):
        db.batch_get_item(
            RequestItems={TABLE: {"Keys": [key("PO-1")], "ProjectionExpression": "PK"}}
        )


def test_each_item_read_is_billed_on_its_own(db: MemoryDynamoDB) -> None:
    put(db, "PO-1", "RECEIVED")
    put(db, "PO-2", "RECEIVED")
    db.reset_counters()

    db.batch_get_item(RequestItems={TABLE: {"Keys": [key("PO-1"), key("PO-2")]}})

    # Two small items, eventually consistent: half a unit each, not half a unit for both.
    assert db.read_units() == 1.0
