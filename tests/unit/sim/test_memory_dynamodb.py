"""MemoryDynamoDB behaves as DynamoDB does where the store and the simulator depend on it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from payouts_tools.sim.dynamodb import (
    IDEMPOTENCY_WINDOW_S,
    MemoryDynamoDB,
    item_size,
    memory_table_from_template,
    parse_expression,
    table_kwargs_from_template,
)
from tests.support.cfn import load_template, table_create_kwargs

TABLE = "orders"


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self) -> None:
        self.now = 1_795_334_400.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def orders_table() -> dict[str, Any]:
    """CreateTable arguments of the orders table (template.yaml is read once per module)."""
    return table_kwargs_from_template(TABLE)


@pytest.fixture
def db(clock: Clock, orders_table: dict[str, Any]) -> MemoryDynamoDB:
    """The orders table as template.yaml declares it."""
    client = MemoryDynamoDB(clock=clock)
    client.create_table(**copy.deepcopy(orders_table))
    return client


@pytest.fixture
def legacy_db(clock: Clock) -> MemoryDynamoDB:
    """The orders table of a stack mid-migration: it also has by-status-day, an INCLUDE index."""
    client = MemoryDynamoDB(clock=clock)
    client.create_table(
        **table_create_kwargs(load_template(), "OrdersTable", TABLE, {"LegacyStatusIndex": "true"})
    )
    return client


def s(value: str) -> dict[str, Any]:
    return {"S": value}


def n(value: str | int) -> dict[str, Any]:
    return {"N": str(value)}


def key(pk: str, sk: str = "ORDER") -> dict[str, Any]:
    return {"PK": s(pk), "SK": s(sk)}


def put(db: MemoryDynamoDB, pk: str, sk: str = "ORDER", **attributes: Any) -> dict[str, Any]:
    item = {**key(pk, sk), **attributes}
    db.put_item(TableName=TABLE, Item=item)
    return item


def get(db: MemoryDynamoDB, pk: str, sk: str = "ORDER") -> dict[str, Any] | None:
    item: dict[str, Any] | None = db.get_item(TableName=TABLE, Key=key(pk, sk)).get("Item")
    return item


def error_of(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def due_ids(db: MemoryDynamoDB, shard: str = "DUE#0", **extra: Any) -> list[str]:
    answer = db.query(
        TableName=TABLE,
        IndexName="due",
        KeyConditionExpression="due_pk = :shard",
        ExpressionAttributeValues={":shard": s(shard)},
        **extra,
    )
    return [item["PK"]["S"] for item in answer["Items"]]


# ---- the table from template.yaml ----------------------------------------------------------------


def test_the_template_table_has_its_indexes_projections_and_stream() -> None:
    db = memory_table_from_template(TABLE)
    table = db.describe_table(TableName=TABLE)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["PK", "SK"]
    projections = {
        index["IndexName"]: index["Projection"]["ProjectionType"]
        for index in table["GlobalSecondaryIndexes"]
    }
    assert projections == {
        "due": "KEYS_ONLY",
        "by-day": "KEYS_ONLY",
        "by-provider-ref": "KEYS_ONLY",
        "review": "KEYS_ONLY",
        "erasable": "KEYS_ONLY",
    }
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["LatestStreamArn"].startswith(table["TableArn"] + "/stream/")


def test_an_unknown_table_is_resource_not_found(db: MemoryDynamoDB) -> None:
    error = error_of(lambda: db.get_item(TableName="nope-table", Key=key("a")))
    assert code(error) == "ResourceNotFoundException"
    assert error.operation_name == "GetItem"
    assert isinstance(error, db.exceptions.ResourceNotFoundException)


def test_a_second_table_of_the_same_name_is_refused(db: MemoryDynamoDB) -> None:
    definition = db.describe_table(TableName=TABLE)["Table"]
    error = error_of(
        lambda: db.create_table(
            TableName=TABLE,
            KeySchema=definition["KeySchema"],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        )
    )
    assert code(error) == "ResourceInUseException"


# ---- items in and out ----------------------------------------------------------------------------


def test_items_are_copied_in_and_out(db: MemoryDynamoDB) -> None:
    item = put(db, "P#1", tags={"SS": ["b", "a"]}, nested={"M": {"x": s("1")}})
    item["tags"]["SS"].append("c")
    item["nested"]["M"]["x"]["S"] = "changed"
    read = get(db, "P#1")
    assert read is not None
    assert read["tags"] == {"SS": ["a", "b"]}
    assert read["nested"] == {"M": {"x": s("1")}}
    read["nested"]["M"]["x"]["S"] = "changed again"
    assert get(db, "P#1") == read | {"nested": {"M": {"x": s("1")}}}


def test_numbers_are_stored_in_canonical_form(db: MemoryDynamoDB) -> None:
    put(db, "P#1", a=n("01.50"), b=n("1E+3"), c=n("-0.000"))
    read = get(db, "P#1")
    assert read is not None
    assert (read["a"], read["b"], read["c"]) == (n("1.5"), n("1000"), n("0"))


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"PK": s(""), "SK": s("x")}, "empty string value. Key: PK"),
        ({"PK": s("a")}, "One of the required keys was not given a value"),
        ({"PK": n(1), "SK": s("x")}, "Type mismatch for key PK"),
        ({"PK": s("a"), "SK": s("x"), "due_pk": n(1)}, "Type mismatch for Index Key due_pk"),
        ({"PK": s("a"), "SK": s("x"), "due_pk": s("")}, "IndexName: due, IndexKey: due_pk"),
        ({"PK": s("a"), "SK": s("x"), "v": n("1" * 39)}, "more than 38 significant digits"),
        ({"PK": s("a"), "SK": s("x"), "v": {"SS": []}}, "may not be empty"),
        ({"PK": s("a"), "SK": s("x"), "v": {}}, "Supplied AttributeValue is empty"),
    ],
)
def test_invalid_items_are_refused_and_nothing_is_written(
    db: MemoryDynamoDB, attributes: dict[str, Any], message: str
) -> None:
    error = error_of(lambda: db.put_item(TableName=TABLE, Item=attributes))
    assert code(error) == "ValidationException"
    assert message in error.response["Error"]["Message"]
    assert db.item_count(TABLE) == 0


def test_a_key_with_extra_attributes_does_not_match_the_schema(db: MemoryDynamoDB) -> None:
    error = error_of(lambda: db.get_item(TableName=TABLE, Key={**key("a"), "x": s("1")}))
    assert error.response["Error"]["Message"] == (
        "The provided key element does not match the schema"
    )


def test_unsupported_parameters_raise_instead_of_being_ignored(db: MemoryDynamoDB) -> None:
    with pytest.raises(NotImplementedError, match="ProjectionExpression"):
        db.get_item(TableName=TABLE, Key=key("a"), ProjectionExpression="PK")
    with pytest.raises(ParamValidationError, match="Unknown parameter"):
        db.get_item(TableName=TABLE, Key=key("a"), Bogus=1)
    with pytest.raises(ParamValidationError, match="Missing required parameter"):
        db.get_item(TableName=TABLE)


def test_put_and_delete_return_the_old_item_when_asked(db: MemoryDynamoDB) -> None:
    first = put(db, "P#1", v=n(1))
    answer = db.put_item(TableName=TABLE, Item={**key("P#1"), "v": n(2)}, ReturnValues="ALL_OLD")
    assert answer["Attributes"] == first
    deleted = db.delete_item(TableName=TABLE, Key=key("P#1"), ReturnValues="ALL_OLD")
    assert deleted["Attributes"] == {**key("P#1"), "v": n(2)}
    assert get(db, "P#1") is None


# ---- conditions ----------------------------------------------------------------------------------


def holds(
    db: MemoryDynamoDB,
    attributes: dict[str, Any],
    condition: str,
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> bool:
    """Whether ``condition`` holds for an item with ``attributes`` (a conditional re-put)."""
    item = {**key("COND"), **attributes}
    db.put_item(TableName=TABLE, Item=item)
    extra: dict[str, Any] = {}
    if values is not None:
        extra["ExpressionAttributeValues"] = values
    if names is not None:
        extra["ExpressionAttributeNames"] = names
    try:
        db.put_item(TableName=TABLE, Item=item, ConditionExpression=condition, **extra)
    except ClientError as error:
        failure = code(error)
    else:
        return True
    assert failure == "ConditionalCheckFailedException"
    return False


@pytest.mark.parametrize(
    ("attributes", "condition", "values", "expected"),
    [
        # a missing attribute: = and orderings false, <> true
        ({}, "x = :v", {":v": s("a")}, False),
        ({}, "x <> :v", {":v": s("a")}, True),
        ({}, "x < :v", {":v": s("a")}, False),
        ({}, "NOT x < :v", {":v": s("a")}, True),
        # a type mismatch likewise
        ({"x": n(1)}, "x = :v", {":v": s("1")}, False),
        ({"x": n(1)}, "x <> :v", {":v": s("1")}, True),
        ({"x": n(1)}, "x < :v", {":v": s("2")}, False),
        # numbers compare as numbers, strings by UTF-8 bytes (not UTF-16 units)
        ({"x": n(10)}, "x > :v", {":v": n(9)}, True),
        ({"x": n("1.0")}, "x = :v", {":v": n("1.00")}, True),
        ({"x": n(-3)}, "x < :v", {":v": n("-2.5")}, True),
        ({"x": s("Z")}, "x < :v", {":v": s("a")}, True),
        ({"x": s("\U0001f600")}, "x > :v", {":v": s("\uff61")}, True),
        ({"x": s("ab")}, "x > :v", {":v": s("a")}, True),
        ({"x": {"B": b"\x01"}}, "x < :v", {":v": {"B": b"\x02"}}, True),
        ({"x": {"BOOL": True}}, "x = :v", {":v": {"BOOL": True}}, True),
        ({"x": {"SS": ["a", "b"]}}, "x = :v", {":v": {"SS": ["b", "a"]}}, True),
        # BETWEEN is inclusive
        ({"x": n(5)}, "x BETWEEN :a AND :b", {":a": n(5), ":b": n(6)}, True),
        ({"x": n(7)}, "x BETWEEN :a AND :b", {":a": n(5), ":b": n(6)}, False),
        # functions
        ({"x": s("abc")}, "begins_with(x, :p)", {":p": s("ab")}, True),
        ({"x": s("abc")}, "begins_with(x, :p)", {":p": s("b")}, False),
        ({"x": n(12)}, "begins_with(x, :p)", {":p": s("1")}, False),
        ({"x": s("")}, "attribute_exists(x)", None, True),
        ({}, "attribute_not_exists(x)", None, True),
        # precedence: NOT over AND over OR; parentheses group
        (
            {"a": n(1)},
            "a = :one OR a = :two AND a = :three",
            {":one": n(1), ":two": n(2), ":three": n(3)},
            True,
        ),
        (
            {"a": n(1)},
            "(a = :one OR a = :two) AND a = :three",
            {":one": n(1), ":two": n(2), ":three": n(3)},
            False,
        ),
        ({"a": n(1)}, "NOT a = :two AND a = :one", {":one": n(1), ":two": n(2)}, True),
        ({"a": n(1)}, "NOT (a = :one AND a = :two)", {":one": n(1), ":two": n(2)}, True),
        ({"a": n(1)}, "not a = :two and a = :one", {":one": n(1), ":two": n(2)}, True),
    ],
)
def test_condition_semantics(
    db: MemoryDynamoDB,
    attributes: dict[str, Any],
    condition: str,
    values: dict[str, Any] | None,
    expected: bool,
) -> None:
    assert holds(db, attributes, condition, values) is expected


def test_names_placeholders_stand_for_reserved_words(db: MemoryDynamoDB) -> None:
    attributes = {"status": s("RECEIVED"), "version": n(1)}
    condition = "#status = :status AND #version = :version"
    names = {"#status": "status", "#version": "version"}
    values = {":status": s("RECEIVED"), ":version": n(1)}
    assert holds(db, attributes, condition, values, names)
    assert not holds(db, attributes, condition, values | {":version": n(2)}, names)


@pytest.mark.parametrize(
    ("condition", "values", "names", "message"),
    [
        ("status = :v", {":v": s("x")}, None, "reserved keyword; reserved keyword: status"),
        ("x = :v", {":v": s("x"), ":w": s("y")}, None, "unused in expressions: keys: {:w}"),
        ("x = :v", {":v": s("x")}, {"#n": "x"}, "unused in expressions: keys: {#n}"),
        ("x = :w", {":v": s("x")}, None, "attribute value: :w"),
        ("#x = :v", {":v": s("x")}, None, "attribute name: #x"),
        ("x = = :v", {":v": s("x")}, None, 'Syntax error; token: "="'),
        ("x < :v", {":v": {"BOOL": True}}, None, "operator or function: <, operand type: BOOL"),
        ("begins_with(x, :v)", {":v": n(1)}, None, "function: begins_with, operand type: N"),
        ("x BETWEEN :b AND :a", {":a": n(1), ":b": n(2)}, None, "requires upper bound"),
        ("x IN (:v)", {":v": s("x")}, None, "does not support the IN operator"),
        ("size(x) > :v", {":v": n(1)}, None, "does not support the function size"),
        ("contains(x, :v)", {":v": s("x")}, None, "does not support the function contains"),
        ("a.b = :v", {":v": s("x")}, None, "does not support nested attribute paths"),
        ("a[0] = :v", {":v": s("x")}, None, "does not support nested attribute paths"),
        ("x = :v AND", {":v": s("x")}, None, 'Syntax error; token: "<EOF>"'),
        ("frobnicate(x)", None, None, "Invalid function name; function: frobnicate"),
    ],
)
def test_invalid_or_unsupported_conditions_are_validation_errors(
    db: MemoryDynamoDB,
    condition: str,
    values: dict[str, Any] | None,
    names: dict[str, str] | None,
    message: str,
) -> None:
    extra: dict[str, Any] = {}
    if values is not None:
        extra["ExpressionAttributeValues"] = values
    if names is not None:
        extra["ExpressionAttributeNames"] = names
    error = error_of(
        lambda: db.put_item(TableName=TABLE, Item=key("a"), ConditionExpression=condition, **extra)
    )
    assert code(error) == "ValidationException"
    assert message in error.response["Error"]["Message"]
    assert get(db, "a") is None


def test_values_without_an_expression_are_refused(db: MemoryDynamoDB) -> None:
    error = error_of(
        lambda: db.put_item(
            TableName=TABLE, Item=key("a"), ExpressionAttributeValues={":v": s("x")}
        )
    )
    assert "can only be specified when using expressions" in error.response["Error"]["Message"]


def test_each_expression_string_is_parsed_once(db: MemoryDynamoDB) -> None:
    condition = "attribute_not_exists(PK) OR unique_attribute_for_this_test = :v"
    for i in range(5):
        db.put_item(
            TableName=TABLE,
            Item=key(f"P#{i}"),
            ConditionExpression=condition,
            ExpressionAttributeValues={":v": s("x")},
        )
    before = parse_expression.cache_info()
    db.put_item(
        TableName=TABLE,
        Item=key("P#9"),
        ConditionExpression=condition,
        ExpressionAttributeValues={":v": s("x")},
    )
    after = parse_expression.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


def test_a_failed_condition_returns_the_stored_item_only_when_asked(db: MemoryDynamoDB) -> None:
    stored = put(db, "P#1", v=n(1))
    asked = error_of(
        lambda: db.put_item(
            TableName=TABLE,
            Item=key("P#1"),
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    assert isinstance(asked, db.exceptions.ConditionalCheckFailedException)
    assert asked.operation_name == "PutItem"
    assert asked.response["Item"] == stored
    assert asked.response["Error"]["Message"] == "The conditional request failed"
    assert asked.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    not_asked = error_of(
        lambda: db.put_item(
            TableName=TABLE, Item=key("P#1"), ConditionExpression="attribute_not_exists(PK)"
        )
    )
    assert "Item" not in not_asked.response
    assert get(db, "P#1") == stored


def test_a_failed_condition_on_a_missing_item_returns_no_item(db: MemoryDynamoDB) -> None:
    error = error_of(
        lambda: db.delete_item(
            TableName=TABLE,
            Key=key("LEASE#x", "LEASE"),
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": s("me")},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    assert code(error) == "ConditionalCheckFailedException"
    assert error.operation_name == "DeleteItem"
    assert "Item" not in error.response


# ---- indexes -------------------------------------------------------------------------------------


def test_an_item_is_in_a_sparse_index_only_with_all_its_key_attributes(db: MemoryDynamoDB) -> None:
    put(db, "P#1", due_pk=s("DUE#0"))  # no due_sk: not indexed
    put(db, "P#2")
    assert due_ids(db) == []
    put(db, "P#1", due_pk=s("DUE#0"), due_sk=s("2026-01-01"))
    assert due_ids(db) == ["P#1"]
    put(db, "P#1", due_pk=s("DUE#1"), due_sk=s("2026-01-01"))  # moved to another partition
    assert due_ids(db) == []
    assert due_ids(db, "DUE#1") == ["P#1"]
    put(db, "P#1")  # the attributes removed: out of the index
    assert due_ids(db, "DUE#1") == []
    db.put_item(TableName=TABLE, Item={**key("P#3"), "due_pk": s("DUE#1"), "due_sk": s("x")})
    db.delete_item(TableName=TABLE, Key=key("P#3"))
    assert due_ids(db, "DUE#1") == []


def test_queries_return_what_the_projection_holds(legacy_db: MemoryDynamoDB) -> None:
    db = legacy_db
    full = {
        "due_pk": s("DUE#0"),
        "due_sk": s("t#P#1"),
        "status_pk": s("RECEIVED#2026-11-22"),
        "status_sk": s("t#P#1"),
        "payout_id": s("P#1"),
        "status": s("RECEIVED"),
        "request": s("a large document"),
        "needs_review": {"BOOL": False},
    }
    put(db, "P#1", **full)
    (keys_only,) = db.query(
        TableName=TABLE,
        IndexName="due",
        KeyConditionExpression="due_pk = :p",
        ExpressionAttributeValues={":p": s("DUE#0")},
    )["Items"]
    assert set(keys_only) == {"PK", "SK", "due_pk", "due_sk"}
    (included,) = db.query(
        TableName=TABLE,
        IndexName="by-status-day",
        KeyConditionExpression="status_pk = :p",
        ExpressionAttributeValues={":p": s("RECEIVED#2026-11-22")},
    )["Items"]
    assert set(included) == {
        "PK",
        "SK",
        "status_pk",
        "status_sk",
        "payout_id",
        "status",
        "needs_review",
    }
    error = error_of(
        lambda: db.query(
            TableName=TABLE,
            IndexName="due",
            KeyConditionExpression="due_pk = :p",
            ExpressionAttributeValues={":p": s("DUE#0")},
            Select="ALL_ATTRIBUTES",
        )
    )
    assert "projection type is not ALL" in error.response["Error"]["Message"]


def numbers_table(projection: str = "ALL") -> MemoryDynamoDB:
    """A table with a numeric sort key and an index with ``projection``."""
    db = MemoryDynamoDB()
    db.create_table(
        TableName="numbers",
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "r", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "h", "KeyType": "HASH"},
            {"AttributeName": "r", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": projection},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return db


def test_an_all_projection_returns_the_whole_item() -> None:
    db = numbers_table("ALL")
    item = {"h": s("a"), "r": n(1), "g": s("x"), "other": s("kept")}
    db.put_item(TableName="numbers", Item=item)
    answer = db.query(
        TableName="numbers",
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": s("x")},
    )
    assert answer["Items"] == [item]


def test_numeric_sort_keys_sort_as_numbers_both_ways() -> None:
    db = numbers_table()
    for value in ("10", "9", "-1", "2.5", "100"):
        db.put_item(TableName="numbers", Item={"h": s("a"), "r": n(value)})

    def order(**extra: Any) -> list[str]:
        answer = db.query(
            TableName="numbers",
            KeyConditionExpression="h = :h",
            ExpressionAttributeValues={":h": s("a")},
            **extra,
        )
        return [item["r"]["N"] for item in answer["Items"]]

    assert order() == ["-1", "2.5", "9", "10", "100"]
    assert order(ScanIndexForward=False) == ["100", "10", "9", "2.5", "-1"]


def test_string_sort_keys_sort_by_bytes(db: MemoryDynamoDB) -> None:
    for sort_key in ("b", "B", "a", "\U0001f600", "\uff61", "ab"):
        put(db, "P#1", sort_key)
    answer = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": s("P#1")},
    )
    assert [item["SK"]["S"] for item in answer["Items"]] == [
        "B",
        "a",
        "ab",
        "b",
        "\uff61",
        "\U0001f600",
    ]


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("PK = :pk AND SK = :v", {":v": s("EVT#2")}, ["EVT#2"]),
        ("PK = :pk AND SK < :v", {":v": s("EVT#2")}, ["EVT#1"]),
        ("PK = :pk AND SK <= :v", {":v": s("EVT#2")}, ["EVT#1", "EVT#2"]),
        ("PK = :pk AND SK > :v", {":v": s("EVT#2")}, ["EVT#3", "ORDER"]),
        ("PK = :pk AND SK >= :v", {":v": s("EVT#3")}, ["EVT#3", "ORDER"]),
        (
            "PK = :pk AND SK BETWEEN :a AND :b",
            {":a": s("EVT#2"), ":b": s("EVT#3")},
            ["EVT#2", "EVT#3"],
        ),
        ("PK = :pk AND begins_with(SK, :v)", {":v": s("EVT#")}, ["EVT#1", "EVT#2", "EVT#3"]),
        ("(:pk = PK) AND (:v < SK)", {":v": s("EVT#3")}, ["ORDER"]),
        ("PK = :pk AND begins_with(SK, :v)", {":v": s("\U0010ffff")}, []),
    ],
)
def test_key_conditions_select_a_range_of_the_partition(
    db: MemoryDynamoDB, condition: str, values: dict[str, Any], expected: list[str]
) -> None:
    for sort_key in ("ORDER", "EVT#3", "EVT#1", "EVT#2"):
        put(db, "P#1", sort_key)
    put(db, "P#2", "EVT#1")
    answer = db.query(
        TableName=TABLE,
        KeyConditionExpression=condition,
        ExpressionAttributeValues={":pk": s("P#1"), **values},
    )
    assert [item["SK"]["S"] for item in answer["Items"]] == expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("PK = :pk OR SK = :v", "Invalid operator used in KeyConditionExpression: OR"),
        ("PK = :pk AND SK <> :v", "Invalid operator used in KeyConditionExpression: <>"),
        ("PK = :pk AND attribute_exists(SK) AND SK = :v", "Invalid operator used in KeyCondition"),
        ("SK = :v AND SK < :v AND PK = :pk", "only contain one condition per key"),
        ("SK = :v AND :pk = :v", "Query key condition not supported"),
        ("PK < :pk AND SK = :v", "Query key condition not supported"),
        ("payout_id = :pk AND SK = :v", "Query condition missed key schema element"),
    ],
)
def test_invalid_key_conditions_are_refused(
    db: MemoryDynamoDB, condition: str, message: str
) -> None:
    error = error_of(
        lambda: db.query(
            TableName=TABLE,
            KeyConditionExpression=condition,
            ExpressionAttributeValues={":pk": s("P#1"), ":v": s("x")},
        )
    )
    assert code(error) == "ValidationException"
    assert message in error.response["Error"]["Message"]


def test_query_validation_follows_dynamodb(db: MemoryDynamoDB) -> None:
    base: dict[str, Any] = {
        "TableName": TABLE,
        "IndexName": "due",
        "KeyConditionExpression": "due_pk = :p",
        "ExpressionAttributeValues": {":p": s("DUE#0")},
    }
    consistent = error_of(lambda: db.query(**base, ConsistentRead=True))
    assert "Consistent reads are not supported" in consistent.response["Error"]["Message"]
    unknown = error_of(lambda: db.query(**(base | {"IndexName": "nope"})))
    assert "does not have the specified index: nope" in unknown.response["Error"]["Message"]
    wrong_type = error_of(lambda: db.query(**(base | {"ExpressionAttributeValues": {":p": n(1)}})))
    assert "does not match schema type" in wrong_type.response["Error"]["Message"]
    with pytest.raises(ParamValidationError, match="valid min value: 1"):
        db.query(**base, Limit=0)


# ---- pagination ----------------------------------------------------------------------------------


def fill_due(db: MemoryDynamoDB, count: int) -> list[str]:
    ids = [f"P#{i:03d}" for i in range(count)]
    for i, payout in enumerate(ids):
        put(db, payout, due_pk=s("DUE#0"), due_sk=s(f"2026-01-01T00:{i:02d}#{payout}"))
    return ids


def test_pages_follow_each_other_until_no_last_evaluated_key(db: MemoryDynamoDB) -> None:
    ids = fill_due(db, 7)
    seen: list[str] = []
    start: dict[str, Any] | None = None
    pages = 0
    while True:
        extra: dict[str, Any] = {"Limit": 3}
        if start is not None:
            extra["ExclusiveStartKey"] = start
        answer = db.query(
            TableName=TABLE,
            IndexName="due",
            KeyConditionExpression="due_pk = :p",
            ExpressionAttributeValues={":p": s("DUE#0")},
            **extra,
        )
        pages += 1
        seen.extend(item["PK"]["S"] for item in answer["Items"])
        start = answer.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"PK", "SK", "due_pk", "due_sk"}
    assert seen == ids
    assert pages == 3


def test_a_page_that_stops_at_the_limit_says_so_even_at_the_end(db: MemoryDynamoDB) -> None:
    fill_due(db, 3)
    first = db.query(
        TableName=TABLE,
        IndexName="due",
        KeyConditionExpression="due_pk = :p",
        ExpressionAttributeValues={":p": s("DUE#0")},
        Limit=3,
    )
    assert first["Count"] == 3
    assert first["LastEvaluatedKey"]["PK"] == s("P#002")
    rest = db.query(
        TableName=TABLE,
        IndexName="due",
        KeyConditionExpression="due_pk = :p",
        ExpressionAttributeValues={":p": s("DUE#0")},
        Limit=3,
        ExclusiveStartKey=first["LastEvaluatedKey"],
    )
    assert rest["Items"] == []
    assert "LastEvaluatedKey" not in rest


def test_a_start_key_whose_item_is_gone_still_resumes_after_it(db: MemoryDynamoDB) -> None:
    fill_due(db, 5)
    page = db.query(
        TableName=TABLE,
        IndexName="due",
        KeyConditionExpression="due_pk = :p",
        ExpressionAttributeValues={":p": s("DUE#0")},
        Limit=2,
    )
    db.delete_item(TableName=TABLE, Key=key("P#001"))
    assert due_ids(db, ExclusiveStartKey=page["LastEvaluatedKey"]) == ["P#002", "P#003", "P#004"]
    backwards = due_ids(db, ExclusiveStartKey=page["LastEvaluatedKey"], ScanIndexForward=False)
    assert backwards == ["P#000"]


def test_a_start_key_outside_the_condition_is_refused(db: MemoryDynamoDB) -> None:
    fill_due(db, 2)
    start = {**key("P#000"), "due_pk": s("DUE#1"), "due_sk": s("x")}
    error = error_of(lambda: due_ids(db, ExclusiveStartKey=start))
    assert "does not match the range key predicate" in error.response["Error"]["Message"]
    incomplete = error_of(lambda: due_ids(db, ExclusiveStartKey=key("P#000")))
    assert "The provided starting key is invalid" in incomplete.response["Error"]["Message"]


def test_count_and_filter(db: MemoryDynamoDB) -> None:
    for i in range(4):
        put(db, "P#1", f"EVT#{i}", kind=s("odd" if i % 2 else "even"))
    answer = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        FilterExpression="kind = :k",
        ExpressionAttributeValues={":pk": s("P#1"), ":k": s("odd")},
        Limit=3,
    )
    assert [item["SK"]["S"] for item in answer["Items"]] == ["EVT#1"]
    assert (answer["Count"], answer["ScannedCount"]) == (1, 3)
    assert answer["LastEvaluatedKey"] == key("P#1", "EVT#2")
    counted = db.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": s("P#1")},
        Select="COUNT",
    )
    assert "Items" not in counted
    assert counted["Count"] == 4
    on_key = error_of(
        lambda: db.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            FilterExpression="SK = :k",
            ExpressionAttributeValues={":pk": s("P#1"), ":k": s("x")},
        )
    )
    assert "non-primary key attributes" in on_key.response["Error"]["Message"]


# ---- transactions --------------------------------------------------------------------------------


def tx_put(item: dict[str, Any], condition: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"TableName": TABLE, "Item": item, **extra}
    if condition is not None:
        body["ConditionExpression"] = condition
    return {"Put": body}


def test_a_transaction_is_all_or_nothing(db: MemoryDynamoDB) -> None:
    existing = put(db, "P#2", v=n(1))
    db.drain_stream()
    error = error_of(
        lambda: db.transact_write_items(
            TransactItems=[
                tx_put(key("P#1")),
                tx_put(
                    {**key("P#2"), "v": n(2)},
                    "attribute_not_exists(PK)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("P#3"),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    )
    assert isinstance(error, db.exceptions.TransactionCanceledException)
    assert error.operation_name == "TransactWriteItems"
    assert error.response["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": existing,
        },
        {"Code": "None"},
    ]
    assert error.response["Error"]["Message"].endswith("[None, ConditionalCheckFailed, None]")
    assert get(db, "P#1") is None
    assert get(db, "P#2") == existing
    assert db.drain_stream() == []


def test_a_transaction_applies_puts_deletes_and_checks_together(db: MemoryDynamoDB) -> None:
    put(db, "P#2")
    put(db, "P#3", v=n(1))
    db.transact_write_items(
        TransactItems=[
            tx_put(key("P#1"), "attribute_not_exists(PK)"),
            {"Delete": {"TableName": TABLE, "Key": key("P#2")}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": key("P#3"),
                    "ConditionExpression": "v = :one",
                    "ExpressionAttributeValues": {":one": n(1)},
                }
            },
        ]
    )
    assert get(db, "P#1") == key("P#1")
    assert get(db, "P#2") is None


def test_a_transaction_may_not_touch_one_item_twice(db: MemoryDynamoDB) -> None:
    error = error_of(
        lambda: db.transact_write_items(TransactItems=[tx_put(key("P#1")), tx_put(key("P#1"))])
    )
    assert code(error) == "ValidationException"
    assert "multiple operations on one item" in error.response["Error"]["Message"]
    assert get(db, "P#1") is None


def test_update_actions_are_not_supported(db: MemoryDynamoDB) -> None:
    with pytest.raises(NotImplementedError, match="Update"):
        db.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET x = :v"}}
            ]
        )


def test_a_token_replays_a_successful_transaction_without_applying_it_again(
    db: MemoryDynamoDB, clock: Clock
) -> None:
    items = [tx_put({**key("P#1"), "v": n(1)}, "attribute_not_exists(PK)")]
    db.transact_write_items(TransactItems=items, ClientRequestToken="token-1")
    db.delete_item(TableName=TABLE, Key=key("P#1"))
    db.drain_stream()
    clock.now += IDEMPOTENCY_WINDOW_S - 1
    # Written again it would succeed (the item is gone): the replay must not write it.
    db.transact_write_items(TransactItems=items, ClientRequestToken="token-1")
    assert get(db, "P#1") is None
    assert db.drain_stream() == []


def test_a_token_with_different_items_is_a_mismatch(db: MemoryDynamoDB) -> None:
    db.transact_write_items(TransactItems=[tx_put(key("P#1"))], ClientRequestToken="token-1")
    error = error_of(
        lambda: db.transact_write_items(
            TransactItems=[tx_put(key("P#2"))], ClientRequestToken="token-1"
        )
    )
    assert isinstance(error, db.exceptions.IdempotentParameterMismatchException)
    assert get(db, "P#2") is None


def test_the_same_items_in_another_attribute_order_are_the_same_request(
    db: MemoryDynamoDB,
) -> None:
    db.transact_write_items(
        TransactItems=[tx_put({"PK": s("P#1"), "SK": s("ORDER"), "v": n("1.0")})],
        ClientRequestToken="token-1",
    )
    db.transact_write_items(
        TransactItems=[tx_put({"v": n(1), "SK": s("ORDER"), "PK": s("P#1")})],
        ClientRequestToken="token-1",
    )


def test_a_token_expires_after_ten_minutes(db: MemoryDynamoDB, clock: Clock) -> None:
    db.transact_write_items(TransactItems=[tx_put(key("P#1"))], ClientRequestToken="token-1")
    db.delete_item(TableName=TABLE, Key=key("P#1"))
    clock.now += IDEMPOTENCY_WINDOW_S
    db.transact_write_items(TransactItems=[tx_put(key("P#1"))], ClientRequestToken="token-1")
    assert get(db, "P#1") == key("P#1")
    clock.now += IDEMPOTENCY_WINDOW_S + 1
    db.transact_write_items(TransactItems=[tx_put(key("P#2"))], ClientRequestToken="token-1")
    assert get(db, "P#2") == key("P#2")


def test_a_cancelled_transaction_leaves_its_token_unused(db: MemoryDynamoDB) -> None:
    put(db, "P#1")
    items = [tx_put(key("P#1"), "attribute_not_exists(PK)")]
    error_of(lambda: db.transact_write_items(TransactItems=items, ClientRequestToken="t"))
    db.delete_item(TableName=TABLE, Key=key("P#1"))
    db.transact_write_items(TransactItems=items, ClientRequestToken="t")
    assert get(db, "P#1") == key("P#1")


# ---- the stream ----------------------------------------------------------------------------------


def test_every_effective_write_is_one_stream_record(db: MemoryDynamoDB, clock: Clock) -> None:
    first = put(db, "P#1", v=n(1))
    put(db, "P#1", v=n(1))  # identical: no record
    second = put(db, "P#1", v=n(2))
    db.delete_item(TableName=TABLE, Key=key("P#1"))
    db.delete_item(TableName=TABLE, Key=key("P#1"))  # already gone: no record
    records = db.drain_stream()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    bodies = [r["dynamodb"] for r in records]
    assert all(body["Keys"] == key("P#1") for body in bodies)
    assert all(body["StreamViewType"] == "NEW_AND_OLD_IMAGES" for body in bodies)
    assert all(body["ApproximateCreationDateTime"] == int(clock.now) for body in bodies)
    assert (bodies[0]["NewImage"], "OldImage" in bodies[0]) == (first, False)
    assert (bodies[1]["OldImage"], bodies[1]["NewImage"]) == (first, second)
    assert (bodies[2]["OldImage"], "NewImage" in bodies[2]) == (second, False)
    numbers = [int(body["SequenceNumber"]) for body in bodies]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 3
    assert (
        records[0]["eventSourceARN"]
        == db.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    )
    assert db.drain_stream() == []


def test_drained_records_are_copies(db: MemoryDynamoDB) -> None:
    put(db, "P#1", v=n(1))
    (record,) = db.drain_stream()
    record["dynamodb"]["NewImage"]["v"]["N"] = "99"
    assert get(db, "P#1") == {**key("P#1"), "v": n(1)}


def test_a_transaction_records_each_item_it_changes(db: MemoryDynamoDB) -> None:
    db.transact_write_items(TransactItems=[tx_put(key("P#1")), tx_put(key("P#2", "EVT#1"))])
    records = db.drain_stream()
    assert [r["dynamodb"]["Keys"] for r in records] == [key("P#1"), key("P#2", "EVT#1")]


# ---- write units ---------------------------------------------------------------------------------


def test_item_size_follows_the_published_rule() -> None:
    item = {
        "PK": s("P#1"),  # 2 + 3
        "n": n("12345"),  # 1 + ceil(5 / 2) + 1
        "flag": {"BOOL": True},  # 4 + 1
        "none": {"NULL": True},  # 4 + 1
        "name": s("\u00e9"),  # 4 + 2 (two UTF-8 bytes)
        "l": {"L": [s("ab"), n(7)]},  # 1 + 3 + (1 + 2) + (1 + 2)
    }
    assert item_size(item) == 5 + 5 + 5 + 5 + 6 + 10


def test_write_units_per_kilobyte_and_doubled_in_transactions(db: MemoryDynamoDB) -> None:
    # PK(2) + "P#1"(3) + SK(2) + "ORDER"(5) + "blob"(4) = 16 bytes around the payload.
    db.put_item(TableName=TABLE, Item={**key("P#1"), "blob": s("x" * (1024 - 16))})
    assert db.write_units() == 1
    db.put_item(TableName=TABLE, Item={**key("P#1"), "blob": s("x" * (1025 - 16))})
    assert db.write_units() == 1 + 2
    # A smaller item replacing a larger one costs the larger size.
    db.put_item(TableName=TABLE, Item=key("P#1"))
    assert db.write_units() == 1 + 2 + 2
    db.transact_write_items(TransactItems=[tx_put(key("P#2"))])
    assert db.write_units() == 1 + 2 + 2 + 2
    assert db.calls_by_operation == {"CreateTable": 1, "PutItem": 3, "TransactWriteItems": 1}


def test_failed_conditional_writes_are_billed(db: MemoryDynamoDB) -> None:
    put(db, "P#1")
    error_of(
        lambda: db.put_item(
            TableName=TABLE, Item=key("P#1"), ConditionExpression="attribute_not_exists(PK)"
        )
    )
    assert db.write_units() == 2


def test_index_writes_are_billed_only_when_the_index_changes(db: MemoryDynamoDB) -> None:
    due = {"due_pk": s("DUE#0"), "due_sk": s("a")}
    put(db, "P#1", **due)
    put(db, "P#1", **due, other=s("not projected"))
    put(db, "P#1", due_pk=s("DUE#0"), due_sk=s("b"))  # key change: delete + put
    put(db, "P#1")  # leaves the index: a delete
    by_index = db.write_units_by_index()
    assert by_index[f"{TABLE}/due"] == 1 + 0 + 2 + 1
    assert by_index[f"{TABLE}/review"] == 0
    assert by_index[TABLE] == 4
    assert db.write_units() == sum(by_index.values())


def test_an_included_attribute_change_is_one_index_write(legacy_db: MemoryDynamoDB) -> None:
    db = legacy_db
    status = {"status_pk": s("RECEIVED#2026-11-22"), "status_sk": s("t#P#1")}
    put(db, "P#1", **status, updated_at=s("t1"), request=s("r"))
    put(db, "P#1", **status, updated_at=s("t2"), request=s("r"))  # projected: 1 write
    put(db, "P#1", **status, updated_at=s("t2"), request=s("r2"))  # not projected: none
    assert db.write_units_by_index()[f"{TABLE}/by-status-day"] == 2


# ---- concurrency ---------------------------------------------------------------------------------


def test_each_call_is_atomic_under_threads(db: MemoryDynamoDB) -> None:
    def create(i: int) -> bool:
        try:
            db.put_item(
                TableName=TABLE,
                Item={**key("P#RACE"), "winner": n(i)},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(64)))
    assert results.count(True) == 1
    assert len(db.drain_stream()) == 1
