"""What the ops commands do, over the order store and SQS (no Scan anywhere).

Each function takes its store or client as an argument, so the commands stay thin and tests
call these directly against moto or the local stack.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from payouts.domain.errors import InvalidRequest
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.request import parse_request, unwrap_envelope
from payouts.domain.status import UNRESOLVED, OrderStatus
from payouts.services.operator import CloseRefused, close_order
from payouts.store import Applied, OrderStore, OrderSummary
from payouts.store.orders import order_summary
from payouts_tools.cli.target import CliError
from payouts_tools.cli.views import money

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueOutputTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
    )

# SQS takes at most 10 entries per batch call.
_SQS_BATCH: Final = 10
# How long a listed or moving dead letter stays hidden from other readers.
_DLQ_HOLD_S: Final = 60
# Message attributes intake adds when it dead-letters a request; a redrive sends the original.
DEAD_LETTER_ATTRIBUTES: Final = frozenset({"rejection_reason", "source_message_id"})
# Orders waiting to be settled, for "oldest unresolved": RECEIVED is not sent yet, but waiting.
WAITING: Final = frozenset(UNRESOLVED | {OrderStatus.RECEIVED})
_WRITE_ATTEMPTS: Final = 3


# ---- orders -------------------------------------------------------------------------------------


def get_order(store: OrderStore, reference: str) -> Order:
    """The order named by its payout id, or by ``<provider>:<provider order id>`` (payout ids
    cannot contain ``:``); CliError when there is none."""
    provider, separator, provider_order_id = reference.partition(":")
    if separator:
        order = store.find_by_provider_order_id(provider, provider_order_id)
    else:
        order = store.get(reference)
    if order is None:
        raise CliError(f"no order {reference}")
    return order


def list_orders(
    store: OrderStore,
    *,
    statuses: Sequence[OrderStatus],
    first_day: datetime,
    last_day: datetime,
    provider: str | None = None,
    review_only: bool = False,
    limit: int = 100,
) -> list[OrderSummary]:
    """Orders by status and creation day (the by-day index), or the ones flagged for review
    (the review index), optionally of one provider; newest change first."""
    chosen = list(statuses) or list(OrderStatus)
    if review_only:
        flagged = [store.get(payout_id) for payout_id in store.list_needing_review(limit)]
        rows = [
            order_summary(order)
            for order in flagged
            if order is not None
            and order.status in chosen
            and _created_within(order, first_day, last_day)
        ]
    else:
        rows = store.list_by_statuses(chosen, first_day, last_day, limit)
    if provider is not None:
        rows = [row for row in rows if row.provider == provider]
    rows.sort(key=lambda row: (row.updated_at is None, row.updated_at), reverse=True)
    return rows[:limit]


def _created_within(order: Order, first_day: datetime, last_day: datetime) -> bool:
    return first_day.date() <= order.created_at.date() <= last_day.date()


def resolve_review(
    store: OrderStore, reference: str, note: str, operator: str, now: datetime
) -> Order:
    """Clear an order's review flag with the operator's note as evidence (status untouched)."""
    if not note.strip():
        raise CliError("a resolution note is required")
    for _ in range(_WRITE_ATTEMPTS):
        order = get_order(store, reference)
        if not order.needs_review:
            raise CliError(f"order {order.payout_id} is not flagged for review")
        evidence = Evidence(
            kind=EvidenceKind.REVIEW,
            summary=f"review resolved: {note.strip()}",
            detail={"note": note.strip(), "review_reason": order.review_reason},
            actor=f"operator:{operator}",
            at=now,
        )
        result = store.update(order, now, evidence, needs_review=False, review_reason=None)
        if isinstance(result, Applied):
            return result.order
    raise CliError(f"order {reference} kept changing; try again")


def close(
    store: OrderStore,
    reference: str,
    to: OrderStatus,
    *,
    reason: str,
    reference_text: str | None,
    operator: str,
    now: datetime,
) -> Order:
    """Close an escalated order as SUCCEEDED or FAILED on a person's word (``services.operator``);
    CliError, with nothing written, when the close is refused."""
    order = get_order(store, reference)
    try:
        return close_order(
            store,
            order.payout_id,
            to,
            reason=reason,
            reference=reference_text,
            operator=operator,
            now=now,
        )
    except CloseRefused as error:
        raise CliError(str(error)) from None


@dataclass(frozen=True)
class Stats:
    """Counts by status, the oldest order still waiting, and the escalations."""

    first_day: datetime
    last_day: datetime
    by_status: dict[str, int]
    truncated: list[str]
    oldest_unresolved: dict[str, Any] | None
    escalated: list[str]

    def as_json(self) -> dict[str, Any]:
        """The stats as one JSON-ready object."""
        return {
            "from": self.first_day.date().isoformat(),
            "to": self.last_day.date().isoformat(),
            "by_status": self.by_status,
            "counts_truncated_at_limit": self.truncated,
            "oldest_unresolved": self.oldest_unresolved,
            "escalated": len(self.escalated),
            "escalated_ids": self.escalated,
        }


def stats(
    store: OrderStore, first_day: datetime, last_day: datetime, now: datetime, limit: int
) -> Stats:
    """Stats over orders created between two days (``limit`` rows counted per status)."""
    by_status: dict[str, int] = {}
    truncated: list[str] = []
    oldest: tuple[datetime, Order] | None = None
    # One read of the days for every status (by-day holds them all), at most ``limit`` each.
    cap = limit * len(OrderStatus)
    listed = store.list_by_statuses(list(OrderStatus), first_day, last_day, cap)
    for status in OrderStatus:
        rows = [row for row in listed if row.status is status][:limit]
        by_status[status.value] = len(rows)
        if len(rows) >= limit or len(listed) >= cap:
            truncated.append(status.value)
        if status in WAITING and rows:
            # Newest first, day by day backwards: the last row was created first.
            candidate = store.get(rows[-1].payout_id)
            if candidate is not None and (oldest is None or candidate.created_at < oldest[0]):
                oldest = (candidate.created_at, candidate)
    oldest_view = None
    if oldest is not None:
        created, order = oldest
        oldest_view = {
            "payout_id": order.payout_id,
            "status": order.status.value,
            "created_at": created.isoformat(),
            "age_seconds": int((now - created).total_seconds()),
        }
    return Stats(
        first_day, last_day, by_status, truncated, oldest_view, store.list_needing_review(limit)
    )


# ---- publishing ---------------------------------------------------------------------------------


def read_requests(text: str) -> list[str]:
    """Message bodies from a file's text: one JSON request, a JSON array of them, JSON lines, or
    a Lambda SQS event (``{"Records": [{"body": ...}]}``, as in ``events/sqs/``) whose bodies
    are sent exactly as written. CliError says where the text is none of these."""
    stripped = text.strip()
    if not stripped:
        raise CliError("the file is empty")
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        document = [_json_line(line, number) for number, line in _lines(stripped)]
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        return [_record_body(record, index) for index, record in enumerate(document["Records"], 1)]
    documents = document if isinstance(document, list) else [document]
    for index, item in enumerate(documents, start=1):
        if not isinstance(item, dict):
            raise CliError(f"request {index} is not a JSON object")
    return [json.dumps(item, ensure_ascii=False) for item in documents]


def _record_body(record: Any, index: int) -> str:
    body = record.get("body") if isinstance(record, dict) else None
    if not isinstance(body, str):
        raise CliError(f"record {index} has no string body")
    return body


def _lines(text: str) -> Iterable[tuple[int, str]]:
    return ((number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip())


def _json_line(line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise CliError(f"line {number} is not JSON: {error.msg}") from None


@dataclass(frozen=True)
class Published:
    """One request sent to the requests queue."""

    payout_id: str | None
    message_id: str


def publish(
    sqs: SQSClient, queue_url: str, bodies: Sequence[str], *, validate: bool
) -> list[Published]:
    """Send each body as one message. With ``validate``, every body must be a valid payout
    request first (nothing is sent if one is not)."""
    if validate:
        for index, body in enumerate(bodies, start=1):
            try:
                parse_request(body)
            except InvalidRequest as error:
                raise CliError(f"request {index} is invalid: {error.reason}") from None
    sent: list[Published] = []
    for start in range(0, len(bodies), _SQS_BATCH):
        chunk = bodies[start : start + _SQS_BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "MessageBody": body} for index, body in enumerate(chunk)],
        )
        if answer.get("Failed"):
            failure = answer["Failed"][0]
            raise CliError(
                f"SQS refused {len(answer['Failed'])} message(s), e.g. {failure.get('Message')};"
                f" {len(sent)} were sent before"
            )
        for entry in sorted(answer.get("Successful", []), key=lambda item: int(item["Id"])):
            payout_id, _, _ = _request_outline(chunk[int(entry["Id"])])
            sent.append(Published(payout_id, entry["MessageId"]))
    return sent


# ---- dead letters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered request, described without beneficiary details."""

    message_id: str
    sent_at: str | None
    receive_count: int
    reason: str | None
    payout_id: str | None
    amount: str | None
    method: str | None
    body_bytes: int

    def as_json(self) -> dict[str, Any]:
        """JSON-ready, never the body itself (it holds beneficiary details)."""
        return {
            "message_id": self.message_id,
            "sent_at": self.sent_at,
            "receive_count": self.receive_count,
            "reason": self.reason,
            "payout_id": self.payout_id,
            "amount": self.amount,
            "method": self.method,
            "body_bytes": self.body_bytes,
        }


@dataclass
class _Held:
    messages: list[MessageTypeDef] = field(default_factory=list)


def list_dead_letters(sqs: SQSClient, dlq_url: str, limit: int) -> list[DeadLetter]:
    """Up to ``limit`` dead letters, left on the DLQ (hidden while read, then released)."""
    held = _receive(sqs, dlq_url, limit)
    try:
        return [_describe(message) for message in held.messages]
    finally:
        _release(sqs, dlq_url, held.messages)


def redrive(
    sqs: SQSClient,
    dlq_url: str,
    queue_url: str,
    limit: int,
    *,
    only: Collection[str] | None = None,
) -> list[str]:
    """Move up to ``limit`` dead letters back to the requests queue, body and attributes as
    they were (without intake's dead-letter attributes); returns the moved message ids.
    ``only``: move just these message ids (the ones an operator was shown and confirmed), and
    leave any other message, such as one dead-lettered since, where it is.

    Each message is deleted from the DLQ only after SQS accepted its copy, so a failure half way
    leaves it in the DLQ (at worst sent twice, which intake absorbs: one payout id, one order).
    """
    held = _receive(sqs, dlq_url, limit)
    chosen = [m for m in held.messages if only is None or m["MessageId"] in only]
    moved: list[str] = []
    try:
        for start in range(0, len(chosen), _SQS_BATCH):
            moved += _move_chunk(sqs, dlq_url, queue_url, chosen[start : start + _SQS_BATCH])
    finally:
        _release(sqs, dlq_url, [m for m in held.messages if m["MessageId"] not in set(moved)])
    return moved


def _move_chunk(
    sqs: SQSClient, dlq_url: str, queue_url: str, chunk: list[MessageTypeDef]
) -> list[str]:
    answer = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {
                "Id": str(index),
                "MessageBody": message.get("Body", ""),
                "MessageAttributes": _original_attributes(message),
            }
            for index, message in enumerate(chunk)
        ],
    )
    sent = [chunk[int(entry["Id"])] for entry in answer.get("Successful", [])]
    if sent:
        sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(sent)
            ],
        )
    return [message["MessageId"] for message in sent]


def _original_attributes(message: MessageTypeDef) -> dict[str, MessageAttributeValueTypeDef]:
    attributes: Mapping[str, MessageAttributeValueOutputTypeDef] = message.get(
        "MessageAttributes", {}
    )
    return {
        name: {key: value for key, value in attribute.items() if key in _SENDABLE}  # type: ignore[misc]
        for name, attribute in attributes.items()
        if name not in DEAD_LETTER_ATTRIBUTES
    }


_SENDABLE: Final = frozenset({"DataType", "StringValue", "BinaryValue"})


def _receive(sqs: SQSClient, queue_url: str, limit: int) -> _Held:
    held = _Held()
    while len(held.messages) < limit:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(_SQS_BATCH, limit - len(held.messages)),
            VisibilityTimeout=_DLQ_HOLD_S,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received = answer.get("Messages", [])
        if not received:
            break
        held.messages.extend(received)
    return held


def _release(sqs: SQSClient, queue_url: str, messages: Sequence[MessageTypeDef]) -> None:
    for start in range(0, len(messages), _SQS_BATCH):
        chunk = messages[start : start + _SQS_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(index),
                    "ReceiptHandle": message["ReceiptHandle"],
                    "VisibilityTimeout": 0,
                }
                for index, message in enumerate(chunk)
            ],
        )


def _describe(message: MessageTypeDef) -> DeadLetter:
    body = message.get("Body", "")
    attributes: Mapping[str, MessageAttributeValueOutputTypeDef] = message.get(
        "MessageAttributes", {}
    )
    rejection = attributes.get("rejection_reason")
    reason = rejection.get("StringValue") if rejection is not None else None
    sent_ms = message.get("Attributes", {}).get("SentTimestamp")
    sent_at = datetime.fromtimestamp(int(sent_ms) / 1000, tz=UTC).isoformat() if sent_ms else None
    payout_id, amount, method = _request_outline(body)
    return DeadLetter(
        message_id=message["MessageId"],
        sent_at=sent_at,
        receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0")),
        reason=reason,
        payout_id=payout_id,
        amount=amount,
        method=method,
        body_bytes=len(body.encode("utf-8")),
    )


def _request_outline(body: str) -> tuple[str | None, str | None, str | None]:
    """Payout id, amount and method of a request body, whatever shape it is in."""
    try:
        document = unwrap_envelope(json.loads(body))
    except (json.JSONDecodeError, InvalidRequest):
        return None, None, None
    if not isinstance(document, dict):
        return None, None, None
    payout_id = document.get("payout_id")
    amount = document.get("amount")
    beneficiary = document.get("beneficiary")
    amount_text = None
    if isinstance(amount, dict) and isinstance(amount.get("value"), int):
        currency = amount.get("currency")
        amount_text = money(amount["value"], currency if isinstance(currency, str) else None)
    method = beneficiary.get("method") if isinstance(beneficiary, dict) else None
    return (
        payout_id if isinstance(payout_id, str) else None,
        amount_text,
        method if isinstance(method, str) else None,
    )


def day_range(
    now: datetime, first: datetime | None, last: datetime | None, days: int
) -> tuple[datetime, datetime]:
    """The inclusive day range: explicit ends win, else the last ``days`` days up to today."""
    last_day = last or now
    first_day = first or (last_day - timedelta(days=max(days, 1) - 1))
    if first_day.date() > last_day.date():
        raise CliError("--from is after --to")
    return first_day, last_day
