"""The migration's backfill (docs/table-migration.md, step 2 and step 4) against a real DynamoDB
Local engine: a table with the step-1 schema (by-status-day and by-day) holding orders written
before by-day existed, beside evidence, lease, setting and breaker items.

(The simulator's in-memory table has no UpdateItem, so the backfill runs only here.)
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.domain.status import OrderStatus
from payouts.store import Applied, Created, OrderStore, keys
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE
from payouts.store.provider_state import ProviderStateStore
from payouts_tools.table_backfill import (
    LEGACY_ATTRIBUTES,
    BackfillCounts,
    BackfillOptions,
    BackfillRefused,
    Pacer,
    Pass,
    run_backfill,
)
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.dynamodb_local import dynamodb_client
from tests.support.orders import T0, make_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

S = OrderStatus
pytestmark = pytest.mark.dynamodb_local

# Created over three days, in every kind of status an order can be in when the stack migrates.
PATHS: dict[str, tuple[int, list[OrderStatus]]] = {
    "PO-RECEIVED": (0, []),
    "PO-SUBMITTING": (0, [S.SUBMITTING]),
    "PO-SUBMITTED": (1, [S.SUBMITTING, S.SUBMITTED]),
    "PO-UNKNOWN": (1, [S.SUBMITTING, S.UNKNOWN]),
    "PO-SUCCEEDED": (1, [S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED]),
    "PO-FAILED": (2, [S.SUBMITTING, S.SUBMITTED, S.FAILED]),
    "PO-REJECTED": (2, [S.SUBMITTING, S.REJECTED]),
    **{f"PO-BULK-{number:02d}": (number % 3, [S.SUBMITTING]) for number in range(20)},
}
FAST = BackfillOptions(segments=3, items_per_second=10_000)


class Table:
    """The step-1 table, its client, and a store over it in either index mode."""

    def __init__(self, client: DynamoDBClient, name: str, monkeypatch: pytest.MonkeyPatch):
        self.client = client
        self.name = name
        self._monkeypatch = monkeypatch

    def store(self, *, legacy: bool) -> OrderStore:
        self._monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, "true" if legacy else "false")
        return OrderStore(self.client, self.name)

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every item, by (PK, SK) (a Scan: this is a test)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        scan: dict[str, Any] = {"TableName": self.name, "ConsistentRead": True}
        while True:
            answer = self.client.scan(**scan)
            for item in answer["Items"]:
                found[(item["PK"]["S"], item["SK"]["S"])] = dict(item)
            if "LastEvaluatedKey" not in answer:
                return found
            scan["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def orders(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {key: item for key, item in self.items().items() if key[1] == keys.ORDER_SK}

    def indexes(self) -> set[str]:
        described = self.client.describe_table(TableName=self.name)["Table"]
        return {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}

    def delete_legacy_index(self) -> None:
        """Step 3's table change, finished (as when CloudFormation's update completes)."""
        self.client.update_table(
            TableName=self.name,
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": keys.STATUS_INDEX}}],
        )
        for _ in range(300):
            if keys.STATUS_INDEX not in self.indexes():
                return
            time.sleep(0.1)
        raise AssertionError(f"{keys.STATUS_INDEX} still listed after 30 s")


@pytest.fixture
def table(dynamodb_local_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    client = dynamodb_client(dynamodb_local_endpoint)
    name = f"orders-{uuid.uuid4().hex[:12]}"
    step_one = table_create_kwargs(
        load_template(), "OrdersTable", name, {"LegacyStatusIndex": "true"}
    )
    client.create_table(**step_one)
    yield Table(client, name, monkeypatch)
    client.delete_table(TableName=name)


def evidence(summary: str) -> Evidence:
    return Evidence(kind=EvidenceKind.TRANSITION, summary=summary, at=T0)


def write_pre_migration_orders(table: Table) -> dict[str, Order]:
    """Orders as the code before the migration wrote them: the legacy attributes, no day_pk."""
    store = table.store(legacy=True)
    written: dict[str, Order] = {}
    for payout_id, (day, path) in PATHS.items():
        when = T0 + timedelta(days=day, minutes=len(written))
        created = store.create(make_request(payout_id), when, next_check_at=None)
        assert isinstance(created, Created)
        order = created.order
        for status in path:
            changes = {"provider": "pg_v2"} if status is S.SUBMITTING else {}
            moved = store.transition(order, status, evidence(f"to {status}"), when, **changes)
            assert isinstance(moved, Applied), moved
            order = moved.order
        written[payout_id] = order
    for key in table.orders():
        table.client.update_item(
            TableName=table.name,
            Key={"PK": {"S": key[0]}, "SK": {"S": key[1]}},
            UpdateExpression="REMOVE day_pk",
        )
    return written


def write_other_items(table: Table) -> None:
    """Items that are not orders: the backfill must never touch them."""
    store = table.store(legacy=True)
    assert store.acquire_lease("reconcile", "execution-1", timedelta(minutes=5), T0)
    states = ProviderStateStore(table.client, table.name)
    paused = ProviderState(
        provider="pg_v2",
        paused=True,
        reason="test pause",
        changed_by="operator:test",
        set_by=PausedBy.PERSON,
        since=T0,
        version=1,
    )
    assert states.put_if_unchanged(paused, None)
    states.record_failure("pg_v2", T0, timedelta(minutes=1), "timeout")


@pytest.fixture
def migrating(table: Table) -> dict[str, Order]:
    """The step-1 table holding pre-migration orders and other items."""
    written = write_pre_migration_orders(table)
    write_other_items(table)
    assert not [item for item in table.orders().values() if "day_pk" in item]
    return written


def every_order_by_day(table: Table) -> dict[str, Order]:
    """Every order the by-day reads find, over the days the orders were created on."""
    store = table.store(legacy=False)
    found: dict[str, Order] = {}
    for day in range(3):
        for status in S:
            for order in store.orders_created_on(status, T0 + timedelta(days=day)):
                found[order.payout_id] = order
    return found


def test_every_order_gets_its_day_key_and_nothing_else_changes(
    table: Table, migrating: dict[str, Order]
) -> None:
    before = table.items()

    counts = run_backfill(table.client, table.name, FAST)

    after = table.items()
    orders = {key for key in before if key[1] == keys.ORDER_SK}
    assert (counts.updated, counts.already_done, counts.problems) == (len(PATHS), 0, 0)
    assert counts.not_orders == len(before) - len(orders) > 0
    assert counts.scanned == len(before)
    assert set(after) == set(before)
    for key, item in after.items():
        if key in orders:
            payout_id = keys.payout_id_from_pk(key[0])
            created_at = migrating[payout_id].created_at
            assert item.pop("day_pk") == {"S": keys.day_partition(created_at, payout_id)}
        assert item == before[key], key  # status, version, evidence, lease... untouched


def test_after_the_backfill_the_by_day_reads_find_every_order_unchanged(
    table: Table, migrating: dict[str, Order]
) -> None:
    run_backfill(table.client, table.name, FAST)

    found = every_order_by_day(table)

    assert found == migrating
    listed = table.store(legacy=False).list_by_status(
        S.SUBMITTING, T0, T0 + timedelta(days=2), limit=1000
    )
    legacy = table.store(legacy=True).list_by_status(
        S.SUBMITTING, T0, T0 + timedelta(days=2), limit=1000
    )
    assert [row.payout_id for row in listed] == [row.payout_id for row in legacy]
    assert len(listed) == 21


def test_a_second_run_updates_nothing(table: Table, migrating: dict[str, Order]) -> None:
    run_backfill(table.client, table.name, FAST)
    before = table.items()

    again = run_backfill(table.client, table.name, FAST)

    assert (again.updated, again.already_done, again.problems) == (0, len(migrating), 0)
    assert table.items() == before


def test_a_dry_run_counts_and_writes_nothing(table: Table, migrating: dict[str, Order]) -> None:
    before = table.items()

    counts = run_backfill(
        table.client, table.name, BackfillOptions(segments=2, items_per_second=1, dry_run=True)
    )

    assert counts.updated == len(migrating)
    assert table.items() == before


def test_orders_written_by_the_new_code_are_already_done(
    table: Table, migrating: dict[str, Order]
) -> None:
    store = table.store(legacy=True)  # step 1's functions: both indexes' attributes
    created = store.create(make_request("PO-AFTER-STEP-1"), T0, next_check_at=None)
    assert isinstance(created, Created)

    counts = run_backfill(table.client, table.name, FAST)

    assert (counts.updated, counts.already_done) == (len(migrating), 1)


class _ConcurrentWriter(Pacer):
    """Before the first update, a "store write" gives every order its day_pk (as a full Put of
    the new code would): the backfill's updates must then all lose, and overwrite nothing."""

    def __init__(self, write_all: Callable[[], None]) -> None:
        super().__init__(10_000)
        self._write_all: Callable[[], None] | None = write_all
        self._first = threading.Lock()

    def wait(self) -> None:
        with self._first:  # every segment's first update waits for the whole concurrent write
            if self._write_all is not None:
                self._write_all()
                self._write_all = None
        super().wait()


def test_a_concurrent_writers_day_key_is_never_overwritten(
    table: Table, migrating: dict[str, Order]
) -> None:
    def write_all() -> None:
        for key in table.orders():
            table.client.update_item(
                TableName=table.name,
                Key={"PK": {"S": key[0]}, "SK": {"S": key[1]}},
                UpdateExpression="SET day_pk = :mine",
                ExpressionAttributeValues={":mine": {"S": "written-by-the-store"}},
            )

    counts = run_backfill(table.client, table.name, FAST, pacer=_ConcurrentWriter(write_all))

    assert (counts.updated, counts.done_concurrently) == (0, len(migrating))
    assert {item["day_pk"]["S"] for item in table.orders().values()} == {"written-by-the-store"}


def test_progress_is_reported_with_running_totals(
    table: Table, migrating: dict[str, Order]
) -> None:
    reports: list[BackfillCounts] = []

    final = run_backfill(table.client, table.name, FAST, progress=reports.append)

    assert len(reports) >= FAST.segments  # at least one page per segment
    assert [report.scanned for report in reports] == sorted(r.scanned for r in reports)
    assert reports[-1] == final


def test_remove_legacy_is_refused_while_the_legacy_index_exists(
    table: Table, migrating: dict[str, Order]
) -> None:
    run_backfill(table.client, table.name, FAST)
    before = table.items()

    with pytest.raises(BackfillRefused, match="step 3"):
        run_backfill(table.client, table.name, BackfillOptions(which=Pass.REMOVE_LEGACY))
    assert table.items() == before


def test_after_step_three_the_legacy_attributes_go_and_orders_stay_readable(
    table: Table, migrating: dict[str, Order]
) -> None:
    run_backfill(table.client, table.name, FAST)
    table.delete_legacy_index()
    assert keys.STATUS_INDEX not in table.indexes()
    others = {key: item for key, item in table.items().items() if key[1] != keys.ORDER_SK}
    remove = BackfillOptions(which=Pass.REMOVE_LEGACY, segments=3, items_per_second=10_000)

    counts = run_backfill(table.client, table.name, remove)
    again = run_backfill(table.client, table.name, remove)

    assert (counts.updated, counts.problems) == (len(migrating), 0)
    assert (again.updated, again.already_done) == (0, len(migrating))
    for item in table.orders().values():
        assert not set(LEGACY_ATTRIBUTES) & set(item)
        assert "day_pk" in item
    assert {k: v for k, v in table.items().items() if k[1] != keys.ORDER_SK} == others
    assert every_order_by_day(table) == migrating
    store = table.store(legacy=False)
    assert store.get("PO-SUCCEEDED") == migrating["PO-SUCCEEDED"]
    (row,) = store.list_by_status(S.SUCCEEDED, T0, T0 + timedelta(days=2))
    assert (row.payout_id, row.amount_value, row.currency) == ("PO-SUCCEEDED", 50000, "CNY")


def test_remove_legacy_leaves_an_order_without_day_key_and_says_so(
    table: Table, migrating: dict[str, Order]
) -> None:
    # The add pass was never run: removing would leave orders in no ops index at all.
    table.delete_legacy_index()
    before = table.items()

    counts = run_backfill(table.client, table.name, BackfillOptions(which=Pass.REMOVE_LEGACY))

    assert (counts.updated, counts.problems) == (0, len(migrating))
    assert "run the add-day-key pass first" in counts.problem_ids[0]
    assert len(counts.problem_ids) == 20  # listed up to 20, counted all
    assert table.items() == before


def test_the_add_pass_is_refused_before_step_one(
    dynamodb_local_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = dynamodb_client(dynamodb_local_endpoint)
    name = f"orders-{uuid.uuid4().hex[:12]}"
    deployed = table_create_kwargs(
        load_template(), "OrdersTable", name, {"LegacyStatusIndex": "true"}
    )
    deployed["GlobalSecondaryIndexes"] = [
        index for index in deployed["GlobalSecondaryIndexes"] if index["IndexName"] != "by-day"
    ]
    deployed["AttributeDefinitions"] = [
        definition
        for definition in deployed["AttributeDefinitions"]
        if definition["AttributeName"] not in ("day_pk", "created_at")
    ]
    client.create_table(**deployed)
    try:
        with pytest.raises(BackfillRefused, match="step 1"):
            run_backfill(client, name, FAST)
    finally:
        client.delete_table(TableName=name)
