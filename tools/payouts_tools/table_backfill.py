"""The orders table's migration to the by-day index (docs/table-migration.md): give every order
written before it its ``day_pk``, and later remove the legacy index's attributes.

Both passes read the table with a parallel Scan (never run by the system itself: this is a
one-off operator tool) and touch ORDER items only, one conditional ``UpdateItem`` each:

- ``add-day-key``: ``SET day_pk`` on an order that has none, on condition that the order exists
  and still has none. It never changes the status or the version, so no conditional transition
  of the store is disturbed (they condition on status and version), and the stream consumer
  publishes nothing for it (it publishes on a changed status or review flag only). A store write
  racing it carries ``day_pk`` already (every order the step-1 code writes does): the condition
  then fails and the order is counted as done by someone else.
- ``remove-legacy``: ``REMOVE`` the legacy attributes (by-status-day's keys and the
  denormalised amount, currency and method it projected) from orders that have ``day_pk``, once
  the by-status-day index is gone. Refused while the index exists: it would lose entries.

Both are idempotent (a second run updates nothing) and paced: at most ``items_per_second``
updates a second across all segments, so the table's live traffic keeps its capacity.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from payouts.store import keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef

LEGACY_ATTRIBUTES: Final = ("status_pk", "status_sk", "amount_value", "currency", "method")
"""What only the by-status-day index needed on an order item."""

# Scan pages stay small so progress is reported often and a segment never holds much.
_PAGE_SIZE: Final = 500
# Problems are listed by payout id, up to this many (the count is always exact).
_PROBLEMS_SHOWN: Final = 20
_READ_ATTRIBUTES: Final = ("PK", "SK", "created_at", "day_pk", *LEGACY_ATTRIBUTES)
# An update of an item inside a running store transaction is refused (TransactionConflict, which
# botocore does not retry): asked again after a short pause, this many times in all.
_UPDATE_ATTEMPTS: Final = 5
_CONFLICT_PAUSE_S: Final = 0.05


class Pass(StrEnum):
    """Which pass of the migration to run."""

    ADD_DAY_KEY = "add-day-key"
    REMOVE_LEGACY = "remove-legacy"


class BackfillRefused(Exception):
    """The table is not in the state this pass needs; nothing was changed."""


@dataclass(frozen=True)
class BackfillOptions:
    """How to run a pass."""

    which: Pass = Pass.ADD_DAY_KEY
    segments: int = 4
    items_per_second: float = 50.0
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.segments <= 64:
            raise ValueError(f"segments must be 1 to 64, not {self.segments}")
        if self.items_per_second <= 0:
            raise ValueError(f"items per second must be positive, not {self.items_per_second}")


@dataclass
class BackfillCounts:
    """What a pass saw and did (a dry run counts what it would update as ``updated``)."""

    scanned: int = 0
    updated: int = 0
    already_done: int = 0
    """Orders that needed nothing: day_pk already there, or no legacy attribute left."""
    done_concurrently: int = 0
    """Orders a concurrent write gave day_pk (or removed) between the Scan and the update."""
    not_orders: int = 0
    """Evidence, callback marks, lease, setting and breaker items: never touched."""
    problems: int = 0
    """Orders this pass cannot handle (no readable created_at; no day_pk to keep when removing
    the legacy attributes): the migration is not finished while there are any."""
    problem_ids: list[str] = field(default_factory=list)

    def add(self, other: BackfillCounts) -> None:
        """Add ``other``'s counts to these."""
        self.scanned += other.scanned
        self.updated += other.updated
        self.already_done += other.already_done
        self.done_concurrently += other.done_concurrently
        self.not_orders += other.not_orders
        self.problems += other.problems
        room = _PROBLEMS_SHOWN - len(self.problem_ids)
        self.problem_ids.extend(other.problem_ids[: max(room, 0)])

    def snapshot(self) -> BackfillCounts:
        """A copy, for a progress report."""
        return replace(self, problem_ids=list(self.problem_ids))


type Progress = Callable[[BackfillCounts], None]
"""Told the running totals after every Scan page of every segment."""


class Pacer:
    """At most ``per_second`` calls of ``wait`` return per second, across threads."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()

    def wait(self) -> None:
        """Return when the next call is due (each call books the next slot)."""
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


def run_backfill(
    client: DynamoDBClient,
    table: str,
    options: BackfillOptions,
    *,
    progress: Progress | None = None,
    pacer: Pacer | None = None,
) -> BackfillCounts:
    """Run one pass over ``table``; return its counts. Raises ``BackfillRefused`` (changing
    nothing) when the table's indexes say this pass must not run yet."""
    _check_indexes(client, table, options.which)
    pace = pacer or Pacer(options.items_per_second)
    totals = BackfillCounts()
    lock = threading.Lock()

    def run_segment(segment: int) -> None:
        for page in _scan_pages(client, table, segment, options.segments):
            counts = BackfillCounts()
            for item in page:
                counts.add(_handle(client, table, item, options, pace))
            with lock:
                totals.add(counts)
                if progress is not None:
                    progress(totals.snapshot())

    with ThreadPoolExecutor(options.segments, thread_name_prefix="backfill") as pool:
        # list(): a failed segment's exception is raised here, not lost.
        list(pool.map(run_segment, range(options.segments)))
    return totals


def _check_indexes(client: DynamoDBClient, table: str, which: Pass) -> None:
    described = client.describe_table(TableName=table)["Table"]
    # An index being deleted is gone for this purpose: nothing reads it any more. One being
    # created is there: writes reach it, and it backfills from the table on its own.
    indexes = {
        index["IndexName"]
        for index in described.get("GlobalSecondaryIndexes", [])
        if index.get("IndexStatus") != "DELETING"
    }
    if which is Pass.ADD_DAY_KEY and keys.DAY_INDEX not in indexes:
        raise BackfillRefused(
            f"{table} has no {keys.DAY_INDEX} index: deploy step 1 first "
            "(LegacyStatusIndex=true), so that every order written from now on has day_pk"
        )
    if which is Pass.REMOVE_LEGACY and keys.STATUS_INDEX in indexes:
        raise BackfillRefused(
            f"{table} still has the {keys.STATUS_INDEX} index: removing its attributes would "
            "drop its entries; deploy step 3 first (LegacyStatusIndex=false)"
        )


def _scan_pages(
    client: DynamoDBClient, table: str, segment: int, segments: int
) -> Iterator[list[Mapping[str, Any]]]:
    names = {f"#a{position}": name for position, name in enumerate(_READ_ATTRIBUTES)}
    scan: ScanInputTypeDef = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": segments,
        "Limit": _PAGE_SIZE,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }
    while True:
        answer = client.scan(**scan)
        yield list(answer.get("Items", []))
        last = answer.get("LastEvaluatedKey")
        if not last:
            return
        scan = {**scan, "ExclusiveStartKey": last}


def _handle(
    client: DynamoDBClient,
    table: str,
    item: Mapping[str, Any],
    options: BackfillOptions,
    pace: Pacer,
) -> BackfillCounts:
    counts = BackfillCounts(scanned=1)
    pk, sk = item["PK"].get("S", ""), item["SK"].get("S", "")
    if sk != keys.ORDER_SK or not pk.startswith(keys.order_pk("")):
        counts.not_orders = 1
        return counts
    payout_id = keys.payout_id_from_pk(pk)
    if options.which is Pass.ADD_DAY_KEY:
        update = _day_key_update(item, payout_id)
    else:
        update = _legacy_removal(item)
    if update is None:
        counts.already_done = 1
    elif isinstance(update, str):
        counts.problems = 1
        counts.problem_ids.append(f"{payout_id}: {update}")
    elif options.dry_run:
        counts.updated = 1
    else:
        pace.wait()
        if _update(client, table, {"PK": item["PK"], "SK": item["SK"]}, update):
            counts.updated = 1
        else:
            counts.done_concurrently = 1
    return counts


type _Update = dict[str, Any]
"""UpdateItem arguments beyond the table and key."""


def _day_key_update(item: Mapping[str, Any], payout_id: str) -> _Update | str | None:
    """The update giving the order its day_pk; None when it has one; a problem as text."""
    if "day_pk" in item:
        return None
    try:
        created_at = keys.parse_timestamp(item["created_at"]["S"])
    except (KeyError, ValueError):
        return "no readable created_at"
    return {
        "UpdateExpression": "SET day_pk = :day_pk",
        # Exists: never create an item; no day_pk: never overwrite a concurrent writer's.
        "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(day_pk)",
        "ExpressionAttributeValues": {":day_pk": {"S": keys.day_partition(created_at, payout_id)}},
    }


def _legacy_removal(item: Mapping[str, Any]) -> _Update | str | None:
    """The update removing the legacy attributes; None when none is left; a problem as text."""
    present = [name for name in LEGACY_ATTRIBUTES if name in item]
    if not present:
        return None
    if "day_pk" not in item:
        return "no day_pk: run the add-day-key pass first"
    names = {f"#a{position}": name for position, name in enumerate(present)}
    return {
        "UpdateExpression": "REMOVE " + ", ".join(names),
        # Only from an order the by-day index lists (a write since the Scan keeps it so).
        "ConditionExpression": "attribute_exists(day_pk)",
        "ExpressionAttributeNames": names,
    }


def _update(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    update: _Update,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Apply ``update``; False when its condition failed (a concurrent write got there)."""
    for attempt in range(_UPDATE_ATTEMPTS):
        try:
            client.update_item(TableName=table, Key=key, **update)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return False
            if code != "TransactionConflictException" or attempt == _UPDATE_ATTEMPTS - 1:
                raise
            sleep(_CONFLICT_PAUSE_S * 2**attempt)
        else:
            return True
    raise AssertionError("unreachable: the last attempt returns or raises")
