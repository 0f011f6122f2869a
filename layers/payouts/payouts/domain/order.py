"""The order: one payout's state, as stored, and the evidence that justifies each change."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from payouts.domain.erasure import ErasedRequest
from payouts.domain.request import PayoutRequest
from payouts.domain.status import UNRESOLVED, OrderStatus, is_terminal


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the only clock the domain uses)."""
    return datetime.now(UTC)


class Order(BaseModel):
    """One payout order. Immutable: every change is a new Order written by a conditional write."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payout_id: str
    # None only for a request that was refused as invalid; its excerpt is in ``invalid_request``.
    # An ErasedRequest once the retention period after the order turned terminal has passed.
    request: PayoutRequest | ErasedRequest | None
    invalid_request: str | None = None
    fingerprint: str
    status: OrderStatus
    version: int = Field(ge=1)
    provider: str | None = None
    provider_order_id: str | None = None
    status_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    next_check_at: datetime | None = None
    check_attempts: int = 0
    submit_attempts: int = 0
    first_unresolved_at: datetime | None = None
    # When the last create was claimed for sending: a NOT_FOUND answer counts its grace from
    # here, since a create may still be landing (None for orders never sent).
    last_sent_at: datetime | None = None
    needs_review: bool = False
    review_reason: str | None = None
    # Who closed the order by hand (``operator:<name>``), so a later provider answer that
    # contradicts the close is escalated naming it; None for every order a provider settled.
    closed_by: str | None = None
    # When the beneficiary details (and the invalid request's excerpt) were replaced by their
    # masked form, the retention period after the order turned terminal (services/retention.py).
    personal_data_erased_at: datetime | None = None
    # When a provider first reported a failure we only assume (a status its documents do not
    # give as failed): the order stays unresolved until a query at least the settle period later
    # says so again (settlement). None when no such report is pending.
    failure_reported_at: datetime | None = None
    # Money figures for finance, as the provider reported them in a create answer, callback or
    # query (None until it does; see ``payouts.domain.figures``): its fee, what it says the
    # beneficiary was credited, its own reference for the payment (pg_v2 ``rrn``) and when it
    # paid. They never decide a status.
    fee_minor: int | None = Field(default=None, ge=0)
    fee_currency: str | None = None
    credited_minor: int | None = Field(default=None, ge=0)
    provider_reference: str | None = None
    paid_at: datetime | None = None
    # The evidence of the change that first made the order terminal, kept on the order item
    # itself: that change is one conditional write of one item, atomic with its evidence, instead
    # of a transaction with a separate evidence item (half the write units). Set once; later
    # changes (a reversal, a review) append evidence items as before.
    final_evidence: Evidence | None = None
    # The ERASURE record of the order's erasure, kept on the order item the same way: the erasure
    # is one put of the order (about 3 write units) instead of a transaction with an evidence item
    # (6). Set once, as the erasure is.
    erasure_evidence: Evidence | None = None
    # True when the order's first version was already claimed for sending (intake stores and
    # claims in one write when it sends at once): its first CREATE_SENT record is then derived
    # from the order itself (``creation_send_evidence``) rather than stored as a separate item.
    sent_at_creation: bool = False
    # A random token written by a single-item put (a create, the change that makes the order
    # terminal): the store tells its own write (answer lost, put retried by botocore) from
    # another writer's identical write in the same microsecond, which must be reported as a lost
    # race (for a create claimed for sending: never a second create). Transactions, which carry
    # an idempotency token of their own, clear it.
    write_token: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True when the order's status is final."""
        return is_terminal(self.status)

    @property
    def is_unresolved(self) -> bool:
        """True while the provider has not settled the order (the reconcile loop follows it)."""
        return self.status in UNRESOLVED

    def is_due(self, now: datetime) -> bool:
        """True when the reconcile loop should check this order at ``now``."""
        return self.next_check_at is not None and self.next_check_at <= now


class EvidenceKind(StrEnum):
    """What an evidence item records."""

    RECEIVED = "RECEIVED"
    CONFLICT = "CONFLICT"
    CREATE_SENT = "CREATE_SENT"
    CREATE_ANSWER = "CREATE_ANSWER"
    CALLBACK = "CALLBACK"
    QUERY = "QUERY"
    TRANSITION = "TRANSITION"
    SCHEDULE = "SCHEDULE"
    REVIEW = "REVIEW"
    OPERATOR = "OPERATOR"
    ERASURE = "ERASURE"


class Evidence(BaseModel):
    """An append-only record in the order's partition: what was sent, received or decided.

    ``detail`` must already be redacted: no keys, no signatures, beneficiary details masked.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EvidenceKind
    summary: str
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utc_now)
    # Filled by the store when read back: the status the order moved from and to, if any.
    from_status: OrderStatus | None = None
    to_status: OrderStatus | None = None
    actor: str = "system"
    # Filled by the store: the order version this evidence was written with (None for evidence
    # appended without a change of the order). Orders the history when two records share a time.
    order_version: int | None = None

    def with_detail(self, **more: Any) -> Evidence:
        """A copy with more detail fields."""
        return self.model_copy(update={"detail": {**self.detail, **more}})


def creation_send_evidence(order: Order) -> Evidence | None:
    """The CREATE_SENT record of an order stored already claimed for sending, built from what
    the order holds and never changes (its request, fingerprint, provider, creation time); None
    for any other order."""
    if not order.sent_at_creation or order.provider is None:
        return None
    detail: dict[str, JsonValue] = {
        "provider": order.provider,
        "attempt": 1,
        "merchant_order_no": order.payout_id,
        "request_fingerprint": order.fingerprint,
    }
    if isinstance(order.request, PayoutRequest):
        detail |= {
            "amount": order.request.amount.value,
            "currency": order.request.amount.currency,
            "method": order.request.method,
        }
    return Evidence(
        kind=EvidenceKind.CREATE_SENT,
        summary=f"create sent to {order.provider} (stored and claimed in one write)",
        detail=detail,
        at=order.created_at,
        from_status=None,
        to_status=OrderStatus.SUBMITTING,
        actor="intake",
        order_version=1,
    )


# Order names Evidence, which is defined after it.
Order.model_rebuild()
