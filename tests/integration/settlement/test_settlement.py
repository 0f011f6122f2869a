"""What a provider says is applied by the rules: conditional, amount-checked, never backwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import QueryKind
from payouts.services.settlement import (
    Escalated,
    FailureHeld,
    Settled,
    Unchanged,
    Verdict,
    apply_verdict,
)
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


def verdict(
    kind: QueryKind,
    amount: int | None = 50000,
    currency: str | None = "CNY",
    *,
    documented: bool = True,
) -> Verdict:
    return Verdict(
        kind=kind,
        source="query",
        reason=f"provider status {kind}",
        provider="gateway_v2",
        provider_order_id="POT1",
        amount_minor=amount,
        currency=currency,
        documented=documented,
    )


SETTLE = timedelta(minutes=5)


def assumed_failure() -> Verdict:
    return verdict(QueryKind.FAILED, documented=False)


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
    outcome = apply_verdict(store, order, verdict(kind, documented=True), note(), NOW)
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


# --- an assumed failure is confirmed before it is final -----------------------------------------


def test_a_documented_failure_is_final_at_once(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)

    outcome = apply_verdict(
        store, order, verdict(QueryKind.FAILED), note(), NOW, failure_settle=SETTLE
    )

    assert isinstance(outcome, Settled)
    assert outcome.order.status is S.FAILED
    assert outcome.order.failure_reported_at is None


@pytest.mark.parametrize(
    "path", [(S.SUBMITTING,), (S.SUBMITTING, S.UNKNOWN), (S.SUBMITTING, S.SUBMITTED)]
)
def test_an_assumed_failure_is_held_unresolved_and_due_after_the_settle_period(
    store: OrderStore, path: tuple[OrderStatus, ...]
) -> None:
    order = order_in(store, *path)

    outcome = apply_verdict(store, order, assumed_failure(), note(), NOW, failure_settle=SETTLE)

    assert isinstance(outcome, FailureHeld)
    stored = store.get("PO-1")
    assert stored is not None
    # The provider reports on the order, so it has it; no final status, so no final event.
    assert stored.status is S.SUBMITTED
    assert stored.failure_reported_at == NOW
    assert stored.next_check_at == NOW + SETTLE == outcome.confirm_at
    assert stored.provider_order_id == "POT1"
    assert store.due(NOW + SETTLE - timedelta(seconds=1), 10).payout_ids == []
    assert store.due(NOW + SETTLE, 10).payout_ids == ["PO-1"]
    held = store.history("PO-1")[-1]
    assert held.detail["failure_held"] is True
    assert held.detail["failure_confirm_at"] == (NOW + SETTLE).isoformat()


def test_a_failure_repeated_before_the_settle_period_stays_held_from_the_first_report(
    store: OrderStore,
) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    first = apply_verdict(store, order, assumed_failure(), note(), NOW, failure_settle=SETTLE)
    assert isinstance(first, FailureHeld)

    later = NOW + SETTLE - timedelta(seconds=1)
    again = apply_verdict(
        store, first.order, assumed_failure(), note(), later, failure_settle=SETTLE
    )

    assert isinstance(again, FailureHeld)
    assert again.order.status is S.SUBMITTED
    assert again.order.failure_reported_at == NOW
    assert again.order.next_check_at == NOW + SETTLE


def test_a_failure_repeated_after_the_settle_period_makes_the_order_failed(
    store: OrderStore,
) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    held = apply_verdict(store, order, assumed_failure(), note(), NOW, failure_settle=SETTLE)
    assert isinstance(held, FailureHeld)

    confirmed = apply_verdict(
        store, held.order, assumed_failure(), note(), NOW + SETTLE, failure_settle=SETTLE
    )

    assert isinstance(confirmed, Settled)
    assert confirmed.order.status is S.FAILED
    assert confirmed.order.next_check_at is None
    confirmation = "assumed failure confirmed by an answer 300 s after it was first reported"
    assert confirmed.order.status_reason == f"provider status FAILED; {confirmation}"
    [failed] = [item for item in store.history("PO-1") if item.to_status is S.FAILED]
    assert failed.detail["failure_confirmed"] == confirmation


@pytest.mark.parametrize(
    ("kind", "expected"), [(QueryKind.SUCCEEDED, S.SUCCEEDED), (QueryKind.PENDING, S.SUBMITTED)]
)
def test_another_answer_during_the_hold_is_followed_and_ends_the_hold(
    store: OrderStore, kind: QueryKind, expected: OrderStatus
) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    held = apply_verdict(store, order, assumed_failure(), note(), NOW, failure_settle=SETTLE)
    assert isinstance(held, FailureHeld)

    later = NOW + SETTLE
    followed = apply_verdict(store, held.order, verdict(kind), note(), later, failure_settle=SETTLE)

    assert isinstance(followed, Settled)
    assert followed.order.status is expected
    assert followed.order.failure_reported_at is None
    # A failure heard again later starts a new hold: it does not count the released one.
    if expected is S.SUBMITTED:
        again = apply_verdict(
            store, followed.order, assumed_failure(), note(), later, failure_settle=SETTLE
        )
        assert isinstance(again, FailureHeld)
        assert again.order.next_check_at == later + SETTLE


def test_a_settle_period_of_zero_still_needs_a_second_answer(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    zero = timedelta(0)

    held = apply_verdict(store, order, assumed_failure(), note(), NOW, failure_settle=zero)
    assert isinstance(held, FailureHeld)
    confirmed = apply_verdict(
        store, held.order, assumed_failure(), note(), NOW, failure_settle=zero
    )

    assert isinstance(confirmed, Settled)
    assert confirmed.order.status is S.FAILED


def test_paid_after_a_confirmed_assumed_failure_is_escalated_as_a_contradiction(
    store: OrderStore,
) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    held = apply_verdict(store, order, assumed_failure(), note(), NOW, failure_settle=SETTLE)
    assert isinstance(held, FailureHeld)
    failed = apply_verdict(
        store, held.order, assumed_failure(), note(), NOW + SETTLE, failure_settle=SETTLE
    )
    assert isinstance(failed, Settled)

    paid = apply_verdict(store, failed.order, verdict(QueryKind.SUCCEEDED), note(), NOW + SETTLE)

    assert isinstance(paid, Escalated)
    stored = store.get("PO-1")
    assert stored is not None
    assert stored.status is S.FAILED
    assert stored.needs_review
    assert stored.review_reason == "provider says SUCCEEDED (query) but the order is FAILED"
