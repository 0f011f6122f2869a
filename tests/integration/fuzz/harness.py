"""What the fuzz tests share: the in-memory table, writes read back from its stream, an executor
that runs the services' blocking store calls inline (no thread hops: 10,000 messages in seconds)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from payouts.store import OrderStore
from payouts.store.codec import from_attribute_values
from payouts_tools.sim.dynamodb import MemoryDynamoDB
from tests.support.cfn import load_template, table_create_kwargs


class InlineExecutor(Executor):
    """Runs each submitted call at once, in the caller's thread."""

    def submit[R](self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # handed to the awaiting coroutine, as a thread pool would
            future.set_exception(error)
        return future


@dataclass(frozen=True)
class Write:
    """One effective write to the table, as its stream record tells it."""

    event: str  # INSERT, MODIFY, REMOVE
    pk: str
    sk: str
    new: dict[str, Any]
    old: dict[str, Any]


class MemoryTable:
    """A fresh orders table (template.yaml's own properties) in MemoryDynamoDB."""

    def __init__(self) -> None:
        self.memory = MemoryDynamoDB()
        self.name = f"orders-{uuid.uuid4().hex[:8]}"
        self.memory.create_table(**table_create_kwargs(load_template(), "OrdersTable", self.name))
        self.store = OrderStore(self.memory.as_client(), self.name)

    def writes(self) -> list[Write]:
        """The effective writes since the last call (each write costs one stream record)."""
        return [_write(record) for record in self.memory.drain_stream()]


def _write(record: dict[str, Any]) -> Write:
    change = record["dynamodb"]
    keys = from_attribute_values(change["Keys"])
    return Write(
        event=record["eventName"],
        pk=str(keys["PK"]),
        sk=str(keys["SK"]),
        new=from_attribute_values(change.get("NewImage", {})),
        old=from_attribute_values(change.get("OldImage", {})),
    )


# ---- oracles, independent of the code under test ---------------------------------------------

NESTING_LIMIT = 16  # strict_json.MAX_DEPTH, restated: the test must not trust the code's constant


class _Duplicate(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise _Duplicate
    return dict(pairs)


def parsed_leniently(text: str | bytes) -> Any:
    """``text`` as plain ``json.loads`` reads it (last copy of a key wins), or None."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def duplicate_or_deep(text: str | bytes) -> bool:
    """True when ``text`` is JSON with a key twice in some object, or nested deeper than the
    limit: a document that means different things to different readers, or that a recursive
    walk cannot read."""
    try:
        document = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except _Duplicate:
        return True
    except RecursionError:
        return True
    except ValueError:
        return False
    return depth(document) > NESTING_LIMIT


def depth(document: Any) -> int:
    """How deep arrays and objects nest in ``document`` (iteratively: any depth)."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest
