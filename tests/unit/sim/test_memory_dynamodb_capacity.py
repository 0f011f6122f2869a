"""MemoryDynamoDB bills writes and reads by AWS's published rules, on a table of its own (so
these rules hold whatever template.yaml's table looks like)."""

from __future__ import annotations

from typing import Any

import pytest

from payouts_tools.sim.dynamodb import MemoryDynamoDB, item_size, read_units

TABLE = "capacity"
INDEX = "by-group"


def s(value: str) -> dict[str, Any]:
    return {"S": value}


@pytest.fixture
def db() -> MemoryDynamoDB:
    """A table keyed PK/SK with one GSI keyed gpk/gsk that also projects ``shown``."""
    client = MemoryDynamoDB(clock=lambda: 1_795_334_400.0)
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "gpk", "gsk")
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "gsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["shown"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def sized(pk: str, total_bytes: int, **attributes: Any) -> dict[str, Any]:
    """An item of exactly ``total_bytes`` by AWS's size rule, padded in ``blob``."""
    item = {"PK": s(pk), "SK": s("ITEM"), **attributes, "blob": s("")}
    item["blob"] = s("x" * (total_bytes - item_size(item)))
    assert item_size(item) == total_bytes
    return item


def tx_put(item: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": item}}


def units(db: MemoryDynamoDB) -> dict[str, float]:
    """Write units by target, the targets that cost nothing left out."""
    return {target: value for target, value in db.write_units_by_index().items() if value}


# ---- writes --------------------------------------------------------------------------------------


def test_a_transaction_of_two_one_and_a_half_kb_items_costs_eight_units(db: MemoryDynamoDB) -> None:
    db.transact_write_items(
        TransactItems=[tx_put(sized("A", 1536)), tx_put(sized("B", 1536))],
    )

    # 2 KB started per item, twice inside a transaction, for each of the two items.
    assert db.write_units() == 8


def test_a_write_is_billed_on_the_larger_of_the_old_and_new_item(db: MemoryDynamoDB) -> None:
    db.put_item(TableName=TABLE, Item=sized("A", 3000))
    db.put_item(TableName=TABLE, Item=sized("A", 100))

    assert units(db) == {TABLE: 3 + 3}


def test_an_index_key_change_is_a_delete_and_a_put(db: MemoryDynamoDB) -> None:
    db.put_item(TableName=TABLE, Item=sized("A", 200, gpk=s("g1"), gsk=s("1")))
    before = units(db)[f"{TABLE}/{INDEX}"]

    db.put_item(TableName=TABLE, Item=sized("A", 200, gpk=s("g1"), gsk=s("2")))

    assert units(db)[f"{TABLE}/{INDEX}"] - before == 2


def test_a_write_that_changes_nothing_projected_costs_the_index_nothing(
    db: MemoryDynamoDB,
) -> None:
    keys = {"gpk": s("g1"), "gsk": s("1"), "shown": s("same")}
    db.put_item(TableName=TABLE, Item=sized("A", 300, **keys, hidden=s("one")))
    db.put_item(TableName=TABLE, Item=sized("A", 300, **keys, hidden=s("two")))

    assert units(db) == {TABLE: 2, f"{TABLE}/{INDEX}": 1}


def test_a_projected_attribute_change_rewrites_the_entry_once(db: MemoryDynamoDB) -> None:
    keys = {"gpk": s("g1"), "gsk": s("1")}
    db.put_item(TableName=TABLE, Item=sized("A", 300, **keys, shown=s("one")))
    db.put_item(TableName=TABLE, Item=sized("A", 300, **keys, shown=s("two")))

    assert units(db)[f"{TABLE}/{INDEX}"] == 2


def test_an_index_is_billed_by_its_projected_size_not_the_item(db: MemoryDynamoDB) -> None:
    db.put_item(TableName=TABLE, Item=sized("A", 5000, gpk=s("g1"), gsk=s("1")))

    assert units(db) == {TABLE: 5, f"{TABLE}/{INDEX}": 1}


def test_index_writes_inside_a_transaction_are_not_doubled_and_are_reported(
    db: MemoryDynamoDB,
) -> None:
    db.put_item(TableName=TABLE, Item=sized("Z", 100, gpk=s("g"), gsk=s("0")))
    db.transact_write_items(TransactItems=[tx_put(sized("A", 200, gpk=s("g1"), gsk=s("1")))])

    assert units(db) == {TABLE: 1 + 2, f"{TABLE}/{INDEX}": 1 + 1}
    # Only the transaction's index write: what DynamoDB Local counts a second time.
    assert db.index_write_units_in_transactions() == {f"{TABLE}/{INDEX}": 1}


# ---- reads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "consistent", "expected"),
    [(0, True, 1.0), (0, False, 0.5), (4096, True, 1.0), (4097, True, 2.0), (8192, False, 1.0)],
)
def test_read_units_per_started_four_kb_half_when_eventually_consistent(
    size: int, consistent: bool, expected: float
) -> None:
    assert read_units(size, consistent=consistent) == expected


def test_get_item_reads_the_item_size_and_a_missing_item_the_minimum(db: MemoryDynamoDB) -> None:
    db.put_item(TableName=TABLE, Item=sized("A", 5000))

    db.get_item(TableName=TABLE, Key={"PK": s("A"), "SK": s("ITEM")}, ConsistentRead=True)
    db.get_item(TableName=TABLE, Key={"PK": s("A"), "SK": s("ITEM")})
    db.get_item(TableName=TABLE, Key={"PK": s("none"), "SK": s("ITEM")})

    assert db.read_units_by_index() == {TABLE: 2.0 + 1.0 + 0.5}


def test_a_query_sums_what_it_evaluated_before_the_filter(db: MemoryDynamoDB) -> None:
    for sort in ("1", "2", "3"):
        item = sized("P", 1536)
        item["SK"] = s(sort)
        db.put_item(TableName=TABLE, Item=item)

    answer = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p",
        FilterExpression="attribute_exists(nothing)",
        ExpressionAttributeValues={":p": s("P")},
    )

    assert answer["Count"] == 0
    # 3 x 1.5 KB = 4.5 KB read, one rounding per call: 2 units, eventually consistent: 1.
    assert db.read_units_by_index() == {TABLE: 1.0}


def test_an_index_query_reads_projected_entries(db: MemoryDynamoDB) -> None:
    db.put_item(TableName=TABLE, Item=sized("A", 9000, gpk=s("g1"), gsk=s("1")))

    db.query(
        TableName=TABLE,
        IndexName=INDEX,
        KeyConditionExpression="gpk = :g",
        ExpressionAttributeValues={":g": s("g1")},
    )

    assert db.read_units_by_index() == {f"{TABLE}/{INDEX}": 0.5}


def test_reset_clears_reads_and_transaction_shares(db: MemoryDynamoDB) -> None:
    db.transact_write_items(TransactItems=[tx_put(sized("A", 200, gpk=s("g1"), gsk=s("1")))])
    db.get_item(TableName=TABLE, Key={"PK": s("A"), "SK": s("ITEM")})

    db.reset_counters()

    assert db.read_units() == 0
    assert db.write_units() == 0
    assert not any(db.index_write_units_in_transactions().values())
