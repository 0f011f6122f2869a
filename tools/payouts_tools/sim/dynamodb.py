"""An in-memory DynamoDB that the real ``OrderStore`` runs on unchanged, fast enough to simulate.

``MemoryDynamoDB`` answers the low-level boto3 client calls this project makes -- ``put_item``,
``get_item``, ``delete_item``, ``query`` (table and GSIs), ``transact_write_items``, and
``create_table`` / ``describe_table`` / ``delete_table`` -- with the same keyword arguments,
attribute-value dicts (``{"S": "x"}``, ``{"N": "3"}``, ``{"BOOL": True}``) and errors as boto3,
but without serialising, signing or HTTP: a call costs tens of microseconds.

Faithful where the store depends on it:

- Errors are the ``ClientError`` subclasses botocore raises, with the code, message, status,
  ``ResponseMetadata`` and modelled fields real DynamoDB returns: ``Item`` beside a
  ``ConditionalCheckFailedException`` when ``ReturnValuesOnConditionCheckFailure=ALL_OLD``,
  ``CancellationReasons`` (one per action) in a ``TransactionCanceledException``,
  ``ValidationException`` for bad keys, two actions on one item, unused or undefined
  placeholders, reserved words, wrong operand types. Parameters botocore itself rejects raise its
  ``ParamValidationError``.
- Condition, filter and key-condition expressions are parsed once per distinct string (cached)
  and evaluated as DynamoDB does: comparisons ``= <> < <= > >=``, ``BETWEEN``, ``AND``, ``OR``,
  ``NOT``, parentheses, ``attribute_exists``, ``attribute_not_exists``, ``begins_with``,
  ``#name`` and ``:value`` placeholders. Numbers compare as numbers, strings and binaries by
  their bytes; a missing attribute or a type mismatch makes ``=`` and ordering false and ``<>``
  true.
- Writes are atomic per call (one lock), transactions all-or-nothing; ``ClientRequestToken``
  makes a successful transaction idempotent for 10 minutes of the injected clock (the same
  request again succeeds without applying; different actions under the token raise
  ``IdempotentParameterMismatchException``; a cancelled transaction records no token, so its
  retry runs again, as in DynamoDB).
- Global secondary indexes are kept on every write: an item is in an index only while it has all
  of the index's key attributes (sparse indexes), a query returns what the projection holds (table
  keys + index keys + ``INCLUDE``d attributes, or everything for ``ALL``). Every partition is a
  sorted list (bisect), so a query costs O(log n + k) however large the table.
- Query returns items in sort-key order (numbers numerically, strings and binaries by bytes),
  counts ``Limit`` in items evaluated, and returns ``LastEvaluatedKey`` (table keys + index keys)
  whenever it stopped at the limit -- also when nothing more remains, as DynamoDB does (checked
  against DynamoDB Local): the next page is then empty.
- Every effective write appends a DynamoDB Streams record (Lambda event shape) to a buffer read
  with ``drain_stream()``; a put of an item identical to the stored one, or a delete of a missing
  item, changes nothing and records nothing.
- Items are copied on the way in and out: no caller shares a mutable dict with the table.

Cost model (``write_units()``, ``read_units()``, each also ``..._by_index()``), documented:

- item size = sum over attributes of UTF-8 length of the name + size of the value: strings and
  binaries their byte length, numbers ``ceil(significant digits / 2) + 1``, booleans and nulls 1,
  lists and maps 3 + 1 per element + their elements, sets the sum of their members;
- a table write costs ``ceil(size / 1 KB)`` write units (at least 1) of the larger of the old and
  new item; twice that for an action of a successful transaction; a failed conditional
  ``PutItem``/``DeleteItem`` costs as if it had written (AWS bills failed conditional writes); a
  cancelled transaction costs nothing here (AWS's bill for it is not documented precisely);
  a ``ConditionCheck`` action costs nothing here (AWS bills it as a read, which is not counted);
- an index write costs ``ceil(projected size / 1 KB)``: an entry added, removed, or updated
  because a projected attribute changed; an index key change is a removal plus an addition; a
  write that changes nothing projected costs the index nothing. Index writes are not doubled
  inside transactions;
- a read costs ``ceil(bytes / 4 KB)`` read units (at least 1), half that when eventually
  consistent (every GSI query is): ``GetItem`` the item's size (a missing item costs the
  minimum), ``Query`` the sum of the sizes of every entry it evaluated (before any filter; an
  index's entries at their projected size), rounded up once per call (``read_units()``,
  ``read_units_by_index()``).

Not supported (each raises ``NotImplementedError`` or, for expression syntax, a
``ValidationException`` saying so -- never a guess): ``UpdateItem`` and transaction ``Update``
actions (nothing in the project uses them), Scan and batch writes, ``ProjectionExpression`` and
the legacy parameters (``Expected``, ``KeyConditions``...), nested document paths, ``IN``,
``size``/``contains``/``attribute_type``, local secondary indexes, ``ReturnConsumedCapacity``
other than ``NONE``. Not modelled: 1 MB response pages, GSI replication lag (an index is updated
in the same call), TTL expiry, throttling and lost answers (see ``faulty_dynamodb``).
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import itertools
import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import botocore.session
from botocore.errorfactory import BaseClientExceptions, ClientExceptionsFactory
from botocore.exceptions import ClientError, ParamValidationError

from payouts_tools.local import template as local_template

if TYPE_CHECKING:
    from botocore.model import ServiceModel
    from mypy_boto3_dynamodb import DynamoDBClient

type AttributeValue = dict[str, Any]
"""One typed value: ``{"S": "x"}``, ``{"N": "3"}``, ``{"BOOL": True}``..."""

type Item = dict[str, AttributeValue]
"""An item: attribute name -> typed value."""

type KeyValue = str | Decimal | bytes
"""A key attribute's value as it sorts: S as str, N as Decimal, B as bytes."""

type TableKey = tuple[KeyValue, ...]
"""An item's primary key: (hash,) or (hash, range)."""

type Entry = tuple[KeyValue, ...]
"""A position in a sorted partition (see ``_View``)."""

ACCOUNT_ID: Final = "123456789012"
"""The account in ARNs (moto's default, as the local stack uses)."""

IDEMPOTENCY_WINDOW_S: Final = 600.0
"""How long a successful transaction's ClientRequestToken is remembered (10 minutes)."""

MAX_ITEM_BYTES: Final = 400 * 1024
WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096

_TRANSACTION_FACTOR: Final = 2
_MAX_BATCH_GET_KEYS: Final = 100
_MAX_TRANSACT_ITEMS: Final = 100
_MAX_TOKEN_LENGTH: Final = 36
_MAX_NUMBER_DIGITS: Final = 38
_MAX_NUMBER_EXPONENT: Final = 125
_MIN_NUMBER_EXPONENT: Final = -130

_SCALAR_TYPES: Final = frozenset({"S", "N", "B", "BOOL", "NULL"})
_SET_TYPES: Final = frozenset({"SS", "NS", "BS"})
_ALL_TYPES: Final = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_KEY_TYPES: Final = frozenset({"S", "N", "B"})
_ORDERED_TYPES: Final = _KEY_TYPES

_EMPTY_ITEM: Final[Item] = {}

_TABLE_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{3,255}")

_CONDITION_FAILED: Final = "The conditional request failed"
_NOT_FOUND: Final = "Requested resource not found"
_KEY_MISMATCH: Final = "The provided key element does not match the schema"
_BAD_START_KEY: Final = "The provided starting key is invalid: " + _KEY_MISMATCH
_START_OUTSIDE: Final = "The provided starting key does not match the range key predicate"

_RESERVED_WORDS_FILE: Final = Path("dynamodb") / "parsing" / "reserved_keywords.txt"


# ---- errors --------------------------------------------------------------------------------------


class DynamoError(Exception):
    """A DynamoDB error answer, raised inside a handler and turned into botocore's ClientError at
    the API boundary (so handlers need no request id or operation name)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})


def _validation(message: str) -> DynamoError:
    return DynamoError("ValidationException", message)


def _param_error(report: str) -> ParamValidationError:
    return ParamValidationError(report=report)


@functools.cache
def _service_model() -> ServiceModel:
    # botocore's own description of DynamoDB: parameter names and error shapes, read once.
    return botocore.session.get_session().get_service_model("dynamodb")


@functools.cache
def dynamodb_exceptions() -> BaseClientExceptions:
    """The modelled DynamoDB exception classes (``.ConditionalCheckFailedException``...), as a
    boto3 client's ``exceptions`` attribute holds them; every one is a ``ClientError``."""
    return ClientExceptionsFactory().create_client_exceptions(_service_model())


@functools.cache
def _message_field(code: str) -> str | None:
    # botocore copies the body's message into the modelled field too, spelled as the model
    # spells it: "message" for most DynamoDB errors, "Message" for TransactionCanceled.
    shapes = {shape.name: shape for shape in _service_model().error_shapes}
    members: Mapping[str, Any] = getattr(shapes.get(code), "members", {})
    return next((name for name in members if name.lower() == "message"), None)


def response_metadata(request_id: str, status: int, retry_attempts: int = 0) -> dict[str, Any]:
    """``ResponseMetadata`` as botocore reports it for a DynamoDB answer."""
    return {
        "RequestId": request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": {
            "x-amzn-requestid": request_id,
            "content-type": "application/x-amz-json-1.0",
        },
        "RetryAttempts": retry_attempts,
    }


def client_error(
    operation: str,
    code: str,
    message: str,
    *,
    request_id: str,
    status: int = 400,
    fields: Mapping[str, Any] | None = None,
    retry_attempts: int = 0,
    max_attempts_reached: bool = False,
) -> ClientError:
    """The exception botocore raises for this DynamoDB error answer: the modelled subclass of
    ``ClientError`` for ``code``, whose ``response`` holds ``Error``, ``ResponseMetadata`` and the
    modelled fields (``Item``, ``CancellationReasons``...). ``max_attempts_reached`` marks an
    error botocore retried until it gave up (its message then says so, as botocore's does)."""
    metadata = response_metadata(request_id, status, retry_attempts)
    if max_attempts_reached:
        metadata["MaxAttemptsReached"] = True
    response: dict[str, Any] = {
        "Error": {"Message": message, "Code": code},
        "ResponseMetadata": metadata,
    }
    message_field = _message_field(code)
    if message_field is not None:
        response[message_field] = message
    response.update(fields or {})
    error_class: Any = dynamodb_exceptions().from_code(code)
    error: ClientError = error_class(response, operation)
    return error


# ---- attribute values ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _normalise_number(text: str) -> str:
    """DynamoDB's canonical form of a number: no exponent, no leading or trailing zeros."""
    try:
        number = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise _validation("A value provided cannot be converted into a number") from None
    if not number.is_finite():
        raise _validation("A value provided cannot be converted into a number")
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # only NaN and infinities have a letter here
        raise _validation("A value provided cannot be converted into a number")
    significant = list(digits)
    while significant[-1] == 0:
        significant.pop()
        exponent += 1
    if len(significant) > _MAX_NUMBER_DIGITS:
        raise _validation("Attempting to store more than 38 significant digits in a Number")
    magnitude = exponent + len(significant) - 1
    if magnitude > _MAX_NUMBER_EXPONENT:
        raise _validation(
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range"
        )
    if magnitude < _MIN_NUMBER_EXPONENT:
        raise _validation(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    return format(Decimal((sign, tuple(significant), exponent)), "f")


def _normalise_value(value: Any, where: str, name: str = "") -> AttributeValue:
    """A validated copy of one attribute value, numbers and sets in canonical form.
    ``where`` and ``name`` say where it sits, for error messages only."""
    # Fast paths first: nearly every value is one S, N or BOOL (this runs for every attribute
    # of every write).
    if type(value) is dict and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "S" and type(raw) is str:
            return {"S": raw}
        if kind == "N" and type(raw) is str:
            return {"N": _normalise_number(raw)}
        if kind == "BOOL" and type(raw) is bool:
            return {"BOOL": raw}
    return _normalise_any(value, f"{where}.{name}" if name else where)


def _normalise_any(value: Any, where: str) -> AttributeValue:
    if not isinstance(value, Mapping):
        raise _param_error(f"Invalid type for parameter {where}, value: {value!r}, type: dict")
    if len(value) != 1:
        if not value:
            raise _validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported "
                "datatypes"
            )
        raise _validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes"
        )
    ((kind, raw),) = value.items()
    if kind == "S":
        return {"S": _string(raw, where)}
    if kind == "N":
        return {"N": _normalise_number(_string(raw, where))}
    if kind in _SCALAR_TYPES or kind in _SET_TYPES:
        return _normalise_other_scalar(kind, raw, where)
    if kind == "L":
        return {"L": [_normalise_value(member, f"{where}.L") for member in _sequence(raw, where)]}
    if kind == "M":
        if not isinstance(raw, Mapping):
            raise _param_error(f"Invalid type for parameter {where}.M, value: {raw!r}")
        return {"M": {str(n): _normalise_value(v, f"{where}.M", str(n)) for n, v in raw.items()}}
    raise _param_error(
        f'Unknown parameter in {where}: "{kind}", must be one of: {", ".join(_ALL_TYPES)}'
    )


def _normalise_other_scalar(kind: str, raw: Any, where: str) -> AttributeValue:
    if kind == "B":
        return {"B": _binary(raw, where)}
    if kind == "BOOL":
        if not isinstance(raw, bool):
            raise _param_error(f"Invalid type for parameter {where}.BOOL, value: {raw!r}")
        return {"BOOL": raw}
    if kind == "NULL":
        if raw is not True:
            raise _validation(
                "One or more parameter values were invalid: Null attribute value types must "
                "have the value of true"
            )
        return {"NULL": True}
    members = _sequence(raw, where)
    if not members:
        raise _validation(
            "One or more parameter values were invalid: An number set  may not be empty"
            if kind == "NS"
            else "One or more parameter values were invalid: An string set  may not be empty"
        )
    normalised: list[Any]
    if kind == "SS":
        normalised = [_string(member, where) for member in members]
        ordered: list[Any] = sorted(normalised)
    elif kind == "NS":
        normalised = [_normalise_number(_string(member, where)) for member in members]
        ordered = sorted(normalised, key=Decimal)
    else:
        normalised = [_binary(member, where) for member in members]
        ordered = sorted(normalised)
    if len(set(normalised)) != len(normalised):
        shown = ", ".join(str(member) for member in members)
        raise _validation(
            f"One or more parameter values were invalid: Input collection [{shown}] contains "
            "duplicates"
        )
    # Sets are unordered: a canonical order makes equal sets equal dicts.
    return {kind: ordered}


def _string(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise _param_error(f"Invalid type for parameter {where}, value: {raw!r}, type: str")
    return raw


def _binary(raw: Any, where: str) -> bytes:
    # botocore accepts bytes, bytearray or str (encoded as UTF-8) for a blob.
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode()
    raise _param_error(f"Invalid type for parameter {where}, value: {raw!r}, type: bytes")


def _sequence(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list | tuple):
        raise _param_error(f"Invalid type for parameter {where}, value: {raw!r}, type: list")
    return list(raw)


def _normalise_item(item: Any, where: str) -> Item:
    """A validated, canonical copy of a whole item (or key, or placeholder values)."""
    if not isinstance(item, Mapping):
        raise _param_error(f"Invalid type for parameter {where}, value: {item!r}, type: dict")
    return {str(name): _normalise_value(value, where, str(name)) for name, value in item.items()}


def _copy_value(value: AttributeValue) -> AttributeValue:
    for kind in value:  # exactly one
        if kind in _SCALAR_TYPES:
            return value.copy()  # str, bytes, bool inside: immutable
        raw = value[kind]
        if kind == "L":
            return {"L": [_copy_value(member) for member in raw]}
        if kind == "M":
            return {"M": {name: _copy_value(member) for name, member in raw.items()}}
        return {kind: list(raw)}
    return {}


def copy_item(item: Mapping[str, AttributeValue]) -> Item:
    """A deep copy of an item, much faster than ``copy.deepcopy`` for attribute values."""
    return {name: _copy_value(value) for name, value in item.items()}


def _value_size(value: AttributeValue) -> int:
    ((kind, raw),) = value.items()
    return _SIZE_OF[kind](raw)


def _list_size(members: list[AttributeValue]) -> int:
    # A list or map: 3 bytes, plus 1 byte and the size of each element (and a map's names).
    return 3 + sum(1 + _value_size(member) for member in members)


def _map_size(members: dict[str, AttributeValue]) -> int:
    return 3 + sum(1 + len(name.encode()) + _value_size(v) for name, v in members.items())


@functools.lru_cache(maxsize=65536)
def _number_size(text: str) -> int:
    # AWS: "approximately 1 byte per two significant digits, plus 1 byte".
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return -(-len(digits) // 2) + 1


def _utf8_length(text: str) -> int:
    # isascii() is a flag check; encode() would copy the string.
    return len(text) if text.isascii() else len(text.encode())


_SIZE_OF: Final[Mapping[str, Callable[[Any], int]]] = {
    "S": _utf8_length,
    "N": _number_size,
    "B": len,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
    "SS": lambda raw: sum(len(member.encode()) for member in raw),
    "NS": lambda raw: sum(_number_size(member) for member in raw),
    "BS": lambda raw: sum(len(member) for member in raw),
    "L": _list_size,
    "M": _map_size,
}


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """An item's size in bytes by AWS's published rule (names + values, see the module doc)."""
    total = 0
    for name, value in item.items():
        total += _utf8_length(name)
        text = value.get("S")
        total += _utf8_length(text) if text is not None else _value_size(value)
    return total


def _write_units(size: int) -> int:
    """Write units for one write of ``size`` bytes: 1 per started KB, at least 1."""
    return max(1, -(-size // WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    """Read units for one read of ``size`` bytes: 1 per started 4 KB, at least 1; half that for
    an eventually consistent read."""
    units = max(1, -(-size // READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _kind(value: AttributeValue) -> str:
    return next(iter(value))


def _values_equal(left: AttributeValue, right: AttributeValue) -> bool:
    # Values are canonical (numbers normalised, sets ordered), so equal values are equal dicts.
    return left == right


def _ordered(value: AttributeValue) -> KeyValue:
    """The comparable form of an S, N or B value."""
    ((kind, raw),) = value.items()
    if kind == "N":
        return Decimal(raw)
    return cast(KeyValue, raw)


def _describe(value: AttributeValue) -> str:
    ((kind, raw),) = value.items()
    return f"AttributeValue: {{{kind}:{raw}}}"


# ---- expressions ---------------------------------------------------------------------------------


class ExpressionError(Exception):
    """An expression DynamoDB (or this stand-in) refuses; the message is DynamoDB's without the
    "Invalid <kind>: " prefix, which depends on where the expression was used."""


@functools.cache
def _reserved_words() -> frozenset[str]:
    # DynamoDB's 573 reserved words. moto (a dependency of payouts_tools) ships AWS's list as a
    # data file; it is read by path so that moto itself is never imported.
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:
        raise RuntimeError("moto is not installed: MemoryDynamoDB needs its reserved-word list")
    path = Path(spec.origin).parent / _RESERVED_WORDS_FILE
    return frozenset(path.read_text(encoding="utf-8").split())


_TOKEN: Final = re.compile(
    r"\s*(?:(?P<name>\#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><>|<=|>=|=|<|>)|(?P<punct>[(),])|(?P<other>\S))"
)
_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
_FLIPPED: Final = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_UNSUPPORTED_FUNCTIONS: Final = frozenset({"size", "contains", "attribute_type"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, value, word, op, punct, other, end
    text: str

    def is_keyword(self, keyword: str) -> bool:
        return self.kind == "word" and self.text.upper() == keyword


_END: Final = _Token("end", "<EOF>")


@dataclass(frozen=True, slots=True)
class _Operand:
    """A path (an attribute name or ``#name``) or a ``:value`` placeholder."""

    token: str

    @property
    def is_value(self) -> bool:
        return self.token.startswith(":")

    def attribute(self, names: Mapping[str, str]) -> str:
        """The attribute this path names."""
        return names[self.token] if self.token.startswith("#") else self.token

    def resolve(
        self, item: Item, names: Mapping[str, str], values: Mapping[str, AttributeValue]
    ) -> AttributeValue | None:
        """The operand's value for ``item``; None for a missing attribute."""
        if self.token.startswith(":"):
            return values[self.token]
        return item.get(self.attribute(names))


type _Scope = tuple[Item, Mapping[str, str], Mapping[str, AttributeValue]]


class _Node:
    """A condition: ``holds`` says whether it is true for an item."""

    __slots__ = ()

    def holds(self, scope: _Scope) -> bool:
        raise NotImplementedError


class _Or(_Node):
    __slots__ = ("left", "right")

    def __init__(self, left: _Node, right: _Node) -> None:
        self.left, self.right = left, right

    def holds(self, scope: _Scope) -> bool:
        return self.left.holds(scope) or self.right.holds(scope)


class _And(_Node):
    __slots__ = ("left", "right")

    def __init__(self, left: _Node, right: _Node) -> None:
        self.left, self.right = left, right

    def holds(self, scope: _Scope) -> bool:
        return self.left.holds(scope) and self.right.holds(scope)


class _Not(_Node):
    __slots__ = ("inner",)

    def __init__(self, inner: _Node) -> None:
        self.inner = inner

    def holds(self, scope: _Scope) -> bool:
        return not self.inner.holds(scope)


class _Compare(_Node):
    __slots__ = ("left", "op", "right")

    def __init__(self, left: _Operand, op: str, right: _Operand) -> None:
        self.left, self.op, self.right = left, op, right

    def holds(self, scope: _Scope) -> bool:
        return compare(self.op, self.left.resolve(*scope), self.right.resolve(*scope))


class _Between(_Node):
    __slots__ = ("high", "low", "subject")

    def __init__(self, subject: _Operand, low: _Operand, high: _Operand) -> None:
        self.subject, self.low, self.high = subject, low, high

    def holds(self, scope: _Scope) -> bool:
        subject = self.subject.resolve(*scope)
        return compare(">=", subject, self.low.resolve(*scope)) and compare(
            "<=", subject, self.high.resolve(*scope)
        )


class _Exists(_Node):
    __slots__ = ("expected", "path")

    def __init__(self, path: _Operand, expected: bool) -> None:
        self.path, self.expected = path, expected

    def holds(self, scope: _Scope) -> bool:
        return (self.path.resolve(*scope) is not None) is self.expected


class _BeginsWith(_Node):
    __slots__ = ("path", "prefix")

    def __init__(self, path: _Operand, prefix: _Operand) -> None:
        self.path, self.prefix = path, prefix

    def holds(self, scope: _Scope) -> bool:
        value, prefix = self.path.resolve(*scope), self.prefix.resolve(*scope)
        if value is None or prefix is None:
            return False
        kind = _kind(value)
        if kind != _kind(prefix) or kind not in ("S", "B"):
            return False
        return bool(value[kind].startswith(prefix[kind]))


_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def compare(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    """DynamoDB's comparison of two operands (None = a missing attribute): a missing operand or
    a type mismatch makes ``=`` and the orderings false and ``<>`` true; numbers compare as
    numbers, strings by their UTF-8 bytes (the same order as Python's code-point order, since
    UTF-8 preserves it), binaries by bytes."""
    if left is None or right is None:
        return op == "<>"
    if op in ("=", "<>"):
        return _values_equal(left, right) is (op == "=")
    kind = _kind(left)
    if kind != _kind(right) or kind not in _ORDERED_TYPES:
        return False
    return _ORDER[op](_ordered(left), _ordered(right))


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression and the placeholders and paths it uses (for the request's checks)."""

    root: _Node
    names: frozenset[str]
    values: frozenset[str]
    paths: tuple[_Operand, ...]
    typed: tuple[tuple[str, str], ...]
    """(operator or function, ":value") pairs whose value must have an ordered type."""
    between: tuple[tuple[_Operand, _Operand], ...]


class _Parser:
    """Recursive descent over DynamoDB's condition grammar (precedence: comparisons and
    functions, then NOT, then AND, then OR; parentheses group)."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._at = 0
        self._names: set[str] = set()
        self._values: set[str] = set()
        self._paths: list[_Operand] = []
        self._typed: list[tuple[str, str]] = []
        self._between: list[tuple[_Operand, _Operand]] = []

    def parse(self) -> Expression:
        if not self._tokens:
            raise ExpressionError("The expression can not be empty;")
        root = self._or()
        if self._peek() is not _END:
            raise self._syntax_error()
        return Expression(
            root,
            frozenset(self._names),
            frozenset(self._values),
            tuple(self._paths),
            tuple(self._typed),
            tuple(self._between),
        )

    # grammar

    def _or(self) -> _Node:
        node = self._and()
        while self._peek().is_keyword("OR"):
            self._at += 1
            node = _Or(node, self._and())
        return node

    def _and(self) -> _Node:
        node = self._not()
        while self._peek().is_keyword("AND"):
            self._at += 1
            node = _And(node, self._not())
        return node

    def _not(self) -> _Node:
        if self._peek().is_keyword("NOT"):
            self._at += 1
            return _Not(self._not())
        return self._primary()

    def _primary(self) -> _Node:
        token = self._peek()
        if token.text == "(" and token.kind == "punct":
            self._at += 1
            node = self._or()
            self._expect(")")
            return node
        if token.kind == "word" and self._peek(1).text == "(":
            return self._function()
        left = self._operand()
        token = self._next()
        if token.kind == "op":
            right = self._operand()
            self._type_check(token.text, left, right)
            return _Compare(left, token.text, right)
        if token.is_keyword("BETWEEN"):
            low = self._operand()
            if not self._next().is_keyword("AND"):
                self._at -= 1
                raise self._syntax_error()
            high = self._operand()
            self._type_check("BETWEEN", left, low, high)
            self._between.append((low, high))
            return _Between(left, low, high)
        if token.is_keyword("IN"):
            raise ExpressionError("MemoryDynamoDB does not support the IN operator")
        self._at -= 1
        raise self._syntax_error()

    def _function(self) -> _Node:
        name = self._next().text
        if name in _UNSUPPORTED_FUNCTIONS:
            raise ExpressionError(f"MemoryDynamoDB does not support the function {name}")
        if name not in ("attribute_exists", "attribute_not_exists", "begins_with"):
            raise ExpressionError(f"Invalid function name; function: {name}")
        self._expect("(")
        arguments = [self._operand()]
        while self._peek().text == ",":
            self._at += 1
            arguments.append(self._operand())
        self._expect(")")
        wanted = 2 if name == "begins_with" else 1
        if len(arguments) != wanted:
            raise ExpressionError(
                f"Incorrect number of operands for operator or function; operator or function: "
                f"{name}, number of operands: {len(arguments)}"
            )
        if arguments[0].is_value:
            raise ExpressionError(
                f"Operator or function requires a document path; operator or function: {name}"
            )
        if name == "begins_with":
            self._type_check("begins_with", arguments[1])
            return _BeginsWith(arguments[0], arguments[1])
        return _Exists(arguments[0], expected=name == "attribute_exists")

    def _operand(self) -> _Operand:
        token = self._next()
        if token.kind == "name":
            self._names.add(token.text)
        elif token.kind == "value":
            self._values.add(token.text)
            return _Operand(token.text)
        elif token.kind == "word" and token.text.upper() not in _KEYWORDS:
            if self._peek().text == "(":
                raise ExpressionError(f"MemoryDynamoDB does not support the function {token.text}")
            if token.text.upper() in _reserved_words():
                raise ExpressionError(
                    f"Attribute name is a reserved keyword; reserved keyword: {token.text}"
                )
        else:
            self._at -= 1
            raise self._syntax_error()
        operand = _Operand(token.text)
        self._paths.append(operand)
        return operand

    # helpers

    def _type_check(self, operator: str, *operands: _Operand) -> None:
        if operator in ("=", "<>"):
            return
        self._typed.extend((operator, operand.token) for operand in operands if operand.is_value)

    def _peek(self, ahead: int = 0) -> _Token:
        at = self._at + ahead
        return self._tokens[at] if at < len(self._tokens) else _END

    def _next(self) -> _Token:
        token = self._peek()
        self._at += 1
        return token

    def _expect(self, text: str) -> None:
        if self._peek().text != text:
            raise self._syntax_error()
        self._at += 1

    def _syntax_error(self) -> ExpressionError:
        token = self._peek()
        near = " ".join(t.text for t in self._tokens[max(0, self._at - 1) : self._at + 2])
        return ExpressionError(f'Syntax error; token: "{token.text}", near: "{near}"')


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for found in _TOKEN.finditer(text):
        kind = found.lastgroup
        if kind is None:  # trailing whitespace
            continue
        token = _Token(kind, found.group(kind))
        if kind == "other":
            if token.text in ".[]":
                raise ExpressionError("MemoryDynamoDB does not support nested attribute paths")
            raise ExpressionError(f'Invalid character encountered; character: "{token.text}"')
        tokens.append(token)
    return tokens


@functools.lru_cache(maxsize=4096)
def parse_expression(text: str) -> Expression:
    """Parse a condition/filter/key-condition expression; cached, so each distinct string is
    parsed once. Raises ExpressionError for what DynamoDB refuses or this stand-in lacks."""
    return _Parser(text).parse()


# ---- placeholders: one request's names, values and expressions -----------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    """An expression with the request's names and values: ``holds(item)`` evaluates it."""

    expression: Expression
    names: Mapping[str, str]
    values: Mapping[str, AttributeValue]

    def holds(self, item: Item | None) -> bool:
        """True when the condition holds for ``item`` (None: no such item)."""
        scope = (item if item is not None else _EMPTY_ITEM, self.names, self.values)
        return self.expression.root.holds(scope)


def _bind(params: Mapping[str, Any], kinds: Sequence[str], where: str) -> dict[str, Bound | None]:
    """Parse the expressions named by ``kinds`` in ``params`` and check the placeholders as
    DynamoDB does: each used one defined, each defined one used, operand types right."""
    names = params.get("ExpressionAttributeNames")
    raw_values = params.get("ExpressionAttributeValues")
    parsed = {kind: _parse(kind, params[kind]) for kind in kinds if params.get(kind) is not None}
    if not parsed:
        if names is not None:
            raise _validation(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        if raw_values is not None:
            raise _validation(
                f"ExpressionAttributeValues can only be specified when using expressions: "
                f"{kinds[0]} is null"
            )
        return dict.fromkeys(kinds)
    names = dict(names or {})
    if raw_values is not None and not raw_values:
        raise _validation("ExpressionAttributeValues must not be empty")
    values = _normalise_item(raw_values or {}, f"{where}.ExpressionAttributeValues")
    for kind, expression in parsed.items():
        _check_defined(kind, expression, names, values)
    _check_used(parsed.values(), names, values)
    return {kind: Bound(parsed[kind], names, values) if kind in parsed else None for kind in kinds}


def _parse(kind: str, text: Any) -> Expression:
    if not isinstance(text, str):
        raise _param_error(f"Invalid type for parameter {kind}, value: {text!r}, type: str")
    try:
        return parse_expression(text)
    except ExpressionError as error:
        raise _validation(f"Invalid {kind}: {error}") from None


def _check_defined(
    kind: str, expression: Expression, names: Mapping[str, str], values: Item
) -> None:
    for name in sorted(expression.names - names.keys()):
        raise _validation(
            f"Invalid {kind}: An expression attribute name used in the document path is not "
            f"defined; attribute name: {name}"
        )
    for value in sorted(expression.values - values.keys()):
        raise _validation(
            f"Invalid {kind}: An expression attribute value used in expression is not defined; "
            f"attribute value: {value}"
        )
    for operator, token in expression.typed:
        value_kind = _kind(values[token])
        allowed = ("S", "B") if operator == "begins_with" else _ORDERED_TYPES
        if value_kind not in allowed:
            raise _validation(
                f"Invalid {kind}: Incorrect operand type for operator or function; operator or "
                f"function: {operator}, operand type: {value_kind}"
            )
    for low, high in expression.between:
        if low.is_value and high.is_value:
            _check_bounds(kind, values[low.token], values[high.token])


def _check_bounds(kind: str, low: AttributeValue, high: AttributeValue) -> None:
    if _kind(low) == _kind(high) and _ordered(low) > _ordered(high):  # type: ignore[operator]
        raise _validation(
            f"Invalid {kind}: The BETWEEN operator requires upper bound to be greater than or "
            f"equal to lower bound; lower bound operand: {_describe(low)}, upper bound operand: "
            f"{_describe(high)}"
        )


def _check_used(expressions: Iterable[Expression], names: Mapping[str, str], values: Item) -> None:
    used_names: set[str] = set()
    used_values: set[str] = set()
    for expression in expressions:
        used_names |= expression.names
        used_values |= expression.values
    unused_names = sorted(names.keys() - used_names)
    if unused_names:
        raise _validation(
            "Value provided in ExpressionAttributeNames unused in expressions: keys: "
            f"{{{', '.join(unused_names)}}}"
        )
    unused_values = sorted(values.keys() - used_values)
    if unused_values:
        raise _validation(
            "Value provided in ExpressionAttributeValues unused in expressions: keys: "
            f"{{{', '.join(unused_values)}}}"
        )


# ---- key conditions ------------------------------------------------------------------------------


def _prefix_successor(prefix: KeyValue) -> KeyValue | None:
    """The smallest value greater than every value starting with ``prefix`` (None: none)."""
    if isinstance(prefix, str):
        stripped = prefix.rstrip("\U0010ffff")
        return stripped[:-1] + chr(ord(stripped[-1]) + 1) if stripped else None
    if isinstance(prefix, bytes):
        trimmed = prefix.rstrip(b"\xff")
        return trimmed[:-1] + bytes([trimmed[-1] + 1]) if trimmed else None
    return None


_FIRST: Final = itemgetter(0)


def _left(entries: Sequence[Entry], value: KeyValue) -> int:
    """The first position whose sort value is >= ``value``."""
    return bisect.bisect_left(entries, value, key=_FIRST)


def _right(entries: Sequence[Entry], value: KeyValue) -> int:
    """The first position whose sort value is > ``value``."""
    return bisect.bisect_right(entries, value, key=_FIRST)


@dataclass(frozen=True, slots=True)
class _RangeCondition:
    """The sort-key part of a key condition, as bounds on a sorted partition."""

    op: str  # = < <= > >= BETWEEN begins_with
    low: KeyValue
    high: KeyValue | None = None

    def bounds(self, entries: Sequence[Entry]) -> tuple[int, int]:
        """The slice of ``entries`` (sorted, sort value first) the condition admits."""
        low = self.low
        if self.op == "BETWEEN":
            high = cast(KeyValue, self.high)
            return _left(entries, low), _right(entries, high)
        if self.op == "begins_with":
            successor = _prefix_successor(low)
            end = len(entries) if successor is None else _left(entries, successor)
            return _left(entries, low), end
        start, end = 0, len(entries)
        if self.op in ("=", ">="):
            start = _left(entries, low)
        elif self.op == ">":
            start = _right(entries, low)
        if self.op in ("=", "<="):
            end = _right(entries, low)
        elif self.op == "<":
            end = _left(entries, low)
        return start, end

    def admits(self, value: KeyValue) -> bool:
        """True when a sort value satisfies the condition."""
        low: Any = self.low
        if self.op == "BETWEEN":
            return bool(low <= value <= cast(Any, self.high))
        if self.op == "begins_with":
            return isinstance(value, str | bytes) and value.startswith(low)
        return bool(_ORDER[self.op](value, low)) if self.op != "=" else value == low


@dataclass(frozen=True, slots=True)
class _KeyCondition:
    hash_value: KeyValue
    range: _RangeCondition | None


def _conjuncts(node: _Node) -> Iterator[_Node]:
    if isinstance(node, _And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    elif isinstance(node, _Or | _Not):
        raise _validation(
            f"Invalid operator used in KeyConditionExpression: "
            f"{'OR' if isinstance(node, _Or) else 'NOT'}"
        )
    else:
        yield node


def _key_leaf(node: _Node, bound: Bound) -> tuple[str, str, list[AttributeValue]]:
    """(attribute, operator, value operands) of one key condition."""
    values = bound.values
    if isinstance(node, _Compare):
        path, op, value = node.left, node.op, node.right
        if path.is_value:
            path, op, value = value, _FLIPPED[op], path
        if op == "<>":
            raise _validation("Invalid operator used in KeyConditionExpression: <>")
        if path.is_value or not value.is_value:
            raise _validation("Query key condition not supported")
        return path.attribute(bound.names), op, [values[value.token]]
    if isinstance(node, _Between):
        operands = (node.low, node.high)
        if node.subject.is_value or not all(operand.is_value for operand in operands):
            raise _validation("Query key condition not supported")
        return (
            node.subject.attribute(bound.names),
            "BETWEEN",
            [values[operand.token] for operand in operands],
        )
    if isinstance(node, _BeginsWith):
        if not node.prefix.is_value:
            raise _validation("Query key condition not supported")
        return node.path.attribute(bound.names), "begins_with", [values[node.prefix.token]]
    function = "attribute_exists" if cast(_Exists, node).expected else "attribute_not_exists"
    raise _validation(f"Invalid operator used in KeyConditionExpression: {function}")


def _key_value(attribute: str, wanted: str, value: AttributeValue) -> KeyValue:
    if _kind(value) != wanted:
        raise _validation(
            "One or more parameter values were invalid: Condition parameter type does not match "
            "schema type"
        )
    if value[wanted] in ("", b""):
        raise _validation(
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            f"cannot contain an empty string value. Key: {attribute}"
        )
    return _ordered(value)


def _key_condition(bound: Bound, schema: _KeySchema) -> _KeyCondition:
    found: dict[str, tuple[str, list[AttributeValue]]] = {}
    for leaf in _conjuncts(bound.expression.root):
        attribute, op, operands = _key_leaf(leaf, bound)
        if attribute not in (schema.hash_name, schema.range_name):
            raise _validation("Query condition missed key schema element")
        if attribute in found:
            raise _validation("KeyConditionExpressions must only contain one condition per key")
        found[attribute] = (op, operands)
    if schema.hash_name not in found:
        raise _validation(f"Query condition missed key schema element: {schema.hash_name}")
    op, operands = found.pop(schema.hash_name)
    if op != "=":
        raise _validation("Query key condition not supported")
    hash_value = _key_value(schema.hash_name, schema.hash_type, operands[0])
    range_name, range_type = schema.range_name, schema.range_type
    if not found or range_name is None or range_type is None:
        return _KeyCondition(hash_value, None)
    op, operands = found[range_name]
    if op == "begins_with" and range_type == "N":
        raise _validation(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N"
        )
    if op == "BETWEEN":
        _check_bounds("KeyConditionExpression", operands[0], operands[1])
    low = _key_value(range_name, range_type, operands[0])
    high = _key_value(range_name, range_type, operands[1]) if op == "BETWEEN" else None
    return _KeyCondition(hash_value, _RangeCondition(op, low, high))


# ---- tables and indexes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeySchema:
    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_name,) if self.range_name is None else (self.hash_name, self.range_name)

    def described(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_name, "KeyType": "HASH"}]
        if self.range_name is not None:
            schema.append({"AttributeName": self.range_name, "KeyType": "RANGE"})
        return schema


class _View:
    """Items in sorted partitions: a dict from hash value to a sorted list of entries, so a query
    is a bisect plus a slice. The table's own view holds ``(range,)`` entries (``()`` for a
    hash-only table); an index holds ``(index range, *table key)`` or ``table key``."""

    def __init__(self, name: str | None, schema: _KeySchema) -> None:
        self.name = name
        self.schema = schema
        self.partitions: dict[KeyValue, list[Entry]] = {}

    def insert(self, hash_value: KeyValue, entry: Entry) -> None:
        bisect.insort(self.partitions.setdefault(hash_value, []), entry)

    def remove(self, hash_value: KeyValue, entry: Entry) -> None:
        entries = self.partitions[hash_value]
        del entries[bisect.bisect_left(entries, entry)]
        if not entries:
            del self.partitions[hash_value]

    def table_key(self, hash_value: KeyValue, entry: Entry) -> TableKey:
        """The primary key of the item at ``entry``."""
        return (hash_value, *entry)


@dataclass(frozen=True, slots=True)
class _Placed:
    """Where an item sits in an index, and what the index holds for it."""

    hash_value: KeyValue
    entry: Entry
    projection: Item
    size: int


class _Index(_View):
    """A global secondary index: sparse, projected, updated with every write."""

    def __init__(
        self,
        name: str,
        schema: _KeySchema,
        table_schema: _KeySchema,
        projection_type: str,
        non_key: Sequence[str],
    ) -> None:
        super().__init__(name, schema)
        self.projection_type = projection_type
        self.non_key = tuple(non_key)
        self.key_names = tuple(dict.fromkeys((*table_schema.names, *schema.names)))
        self.projected = tuple(dict.fromkeys((*self.key_names, *self.non_key)))
        self.placed: dict[TableKey, _Placed] = {}

    def table_key(self, hash_value: KeyValue, entry: Entry) -> TableKey:
        return entry[1:] if self.schema.range_name is not None else entry

    def place(self, key: TableKey, item: Item) -> tuple[KeyValue, Entry] | None:
        """Where ``item`` belongs in the index; None when it lacks an index key attribute."""
        schema = self.schema
        hash_attribute = item.get(schema.hash_name)
        if hash_attribute is None:
            return None
        if schema.range_name is None:
            return _ordered(hash_attribute), key
        range_attribute = item.get(schema.range_name)
        if range_attribute is None:
            return None
        return _ordered(hash_attribute), (_ordered(range_attribute), *key)

    def project(self, item: Item) -> Item:
        """What the index holds of ``item``."""
        if self.projection_type == "ALL":
            return item
        return {name: item[name] for name in self.projected if name in item}

    def move(self, key: TableKey, new: Item | None, new_size: int) -> int:
        """Follow a table write of ``new`` (None: deleted); return the index write units."""
        before = self.placed.get(key)
        where = self.place(key, new) if new is not None else None
        if where is None or new is None:
            if before is None:
                return 0
            self._unplace(key, before)
            return _write_units(before.size)
        projection = self.project(new)
        size = new_size if projection is new else item_size(projection)
        units = 0
        if before is not None:
            if (before.hash_value, before.entry) == where:
                if before.projection == projection:
                    return 0
                self.placed[key] = _Placed(where[0], where[1], projection, size)
                return _write_units(size)
            self._unplace(key, before)
            units = _write_units(before.size)
        self.insert(*where)
        self.placed[key] = _Placed(where[0], where[1], projection, size)
        return units + _write_units(size)

    def _unplace(self, key: TableKey, placed: _Placed) -> None:
        self.remove(placed.hash_value, placed.entry)
        del self.placed[key]


class _Table:
    """One table: items by primary key, its sorted view, its indexes, its stream settings."""

    def __init__(
        self,
        name: str,
        schema: _KeySchema,
        *,
        indexes: Sequence[_Index],
        stream_view: str | None,
        created: float,
        region: str,
        definition: Mapping[str, Any],
    ) -> None:
        self.name = name
        self.schema = schema
        self.primary = _View(None, schema)
        self.indexes = {index.name or "": index for index in indexes}
        self.items: dict[TableKey, Item] = {}
        self.sizes: dict[TableKey, int] = {}
        self.stream_view = stream_view
        self.created = created
        self.arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
        label = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        self.stream_label = label
        self.stream_arn = f"{self.arn}/stream/{label}"
        self.definition = definition
        # Types of every declared attribute that is a key somewhere (table or index).
        self.key_types = {
            str(attribute["AttributeName"]): str(attribute["AttributeType"])
            for attribute in definition.get("AttributeDefinitions", [])
        }

    def view(self, index_name: str | None) -> _View:
        if index_name is None:
            return self.primary
        index = self.indexes.get(index_name)
        if index is None:
            raise _validation(f"The table does not have the specified index: {index_name}")
        return index

    def key_of(self, key: Item) -> TableKey:
        """The primary key named by a request's ``Key`` (exactly the key attributes)."""
        if len(key) != len(self.schema.names):
            raise _validation(_KEY_MISMATCH)
        return self._key_from(key, _KEY_MISMATCH)

    def _key_from(self, item: Item, missing: str) -> TableKey:
        parts: list[KeyValue] = []
        for name in self.schema.names:
            value = item.get(name)
            if value is None:
                raise _validation(missing)
            wanted = self.key_types[name]
            if _kind(value) != wanted:
                raise _validation(
                    f"One or more parameter values were invalid: Type mismatch for key {name} "
                    f"expected: {wanted} actual: {_kind(value)}"
                )
            if value[wanted] in ("", b""):
                raise _validation(
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty string value. Key: {name}"
                )
            parts.append(_ordered(value))
        return tuple(parts)

    def check_item(self, item: Item) -> tuple[TableKey, int]:
        """Validate a whole item to be written: its key, its index keys, its size."""
        key = self._key_from(item, "One of the required keys was not given a value")
        for index in self.indexes.values():
            self._check_index_keys(index, item)
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise _validation("Item size has exceeded the maximum allowed size")
        return key, size

    def _check_index_keys(self, index: _Index, item: Item) -> None:
        for name in index.schema.names:
            value = item.get(name)
            if value is None:
                continue
            wanted = self.key_types[name]
            if _kind(value) != wanted:
                raise _validation(
                    f"One or more parameter values were invalid: Type mismatch for Index Key "
                    f"{name} Expected: {wanted} Actual: {_kind(value)} IndexName: {index.name}"
                )
            if value[wanted] in ("", b""):
                raise _validation(
                    "One or more parameter values are not valid. A value specified for a "
                    "secondary index key is not supported. The AttributeValue for a key "
                    f"attribute cannot contain an empty string value. IndexName: {index.name}, "
                    f"IndexKey: {name}"
                )

    def row(self, view: _View, key: TableKey) -> Item:
        """What ``view`` holds for the item ``key``."""
        if isinstance(view, _Index):
            return view.placed[key].projection
        return self.items[key]


def _schema(key_schema: Any, types: Mapping[str, str], where: str) -> _KeySchema:
    if not isinstance(key_schema, list | tuple) or not 1 <= len(key_schema) <= 2:
        raise _validation(f"{where}: KeySchema must have one HASH and at most one RANGE element")
    roles = {str(element["KeyType"]): str(element["AttributeName"]) for element in key_schema}
    if set(roles) - {"HASH", "RANGE"} or "HASH" not in roles or len(roles) != len(key_schema):
        raise _validation(f"{where}: Invalid KeySchema: {key_schema}")
    for name in roles.values():
        if name not in types:
            raise _validation(
                "One or more parameter values were invalid: Some index key attributes are not "
                f"defined in AttributeDefinitions. Keys: [{name}]"
            )
    hash_name, range_name = roles["HASH"], roles.get("RANGE")
    return _KeySchema(
        hash_name,
        types[hash_name],
        range_name,
        types[range_name] if range_name is not None else None,
    )


def _index(definition: Mapping[str, Any], table: _KeySchema, types: Mapping[str, str]) -> _Index:
    name = str(definition["IndexName"])
    schema = _schema(definition["KeySchema"], types, f"index {name}")
    projection = definition.get("Projection", {})
    projection_type = str(projection.get("ProjectionType", "ALL"))
    if projection_type not in ("ALL", "KEYS_ONLY", "INCLUDE"):
        raise _validation(f"Unknown ProjectionType {projection_type} for index {name}")
    non_key = [str(attribute) for attribute in projection.get("NonKeyAttributes", [])]
    if non_key and projection_type != "INCLUDE":
        raise _validation(
            "One or more parameter values were invalid: NonKeyAttributes can only be specified "
            "when ProjectionType is INCLUDE"
        )
    return _Index(name, schema, table, projection_type, non_key)


# ---- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Action:
    """One prepared TransactWriteItems action."""

    kind: str  # Put, Delete, ConditionCheck
    table: _Table
    key: TableKey
    item: Item | None
    size: int
    condition: Bound | None
    return_old: bool

    def signature(self) -> tuple[Any, ...]:
        """What makes two requests "the same" for an idempotency token."""
        condition = self.condition
        return (
            self.kind,
            self.table.name,
            self.key,
            self.item,
            None
            if condition is None
            else (condition.expression, dict(condition.names), dict(condition.values)),
            self.return_old,
        )


@dataclass(frozen=True, slots=True)
class _Remembered:
    """A successful transaction's token: until when, and what it asked."""

    expires: float
    signature: tuple[Any, ...]


# Parameters each handler understands. Any other parameter botocore knows raises
# NotImplementedError (never silently ignored); one botocore does not know raises its
# ParamValidationError, as a real client would.
_CONDITIONAL: Final = (
    "ConditionExpression ExpressionAttributeNames ExpressionAttributeValues "
    "ReturnValuesOnConditionCheckFailure "
)
_SUPPORTED: Final[Mapping[str, frozenset[str]]] = {
    operation: frozenset(names.split())
    for operation, names in {
        "PutItem": "TableName Item ReturnValues ReturnConsumedCapacity "
        "ReturnItemCollectionMetrics " + _CONDITIONAL,
        "GetItem": "TableName Key ConsistentRead ReturnConsumedCapacity",
        "BatchGetItem": "RequestItems ReturnConsumedCapacity",
        "DeleteItem": "TableName Key ReturnValues ReturnConsumedCapacity "
        "ReturnItemCollectionMetrics " + _CONDITIONAL,
        "Query": "TableName IndexName KeyConditionExpression FilterExpression "
        "ExpressionAttributeNames ExpressionAttributeValues Limit ExclusiveStartKey "
        "ScanIndexForward ConsistentRead Select ReturnConsumedCapacity",
        "TransactWriteItems": "TransactItems ClientRequestToken ReturnConsumedCapacity "
        "ReturnItemCollectionMetrics",
        "CreateTable": "TableName AttributeDefinitions KeySchema GlobalSecondaryIndexes "
        "BillingMode ProvisionedThroughput OnDemandThroughput StreamSpecification "
        "SSESpecification Tags TableClass DeletionProtectionEnabled WarmThroughput",
        "DescribeTable": "TableName",
        "DeleteTable": "TableName",
    }.items()
}

_ACTION_SHAPES: Final = ("Put", "Delete", "ConditionCheck", "Update")
_ACTION_SUPPORTED: Final = frozenset(("TableName Item Key " + _CONDITIONAL).split())
# Parameters whose only supported value is "nothing extra in the answer".
_ONLY_NONE: Final = ("ReturnConsumedCapacity", "ReturnItemCollectionMetrics")


@dataclass(frozen=True, slots=True)
class _Parameters:
    """One input shape's parameters: botocore's (in its order, for messages), the required
    ones, and those MemoryDynamoDB handles."""

    known: tuple[str, ...]
    required: tuple[str, ...]
    supported: frozenset[str]


@functools.cache
def _parameters(operation: str, action: str | None) -> _Parameters:
    # Read from botocore's model once: its shapes rebuild their members on every access.
    model = _service_model()
    shape: Any
    if action is None:
        shape, supported = model.operation_model(operation).input_shape, _SUPPORTED[operation]
    else:
        shape, supported = model.shape_for(action), _ACTION_SUPPORTED
    return _Parameters(tuple(shape.members), tuple(shape.required_members), supported)


def _check_params(
    params: Mapping[str, Any], operation: str, action: str | None = None, where: str = "input"
) -> None:
    """Refuse what botocore would (unknown or missing parameters) and what is not supported
    here (NotImplementedError): never ignore a parameter silently."""
    spec = _parameters(operation, action)
    for name in params.keys() - spec.supported:
        if name not in spec.known:
            raise _param_error(
                f'Unknown parameter in {where}: "{name}", must be one of: {", ".join(spec.known)}'
            )
        raise NotImplementedError(f"MemoryDynamoDB does not support {name} ({operation})")
    for name in spec.required:
        if name not in params:
            raise _param_error(f'Missing required parameter in {where}: "{name}"')
    for name in _ONLY_NONE:
        if params.get(name, "NONE") != "NONE":
            raise NotImplementedError(f"MemoryDynamoDB supports only {name}=NONE")


def _choice(params: Mapping[str, Any], name: str, allowed: Sequence[str], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise _validation(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return str(value)


class MemoryDynamoDB:
    """DynamoDB in memory, with the low-level boto3 client's methods (see the module doc).

    ``clock`` (epoch seconds, default ``time.time``) dates stream records and times idempotency
    tokens, so a simulator's virtual clock drives both. ``region`` goes into ARNs and records.
    Thread-safe: one lock per call, so each call is atomic as a real engine's is.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, region: str = "us-east-1"
    ) -> None:
        self._clock = clock
        self._region = region
        self._lock = threading.RLock()
        self._tables: dict[str, _Table] = {}
        self._tokens: dict[str, _Remembered] = {}
        self._token_expiry: deque[tuple[float, str]] = deque()
        self._stream: list[dict[str, Any]] = []
        self._sequence = itertools.count(1)
        self._requests = itertools.count(1)
        self._units: Counter[str] = Counter()
        self._read_units: defaultdict[str, float] = defaultdict(float)
        self._transaction_index_units: Counter[str] = Counter()
        self.calls_by_operation: Counter[str] = Counter()
        """How many calls each operation ("PutItem", "Query"...) received, failed ones too."""
        self.exceptions = dynamodb_exceptions()
        """The modelled exception classes, as on a boto3 client."""
        self._handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "PutItem": self._put_item,
            "GetItem": self._get_item,
            "BatchGetItem": self._batch_get_item,
            "DeleteItem": self._delete_item,
            "Query": self._query,
            "TransactWriteItems": self._transact_write_items,
            "CreateTable": self._create_table,
            "DescribeTable": self._describe_table,
            "DeleteTable": self._delete_table,
        }

    # ---- the client's methods --------------------------------------------------------------------

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        """PutItem."""
        return self._make_api_call("PutItem", kwargs)

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        """GetItem (ConsistentRead is accepted; every read here is consistent)."""
        return self._make_api_call("GetItem", kwargs)

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        """BatchGetItem: every key is answered at once (nothing is left unprocessed)."""
        return self._make_api_call("BatchGetItem", kwargs)

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:
        """DeleteItem."""
        return self._make_api_call("DeleteItem", kwargs)

    def query(self, **kwargs: Any) -> dict[str, Any]:
        """Query on the table or a GSI."""
        return self._make_api_call("Query", kwargs)

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        """TransactWriteItems with Put, Delete and ConditionCheck actions."""
        return self._make_api_call("TransactWriteItems", kwargs)

    def create_table(self, **kwargs: Any) -> dict[str, Any]:
        """CreateTable; the table is ACTIVE at once."""
        return self._make_api_call("CreateTable", kwargs)

    def describe_table(self, **kwargs: Any) -> dict[str, Any]:
        """DescribeTable."""
        return self._make_api_call("DescribeTable", kwargs)

    def delete_table(self, **kwargs: Any) -> dict[str, Any]:
        """DeleteTable; the table is gone at once."""
        return self._make_api_call("DeleteTable", kwargs)

    def _make_api_call(self, operation_name: str, api_params: Mapping[str, Any]) -> dict[str, Any]:
        # The same name and signature as botocore's, so code that wraps a client's
        # _make_api_call (tests counting calls, fault layers) wraps this one too.
        handler = self._handlers.get(operation_name)
        if handler is None:
            raise NotImplementedError(f"MemoryDynamoDB does not support {operation_name}")
        with self._lock:
            self.calls_by_operation[operation_name] += 1
            request_id = f"MEMORY{next(self._requests):046d}"
            try:
                answer = handler(api_params)
            except DynamoError as error:
                raise client_error(
                    operation_name,
                    error.code,
                    error.message,
                    request_id=request_id,
                    status=error.status,
                    fields=error.fields,
                ) from None
            answer["ResponseMetadata"] = response_metadata(request_id, 200)
            return answer

    # ---- owner's API -----------------------------------------------------------------------------

    def as_client(self) -> DynamoDBClient:
        """This object typed as a boto3 DynamoDB client, for ``OrderStore(client, ...)``."""
        return cast("DynamoDBClient", self)

    def drain_stream(self) -> list[dict[str, Any]]:
        """The stream records written since the last drain, oldest first (copies)."""
        with self._lock:
            records, self._stream = self._stream, []
        return [_copied_record(record) for record in records]

    def write_units(self) -> float:
        """Write units consumed so far: tables and indexes together (see the module doc)."""
        with self._lock:
            return float(sum(self._units.values()))

    def write_units_by_index(self) -> dict[str, float]:
        """Write units by target: ``"<table>"`` for the table's own writes and
        ``"<table>/<index>"`` for each index's."""
        with self._lock:
            return {target: float(units) for target, units in sorted(self._units.items())}

    def index_write_units_in_transactions(self) -> dict[str, float]:
        """The part of each index's write units written by transactions (counted once, as AWS
        bills them; DynamoDB Local reports them twice)."""
        with self._lock:
            return {
                target: float(units)
                for target, units in sorted(self._transaction_index_units.items())
            }

    def read_units(self) -> float:
        """Read units consumed so far: tables and indexes together (see the module doc)."""
        with self._lock:
            return float(sum(self._read_units.values()))

    def read_units_by_index(self) -> dict[str, float]:
        """Read units by target, named as in ``write_units_by_index``."""
        with self._lock:
            return {target: float(units) for target, units in sorted(self._read_units.items())}

    def reset_counters(self) -> None:
        """Zero ``calls_by_operation``, the write units and the read units."""
        with self._lock:
            self.calls_by_operation.clear()
            self._units.clear()
            self._read_units.clear()
            self._transaction_index_units.clear()

    def item_count(self, table_name: str) -> int:
        """How many items ``table_name`` holds."""
        with self._lock:
            return len(self._table(table_name).items)

    # ---- tables ----------------------------------------------------------------------------------

    def _table(self, name: Any) -> _Table:
        table = self._tables.get(name) if isinstance(name, str) else None
        if table is None:
            raise DynamoError("ResourceNotFoundException", _NOT_FOUND)
        return table

    def _create_table(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "CreateTable")
        name = params["TableName"]
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            raise _validation(
                "Invalid table/index name.  Table/index names must be between 3 and 255 "
                "characters long, and may contain only the characters a-z, A-Z, 0-9, '_', '-', "
                "and '.'"
            )
        if name in self._tables:
            raise DynamoError("ResourceInUseException", f"Table already exists: {name}")
        types = {
            str(attribute["AttributeName"]): str(attribute["AttributeType"])
            for attribute in params.get("AttributeDefinitions", [])
        }
        if set(types.values()) - _KEY_TYPES:
            raise _validation("Member must satisfy enum value set: [B, N, S]")
        schema = _schema(params.get("KeySchema"), types, "table")
        indexes = [
            _index(index, schema, types) for index in params.get("GlobalSecondaryIndexes", [])
        ]
        used = set(schema.names).union(*(index.schema.names for index in indexes))
        if set(types) != used:
            raise _validation(
                "One or more parameter values were invalid: Some AttributeDefinitions are not "
                f"used. AttributeDefinitions: [{', '.join(sorted(types))}], keys used: "
                f"[{', '.join(sorted(used))}]"
            )
        stream = params.get("StreamSpecification") or {}
        stream_view = str(stream["StreamViewType"]) if stream.get("StreamEnabled") else None
        table = _Table(
            name,
            schema,
            indexes=indexes,
            stream_view=stream_view,
            created=self._clock(),
            region=self._region,
            definition=dict(params),
        )
        self._tables[name] = table
        return {"TableDescription": self._description(table)}

    def _describe_table(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "DescribeTable")
        name = params["TableName"]
        if name not in self._tables:
            raise DynamoError(
                "ResourceNotFoundException",
                f"Requested resource not found: Table: {name} not found",
            )
        return {"Table": self._description(self._tables[name])}

    def _delete_table(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "DeleteTable")
        table = self._table(params["TableName"])
        description = self._description(table)
        description["TableStatus"] = "DELETING"
        del self._tables[table.name]
        return {"TableDescription": description}

    def _description(self, table: _Table) -> dict[str, Any]:
        definition = table.definition
        described: dict[str, Any] = {
            "AttributeDefinitions": [dict(a) for a in definition.get("AttributeDefinitions", [])],
            "TableName": table.name,
            "KeySchema": table.schema.described(),
            "TableStatus": "ACTIVE",
            "CreationDateTime": datetime.fromtimestamp(table.created, UTC),
            "TableSizeBytes": sum(table.sizes.values()),
            "ItemCount": len(table.items),
            "TableArn": table.arn,
            "BillingModeSummary": {"BillingMode": definition.get("BillingMode", "PROVISIONED")},
            "DeletionProtectionEnabled": bool(definition.get("DeletionProtectionEnabled", False)),
        }
        if table.indexes:
            described["GlobalSecondaryIndexes"] = [
                self._index_description(table, index) for index in table.indexes.values()
            ]
        if table.stream_view is not None:
            described["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": table.stream_view,
            }
            described["LatestStreamLabel"] = table.stream_label
            described["LatestStreamArn"] = table.stream_arn
        return described

    def _index_description(self, table: _Table, index: _Index) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": index.projection_type}
        if index.non_key:
            projection["NonKeyAttributes"] = list(index.non_key)
        return {
            "IndexName": index.name,
            "KeySchema": index.schema.described(),
            "Projection": projection,
            "IndexStatus": "ACTIVE",
            "IndexSizeBytes": sum(placed.size for placed in index.placed.values()),
            "ItemCount": len(index.placed),
            "IndexArn": f"{table.arn}/index/{index.name}",
        }

    # ---- single-item calls -----------------------------------------------------------------------

    def _put_item(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "PutItem")
        table = self._table(params["TableName"])
        item = _normalise_item(params["Item"], "Item")
        key, size = table.check_item(item)
        condition = _bind(params, ["ConditionExpression"], "input")["ConditionExpression"]
        returned = _choice(params, "ReturnValues", ("NONE", "ALL_OLD"), "NONE")
        on_failure = _on_failure(params)
        old = table.items.get(key)
        if condition is not None and not condition.holds(old):
            self._charge(table.name, max(size, table.sizes.get(key, 0)))
            raise _condition_failed(old if on_failure else None)
        self._write(table, key, item, size, factor=1)
        return {"Attributes": copy_item(old)} if returned == "ALL_OLD" and old else {}

    def _get_item(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "GetItem")
        table = self._table(params["TableName"])
        key = table.key_of(_normalise_item(params["Key"], "Key"))
        item = table.items.get(key)
        consistent = params.get("ConsistentRead") is True
        self._read_units[table.name] += read_units(table.sizes.get(key, 0), consistent=consistent)
        return {"Item": copy_item(item)} if item is not None else {}

    def _batch_get_item(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "BatchGetItem")
        wanted = params["RequestItems"]
        if sum(len(request.get("Keys", [])) for request in wanted.values()) > _MAX_BATCH_GET_KEYS:
            raise _validation(
                "Too many items requested for the BatchGetItem call "
                f"(at most {_MAX_BATCH_GET_KEYS} keys)"
            )
        responses: dict[str, list[Item]] = {}
        for table_name, request in wanted.items():
            unsupported = set(request) - {"Keys", "ConsistentRead"}
            if unsupported:
                raise NotImplementedError(
                    f"MemoryDynamoDB does not support {sorted(unsupported)} (BatchGetItem)"
                )
            table = self._table(table_name)
            keys = [table.key_of(_normalise_item(key, "Key")) for key in request["Keys"]]
            if len(set(keys)) != len(keys):
                raise _validation("Provided list of item keys contains duplicates")
            consistent = request.get("ConsistentRead") is True
            found: list[Item] = []
            for key in keys:
                # Billed per item, each rounded up on its own (a missing one at the minimum).
                self._read_units[table.name] += read_units(
                    table.sizes.get(key, 0), consistent=consistent
                )
                item = table.items.get(key)
                if item is not None:
                    found.append(copy_item(item))
            responses[table_name] = found
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _delete_item(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "DeleteItem")
        table = self._table(params["TableName"])
        key = table.key_of(_normalise_item(params["Key"], "Key"))
        condition = _bind(params, ["ConditionExpression"], "input")["ConditionExpression"]
        returned = _choice(params, "ReturnValues", ("NONE", "ALL_OLD"), "NONE")
        on_failure = _on_failure(params)
        old = table.items.get(key)
        if condition is not None and not condition.holds(old):
            self._charge(table.name, table.sizes.get(key, 0))
            raise _condition_failed(old if on_failure else None)
        self._write(table, key, None, 0, factor=1)
        return {"Attributes": copy_item(old)} if returned == "ALL_OLD" and old else {}

    # ---- query -----------------------------------------------------------------------------------

    def _query(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "Query")
        table = self._table(params["TableName"])
        view = table.view(params.get("IndexName"))
        if view is not table.primary and params.get("ConsistentRead"):
            raise _validation("Consistent reads are not supported on global secondary indexes")
        if params.get("KeyConditionExpression") is None:
            raise _validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified "
                "in the request."
            )
        bound = _bind(params, ["KeyConditionExpression", "FilterExpression"], "input")
        key_bound = cast(Bound, bound["KeyConditionExpression"])
        condition = _key_condition(key_bound, view.schema)
        row_filter = bound["FilterExpression"]
        if row_filter is not None:
            _check_filter_paths(row_filter, table, view)
        select = _select(params, view)
        limit = _limit(params)
        forward = params.get("ScanIndexForward", True)
        start = params.get("ExclusiveStartKey")
        start_entry = None if start is None else self._start_entry(table, view, condition, start)
        answer, evaluated_bytes = _run_query(
            table,
            view,
            condition=condition,
            row_filter=row_filter,
            select=select,
            limit=limit,
            forward=forward,
            start_entry=start_entry,
        )
        target = table.name if view is table.primary else f"{table.name}/{view.name}"
        consistent = params.get("ConsistentRead") is True
        self._read_units[target] += read_units(evaluated_bytes, consistent=consistent)
        return answer

    def _start_entry(
        self, table: _Table, view: _View, condition: _KeyCondition, start: Any
    ) -> Entry:
        """Where the page after ``ExclusiveStartKey`` begins (the key need not exist any more)."""
        item = _normalise_item(start, "ExclusiveStartKey")
        names = view.key_names if isinstance(view, _Index) else table.schema.names
        if set(item) != set(names):
            raise _validation(_BAD_START_KEY)
        key = table._key_from(item, _BAD_START_KEY)
        if isinstance(view, _Index):
            table._check_index_keys(view, item)
            where = view.place(key, item)
            if where is None:
                raise _validation(_BAD_START_KEY)
            hash_value, entry = where
        else:
            hash_value, entry = key[0], key[1:]
        if hash_value != condition.hash_value:
            raise _validation(_START_OUTSIDE)
        if condition.range is not None and not condition.range.admits(entry[0]):
            raise _validation(_START_OUTSIDE)
        return entry

    # ---- transactions ----------------------------------------------------------------------------

    def _transact_write_items(self, params: Mapping[str, Any]) -> dict[str, Any]:
        _check_params(params, "TransactWriteItems")
        requested = params["TransactItems"]
        if not isinstance(requested, list | tuple) or not requested:
            raise _param_error("Invalid length for parameter TransactItems, valid min length: 1")
        if len(requested) > _MAX_TRANSACT_ITEMS:
            raise _validation(
                "1 validation error detected: Value at 'transactItems' failed to satisfy "
                "constraint: Member must have length less than or equal to 100"
            )
        actions = [self._action(action, at) for at, action in enumerate(requested)]
        targets = {(action.table.name, action.key) for action in actions}
        if len(targets) != len(actions):
            raise _validation("Transaction request cannot include multiple operations on one item")
        token = _token(params)
        signature = tuple(action.signature() for action in actions)
        if token is not None and self._replayed(token, signature):
            return {}
        reasons = [self._reason(action) for action in actions]
        if any(reason["Code"] != "None" for reason in reasons):
            raise cancelled(reasons)
        for action in actions:
            if action.kind != "ConditionCheck":
                self._write(
                    action.table, action.key, action.item, action.size, factor=_TRANSACTION_FACTOR
                )
        if token is not None:
            self._remember(token, signature)
        return {}

    def _action(self, requested: Any, at: int) -> _Action:
        where = f"TransactItems[{at}]"
        if not isinstance(requested, Mapping) or len(requested) != 1:
            raise _validation(
                f"{where}: TransactItems can only contain one of Check, Put, Update or Delete"
            )
        ((kind, body),) = requested.items()
        if kind not in _ACTION_SHAPES:
            raise _param_error(
                f'Unknown parameter in {where}: "{kind}", must be one of: '
                "ConditionCheck, Put, Delete, Update"
            )
        if kind == "Update":
            raise NotImplementedError("MemoryDynamoDB does not support Update actions")
        if not isinstance(body, Mapping):
            raise _param_error(f"Invalid type for parameter {where}.{kind}")
        _check_params(body, "TransactWriteItems", kind, f"{where}.{kind}")
        table = self._table(body["TableName"])
        condition = _bind(body, ["ConditionExpression"], f"{where}.{kind}")["ConditionExpression"]
        return_old = _on_failure(body)
        if kind == "Put":
            item = _normalise_item(body["Item"], f"{where}.Put.Item")
            key, size = table.check_item(item)
            return _Action(kind, table, key, item, size, condition, return_old)
        key = table.key_of(_normalise_item(body["Key"], f"{where}.{kind}.Key"))
        return _Action(kind, table, key, None, 0, condition, return_old)

    def _reason(self, action: _Action) -> dict[str, Any]:
        old = action.table.items.get(action.key)
        if action.condition is None or action.condition.holds(old):
            return {"Code": "None"}
        # DynamoDB words a failed ConditionCheck action with a full stop, other actions without.
        message = _CONDITION_FAILED + ("." if action.kind == "ConditionCheck" else "")
        reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": message}
        if action.return_old and old is not None:
            reason["Item"] = copy_item(old)
        return reason

    def _replayed(self, token: str, signature: tuple[Any, ...]) -> bool:
        """True when ``token`` already carried this very request (it is not applied again)."""
        now = self._clock()
        while self._token_expiry and self._token_expiry[0][0] <= now:
            expires, expired = self._token_expiry.popleft()
            remembered = self._tokens.get(expired)
            if remembered is not None and remembered.expires == expires:
                del self._tokens[expired]
        remembered = self._tokens.get(token)
        if remembered is None:
            return False
        if remembered.signature != signature:
            raise DynamoError(
                "IdempotentParameterMismatchException",
                "The request uses the same client token as a previous, but non-identical request.",
            )
        return True

    def _remember(self, token: str, signature: tuple[Any, ...]) -> None:
        expires = self._clock() + IDEMPOTENCY_WINDOW_S
        self._tokens[token] = _Remembered(expires, signature)
        self._token_expiry.append((expires, token))

    # ---- writing ---------------------------------------------------------------------------------

    def _write(
        self, table: _Table, key: TableKey, new: Item | None, new_size: int, *, factor: int
    ) -> None:
        """Store ``new`` under ``key`` (None: delete), keep the indexes, bill, record."""
        old = table.items.get(key)
        old_size = table.sizes.get(key, 0)
        self._charge(table.name, max(old_size, new_size), factor)
        for index in table.indexes.values():
            target = f"{table.name}/{index.name}"
            units = index.move(key, new, new_size)
            self._units[target] += units
            if factor != 1:
                self._transaction_index_units[target] += units
        if new is None:
            if old is None:
                return
            del table.items[key]
            del table.sizes[key]
            table.primary.remove(key[0], key[1:])
        else:
            if old is None:
                table.primary.insert(key[0], key[1:])
            table.items[key] = new
            table.sizes[key] = new_size
        if table.stream_view is not None and old != new:
            self._record(table, old, new, old_size + new_size)

    def _charge(self, target: str, size: int, factor: int = 1) -> None:
        self._units[target] += _write_units(size) * factor

    def _record(self, table: _Table, old: Item | None, new: Item | None, size: int) -> None:
        # Images are the stored dicts themselves (never mutated: writes replace them);
        # drain_stream copies them on the way out.
        image = cast(Item, new if new is not None else old)
        keys = {name: image[name] for name in table.schema.names}
        sequence = next(self._sequence)
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": int(self._clock()),
            "Keys": keys,
            "SequenceNumber": str(10**20 + sequence),
            "SizeBytes": item_size(keys) + size,
            "StreamViewType": table.stream_view,
        }
        if new is not None and table.stream_view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["NewImage"] = new
        if old is not None and table.stream_view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["OldImage"] = old
        self._stream.append(
            {
                "eventID": f"{sequence:032x}",
                "eventName": "INSERT" if old is None else "REMOVE" if new is None else "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": self._region,
                "dynamodb": body,
                "eventSourceARN": table.stream_arn,
            }
        )


# ---- helpers of the handlers ---------------------------------------------------------------------


def _on_failure(params: Mapping[str, Any]) -> bool:
    """True when the caller asked for the old item back on a failed condition."""
    choice = _choice(params, "ReturnValuesOnConditionCheckFailure", ("NONE", "ALL_OLD"), "NONE")
    return choice == "ALL_OLD"


def _condition_failed(old: Item | None) -> DynamoError:
    fields = {"Item": copy_item(old)} if old is not None else {}
    return DynamoError("ConditionalCheckFailedException", _CONDITION_FAILED, fields=fields)


def cancelled(reasons: Sequence[Mapping[str, Any]]) -> DynamoError:
    """A TransactionCanceledException with one reason per action, worded as DynamoDB words it."""
    codes = ", ".join(str(reason["Code"]) for reason in reasons)
    return DynamoError(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        fields={"CancellationReasons": [dict(reason) for reason in reasons]},
    )


def _token(params: Mapping[str, Any]) -> str | None:
    token = params.get("ClientRequestToken")
    if token is None:
        return None
    if not isinstance(token, str) or not 1 <= len(token) <= _MAX_TOKEN_LENGTH:
        raise _param_error(
            f"Invalid length for parameter ClientRequestToken, value: {token!r}, valid min "
            f"length: 1, valid max length: {_MAX_TOKEN_LENGTH}"
        )
    return token


def _limit(params: Mapping[str, Any]) -> int | None:
    limit = params.get("Limit")
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise _param_error(f"Invalid type for parameter Limit, value: {limit!r}, type: int")
    if limit < 1:
        raise _param_error(f"Invalid value for parameter Limit, value: {limit}, valid min value: 1")
    return limit


def _select(params: Mapping[str, Any], view: _View) -> str:
    is_index = isinstance(view, _Index)
    default = "ALL_PROJECTED_ATTRIBUTES" if is_index else "ALL_ATTRIBUTES"
    select = params.get("Select", default)
    if select == "SPECIFIC_ATTRIBUTES":
        raise NotImplementedError("MemoryDynamoDB does not support Select=SPECIFIC_ATTRIBUTES")
    select = _choice(
        params,
        "Select",
        ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES"),
        default,
    )
    if select == "ALL_PROJECTED_ATTRIBUTES" and not is_index:
        raise _validation(
            "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is "
            "not supported for a table"
        )
    if select == "ALL_ATTRIBUTES" and isinstance(view, _Index) and view.projection_type != "ALL":
        raise _validation(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
            f"supported for global secondary index {view.name} because its projection type is "
            "not ALL"
        )
    return select


def _check_filter_paths(row_filter: Bound, table: _Table, view: _View) -> None:
    keys = set(table.schema.names) | set(view.schema.names)
    for path in row_filter.expression.paths:
        attribute = path.attribute(row_filter.names)
        if attribute in keys:
            raise _validation(
                "Filter Expression can only contain non-primary key attributes: Primary key "
                f"attribute: {attribute}"
            )


def _run_query(
    table: _Table,
    view: _View,
    *,
    condition: _KeyCondition,
    row_filter: Bound | None,
    select: str,
    limit: int | None,
    forward: bool,
    start_entry: Entry | None,
) -> tuple[dict[str, Any], int]:
    """Walk one partition of ``view`` from its bounds (and past ``start_entry``); return the
    answer and the bytes evaluated (what the query is billed on: before the filter, an index's
    entries at their projected size)."""
    entries = view.partitions.get(condition.hash_value, [])
    low, high = (0, len(entries)) if condition.range is None else condition.range.bounds(entries)
    if start_entry is not None:
        if forward:
            low = max(low, bisect.bisect_right(entries, start_entry))
        else:
            high = min(high, bisect.bisect_left(entries, start_entry))
    positions = range(low, high) if forward else range(high - 1, low - 1, -1)
    if limit is not None:
        positions = positions[:limit]
    found: list[Item] = []
    row: Item = _EMPTY_ITEM
    evaluated_bytes = 0
    for position in positions:
        key = view.table_key(condition.hash_value, entries[position])
        row = table.row(view, key)
        evaluated_bytes += view.placed[key].size if isinstance(view, _Index) else table.sizes[key]
        if row_filter is None or row_filter.holds(row):
            found.append(row)
    answer: dict[str, Any] = {"Count": len(found), "ScannedCount": len(positions)}
    if select != "COUNT":
        answer["Items"] = [copy_item(item) for item in found]
    if limit is not None and len(positions) == limit:
        # DynamoDB says where it stopped whenever it stopped at the limit, even at the end.
        names = view.key_names if isinstance(view, _Index) else table.schema.names
        answer["LastEvaluatedKey"] = {name: _copy_value(row[name]) for name in names}
    return answer, evaluated_bytes


def _copied_record(record: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(record)
    body = dict(record["dynamodb"])
    for part in ("Keys", "NewImage", "OldImage"):
        if part in body:
            body[part] = copy_item(body[part])
    copied["dynamodb"] = body
    return copied


# ---- building from template.yaml -----------------------------------------------------------------


def table_kwargs_from_template(
    table_name: str,
    logical_id: str = "OrdersTable",
    template_path: Path | None = None,
) -> dict[str, Any]:
    """``create_table`` arguments for ``table_name`` from the template's table resource (keys,
    attribute definitions, GSIs with their projections, stream, billing), through the same
    loader the local stack uses."""
    template = local_template.load_template(template_path)
    return local_template.table_create_kwargs(template, logical_id, table_name)


def memory_table_from_template(
    table_name: str = "orders",
    *,
    logical_id: str = "OrdersTable",
    clock: Callable[[], float] = time.time,
    template_path: Path | None = None,
) -> MemoryDynamoDB:
    """A MemoryDynamoDB holding one empty table built from ``template.yaml``."""
    client = MemoryDynamoDB(clock=clock)
    client.create_table(**table_kwargs_from_template(table_name, logical_id, template_path))
    return client
