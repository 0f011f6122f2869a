"""What a provider says is applied by the rules: conditional, amount-checked, never backwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import QueryKind
from payouts.services.settlement import Escalated, Settled, Unchanged, Verdict, apply_verdict
from payouts.store import Applied, Created, OrderStore
from tests.support.moto_store import moto_order_store
from tests.support.orders import T0, make_request

S = OrderStatus
NOW = T0 + timedelta(minutes=1)


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with moto_order_store() as order_store:
        yield order_store


def order_in(store: OrderStore, *path: OrderStatus) -> Order:
    result = store.create(make_request("PO-1", value=50000), T0, None)
    assert isinstance(result, Created)
    order = result.order
    for status in path:
        setup = Evidence(kind=EvidenceKind.TRANSITION, summary=f"to {status}", at=T0)
        moved = store.transition(order, status, setup, T0)
        assert isinstance(moved, Applied)
        order = moved.order
    return order


def note(summary: str = "provider said so") -> Evidence:
    return Evidence(kind=EvidenceKind.QUERY, summary=summary, at=NOW)


def verdict(kind: QueryKind, amount: int | None = 50000, currency: str | None = "CNY") -> Verdict:
    return Verdict(
        kind=kind,
        source="query",
        reason=f"provider status {kind}",
        provider="gateway_v2",
        provider_order_id="POT1",
        amount_minor=amount,
        currency=currency,
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (QueryKind.SUCCEEDED, S.SUCCEEDED),
        (QueryKind.FAILED, S.FAILED),
        (QueryKind.REVERSED, S.REVERSED),
    ],
)
def test_a_matching_terminal_verdict_settles_the_order(
    store: OrderStore, kind: QueryKind, expected: OrderStatus
) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    outcome = apply_verdict(store, order, verdict(kind), note(), NOW)
    assert isinstance(outcome, Settled)
    assert outcome.order.status is expected
    assert outcome.order.provider_order_id == "POT1"
    assert store.get("PO-1") == outcome.order
    assert store.history("PO-1")[-1].to_status is expected


def test_pending_moves_an_unknown_order_to_submitted(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.UNKNOWN)
    outcome = apply_verdict(store, order, verdict(QueryKind.PENDING), note(), NOW)
    assert isinstance(outcome, Settled)
    assert outcome.order.status is S.SUBMITTED
    assert outcome.order.next_check_at is not None


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(50001, "CNY"), (50000, "INR"), (None, None), (5000000, "CNY")],
    ids=["one-cent-more", "other-currency", "no-amount", "100x"],
)
def test_a_money_mismatch_is_escalated_never_applied(
    store: OrderStore, amount: int | None, currency: str | None
) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    outcome = apply_verdict(
        store, order, verdict(QueryKind.SUCCEEDED, amount, currency), note(), NOW
    )
    assert isinstance(outcome, Escalated)
    stored = store.get("PO-1")
    assert stored is not None
    assert stored.status is S.SUBMITTED
    assert stored.needs_review
    assert stored.review_reason is not None
    assert "amount mismatch" in stored.review_reason


def test_a_pending_answer_without_amount_is_not_a_mismatch(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.UNKNOWN)
    outcome = apply_verdict(store, order, verdict(QueryKind.PENDING, None, None), note(), NOW)
    assert isinstance(outcome, Settled)


def test_failed_after_succeeded_is_escalated_not_applied(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)
    outcome = apply_verdict(store, order, verdict(QueryKind.FAILED), note(), NOW)
    assert isinstance(outcome, Escalated)
    stored = store.get("PO-1")
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert stored.needs_review


def test_pending_after_a_terminal_status_is_ignored(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)
    outcome = apply_verdict(store, order, verdict(QueryKind.PENDING), note(), NOW)
    assert isinstance(outcome, Unchanged)
    assert store.get("PO-1") == order


def test_a_duplicate_verdict_is_a_no_op(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    first = apply_verdict(store, order, verdict(QueryKind.SUCCEEDED), note(), NOW)
    assert isinstance(first, Settled)
    again = apply_verdict(store, order, verdict(QueryKind.SUCCEEDED), note(), NOW)
    assert isinstance(again, Unchanged)
    assert store.get("PO-1") == first.order


def test_reversal_of_a_paid_order_is_the_one_way_out_of_terminal(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)
    outcome = apply_verdict(store, order, verdict(QueryKind.REVERSED), note(), NOW)
    assert isinstance(outcome, Settled)
    assert outcome.order.status is S.REVERSED


@pytest.mark.parametrize("kind", [QueryKind.NOT_FOUND, QueryKind.UNKNOWN])
def test_uninformative_verdicts_change_nothing(store: OrderStore, kind: QueryKind) -> None:
    order = order_in(store, S.SUBMITTING, S.UNKNOWN)
    outcome = apply_verdict(store, order, verdict(kind), note(), NOW)
    assert isinstance(outcome, Unchanged)
    assert store.get("PO-1") == order


def test_a_stale_read_is_decided_again_on_the_current_order(store: OrderStore) -> None:
    stale = order_in(store, S.SUBMITTING, S.SUBMITTED)
    current = store.transition(stale, S.SUCCEEDED, note("callback won"), NOW)
    assert isinstance(current, Applied)
    outcome = apply_verdict(store, stale, verdict(QueryKind.SUCCEEDED), note(), NOW)
    assert isinstance(outcome, Unchanged)
    assert outcome.order == current.order
