"""Status events out: every status change of an order becomes a ``PayoutStatusChanged`` event,
and every escalation a ``PayoutNeedsReview`` event (its resolution a ``PayoutReviewResolved``);
a provider's pause and resume become ``ProviderPaused`` / ``ProviderResumed`` (``provider_events``).

The orders table's stream (NEW_AND_OLD_IMAGES) is the source, not the code that writes the
order: a change is on the stream once it is durable, so a Lambda that dies right after its write
loses no event. Only order items whose status or review flag changed (or that were inserted) are
published; evidence and lease items, and order writes that change other fields, are skipped. One
record may call for two events (a person's close changes the status and clears the flag); it is
done only when both are on the bus.

Delivery is at least once (a failed batch is retried from the failed record on), and EventBridge
does not keep order: consumers deduplicate and order by ``(payout_id, version)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.observability import MetricUnit, logger, metrics, tracer
from payouts.services.provider_events import (
    ProviderEvent,
    ProviderPaused,
    ProviderResumed,
    is_provider_state_record,
    provider_event,
)
from payouts.store import keys
from payouts.store.codec import order_from_item

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

EVENT_SOURCE: Final = "payouts"
DETAIL_TYPE: Final = "PayoutStatusChanged"
NEEDS_REVIEW_DETAIL_TYPE: Final = "PayoutNeedsReview"
REVIEW_RESOLVED_DETAIL_TYPE: Final = "PayoutReviewResolved"
# PutEvents takes at most 10 entries per call.
MAX_ENTRIES_PER_CALL: Final = 10
SCHEMA_VERSION: Final = "1"
# PayoutStatusChanged's own shape version: "2" added the provider's money figures.
STATUS_CHANGED_SCHEMA_VERSION: Final = "2"
METRIC_PUBLISHED: Final = "StatusEventsPublished"
METRIC_NOT_PUBLISHED: Final = "StatusEventsNotPublished"

_CHANGES: Final = frozenset({"INSERT", "MODIFY"})
# The order attributes whose change calls for an event (compared as stored, before decoding).
_WATCHED: Final = ("status", "needs_review")


class EventAmount(BaseModel):
    """The payout's amount, as requested: integer minor units of an ISO 4217 currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: int = Field(description="Integer minor units (cents, paise, centavos).")
    currency: str = Field(description="ISO 4217 code.")


class EventFigures(BaseModel):
    """What the provider reported about the money, for finance; each null until it says so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fee: EventAmount | None = Field(
        description="The provider's fee for this payout (gateway_v2 `fee`, pg_v2 `totalFee`)."
    )
    credited: EventAmount | None = Field(
        description="What the provider says reached the beneficiary (gateway_v2 `real_amount`)."
    )
    provider_reference: str | None = Field(
        description="The provider's reference for the payment, as statements show it "
        "(pg_v2 `rrn`; gateway_v2 gives none: match on `provider_order_id`)."
    )
    paid_at: datetime | None = Field(description="When the provider says it paid (UTC, ISO 8601).")

    @classmethod
    def of(cls, order: Order) -> EventFigures:
        """The figures stored on ``order``."""
        currency = order.request.amount.currency if order.request is not None else None
        return cls(
            fee=(
                EventAmount(value=order.fee_minor, currency=order.fee_currency)
                if order.fee_minor is not None and order.fee_currency is not None
                else None
            ),
            credited=(
                EventAmount(value=order.credited_minor, currency=currency)
                if order.credited_minor is not None and currency is not None
                else None
            ),
            provider_reference=order.provider_reference,
            paid_at=order.paid_at,
        )


class PayoutStatusChanged(BaseModel):
    """The ``detail`` of a ``PayoutStatusChanged`` event (source ``payouts``).

    One event per status change of one payout (and one when it is first stored). ``version``
    grows by at least one with every change of the order, so ``(payout_id, version)`` identifies
    an event and orders the events of one payout.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", title="PayoutStatusChanged")
    detail_type: ClassVar[str] = DETAIL_TYPE

    schema_version: str = Field(
        default=STATUS_CHANGED_SCHEMA_VERSION, description="Version of this detail's shape."
    )
    payout_id: str = Field(description="The caller's payout id (and the merchant order number).")
    old_status: OrderStatus | None = Field(
        description="Status before the change; null when the order was just stored."
    )
    new_status: OrderStatus = Field(description="Status after the change.")
    amount: EventAmount | None = Field(
        description="The requested amount; null for a request refused as invalid."
    )
    provider: str | None = Field(description="The provider paying it, once routed.")
    provider_order_id: str | None = Field(description="The provider's own order id, once known.")
    figures: EventFigures = Field(
        description="Fee, credited amount, reference and paid time, as the provider reported "
        "them (each null until it does)."
    )
    status_reason: str | None = Field(description="Why the order is in this status, if known.")
    needs_review: bool = Field(description="True while a person must look at the order.")
    metadata: dict[str, str] = Field(
        description="The caller's metadata from the request, returned untouched."
    )
    version: Annotated[int, Field(ge=1, description="The order's version after the change.")]
    changed_at: datetime = Field(description="When the change was written (UTC, ISO 8601).")

    @classmethod
    def between(cls, before: Order | None, after: Order) -> PayoutStatusChanged:
        """The event for ``after``, which was ``before`` (None when just stored)."""
        request = after.request
        return cls(
            payout_id=after.payout_id,
            old_status=before.status if before is not None else None,
            new_status=after.status,
            amount=(
                EventAmount(value=request.amount.value, currency=request.amount.currency)
                if request is not None
                else None
            ),
            provider=after.provider,
            provider_order_id=after.provider_order_id,
            figures=EventFigures.of(after),
            status_reason=after.status_reason,
            needs_review=after.needs_review,
            metadata=dict(request.metadata) if request is not None else {},
            version=after.version,
            changed_at=after.updated_at,
        )


class PayoutNeedsReview(BaseModel):
    """The ``detail`` of a ``PayoutNeedsReview`` event (source ``payouts``).

    The payout was escalated to a person: its status is unchanged, and stays so until the
    provider or the person settles it. One event each time the review flag is raised.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", title="PayoutNeedsReview")
    detail_type: ClassVar[str] = NEEDS_REVIEW_DETAIL_TYPE

    schema_version: str = Field(
        default=SCHEMA_VERSION, description="Version of this detail's shape."
    )
    payout_id: str = Field(description="The caller's payout id (and the merchant order number).")
    reason: str | None = Field(description="Why a person must look at the payout.")
    status: OrderStatus = Field(
        description="The payout's status, which escalation does not change."
    )
    metadata: dict[str, str] = Field(
        description="The caller's metadata from the request, returned untouched."
    )
    version: Annotated[int, Field(ge=1, description="The order's version after the change.")]
    changed_at: datetime = Field(description="When the flag was raised (UTC, ISO 8601).")

    @classmethod
    def of(cls, after: Order) -> PayoutNeedsReview:
        """The event for ``after``, just flagged for review."""
        return cls(
            payout_id=after.payout_id,
            reason=after.review_reason,
            status=after.status,
            metadata=_metadata(after),
            version=after.version,
            changed_at=after.updated_at,
        )


class PayoutReviewResolved(BaseModel):
    """The ``detail`` of a ``PayoutReviewResolved`` event (source ``payouts``).

    A person cleared the review flag: by resolving it (status unchanged), or by closing the payout
    (then a ``PayoutStatusChanged`` event with the same ``version`` says how it ended).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", title="PayoutReviewResolved")
    detail_type: ClassVar[str] = REVIEW_RESOLVED_DETAIL_TYPE

    schema_version: str = Field(
        default=SCHEMA_VERSION, description="Version of this detail's shape."
    )
    payout_id: str = Field(description="The caller's payout id (and the merchant order number).")
    reason: str | None = Field(description="Why the payout had been escalated (now resolved).")
    status: OrderStatus = Field(description="The payout's status after the resolution.")
    metadata: dict[str, str] = Field(
        description="The caller's metadata from the request, returned untouched."
    )
    version: Annotated[int, Field(ge=1, description="The order's version after the change.")]
    changed_at: datetime = Field(description="When the flag was cleared (UTC, ISO 8601).")

    @classmethod
    def between(cls, before: Order, after: Order) -> PayoutReviewResolved:
        """The event for ``after``, whose flag (raised in ``before``) was just cleared."""
        return cls(
            payout_id=after.payout_id,
            reason=before.review_reason,
            status=after.status,
            metadata=_metadata(after),
            version=after.version,
            changed_at=after.updated_at,
        )


type StatusEvent = PayoutStatusChanged | PayoutNeedsReview | PayoutReviewResolved | ProviderEvent
type ReviewEvent = PayoutNeedsReview | PayoutReviewResolved


def _metadata(order: Order) -> dict[str, str]:
    return dict(order.request.metadata) if order.request is not None else {}


@dataclass(frozen=True)
class StreamChange:
    """One event a stream record needs: the record's sequence number and the event's detail."""

    sequence_number: str
    detail: StatusEvent


class PublishFailed(Exception):
    """The record's event was not put on the bus (its stream record must be retried)."""


class EventPublisher:
    """Puts status and review events on one bus, up to 10 per ``PutEvents`` call."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, details: Sequence[StatusEvent]) -> list[str | None]:
        """Put every detail on the bus; for each, None when it was put, else why it was not."""
        results: list[str | None] = []
        for start in range(0, len(details), MAX_ENTRIES_PER_CALL):
            results.extend(self._put(details[start : start + MAX_ENTRIES_PER_CALL]))
        return results

    def _put(self, details: Sequence[StatusEvent]) -> list[str | None]:
        entries: list[PutEventsRequestEntryTypeDef] = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail.detail_type,
                "Detail": detail.model_dump_json(),
                "EventBusName": self._bus_name,
                "Time": detail.changed_at,
            }
            for detail in details
        ]
        try:
            answer = self._client.put_events(Entries=entries)
        except (ClientError, BotoCoreError) as error:
            return [f"PutEvents failed: {error}"] * len(details)
        # Entries come back in the order sent; a failed one has an ErrorCode instead of an id.
        answered = answer.get("Entries", [])
        results: list[str | None] = []
        for position in range(len(details)):
            entry = answered[position] if position < len(answered) else {}
            if entry.get("EventId"):
                results.append(None)
            else:
                code = entry.get("ErrorCode", "NoEventId")
                results.append(f"{code}: {entry.get('ErrorMessage', 'entry not put')}")
        return results


type Publish = Callable[[Sequence[StatusEvent]], list[str | None]]


def stream_events(record: Mapping[str, Any]) -> list[StatusEvent]:
    """The events a DynamoDB stream record calls for: none, a status change, a review change,
    or both (in that order).

    Raises KeyError or ValueError for an order item that cannot be read (a bug worth retrying
    and, after the retries, worth the on-failure destination).
    """
    if is_provider_state_record(record):
        provider = provider_event(record)
        return [provider] if provider is not None else []
    images = _order_images(record)
    if images is None:
        return []
    before, after = images
    events: list[StatusEvent] = []
    if before is None or before.status is not after.status:
        events.append(PayoutStatusChanged.between(before, after))
    review = review_change(before, after)
    if review is not None:
        events.append(review)
    return events


def status_change(record: Mapping[str, Any]) -> PayoutStatusChanged | None:
    """The ``PayoutStatusChanged`` event a stream record calls for, or None (see
    ``stream_events``)."""
    changed = [e for e in stream_events(record) if isinstance(e, PayoutStatusChanged)]
    return changed[0] if changed else None


def review_change(before: Order | None, after: Order) -> ReviewEvent | None:
    """The event for the review flag turning true (escalated) or false (resolved), or None.

    A flag raised again while raised (a second reason) is no news to a consumer: no event.
    """
    flagged_before = before.needs_review if before is not None else False
    if after.needs_review and not flagged_before:
        return PayoutNeedsReview.of(after)
    if before is not None and flagged_before and not after.needs_review:
        return PayoutReviewResolved.between(before, after)
    return None


def _order_images(record: Mapping[str, Any]) -> tuple[Order | None, Order] | None:
    """The order before (None when inserted) and after a record's write, or None when the record
    is not an order write that may call for an event."""
    if record.get("eventName") not in _CHANGES:
        return None
    stream = record.get("dynamodb", {})
    if stream.get("Keys", {}).get("SK", {}).get("S") != keys.ORDER_SK:
        return None
    new_image = stream["NewImage"]
    old_image = stream.get("OldImage")
    if old_image and all(old_image.get(name) == new_image.get(name) for name in _WATCHED):
        return None  # decided on the raw attributes: most order writes change neither
    before = order_from_item(old_image) if old_image else None
    return before, order_from_item(new_image)


@tracer.capture_method(capture_response=False)
def publish_status_events(records: Sequence[Mapping[str, Any]], publish: Publish) -> dict[str, str]:
    """Publish the events ``records`` call for; return why, by sequence number, for each record
    whose event was not published (every other record is done)."""
    failures: dict[str, str] = {}
    changes: list[StreamChange] = []
    for record in records:
        sequence_number = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
        try:
            details = stream_events(record)
        except (KeyError, ValueError) as error:
            failures[sequence_number] = f"unreadable order image: {error}"
            logger.error("stream record unreadable", sequence_number=sequence_number)
            continue
        changes.extend(StreamChange(sequence_number, detail) for detail in details)
    results = publish([change.detail for change in changes]) if changes else []
    for change, problem in zip(changes, results, strict=True):
        if problem is not None:
            # A record with two events fails when either does: the retry puts both again,
            # which at-least-once delivery already allows (consumers deduplicate).
            failures.setdefault(change.sequence_number, problem)
            logger.warning(
                "status event not published",
                subject=_subject(change.detail),
                version=change.detail.version,
                detail_type=change.detail.detail_type,
                problem=problem,
            )
    published = sum(problem is None for problem in results)
    metrics.add_metric(name=METRIC_PUBLISHED, unit=MetricUnit.Count, value=published)
    metrics.add_metric(name=METRIC_NOT_PUBLISHED, unit=MetricUnit.Count, value=len(failures))
    logger.info("status events published", published=published, failed=len(failures))
    return failures


def _subject(detail: StatusEvent) -> str:
    return (
        detail.subject if isinstance(detail, ProviderPaused | ProviderResumed) else detail.payout_id
    )


def raise_if_failed(failures: Mapping[str, str], sequence_number: str) -> None:
    """Raise PublishFailed when the record ``sequence_number`` is among ``failures``."""
    problem = failures.get(sequence_number)
    if problem is not None:
        raise PublishFailed(f"record {sequence_number}: {problem}")
