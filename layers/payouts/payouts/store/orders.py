"""OrderStore: conditional writes that can never lose or double an order.

Every change of an order is a conditional write on its status **and** version (optimistic
locking), in one transaction with the evidence item that justifies it. A lost race is reported as
``Stale`` with the current order; nothing is ever overwritten blindly.
"""

from __future__ import annotations

import heapq
import random
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from typing import TYPE_CHECKING, Any, Final

from botocore.config import Config
from botocore.exceptions import ClientError

from payouts.domain.erasure import ErasedRequest
from payouts.domain.errors import IllegalTransition
from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Evidence, Order, creation_send_evidence
from payouts.domain.request import PayoutRequest
from payouts.domain.status import OrderStatus, can_transition
from payouts.store import keys
from payouts.store.codec import (
    evidence_from_item,
    evidence_to_item,
    from_attribute_values,
    legacy_status_index,
    order_from_item,
    order_to_item,
    to_attribute_values,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        PutItemInputTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

# botocore's standard mode retries throttling (and transient 5xx) with jittered exponential
# backoff (max_attempts counts the retries: 7 attempts in all); conditional-check failures are
# never retried, they are answers.
# No client-side parameter validation (a tenth of a call's CPU): our own code builds every
# parameter, a misspelt name still raises before anything is sent and DynamoDB refuses a malformed
# value (tests/unit/store/test_client_config.py). A fixed User-Agent: botocore otherwise rebuilds
# and sanitises its own, character by character, twice per request.
CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 6},
    parameter_validation=False,
    user_agent="payouts",
)

# A transaction cancelled for a reason other than our condition (a concurrent transaction on the
# same item, throttling) is retried a few times with jitter before it is reported.
_TRANSACTION_ATTEMPTS: Final = 4
# BatchGetItem takes at most 100 keys; what it leaves unprocessed is asked again, this many times.
_BATCH_GET_KEYS: Final = 100
# The smallest step of a stored timestamp (microseconds): the last instant of a day is the next
# day's start less one tick.
_TICK: Final = timedelta(microseconds=1)
# Sorts after every character a payout id may contain ([A-Za-z0-9_-]).
_AFTER_ANY_ID: Final = "~"
_BATCH_GET_ATTEMPTS: Final = 6
_RETRYABLE_CANCELLATIONS: Final = frozenset({"TransactionConflict", "ThrottlingError"})

_LEASE_FREE: Final = "attribute_not_exists(PK) OR expires_at < :now OR #owner = :owner"


@dataclass(frozen=True)
class Created:
    """A new order was stored."""

    order: Order


@dataclass(frozen=True)
class AlreadyExists:
    """An order with this id was already stored. ``same_request`` tells a redelivery of the same
    request from a different request that reuses the id (a conflict: record it, never apply it)."""

    order: Order
    same_request: bool


CreateResult = Created | AlreadyExists


@dataclass(frozen=True)
class Applied:
    """The conditional write won; ``order`` is what is now stored."""

    order: Order


@dataclass(frozen=True)
class Stale:
    """Someone else changed the order first; ``current`` is what is stored now (None if absent)."""

    current: Order | None


WriteResult = Applied | Stale


@dataclass(frozen=True)
class DueOrder:
    """An order the reconcile loop should check."""

    payout_id: str
    next_check_at: datetime


@dataclass(frozen=True)
class DuePage:
    """Due orders, earliest first, and whether more may be due than this page holds."""

    orders: list[DueOrder]
    more: bool

    @property
    def payout_ids(self) -> list[str]:
        """The ids, in order."""
        return [due.payout_id for due in self.orders]


@dataclass(frozen=True)
class ErasablePage:
    """Ids of orders whose personal data is due for erasure, and whether more may be due."""

    payout_ids: list[str]
    more: bool


@dataclass(frozen=True, order=True)
class SweepPosition:
    """A place in creation order, (created_at, payout_id): the retention sweep has looked at
    every order up to and including it."""

    created_at: datetime
    payout_id: str

    @classmethod
    def through(cls, moment: datetime) -> SweepPosition:
        """The position after every order created up to ``moment``, whatever its id."""
        return cls(moment, _AFTER_ANY_ID)


@dataclass(frozen=True)
class SweepPage:
    """Orders in creation order after a sweep position; ``last`` is the position of the last
    one taken, and ``exhausted`` says none is left up to the bound asked for."""

    orders: list[Order]
    last: SweepPosition | None
    exhausted: bool


@dataclass(frozen=True)
class OrderSummary:
    """The projected fields of an order, for ops listings."""

    payout_id: str
    status: OrderStatus
    provider: str | None
    provider_order_id: str | None
    amount_value: int | None
    currency: str | None
    method: str | None
    needs_review: bool
    updated_at: datetime | None


class ReadIncomplete(Exception):
    """A read could not get every item it asked for (throttled past the retries)."""


type Pause = Callable[[float], None]
"""Waits a number of seconds (``time.sleep``); injectable so a simulation runs in virtual time."""

type UniqueIds = Callable[[], str]
"""Returns a fresh random hex string (32 characters) for tokens and evidence keys."""


def random_hex() -> str:
    """A fresh random 128-bit hex string."""
    return uuid.uuid4().hex


class OrderStore:
    """Orders, their evidence, the due index and the reconcile lease, in one DynamoDB table.

    Time and randomness are ports (``pause``, ``jitter``, ``unique``) with the real ones as
    defaults, so a deterministic simulation can run this exact code.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        pause: Pause = time.sleep,
        jitter: Callable[[], float] = random.random,
        unique: UniqueIds = random_hex,
    ) -> None:
        self._client = client
        self._table = table_name
        self._pause = pause
        self._jitter = jitter
        self._unique = unique

    # ---- create -------------------------------------------------------------------------------

    def create(
        self,
        request: PayoutRequest,
        now: datetime,
        next_check_at: datetime | None,
        *,
        send_to: str | None = None,
    ) -> CreateResult:
        """Store a new RECEIVED order for ``request``, or return the one already stored.

        With ``send_to`` the order is stored already claimed for sending to that provider
        (SUBMITTING, first attempt, sent now; ``next_check_at`` is then when the reconcile loop
        treats the send as abandoned): the create and the claim in one write, still durable
        before the HTTP call, for a caller that sends at once.

        One conditional put (``attribute_not_exists``); on conflict DynamoDB returns the existing
        item in the same call, and its fingerprint tells "same request again" from "different".
        """
        claim: dict[str, Any] = {}
        if send_to is not None:
            claim = {
                "status": OrderStatus.SUBMITTING,
                "provider": send_to,
                "submit_attempts": 1,
                "last_sent_at": now,
                "sent_at_creation": True,
            }
        order = Order(
            payout_id=request.payout_id,
            request=request,
            fingerprint=request_fingerprint(request),
            status=OrderStatus.RECEIVED,
            version=1,
            created_at=now,
            updated_at=now,
            next_check_at=next_check_at,
            first_unresolved_at=now,
            write_token=self._unique()[:16],
        ).model_copy(update=claim)
        existing = self._put_new(order)
        if existing is None:
            return Created(order)
        return AlreadyExists(existing, same_request=existing.fingerprint == order.fingerprint)

    def create_rejected(
        self, payout_id: str, reason: str, excerpt: str, now: datetime
    ) -> CreateResult:
        """Store a REJECTED order for a request that failed validation, so its publisher can see
        why. An existing order with this id is never touched."""
        order = Order(
            payout_id=payout_id,
            request=None,
            invalid_request=excerpt,
            fingerprint="invalid",
            status=OrderStatus.REJECTED,
            version=1,
            status_reason=reason,
            created_at=now,
            updated_at=now,
            write_token=self._unique()[:16],
        )
        existing = self._put_new(order)
        if existing is None:
            return Created(order)
        return AlreadyExists(existing, same_request=False)

    def _put_new(self, order: Order) -> Order | None:
        """Put a new order; None when it is stored (by this call, or by an earlier attempt of
        it), else the order already stored under its id."""
        written, old = self._put_conditionally(
            order_to_item(order), "attribute_not_exists(PK)", {}, {}
        )
        if written:
            return None
        return order_from_item(old) if old else self._must_get(order.payout_id)

    def _put_conditionally(
        self,
        item: Mapping[str, Any],
        condition: str,
        names: dict[str, str],
        values: Mapping[str, Any],
    ) -> tuple[bool, Mapping[str, Any] | None]:
        """One conditional put of an item carrying a fresh ``write_token``: (True, None) when it
        is stored, (False, the item that failed the condition, if returned) when it is not.

        When botocore retries a put whose first answer was lost, the condition fails on exactly
        the item the first attempt wrote; its token makes it ours, not someone else's identical
        write (a single-item put has no idempotency token of its own)."""
        request: PutItemInputTypeDef = {
            "TableName": self._table,
            "Item": dict(item),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = to_attribute_values(values)
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            old = _returned_item(dict(error.response))
            return (old is not None and _same_item(old, item)), old
        return True, None

    # ---- read ---------------------------------------------------------------------------------

    def get(self, payout_id: str) -> Order | None:
        """The order, read strongly consistently, or None."""
        answer = self._client.get_item(
            TableName=self._table,
            Key=to_attribute_values({"PK": keys.order_pk(payout_id), "SK": keys.ORDER_SK}),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return order_from_item(item) if item else None

    def _must_get(self, payout_id: str) -> Order:
        order = self.get(payout_id)
        if order is None:
            raise LookupError(f"order {payout_id} vanished")
        return order

    def history(self, payout_id: str) -> list[Evidence]:
        """The order's evidence, oldest first."""
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": to_attribute_values(
                {":pk": keys.order_pk(payout_id), ":prefix": keys.EVIDENCE_PREFIX}
            ),
            "ConsistentRead": True,
        }
        found = [evidence_from_item(item) for item in self._query_all(query)]
        order = self.get(payout_id)
        if order is not None:
            # Records kept on the order item itself: the first send of an order stored already
            # claimed, the evidence of the change that made it terminal, and of its erasure.
            kept = (creation_send_evidence(order), order.final_evidence, order.erasure_evidence)
            found.extend(evidence for evidence in kept if evidence is not None)
            # Time order; records of one instant by the order version they were written with.
            found.sort(key=lambda evidence: (evidence.at, evidence.order_version or 0))
        return found

    # ---- write --------------------------------------------------------------------------------

    def transition(
        self, order: Order, to: OrderStatus, evidence: Evidence, now: datetime, **changes: Any
    ) -> WriteResult:
        """Move ``order`` to ``to`` with ``evidence``, if it is still exactly as read.

        Raises IllegalTransition when the table forbids the move (a bug in the caller). Leaving an
        unresolved status clears the due index unless ``next_check_at`` is given.
        """
        if not can_transition(order.status, to):
            raise IllegalTransition(f"{order.payout_id}: {order.status} -> {to} is not allowed")
        updated = order.model_copy(
            update={
                "status": to,
                "version": order.version + 1,
                "updated_at": now,
                "write_token": None,
                **changes,
            }
        )
        if updated.is_terminal:
            updated = updated.model_copy(update={"next_check_at": None})
        stamped = evidence.model_copy(
            update={"from_status": order.status, "to_status": to, "order_version": updated.version}
        )
        if updated.is_terminal and order.final_evidence is None:
            # The change that makes an order terminal keeps its evidence on the order item: one
            # conditional write of one item (atomic by itself), not a transaction of two.
            final = {"final_evidence": stamped, "write_token": self._unique()[:16]}
            return self._put_order(order, updated.model_copy(update=final))
        return self._write(order, updated, stamped)

    def update(
        self, order: Order, now: datetime, evidence: Evidence | None = None, **changes: Any
    ) -> WriteResult:
        """Change fields of ``order`` other than its status (schedule, attempts, review flag),
        if it is still exactly as read."""
        if "status" in changes:
            raise IllegalTransition("use transition() to change an order's status")
        updated = order.model_copy(
            update={"version": order.version + 1, "updated_at": now, "write_token": None, **changes}
        )
        return self._write(order, updated, evidence)

    def erase(
        self,
        order: Order,
        now: datetime,
        evidence: Evidence,
        request: ErasedRequest | None,
        invalid_request: str | None,
    ) -> WriteResult:
        """Replace the personal data of ``order`` by ``request`` and ``invalid_request`` (their
        erased forms), if it is still exactly as read, with ``evidence`` kept on the order item:
        one conditional put of one item (atomic by itself), never a status change."""
        if order.personal_data_erased_at is not None or order.erasure_evidence is not None:
            raise ValueError(f"{order.payout_id}: already erased")
        version = order.version + 1
        updated = order.model_copy(
            update={
                "version": version,
                "updated_at": now,
                "personal_data_erased_at": now,
                "erasure_evidence": evidence.model_copy(update={"order_version": version}),
                "write_token": self._unique()[:16],
                "request": request,
                "invalid_request": invalid_request,
            }
        )
        return self._put_order(order, updated)

    def append_evidence(self, payout_id: str, evidence: Evidence) -> None:
        """Append an evidence item without changing the order (e.g. a refused conflict)."""
        self._client.put_item(
            TableName=self._table,
            Item=evidence_to_item(payout_id, evidence, self._unique()[:12], version=None),
            ConditionExpression="attribute_not_exists(PK)",
        )

    # ---- callbacks ------------------------------------------------------------------------------

    def record_callback_once(self, payout_id: str, evidence: Evidence, body_sha256: str) -> bool:
        """Append a callback's ``evidence`` unless a callback with the same body was recorded for
        this order before; True when it was appended.

        One transaction of two conditional puts (the body's mark, the evidence), so a provider's
        retries of one message cost a failed condition, never a read of the order's history.
        """
        mark = to_attribute_values(
            {
                "PK": keys.order_pk(payout_id),
                "SK": keys.callback_body_sk(body_sha256),
                "recorded_at": keys.timestamp(evidence.at),
            }
        )
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": mark,
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": evidence_to_item(payout_id, evidence, self._unique()[:12], None),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = [reason.get("Code", "None") for reason in _cancellation_reasons(error)]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def mark_callback_seen(self, payout_id: str, body_sha256: str, now: datetime) -> None:
        """Remember that a callback body is already in the order's history (it came with a
        transition), so ``record_callback_once`` does not record a copy of it again."""
        self._client.put_item(
            TableName=self._table,
            Item=to_attribute_values(
                {
                    "PK": keys.order_pk(payout_id),
                    "SK": keys.callback_body_sk(body_sha256),
                    "recorded_at": keys.timestamp(now),
                }
            ),
        )

    def claim_callback_query(
        self, payout_id: str, report: str, now: datetime, window: timedelta
    ) -> bool:
        """Take the order's one query of ``window`` for callbacks reporting ``report``: True
        unless another such callback claimed one less than ``window`` before ``now``. One
        conditional put on an item of its own, so the order's version (and every writer racing
        on it) is left alone."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_attribute_values(
                    {
                        "PK": keys.order_pk(payout_id),
                        "SK": keys.callback_query_sk(report),
                        "queried_at": keys.timestamp(now),
                    }
                ),
                # Fixed-width UTC timestamps compare as strings exactly as the times do.
                ConditionExpression="attribute_not_exists(PK) OR queried_at <= :cutoff",
                ExpressionAttributeValues=to_attribute_values(
                    {":cutoff": keys.timestamp(now - window)}
                ),
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _write(self, before: Order, after: Order, evidence: Evidence | None) -> WriteResult:
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": order_to_item(after),
                    "ConditionExpression": "#status = :status AND #version = :version",
                    "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                    "ExpressionAttributeValues": to_attribute_values(
                        {":status": before.status.value, ":version": before.version}
                    ),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        if evidence is not None:
            unique = self._unique()[:12]
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": evidence_to_item(after.payout_id, evidence, unique, after.version),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        return self._transact(items, after)

    def _put_order(self, before: Order, after: Order) -> WriteResult:
        """Write ``after`` in place of ``before`` if it is still exactly as read: one item, no
        transaction (its evidence, if any, is inside it)."""
        written, old = self._put_conditionally(
            order_to_item(after),
            "#status = :status AND #version = :version",
            {"#status": "status", "#version": "version"},
            {":status": before.status.value, ":version": before.version},
        )
        if written:
            return Applied(after)
        return Stale(order_from_item(old) if old else self.get(after.payout_id))

    def _transact(self, items: list[TransactWriteItemTypeDef], after: Order) -> WriteResult:
        """Run one logical write. ``Stale`` means someone else won (our condition failed); a
        write that could not be made (cancelled for throughput past the retries, throttled,
        unavailable) raises, so no caller ever mistakes "I could not write" for a lost race."""
        # One token per logical write: botocore's own retries of this call are idempotent (a write
        # that succeeded but whose answer was lost is not reported stale), while two callers racing
        # on the same version always get different tokens, so exactly one wins.
        token = self._unique()
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
            except ClientError as error:
                code = _error_code(error)
                if code == "IdempotentParameterMismatchException":
                    return Stale(self.get(after.payout_id))
                if code != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code", "None") for reason in _cancellation_reasons(error)]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return Stale(_old_order(error) or self.get(after.payout_id))
                if attempt + 1 == _TRANSACTION_ATTEMPTS or not _retryable(reasons):
                    raise
                self._pause_with_jitter(attempt)
                continue
            return Applied(after)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _pause_with_jitter(self, attempt: int) -> None:
        # Full jitter: a random pause up to 50 ms x 2^attempt, so racing writers spread out.
        self._pause(self._jitter() * 0.05 * 2**attempt)

    # ---- due index ------------------------------------------------------------------------------

    def due(self, now: datetime, limit: int) -> DuePage:
        """Up to ``limit`` orders due at ``now``, earliest first, and whether more are due.

        Reads the sparse due index only, about ``limit`` keys however large the backlog and
        however many orders are resolved: it asks every shard for an even share of what is
        missing, then again only the shards that had more, until the page is full or nothing
        more is due. (Reading ``limit`` from every shard would read the backlog ``shards``
        times over.) ``more`` says the page could not hold everything due.
        """
        cursors: dict[str, Mapping[str, Any] | None] = dict.fromkeys(keys.all_due_shards())
        found: list[DueOrder] = []
        while cursors and len(found) < limit:
            share = -(-(limit - len(found)) // len(cursors))  # ceiling division
            for shard, start in list(cursors.items()):
                orders, resume = self._due_in_shard(shard, now, share, start)
                found.extend(orders)
                if resume is None:
                    del cursors[shard]
                else:
                    cursors[shard] = resume
        found.sort(key=_due_order)
        return DuePage(found[:limit], more=bool(cursors) or len(found) > limit)

    def earliest_due(self) -> datetime | None:
        """When the next unresolved order falls due (one item read per shard), or None."""
        firsts: list[datetime] = []
        for shard in keys.all_due_shards():
            answer = self._client.query(
                TableName=self._table,
                IndexName=keys.DUE_INDEX,
                KeyConditionExpression="due_pk = :shard",
                ExpressionAttributeValues=to_attribute_values({":shard": shard}),
                Limit=1,
            )
            firsts.extend(_due_from_item(item).next_check_at for item in answer.get("Items", []))
        return min(firsts, default=None)

    def _due_in_shard(
        self, shard: str, now: datetime, share: int, start: Mapping[str, Any] | None
    ) -> tuple[list[DueOrder], Mapping[str, Any] | None]:
        # One page: a key-only query without filter returns min(share, due) items at once, and
        # DynamoDB returns LastEvaluatedKey when it stopped at the limit.
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": keys.DUE_INDEX,
            "KeyConditionExpression": "due_pk = :shard AND due_sk <= :upper",
            "ExpressionAttributeValues": to_attribute_values(
                {":shard": shard, ":upper": keys.due_upper_bound(now)}
            ),
            "Limit": share,
        }
        if start is not None:
            query["ExclusiveStartKey"] = dict(start)
        answer = self._client.query(**query)
        orders = [_due_from_item(item) for item in answer.get("Items", [])]
        return orders, answer.get("LastEvaluatedKey")

    # ---- erasable index (retention) -------------------------------------------------------------

    def erasable(self, unchanged_since: datetime, limit: int) -> ErasablePage:
        """Up to ``limit`` ids of terminal orders that still hold personal data and have not
        changed since ``unchanged_since``, and whether more may be waiting.

        Reads the sparse erasable index only: an erased order leaves it, so every run reads
        what is left to do, never the orders already erased or not yet due.
        """
        found: list[str] = []
        more = False
        for shard in keys.all_erase_shards():
            if len(found) >= limit:
                more = True
                break
            answer = self._client.query(
                TableName=self._table,
                IndexName=keys.ERASABLE_INDEX,
                KeyConditionExpression="erase_pk = :shard AND erase_sk <= :upper",
                ExpressionAttributeValues=to_attribute_values(
                    {":shard": shard, ":upper": keys.erase_upper_bound(unchanged_since)}
                ),
                Limit=limit - len(found),
            )
            found.extend(
                str(from_attribute_values(item)["erase_sk"]).partition("#")[2]
                for item in answer.get("Items", [])
            )
            more = more or bool(answer.get("LastEvaluatedKey"))
        return ErasablePage(found, more)

    # ---- retention sweep of by-day ---------------------------------------------------------------

    def created_after(self, after: SweepPosition, until: datetime, limit: int) -> SweepPage:
        """Up to ``limit`` orders created after ``after`` and no later than ``until``, in
        creation order (then id), whole: from by-day, day after day, each day's shards merged
        and read from ``after`` on (a key condition on the index's range key, so the days and
        the entries already swept are never read again), the orders by BatchGetItem."""
        taken: list[tuple[str, str]] = []
        day = after.created_at.astimezone(UTC)
        bound = (keys.timestamp(after.created_at), after.payout_id)
        exhausted = True
        while day.date() <= until.astimezone(UTC).date():
            lower = max(after.created_at, _day_start(day))
            upper = min(until, _day_start(day) + timedelta(days=1) - _TICK)
            queries = _day_range_queries(self._table, day, lower, upper, limit)
            entries = _merged_entries([self._query_all(query) for query in queries])
            taken.extend(islice((e for e in entries if e > bound), limit - len(taken) + 1))
            if len(taken) > limit:  # one more than asked for: there is more to sweep
                taken, exhausted = taken[:limit], False
                break
            day = _day_start(day) + timedelta(days=1)
        found = self._get_many([payout_id for _, payout_id in taken])
        last = SweepPosition(keys.parse_timestamp(taken[-1][0]), taken[-1][1]) if taken else None
        orders = [found[payout_id] for _, payout_id in taken if payout_id in found]
        return SweepPage(orders, last, exhausted)

    def sweep_position(self) -> SweepPosition | None:
        """How far in creation order the retention sweep has looked (None: it never has)."""
        answer = self._client.get_item(
            TableName=self._table,
            Key=to_attribute_values({"PK": keys.SWEEP_PK, "SK": keys.SWEEP_SK}),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        values = from_attribute_values(item)
        return SweepPosition(
            keys.parse_timestamp(str(values["swept_created_at"])), str(values["swept_payout_id"])
        )

    def move_sweep_position(self, before: SweepPosition | None, after: SweepPosition) -> bool:
        """Move the sweep's position from ``before`` to ``after``; False (nothing written) when
        another run moved it meanwhile. A put retried by botocore after its answer was lost is
        recognised as ours by its token, not taken for another run's move."""
        condition = "attribute_not_exists(PK)"
        values: dict[str, Any] = {}
        if before is not None:
            condition = "swept_created_at = :created AND swept_payout_id = :payout"
            values = {":created": keys.timestamp(before.created_at), ":payout": before.payout_id}
        item = to_attribute_values(
            {
                "PK": keys.SWEEP_PK,
                "SK": keys.SWEEP_SK,
                "swept_created_at": keys.timestamp(after.created_at),
                "swept_payout_id": after.payout_id,
                "write_token": self._unique()[:16],
            }
        )
        moved, _ = self._put_conditionally(item, condition, {}, values)
        return moved

    # ---- ops reads (no Scan) ---------------------------------------------------------------------

    def list_by_statuses(
        self,
        statuses: Collection[OrderStatus],
        first_day: datetime,
        last_day: datetime,
        limit: int = 100,
    ) -> list[OrderSummary]:
        """Orders in any of ``statuses`` created between two days (inclusive), at most
        ``limit``: newest first (by creation time, then id) from by-day, where each day is read
        once whatever the number of statuses; mid-migration, status by status from
        by-status-day (each newest first)."""
        wanted = frozenset(statuses)
        if legacy_status_index():
            found: list[OrderSummary] = []
            for status in sorted(wanted):
                found.extend(self.list_by_status(status, first_day, last_day, limit - len(found)))
            return found
        return self._listed_from_days(wanted, first_day, last_day, limit)

    def _listed_from_days(
        self,
        wanted: frozenset[OrderStatus],
        first_day: datetime,
        last_day: datetime,
        limit: int,
    ) -> list[OrderSummary]:
        found: list[OrderSummary] = []
        day = last_day.astimezone(UTC)
        while day.date() >= first_day.astimezone(UTC).date() and len(found) < limit:
            in_day = _merged_payout_ids(
                [self._query_all(query) for query in _day_queries(self._table, day, True)],
                newest_first=True,
            )
            in_status = (o for o in _read_lazily(in_day, self._get_many) if o.status in wanted)
            found.extend(order_summary(o) for o in islice(in_status, limit - len(found)))
            day -= timedelta(days=1)
        return found

    def list_by_status(
        self, status: OrderStatus, first_day: datetime, last_day: datetime, limit: int = 100
    ) -> list[OrderSummary]:
        """Orders in ``status`` created between two days (inclusive), newest first (by creation
        time, then id), at most ``limit``.

        From the by-day index: each day's 16 shards merged newest first, the orders read by
        BatchGetItem (100 at a time, only as many as the limit needs) and kept when in
        ``status``. While a stack migrates (``LEGACY_STATUS_INDEX=true``), from by-status-day.
        """
        if not legacy_status_index():
            return self._listed_from_days(frozenset({status}), first_day, last_day, limit)
        found: list[OrderSummary] = []
        day = last_day.astimezone(UTC)
        while day.date() >= first_day.astimezone(UTC).date() and len(found) < limit:
            query: QueryInputTypeDef = {
                "TableName": self._table,
                "IndexName": keys.STATUS_INDEX,
                "KeyConditionExpression": "status_pk = :pk",
                "ExpressionAttributeValues": to_attribute_values(
                    {":pk": keys.status_partition(status.value, day)}
                ),
                "ScanIndexForward": False,
            }
            found.extend(
                _summary_from_item(item)
                for item in islice(self._query_all(query), limit - len(found))
            )
            day -= timedelta(days=1)
        return found

    def find_by_provider_order_id(self, provider: str, provider_order_id: str) -> Order | None:
        """The order the provider knows by ``provider_order_id``."""
        answer = self._client.query(
            TableName=self._table,
            IndexName=keys.PROVIDER_REF_INDEX,
            KeyConditionExpression="provider_ref = :ref",
            ExpressionAttributeValues=to_attribute_values(
                {":ref": keys.provider_ref(provider, provider_order_id)}
            ),
            Limit=1,
        )
        items = answer.get("Items", [])
        if not items:
            return None
        return self.get(keys.payout_id_from_pk(from_attribute_values(items[0])["PK"]))

    def orders_of_day(
        self, statuses: Collection[OrderStatus], day: datetime, provider: str | None = None
    ) -> list[Order]:
        """Every order in any of ``statuses`` created on ``day`` (UTC), whole, optionally only
        ``provider``'s: from by-day the day is read once (oldest first), mid-migration status by
        status from by-status-day (in the order of ``statuses``)."""
        if legacy_status_index():
            return [
                order
                for status in statuses
                for order in self.orders_created_on(status, day, provider)
            ]
        wanted = frozenset(statuses)
        in_day = _merged_payout_ids(
            [self._query_all(query) for query in _day_queries(self._table, day, False)],
            newest_first=False,
        )
        return [
            order
            for order in _read_lazily(in_day, self._get_many)
            if order.status in wanted and (provider is None or order.provider == provider)
        ]

    def orders_created_on(
        self, status: OrderStatus, day: datetime, provider: str | None = None
    ) -> list[Order]:
        """Every order in ``status`` created on ``day`` (UTC), oldest first (by creation time,
        then id), whole (money figures included), optionally only ``provider``'s.

        The by-day index gives the ids of every order of the day (its 16 shards, merged), the
        orders are read by BatchGetItem, 100 keys a call, and filtered here by status and
        provider. While a stack migrates (``LEGACY_STATUS_INDEX=true``), the by-status-day index
        gives the ids instead (one partition per status and day). Never a Scan.
        """
        if not legacy_status_index():
            return self.orders_of_day([status], day, provider)
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": keys.STATUS_INDEX,
            "KeyConditionExpression": "status_pk = :pk",
            "ExpressionAttributeValues": to_attribute_values(
                {":pk": keys.status_partition(status.value, day), ":provider": provider}
            ),
            "ProjectionExpression": "payout_id",
        }
        if provider is not None:
            query["FilterExpression"] = "provider = :provider"
        ids = [str(from_attribute_values(item)["payout_id"]) for item in self._query_all(query)]
        found = self._get_many(ids)
        return [found[payout_id] for payout_id in ids if payout_id in found]

    def _get_many(self, payout_ids: list[str]) -> dict[str, Order]:
        """The orders with these ids, by id (BatchGetItem; keys it leaves unprocessed are asked
        again with backoff, and still unprocessed after the retries is an error, never a gap)."""
        found: dict[str, Order] = {}
        for start in range(0, len(payout_ids), _BATCH_GET_KEYS):
            chunk = payout_ids[start : start + _BATCH_GET_KEYS]
            wanted: list[Mapping[str, Any]] = [
                to_attribute_values({"PK": keys.order_pk(payout_id), "SK": keys.ORDER_SK})
                for payout_id in chunk
            ]
            for attempt in range(_BATCH_GET_ATTEMPTS):
                answer = self._client.batch_get_item(RequestItems={self._table: {"Keys": wanted}})
                for item in answer.get("Responses", {}).get(self._table, []):
                    order = order_from_item(item)
                    found[order.payout_id] = order
                unprocessed = answer.get("UnprocessedKeys", {}).get(self._table)
                wanted = list(unprocessed["Keys"]) if unprocessed else []
                if not wanted:
                    break
                self._pause_with_jitter(attempt)
            if wanted:
                raise ReadIncomplete(f"{len(wanted)} order(s) still unread after the retries")
        return found

    def list_needing_review(self, limit: int = 100) -> list[str]:
        """Ids of orders flagged for a person, oldest flag first."""
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": keys.REVIEW_INDEX,
            "KeyConditionExpression": "review_pk = :pk",
            "ExpressionAttributeValues": to_attribute_values({":pk": keys.REVIEW_PK}),
        }
        return [
            keys.payout_id_from_pk(from_attribute_values(item)["PK"])
            for item in islice(self._query_all(query), limit)
        ]

    # ---- lease ---------------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Take the lease ``name`` for ``owner`` until now + ttl, if it is free, expired or ours."""
        expires = int((now + ttl).timestamp())
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_attribute_values(
                    {
                        "PK": keys.lease_pk(name),
                        "SK": keys.LEASE_SK,
                        "owner": owner,
                        "expires_at": expires,
                    }
                ),
                ConditionExpression=_LEASE_FREE,
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=to_attribute_values(
                    {":now": int(now.timestamp()), ":owner": owner}
                ),
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def renew_lease(self, name: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Extend the lease if ``owner`` still holds it."""
        return self.acquire_lease(name, owner, ttl, now) and self._lease_owner(name) == owner

    def release_lease(self, name: str, owner: str) -> bool:
        """Give the lease up if ``owner`` holds it; False when someone else does (or nobody)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=to_attribute_values({"PK": keys.lease_pk(name), "SK": keys.LEASE_SK}),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=to_attribute_values({":owner": owner}),
            )
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _lease_owner(self, name: str) -> str | None:
        answer = self._client.get_item(
            TableName=self._table,
            Key=to_attribute_values({"PK": keys.lease_pk(name), "SK": keys.LEASE_SK}),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return str(from_attribute_values(item)["owner"]) if item else None

    # ---- plumbing ------------------------------------------------------------------------------

    def _query_all(self, query: QueryInputTypeDef) -> Iterator[Mapping[str, Any]]:
        while True:
            answer = self._client.query(**query)
            yield from answer.get("Items", [])
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            query = {**query, "ExclusiveStartKey": last}


def _due_order(due: DueOrder) -> tuple[datetime, str]:
    return due.next_check_at, due.payout_id


def _due_from_item(item: Mapping[str, Any]) -> DueOrder:
    values = from_attribute_values(item)
    moment, _, payout_id = str(values["due_sk"]).partition("#")
    return DueOrder(payout_id=payout_id, next_check_at=keys.parse_timestamp(moment))


def _summary_from_item(item: Mapping[str, Any]) -> OrderSummary:
    values = from_attribute_values(item)
    updated = values.get("updated_at")
    return OrderSummary(
        payout_id=values["payout_id"],
        status=OrderStatus(values["status"]),
        provider=values.get("provider"),
        provider_order_id=values.get("provider_order_id"),
        amount_value=values.get("amount_value"),
        currency=values.get("currency"),
        method=values.get("method"),
        needs_review=bool(values.get("needs_review", False)),
        updated_at=keys.parse_timestamp(updated) if updated else None,
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _cancellation_reasons(error: ClientError) -> list[Mapping[str, Any]]:
    reasons = dict(error.response).get("CancellationReasons")
    return list(reasons) if isinstance(reasons, list) else []


def _same_item(stored: Mapping[str, Any], written: Mapping[str, Any]) -> bool:
    return from_attribute_values(stored) == from_attribute_values(written)


def _returned_item(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # ReturnValuesOnConditionCheckFailure=ALL_OLD puts the existing item beside the error.
    item = response.get("Item")
    return item if isinstance(item, Mapping) else None


def _old_order(error: ClientError) -> Order | None:
    reasons = _cancellation_reasons(error)
    item = reasons[0].get("Item") if reasons else None
    return order_from_item(item) if item else None


def _retryable(reasons: list[str]) -> bool:
    # Cancelled for throughput or a concurrent transaction on the same item: worth another try.
    return set(reasons) <= _RETRYABLE_CANCELLATIONS | {"None"}


# ---- ops reads through by-day ------------------------------------------------------------------


def order_summary(order: Order) -> OrderSummary:
    """An order reduced to its listing row."""
    request = order.request
    return OrderSummary(
        payout_id=order.payout_id,
        status=order.status,
        provider=order.provider,
        provider_order_id=order.provider_order_id,
        amount_value=request.amount.value if request else None,
        currency=request.amount.currency if request else None,
        method=request.method if request else None,
        needs_review=order.needs_review,
        updated_at=order.updated_at,
    )


def _day_queries(table: str, day: datetime, newest_first: bool) -> list[QueryInputTypeDef]:
    """One by-day query per shard of ``day``, each in creation order (the index's range key)."""
    return [
        {
            "TableName": table,
            "IndexName": keys.DAY_INDEX,
            "KeyConditionExpression": "day_pk = :pk",
            "ExpressionAttributeValues": to_attribute_values({":pk": partition}),
            "ScanIndexForward": not newest_first,
        }
        for partition in keys.day_partitions(day)
    ]


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _day_range_queries(
    table: str, day: datetime, lower: datetime, upper: datetime, page: int
) -> list[QueryInputTypeDef]:
    """One by-day query per shard of ``day`` for the orders created from ``lower`` to ``upper``
    (inclusive), oldest first, ``page`` entries a page."""
    bounds = {":lower": keys.timestamp(lower), ":upper": keys.timestamp(upper)}
    return [
        {
            "TableName": table,
            "IndexName": keys.DAY_INDEX,
            "KeyConditionExpression": "day_pk = :pk AND created_at BETWEEN :lower AND :upper",
            "ExpressionAttributeValues": to_attribute_values({":pk": partition, **bounds}),
            "Limit": page,
        }
        for partition in keys.day_partitions(day)
    ]


def _merged_entries(
    shards: Iterable[Iterable[Mapping[str, Any]]], *, newest_first: bool = False
) -> Iterator[tuple[str, str]]:
    """The (created_at, payout_id) of the shards' index entries, merged lazily in that order.

    Each shard comes sorted by created_at only (entries with equal range keys come in no
    promised order), so entries are merged on created_at and each run of equal times is sorted
    by id: the order by-status-day's ``<created_at>#<id>`` sort key gave.
    """
    entries = heapq.merge(
        *(map(_created_and_id, shard) for shard in shards), key=_created, reverse=newest_first
    )
    for _, same_time in groupby(entries, key=_created):
        yield from sorted(same_time, reverse=newest_first)


def _merged_payout_ids(
    shards: Iterable[Iterable[Mapping[str, Any]]], *, newest_first: bool
) -> Iterator[str]:
    """The ids in the shards' index entries, merged lazily in (created_at, payout_id) order."""
    return (payout_id for _, payout_id in _merged_entries(shards, newest_first=newest_first))


def _created(entry: tuple[str, str]) -> str:
    return entry[0]


def _created_and_id(item: Mapping[str, Any]) -> tuple[str, str]:
    values = from_attribute_values(item)
    return str(values["created_at"]), keys.payout_id_from_pk(values["PK"])


def _read_lazily(
    payout_ids: Iterator[str], read: Callable[[list[str]], dict[str, Order]]
) -> Iterator[Order]:
    """The orders with these ids, in the ids' order, read ``_BATCH_GET_KEYS`` at a time only as
    the caller asks for more (an id whose order is gone is skipped)."""
    while chunk := list(islice(payout_ids, _BATCH_GET_KEYS)):
        found = read(chunk)
        yield from (found[payout_id] for payout_id in chunk if payout_id in found)
