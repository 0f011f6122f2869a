"""A person's close: a conditional transition with evidence naming them, never over a final
status, and a later provider answer that contradicts it is escalated, never applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import TERMINAL, OrderStatus
from payouts.providers.base import QueryKind, QueryOutcome, RawExchange
from payouts.services.operator import CLOSABLE, CloseRefused, close_order
from payouts.services.settlement import Escalated, apply_verdict, escalate, query_verdict
from payouts.store import Applied, Created, OrderStore
from tests.support.moto_store import moto_order_store
from tests.support.orders import T0, make_request

S = OrderStatus
NOW = T0 + timedelta(hours=2)
LATER = NOW + timedelta(minutes=10)
# How each status is reached from RECEIVED, along the transition table.
PATHS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    S.RECEIVED: (),
    S.SUBMITTING: (S.SUBMITTING,),
    S.SUBMITTED: (S.SUBMITTING, S.SUBMITTED),
    S.UNKNOWN: (S.SUBMITTING, S.UNKNOWN),
    S.SUCCEEDED: (S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED),
    S.FAILED: (S.SUBMITTING, S.SUBMITTED, S.FAILED),
    S.REJECTED: (S.REJECTED,),
    S.REVERSED: (S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED, S.REVERSED),
}


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with moto_order_store() as order_store:
        yield order_store


def order_in(store: OrderStore, status: OrderStatus, *, escalated: bool = True) -> Order:
    result = store.create(make_request("PO-1", value=50000), T0, None)
    assert isinstance(result, Created)
    order = result.order
    for step in PATHS[status]:
        setup = Evidence(kind=EvidenceKind.TRANSITION, summary=f"to {step}", at=T0)
        moved = store.transition(order, step, setup, T0, provider="gateway_v2")
        assert isinstance(moved, Applied)
        order = moved.order
    if escalated:
        note = Evidence(kind=EvidenceKind.QUERY, summary="no order under this number", at=T0)
        flagged = escalate(store, order, "gateway_v2 has no order under this number", note, T0)
        assert flagged is not None
        order = flagged.order
    return order


def close(store: OrderStore, to: OrderStatus, reference: str | None = "ticket 4711") -> Order:
    return close_order(
        store,
        "PO-1",
        to,
        reason="provider confirmed",
        reference=reference,
        operator="alice",
        now=NOW,
    )


@pytest.mark.parametrize("to", [S.SUCCEEDED, S.FAILED])
@pytest.mark.parametrize("status", sorted(CLOSABLE))
def test_a_person_closes_an_escalated_order_either_way(
    store: OrderStore, status: OrderStatus, to: OrderStatus
) -> None:
    before = order_in(store, status)
    closed = close(store, to)

    assert (closed.status, closed.version) == (to, before.version + 1)
    assert (closed.needs_review, closed.review_reason) == (False, None)
    assert closed.closed_by == "operator:alice"
    assert closed.next_check_at is None  # final: out of the reconcile loop's due index
    assert closed.status_reason == f"closed {to} by operator:alice: provider confirmed"
    assert store.get("PO-1") == closed
    assert store.list_needing_review() == []


def test_the_evidence_names_the_operator_the_reason_and_the_reference(store: OrderStore) -> None:
    order_in(store, S.UNKNOWN)
    close(store, S.SUCCEEDED, reference="statement line 2026-11-30 #88")

    last = store.history("PO-1")[-1]
    assert last.kind is EvidenceKind.OPERATOR
    assert last.actor == "operator:alice"
    assert (last.from_status, last.to_status) == (S.UNKNOWN, S.SUCCEEDED)
    assert last.detail["operator"] == "alice"
    assert last.detail["reason"] == "provider confirmed"
    assert last.detail["reference"] == "statement line 2026-11-30 #88"
    assert last.detail["review_reason"] == "gateway_v2 has no order under this number"
    assert "alice" in last.summary
    assert "statement line 2026-11-30 #88" in last.summary


def test_failed_needs_no_reference(store: OrderStore) -> None:
    order_in(store, S.UNKNOWN)
    closed = close(store, S.FAILED, reference=None)
    assert closed.status is S.FAILED
    assert store.history("PO-1")[-1].detail["reference"] is None


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_a_final_status_is_never_closed_over(store: OrderStore, terminal: OrderStatus) -> None:
    before = order_in(store, terminal)
    history = store.history("PO-1")

    for to in (S.SUCCEEDED, S.FAILED):
        with pytest.raises(CloseRefused, match=f"is {terminal}, a final status"):
            close(store, to)

    assert store.get("PO-1") == before
    assert store.history("PO-1") == history


@pytest.mark.parametrize(
    ("to", "reason", "reference", "operator", "message"),
    [
        (S.SUCCEEDED, "paid", None, "alice", "requires --reference"),
        (S.SUCCEEDED, "paid", "   ", "alice", "requires --reference"),
        (S.FAILED, "  ", None, "alice", "--reason is required"),
        (S.FAILED, "gone", None, " ", "operator's name is required"),
        (S.REJECTED, "gone", None, "alice", "SUCCEEDED or FAILED, not REJECTED"),
        (S.REVERSED, "gone", "t", "alice", "SUCCEEDED or FAILED, not REVERSED"),
        (S.FAILED, "x" * 501, None, "alice", "at most 500 characters"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    store: OrderStore,
    *,
    to: OrderStatus,
    reason: str,
    reference: str | None,
    operator: str,
    message: str,
) -> None:
    before = order_in(store, S.UNKNOWN)
    with pytest.raises(CloseRefused, match=message):
        close_order(
            store, "PO-1", to, reason=reason, reference=reference, operator=operator, now=NOW
        )
    assert store.get("PO-1") == before


def test_no_such_order_is_refused(store: OrderStore) -> None:
    with pytest.raises(CloseRefused, match="no order PO-1"):
        close(store, S.FAILED)


def _answer(kind: QueryKind) -> QueryOutcome:
    return QueryOutcome(kind, f"status {kind}", RawExchange("ok", 200, "{}"), "POT1", 50000, "CNY")


@pytest.mark.parametrize(
    ("closed_as", "reported"),
    [(S.FAILED, QueryKind.SUCCEEDED), (S.SUCCEEDED, QueryKind.FAILED)],
)
def test_a_query_contradicting_a_close_escalates_naming_the_close(
    store: OrderStore, closed_as: OrderStatus, reported: QueryKind
) -> None:
    # The reconcile loop read the order before the close, and queries after it: its write loses
    # the race, it re-reads the closed order, and must not override the person.
    read_before = order_in(store, S.SUBMITTED)
    close(store, closed_as)
    verdict = query_verdict("gateway_v2", _answer(reported))
    note = Evidence(kind=EvidenceKind.QUERY, summary="query", at=LATER)

    outcome = apply_verdict(store, read_before, verdict, note, LATER)

    assert isinstance(outcome, Escalated)
    stored = store.get("PO-1")
    assert stored is not None
    assert (stored.status, stored.needs_review) == (closed_as, True)
    assert stored.review_reason is not None
    assert stored.review_reason.startswith(
        f"contradiction: provider says {reported} (query) but operator:alice closed the order "
        f"{closed_as} by hand"
    )


def test_an_agreeing_answer_after_a_close_changes_nothing(store: OrderStore) -> None:
    order_in(store, S.SUBMITTED)
    closed = close(store, S.SUCCEEDED)
    note = Evidence(kind=EvidenceKind.QUERY, summary="query", at=LATER)
    verdict = query_verdict("gateway_v2", _answer(QueryKind.SUCCEEDED))

    apply_verdict(store, closed, verdict, note, LATER)

    assert store.get("PO-1") == closed


@pytest.mark.parametrize("kind", [QueryKind.SUCCEEDED, QueryKind.FAILED, QueryKind.PENDING])
def test_no_provider_answer_settles_a_received_order(store: OrderStore, kind: QueryKind) -> None:
    # RECEIVED -> SUCCEEDED / FAILED are a person's moves only: a RECEIVED order never left.
    received = order_in(store, S.RECEIVED, escalated=False)
    note = Evidence(kind=EvidenceKind.QUERY, summary="query", at=LATER)

    apply_verdict(store, received, query_verdict("gateway_v2", _answer(kind)), note, LATER)

    assert store.get("PO-1") == received
