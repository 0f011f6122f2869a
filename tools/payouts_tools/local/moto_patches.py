"""moto's server made safe and fast enough for a concurrent local stack.

Two properties of moto 5.2's DynamoDB matter once many threads write at once, as the local stack's
handlers, event sources and the state machine interpreter do through the threaded moto server:

1. **Operations are not atomic.** A conditional write reads the item, evaluates the condition,
   then writes, with no lock: two racing conditional writes on one version could both succeed,
   which would defeat the order store's optimistic locking (and could send a payout twice). So
   every DynamoDB API call is serialised here, as DynamoDB itself serialises writes to an item.
2. **Every TransactWriteItems deep-copies each table it touches** (its rollback backup). That is
   O(table size, stream included) per transaction: a demo of a few hundred payouts spends minutes
   copying, and the copy fails with "dictionary changed size during iteration" when another
   thread writes meanwhile. Here the transaction's conditions are checked first, under the lock,
   against the same state moto would check them against (the items of one transaction are
   distinct, so earlier operations cannot change what later conditions see); only a transaction
   whose conditions all hold reaches moto's own code, which then cannot fail on a condition, so
   its table backup is skipped (``deepcopy`` of a ``Table`` returns the table itself).

And one cost of its server: every request looks its service up by listing moto's package
directory (``moto.backends.list_of_moto_modules``: a listdir and ~150 isdir calls per request,
about a quarter of a simple request's time). The list never changes while moto is loaded, so it
is computed once.

This reaches into moto's internals: it lives in this one module, checks the moto version (as
``moto_lambda`` does), and ``tests/e2e/test_local_moto_patches.py`` holds it to the contract.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from types import ModuleType, SimpleNamespace, TracebackType
from typing import Any, Final, Self
from unittest import mock

from payouts_tools.local.moto_lambda import check_moto_version

_CALL_ACTION: Final = "moto.dynamodb.responses.DynamoHandler.call_action"
_TRANSACT: Final = "moto.dynamodb.models.DynamoDBBackend.transact_write_items"
_COPY_MODULE: Final = "moto.dynamodb.models.copy"
_MODULE_LIST: Final = "moto.backends.list_of_moto_modules"
_CONDITION_FAILED: Final = "The conditional request failed"


class LocalMotoPatches:
    """While active: DynamoDB calls are serialised, transactions are checked before moto runs
    them (without its full-table copy), and the server's module list is computed once.
    Process-wide, like moto itself."""

    _lock: Final = threading.RLock()

    def __init__(self) -> None:
        self._patches: list[Any] = []

    def __enter__(self) -> Self:
        check_moto_version()
        from moto import backends  # noqa: PLC0415 - moto loads on use
        from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
        from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

        call_action = DynamoHandler.call_action
        transact = DynamoDBBackend.transact_write_items
        self._patches = [
            mock.patch(_CALL_ACTION, _serialised(call_action)),
            mock.patch(_TRANSACT, _prechecked(transact)),
            mock.patch(_COPY_MODULE, _copy_without_table_backups()),
            mock.patch(_MODULE_LIST, _computed_once(backends.list_of_moto_modules)),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for patch in reversed(self._patches):
            patch.stop()
        self._patches.clear()


def _computed_once(list_modules: Callable[[], Iterable[str]]) -> Callable[[], tuple[str, ...]]:
    modules = tuple(list_modules())
    return lambda: modules


def _serialised(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def serialised(handler: Any) -> Any:
        with LocalMotoPatches._lock:
            return call_action(handler)

    return serialised


def _prechecked(transact: Callable[[Any, list[dict[str, Any]]], None]) -> Callable[..., None]:
    def prechecked(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        with LocalMotoPatches._lock:
            check_conditions(backend, transact_items)
            transact(backend, transact_items)

    return prechecked


def check_conditions(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """Raise moto's own TransactionCanceledException (reasons per operation, the old item where
    ``ReturnValuesOnConditionCheckFailure`` is ``ALL_OLD``) when any condition does not hold.

    Malformed transactions are left to moto's own code, which reports them as AWS does.
    """
    from moto.dynamodb.comparisons import get_filter_expression  # noqa: PLC0415
    from moto.dynamodb.exceptions import TransactionCanceledException  # noqa: PLC0415

    reasons: list[tuple[str | None, str | None, Any]] = []
    for item in transact_items:
        if len(item) != 1:
            return
        op_type, op = next(iter(item.items()))
        current = _current_item(backend, op_type, op)
        if current is _MALFORMED:
            return
        condition = op.get("ConditionExpression")
        holds = condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current)
        if holds:
            reasons.append((None, None, None))
            continue
        old = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        reasons.append(("ConditionalCheckFailed", _CONDITION_FAILED, old))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)


_MALFORMED: Final = object()


def _current_item(backend: Any, op_type: str, op: dict[str, Any]) -> Any:
    """The item an operation targets as stored now (None if absent), or _MALFORMED."""
    try:
        if op_type == "Put":
            table = backend.get_table(op["TableName"])
            attributes = op["Item"]
            key = {table.hash_key_attr: attributes[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attributes[table.range_key_attr]
        elif op_type in {"ConditionCheck", "Delete", "Update"}:
            key = op["Key"]
        else:
            return _MALFORMED
        return backend.get_item(op["TableName"], key)
    except Exception:  # noqa: BLE001 - moto's own code reports it properly
        return _MALFORMED


def _copy_without_table_backups() -> ModuleType | SimpleNamespace:
    """A stand-in for the ``copy`` module inside moto's DynamoDB models: ``deepcopy`` of a
    Table (the transaction backup) returns the table; everything else is copied as before."""
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    return SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
