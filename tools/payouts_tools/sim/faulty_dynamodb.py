"""A DynamoDB client that fails as a real one does, when and how the simulator decides.

``FaultyDynamoDB`` wraps any DynamoDB client object (a ``MemoryDynamoDB`` or a boto3 client) and
asks ``decide(operation, params)`` before every call what should go wrong. Each fault raises
exactly what botocore raises -- a modelled ``ClientError`` subclass with ``Error.Code``, its
message and ``ResponseMetadata`` (``HTTPStatusCode``, ``RetryAttempts``...), or botocore's
``ReadTimeoutError`` / ``ConnectTimeoutError`` -- and either leaves the write unapplied or
applies it first, as the fault says.

What a fault models. botocore retries throttling, 5xx answers and timeouts by itself, so a
retryable error the caller gets means *every* attempt failed. With the store's ``CLIENT_CONFIG``
(standard mode, ``max_attempts: 6``, which botocore reads as 6 retries after the first attempt)
these errors carry ``RetryAttempts=6`` and ``MaxAttemptsReached`` and say "(reached max retries:
6)", exactly as a real client's do (checked against botocore talking to a stub server that always
throttles). ``TransactionCanceledException`` is never retried by botocore (the store retries it
itself), so a cancellation arrives after one attempt.

- ``THROTTLE``: ``ProvisionedThroughputExceededException`` (400); nothing written.
- ``THROTTLING_EXCEPTION``: ``ThrottlingException`` (400), DynamoDB's newer throttling answer;
  nothing written.
- ``INTERNAL_BEFORE``: ``InternalServerError`` (500); nothing written.
- ``TIMEOUT_BEFORE``: ``ReadTimeoutError``; nothing written (the request never got through).
- ``CONNECT_TIMEOUT``: ``ConnectTimeoutError``; nothing written, and the caller can know it.
- ``INTERNAL_AFTER`` / ``TIMEOUT_AFTER``: the call **is** made (the write applied, or its
  condition failed), then its answer is lost and the caller gets the error -- a write that
  happened though the caller was told it failed. (botocore's retries after a lost answer would
  have met the applied write; ``RETRIED_SEES_OWN_WRITE`` models what they then see.)
- ``CANCEL_THROTTLING`` / ``CANCEL_CONFLICT`` (TransactWriteItems only):
  ``TransactionCanceledException`` with reason ``ThrottlingError`` / ``TransactionConflict`` on
  the first action and ``None`` on the others; nothing written.
- ``RETRIED_SEES_OWN_WRITE``: the first attempt applies, its answer is lost, botocore retries,
  and the caller gets the retry's answer (``RetryAttempts=1``). For a conditional ``PutItem``
  (``attribute_not_exists``) that is ``ConditionalCheckFailedException`` with ``Item`` = its own
  item when ALL_OLD was asked -- exactly what a real client reports then. For a
  ``TransactWriteItems`` with a ``ClientRequestToken`` the retry succeeds without writing again.

``around(phase, operation)``, if given, is called with ``"before"`` and ``"after"`` around the
inner call (only when the inner client is called), so the simulator can crash the caller on
either side of a write that really happens.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, cast

import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.sim.dynamodb import client_error

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoFault(Enum):
    """What goes wrong with one call (see the module doc for each)."""

    THROTTLE = "throttle"
    THROTTLING_EXCEPTION = "throttling_exception"
    INTERNAL_BEFORE = "internal_before"
    TIMEOUT_BEFORE = "timeout_before"
    CONNECT_TIMEOUT = "connect_timeout"
    INTERNAL_AFTER = "internal_after"
    TIMEOUT_AFTER = "timeout_after"
    CANCEL_THROTTLING = "cancel_throttling"
    CANCEL_CONFLICT = "cancel_conflict"
    RETRIED_SEES_OWN_WRITE = "retried_sees_own_write"


type Decide = Callable[[str, Mapping[str, Any]], DynamoFault | None]
"""(operation such as "PutItem", the call's keyword arguments) -> the fault, or None."""

type Around = Callable[[str, str], None]
"""("before" | "after", operation), called around the inner call."""

DEFAULT_ENDPOINT: Final = "https://dynamodb.us-east-1.amazonaws.com/"

# botocore's retries when a Config says nothing: its default mode is "legacy" (4 retries);
# "standard" and "adaptive" make 2.
_DEFAULT_RETRIES: Final = {"legacy": 4, "standard": 2, "adaptive": 2}

# Operation name -> the client method, for the calls this project makes.
_METHODS: Final = {
    "PutItem": "put_item",
    "GetItem": "get_item",
    "DeleteItem": "delete_item",
    "UpdateItem": "update_item",
    "Query": "query",
    "BatchGetItem": "batch_get_item",
    "TransactWriteItems": "transact_write_items",
    "CreateTable": "create_table",
    "DescribeTable": "describe_table",
    "DeleteTable": "delete_table",
}

# (code, HTTP status, message) of the errors a retrying client gives up on.
_GIVE_UP: Final = {
    DynamoFault.THROTTLE: (
        "ProvisionedThroughputExceededException",
        400,
        "Throughput exceeds the current capacity of your table or index. DynamoDB is "
        "automatically scaling your table or index so please try again shortly. If exceptions "
        "persist, check if you have a hot key: "
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
    ),
    DynamoFault.THROTTLING_EXCEPTION: (
        "ThrottlingException",
        400,
        "Rate of requests exceeds the allowed throughput.",
    ),
    DynamoFault.INTERNAL_BEFORE: ("InternalServerError", 500, "Internal server error"),
    DynamoFault.INTERNAL_AFTER: ("InternalServerError", 500, "Internal server error"),
}

# Cancellation reason (code, message) put on the first action of a cancelled transaction.
_CANCEL_REASONS: Final = {
    DynamoFault.CANCEL_THROTTLING: (
        "ThrottlingError",
        "Throughput exceeds the current capacity for one or more global secondary indexes. "
        "DynamoDB is automatically scaling your index so please try again shortly.",
    ),
    DynamoFault.CANCEL_CONFLICT: ("TransactionConflict", "Transaction is ongoing for the item"),
}

_BEFORE: Final = frozenset(
    {
        DynamoFault.THROTTLE,
        DynamoFault.THROTTLING_EXCEPTION,
        DynamoFault.INTERNAL_BEFORE,
        DynamoFault.TIMEOUT_BEFORE,
        DynamoFault.CONNECT_TIMEOUT,
        DynamoFault.CANCEL_THROTTLING,
        DynamoFault.CANCEL_CONFLICT,
    }
)


class FaultyDynamoDB:
    """A DynamoDB client wrapper that injects the faults ``decide`` chooses.

    ``inner``: the client to call. ``decide``: asked once per call. ``around``: the crash hook.
    ``config``: the botocore Config of the client being modelled (the store's ``CLIENT_CONFIG``
    by default), which sets how many retries a given-up error reports. ``endpoint_url`` goes
    into timeout errors' messages (the inner boto3 client's own endpoint by default).
    """

    def __init__(
        self,
        inner: object,
        *,
        decide: Decide,
        around: Around | None = None,
        config: Config = CLIENT_CONFIG,
        endpoint_url: str | None = None,
    ) -> None:
        self._inner = inner
        self._decide = decide
        self._around = around
        self._endpoint_url = endpoint_url or _endpoint_of(inner)
        self._retries = retries_of(config)
        self._requests = itertools.count(1)
        self.faults_injected: dict[DynamoFault, int] = dict.fromkeys(DynamoFault, 0)
        """How many times each fault was injected."""

    @property
    def inner(self) -> Any:
        """The wrapped client (its stream, counters...)."""
        return self._inner

    @property
    def exceptions(self) -> Any:
        """The wrapped client's modelled exception classes."""
        return getattr(self._inner, "exceptions", None)

    def as_client(self) -> DynamoDBClient:
        """This object typed as a boto3 DynamoDB client, for ``OrderStore(client, ...)``."""
        return cast("DynamoDBClient", self)

    # ---- the client's methods ------------------------------------------------------------------

    def put_item(self, **kwargs: Any) -> Any:
        """PutItem, perhaps faulted."""
        return self._make_api_call("PutItem", kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        """GetItem, perhaps faulted."""
        return self._make_api_call("GetItem", kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        """DeleteItem, perhaps faulted."""
        return self._make_api_call("DeleteItem", kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        """UpdateItem, perhaps faulted (when the inner client has it)."""
        return self._make_api_call("UpdateItem", kwargs)

    def query(self, **kwargs: Any) -> Any:
        """Query, perhaps faulted."""
        return self._make_api_call("Query", kwargs)

    def batch_get_item(self, **kwargs: Any) -> Any:
        """BatchGetItem, perhaps faulted (the retention sweep reads orders 100 at a time)."""
        return self._make_api_call("BatchGetItem", kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        """TransactWriteItems, perhaps faulted."""
        return self._make_api_call("TransactWriteItems", kwargs)

    def create_table(self, **kwargs: Any) -> Any:
        """CreateTable, perhaps faulted."""
        return self._make_api_call("CreateTable", kwargs)

    def describe_table(self, **kwargs: Any) -> Any:
        """DescribeTable, perhaps faulted."""
        return self._make_api_call("DescribeTable", kwargs)

    def delete_table(self, **kwargs: Any) -> Any:
        """DeleteTable, perhaps faulted."""
        return self._make_api_call("DeleteTable", kwargs)

    def _make_api_call(self, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        fault = self._decide(operation_name, api_params)
        if fault is None:
            return self._call(operation_name, api_params)
        self.faults_injected[fault] += 1
        if fault in _BEFORE:
            raise self._error(fault, operation_name, api_params)
        if fault is DynamoFault.RETRIED_SEES_OWN_WRITE:
            return self._retried(operation_name, api_params)
        # The call is made; its answer (success or ClientError) is lost like any other.
        with contextlib.suppress(ClientError):
            self._call(operation_name, api_params)
        raise self._error(fault, operation_name, api_params)

    # ---- faults ----------------------------------------------------------------------------------

    def _call(self, operation: str, params: Mapping[str, Any]) -> Any:
        """The inner call, with the ``around`` hook on both sides (also when it raises a
        ClientError: the call was made either way)."""
        method = getattr(self._inner, _METHODS.get(operation, ""), None)
        if method is None:
            raise NotImplementedError(f"FaultyDynamoDB cannot call {operation} on its client")
        self._hook("before", operation)
        try:
            answer = method(**params)
        except ClientError:
            self._hook("after", operation)
            raise
        self._hook("after", operation)
        return answer

    def _hook(self, phase: str, operation: str) -> None:
        if self._around is not None:
            self._around(phase, operation)

    def _retried(self, operation: str, params: Mapping[str, Any]) -> Any:
        """First attempt applied and its answer lost; the caller gets the retry's answer."""
        with contextlib.suppress(ClientError):  # lost too; the retry meets the same state
            self._call(operation, params)
        method = getattr(self._inner, _METHODS[operation])
        try:
            answer = method(**params)
        except ClientError as error:
            raise _as_retried(error) from None
        if isinstance(answer, dict) and isinstance(answer.get("ResponseMetadata"), dict):
            answer["ResponseMetadata"]["RetryAttempts"] = 1
        return answer

    def _error(self, fault: DynamoFault, operation: str, params: Mapping[str, Any]) -> Exception:
        endpoint = self._endpoint_url
        if fault in (DynamoFault.TIMEOUT_BEFORE, DynamoFault.TIMEOUT_AFTER):
            # As botocore raises it: its own error, urllib3's underneath.
            no_pool: Any = None  # there is no connection pool to name
            cause = urllib3.exceptions.ReadTimeoutError(no_pool, endpoint, "Read timed out.")
            return ReadTimeoutError(endpoint_url=endpoint, error=cause)
        if fault is DynamoFault.CONNECT_TIMEOUT:
            connect = urllib3.exceptions.ConnectTimeoutError(None, "Connection timed out.")
            return ConnectTimeoutError(endpoint_url=endpoint, error=connect)
        if fault in _CANCEL_REASONS:
            return self._cancellation(fault, operation, params)
        code, status, message = _GIVE_UP[fault]
        return client_error(
            operation,
            code,
            message,
            request_id=self._request_id(),
            status=status,
            retry_attempts=self._retries,
            max_attempts_reached=True,
        )

    def _cancellation(
        self, fault: DynamoFault, operation: str, params: Mapping[str, Any]
    ) -> ClientError:
        if operation != "TransactWriteItems":
            raise ValueError(f"{fault.name} applies to TransactWriteItems only, not {operation}")
        code, message = _CANCEL_REASONS[fault]
        others = max(0, len(params.get("TransactItems", [])) - 1)
        reasons = [{"Code": code, "Message": message}, *({"Code": "None"} for _ in range(others))]
        codes = ", ".join(reason["Code"] for reason in reasons)
        return client_error(
            operation,
            "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]",
            request_id=self._request_id(),
            fields={"CancellationReasons": reasons},
        )

    def _request_id(self) -> str:
        return f"FAULT{next(self._requests):047d}"


def _as_retried(error: ClientError) -> ClientError:
    """``error`` as botocore reports it from a call's second attempt (RetryAttempts=1)."""
    response: dict[str, Any] = dict(error.response)
    metadata = dict(response.get("ResponseMetadata", {}))
    metadata["RetryAttempts"] = 1
    response["ResponseMetadata"] = metadata
    return type(error)(response, error.operation_name)  # type: ignore[arg-type]


def retries_of(config: Config) -> int:
    """How many retries botocore makes after the first attempt under ``config``:
    ``total_max_attempts - 1`` if set, else ``max_attempts`` (botocore's retries-only
    spelling), else the mode's default."""
    retries: dict[str, Any] = dict(getattr(config, "retries", None) or {})
    if "total_max_attempts" in retries:
        return max(0, int(retries["total_max_attempts"]) - 1)
    if "max_attempts" in retries:
        return max(0, int(retries["max_attempts"]))
    return _DEFAULT_RETRIES.get(str(retries.get("mode", "legacy")), 4)


def _endpoint_of(client: object) -> str:
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
    if not isinstance(endpoint, str):
        return DEFAULT_ENDPOINT
    return endpoint if endpoint.endswith("/") else endpoint + "/"
