"""claim_and_send: the claim is durable before the create, a lost claim sends nothing, and every
outcome is recorded as intake records it (or kept as evidence when the order moved on)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from payouts.domain.errors import InvalidRequest
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind
from payouts.services.operator import close_order
from payouts.services.submission import (
    SendPlan,
    Submission,
    SubmissionResult,
    claim_and_send,
)
from payouts.store import Applied, OrderStore
from tests.integration.reconcile.reconcile_support import (
    ScriptedProvider,
    create_outcome,
    store_order,
)
from tests.support.moto_store import moto_order_store
from tests.support.orders import T0

S = OrderStatus
FIRST_SEND = SendPlan(
    reason="new request",
    in_flight_for=timedelta(seconds=120),
    first_check_after=timedelta(seconds=15),
    previously_sent=False,
)
RESEND = SendPlan(
    reason="not found after grace",
    in_flight_for=timedelta(seconds=120),
    first_check_after=timedelta(seconds=15),
    previously_sent=True,
)


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with moto_order_store() as order_store:
        yield order_store


def send(store: OrderStore, provider: ScriptedProvider, order: Order, plan: SendPlan) -> Submission:
    return asyncio.run(claim_and_send(store, provider, order, plan, lambda: T0))


def test_the_claim_is_stored_before_the_create_is_sent(store: OrderStore) -> None:
    order = store_order(store, "PO-1", S.RECEIVED)
    seen: list[OrderStatus | None] = []
    provider = ScriptedProvider("gateway_v2")

    async def observing_create(claimed: Order) -> object:
        stored = store.get(claimed.payout_id)
        seen.append(stored.status if stored else None)
        return create_outcome(CreateKind.ACCEPTED)

    provider.create = observing_create  # type: ignore[method-assign,assignment]

    result = send(store, provider, order, FIRST_SEND)

    assert seen == [S.SUBMITTING]
    assert result.result is SubmissionResult.RECORDED
    assert result.order.status is S.SUBMITTED
    assert result.order.submit_attempts == 1


def test_a_lost_claim_sends_nothing(store: OrderStore) -> None:
    order = store_order(store, "PO-1", S.UNKNOWN)
    moved = store.update(order, T0, None, check_attempts=1)  # someone else wrote it meanwhile
    assert isinstance(moved, Applied)
    provider = ScriptedProvider("gateway_v2")

    result = send(store, provider, order, RESEND)

    assert result.result is SubmissionResult.LOST_CLAIM
    assert provider.creates == []


def test_a_first_send_that_never_left_goes_back_to_received(store: OrderStore) -> None:
    order = store_order(store, "PO-1", S.RECEIVED)
    provider = ScriptedProvider(
        "gateway_v2", create_script={"PO-1": create_outcome(CreateKind.NOT_SENT)}
    )

    result = send(store, provider, order, FIRST_SEND)

    assert result.order.status is S.RECEIVED


def test_a_definitive_refusal_rejects(store: OrderStore) -> None:
    order = store_order(store, "PO-1", S.UNKNOWN, method="UPI")
    provider = ScriptedProvider(
        "pg_v2", create_script={"PO-1": create_outcome(CreateKind.REJECTED)}
    )

    result = send(store, provider, order, RESEND)

    assert result.order.status is S.REJECTED
    assert result.order.next_check_at is None


def test_an_order_refused_before_its_first_send_is_rejected(store: OrderStore) -> None:
    order = store_order(store, "PO-1", S.RECEIVED)
    provider = ScriptedProvider(
        "gateway_v2", create_script={"PO-1": InvalidRequest("cannot pay by UPI", "PO-1")}
    )

    result = send(store, provider, order, FIRST_SEND)

    assert result.result is SubmissionResult.REFUSED
    assert result.order.status is S.REJECTED


def test_an_answer_after_the_order_settled_is_kept_as_evidence_only(store: OrderStore) -> None:
    order = store_order(store, "PO-1", S.UNKNOWN)
    provider = ScriptedProvider("gateway_v2")

    async def settled_meanwhile(claimed: Order) -> object:
        note = Evidence(kind=EvidenceKind.CALLBACK, summary="paid", at=T0)
        store.transition(claimed, S.SUCCEEDED, note, T0)
        return create_outcome(CreateKind.ACCEPTED)

    provider.create = settled_meanwhile  # type: ignore[method-assign,assignment]

    result = send(store, provider, order, RESEND)

    history = store.history("PO-1")
    assert result.result is SubmissionResult.ANSWER_ONLY
    assert result.order.status is S.SUCCEEDED
    assert any("arrived after the order moved on" in e.summary for e in history)


def test_an_answer_is_still_recorded_when_only_the_schedule_changed_meanwhile(
    store: OrderStore,
) -> None:
    order = store_order(store, "PO-1", S.UNKNOWN)
    provider = ScriptedProvider("gateway_v2")

    async def rescheduled_meanwhile(claimed: Order) -> object:
        store.update(claimed, T0, None, next_check_at=T0 + timedelta(minutes=5))
        return create_outcome(CreateKind.ACCEPTED)

    provider.create = rescheduled_meanwhile  # type: ignore[method-assign,assignment]

    result = send(store, provider, order, RESEND)

    assert result.result is SubmissionResult.RECORDED
    assert result.order.status is S.SUBMITTED


@pytest.mark.parametrize(
    ("closed_as", "answer", "disputed"),
    [
        (S.FAILED, CreateKind.ACCEPTED, True),
        (S.FAILED, CreateKind.AMBIGUOUS, True),
        (S.FAILED, CreateKind.REJECTED, False),
        (S.SUCCEEDED, CreateKind.REJECTED, True),
        (S.SUCCEEDED, CreateKind.ACCEPTED, False),
    ],
)
def test_a_create_answer_disputing_a_close_made_meanwhile_is_escalated(
    store: OrderStore, closed_as: OrderStatus, answer: CreateKind, *, disputed: bool
) -> None:
    # A person closed the order while its create was on the wire: nobody polls a closed order,
    # so an answer saying the money may have moved anyway must reach a person now.
    order = store_order(store, "PO-1", S.RECEIVED)
    provider = ScriptedProvider("gateway_v2")

    async def closed_meanwhile(claimed: Order) -> object:
        close_order(
            store, "PO-1", closed_as, reason="ops", reference="t-1", operator="alice", now=T0
        )
        return create_outcome(answer)

    provider.create = closed_meanwhile  # type: ignore[method-assign,assignment]

    result = send(store, provider, order, FIRST_SEND)

    stored = store.get("PO-1")
    assert stored is not None
    assert result.result is SubmissionResult.ANSWER_ONLY
    assert (stored.status, stored.needs_review) == (closed_as, disputed)
    if disputed:
        assert stored.review_reason is not None
        assert f"operator:alice closed the order {closed_as} by hand" in stored.review_reason
