"""The order store's contract, run against moto and DynamoDB Local alike."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

import pytest

from payouts.domain.erasure import ErasedRequest, erase_request
from payouts.domain.errors import IllegalTransition
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.request import PayoutRequest
from payouts.domain.status import TERMINAL, OrderStatus
from payouts.store import AlreadyExists, Applied, Created, OrderStore, Stale
from tests.integration.store.conftest import BOTH_INDEX_MODES, BOTH_INDEX_MODES_WITH_PROJECTIONS
from tests.support.orders import T0, make_request

S = OrderStatus
T = TypeVar("T")


def evidence(summary: str = "test") -> Evidence:
    return Evidence(kind=EvidenceKind.TRANSITION, summary=summary, at=T0)


def created(store: OrderStore, payout_id: str = "PO-1", **kwargs: object) -> Order:
    result = store.create(make_request(payout_id, **kwargs), T0, next_check_at=None)  # type: ignore[arg-type]
    assert isinstance(result, Created)
    return result.order


def moved(store: OrderStore, order: Order, *path: OrderStatus) -> Order:
    for status in path:
        result = store.transition(order, status, evidence(f"to {status}"), T0)
        assert isinstance(result, Applied), result
        order = result.order
    return order


def race[T](workers: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(i)`` in ``workers`` threads released at the same instant."""
    gate = threading.Barrier(workers)

    def run(index: int) -> T:
        gate.wait()
        return action(index)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


# ---- create -----------------------------------------------------------------------------------


def test_create_stores_a_received_order(store: OrderStore) -> None:
    order = created(store)
    assert order.status is S.RECEIVED
    assert order.version == 1
    assert store.get("PO-1") == order


def test_same_request_again_returns_the_existing_order(store: OrderStore) -> None:
    first = created(store)
    again = store.create(make_request("PO-1"), T0 + timedelta(minutes=5), next_check_at=None)
    assert again == AlreadyExists(first, same_request=True)


def test_same_id_with_a_different_request_is_a_conflict_and_changes_nothing(
    store: OrderStore,
) -> None:
    first = created(store)
    other = store.create(make_request("PO-1", value=99999), T0, next_check_at=None)
    assert isinstance(other, AlreadyExists)
    assert other.same_request is False
    assert other.order == first
    stored = store.get("PO-1")
    assert stored is not None
    assert stored.request is not None
    assert stored.request.amount.value == 50000


def test_concurrent_creators_of_one_id_exactly_one_wins(store: OrderStore) -> None:
    results = race(8, lambda i: store.create(make_request("PO-RACE", value=100 + i), T0, None))
    winners = [r for r in results if isinstance(r, Created)]
    assert len(winners) == 1
    losers = [r for r in results if isinstance(r, AlreadyExists)]
    assert len(losers) == 7
    assert all(loser.order == winners[0].order for loser in losers)
    assert store.get("PO-RACE") == winners[0].order


def test_rejected_request_is_stored_for_its_publisher(store: OrderStore) -> None:
    result = store.create_rejected(
        "PO-BAD", "amount.value: must be > 0", '{"payout_id":"PO-BAD"}', T0
    )
    assert isinstance(result, Created)
    stored = store.get("PO-BAD")
    assert stored is not None
    assert stored.status is S.REJECTED
    assert stored.status_reason == "amount.value: must be > 0"
    assert stored.request is None


def test_rejecting_an_invalid_duplicate_never_touches_the_existing_order(store: OrderStore) -> None:
    first = created(store)
    result = store.create_rejected("PO-1", "bad", "{}", T0)
    assert result == AlreadyExists(first, same_request=False)
    assert store.get("PO-1") == first


# ---- transitions -----------------------------------------------------------------------------


def test_transition_bumps_version_and_writes_evidence_atomically(store: OrderStore) -> None:
    order = created(store)
    result = store.transition(order, S.SUBMITTING, evidence("claim"), T0, provider="pg_v2")
    assert isinstance(result, Applied)
    assert result.order.status is S.SUBMITTING
    assert result.order.version == 2
    assert result.order.provider == "pg_v2"
    assert store.get("PO-1") == result.order
    (record,) = store.history("PO-1")
    assert (record.summary, record.from_status, record.to_status) == (
        "claim",
        S.RECEIVED,
        S.SUBMITTING,
    )


def test_a_stale_version_loses_and_sees_the_current_order(store: OrderStore) -> None:
    order = created(store)
    current = moved(store, order, S.SUBMITTING)
    lost = store.transition(order, S.SUBMITTING, evidence("late claim"), T0)
    assert lost == Stale(current)
    assert [e.summary for e in store.history("PO-1")] == [f"to {S.SUBMITTING}"]


def test_concurrent_transitions_exactly_one_wins(store: OrderStore) -> None:
    order = created(store)
    results = race(6, lambda i: store.transition(order, S.SUBMITTING, evidence(f"claim {i}"), T0))
    winners = [r for r in results if isinstance(r, Applied)]
    assert len(winners) == 1
    stale = [r for r in results if isinstance(r, Stale)]
    assert len(stale) == 5
    assert all(s.current == winners[0].order for s in stale)
    assert len(store.history("PO-1")) == 1


def test_a_refused_transition_raises_and_writes_nothing(store: OrderStore) -> None:
    order = created(store)
    with pytest.raises(IllegalTransition):  # RECEIVED was never sent: nothing can be SUBMITTED
        store.transition(order, S.SUBMITTED, evidence(), T0)
    assert store.get("PO-1") == order
    assert store.history("PO-1") == []


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_orders_refuse_every_backwards_move(
    store: OrderStore, terminal: OrderStatus
) -> None:
    paths = {
        S.SUCCEEDED: (S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED),
        S.FAILED: (S.SUBMITTING, S.SUBMITTED, S.FAILED),
        S.REJECTED: (S.SUBMITTING, S.REJECTED),
        S.REVERSED: (S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED, S.REVERSED),
    }
    final = moved(store, created(store), *paths[terminal])
    for target in S:
        if target is S.REVERSED and terminal is S.SUCCEEDED:
            continue
        with pytest.raises(IllegalTransition):
            store.transition(final, target, evidence(), T0)
    assert store.get("PO-1") == final


def test_update_changes_fields_but_never_the_status(store: OrderStore) -> None:
    order = created(store)
    result = store.update(order, T0, needs_review=True, review_reason="deadline passed")
    assert isinstance(result, Applied)
    assert result.order.needs_review
    assert result.order.status is S.RECEIVED
    with pytest.raises(IllegalTransition):
        store.update(result.order, T0, status=S.SUCCEEDED)
    assert store.update(order, T0, check_attempts=3) == Stale(result.order)


def test_appended_evidence_reads_back_in_time_order(store: OrderStore) -> None:
    order = created(store)
    for minute in (3, 1, 2):
        store.append_evidence(
            "PO-1",
            Evidence(
                kind=EvidenceKind.CONFLICT, summary=f"m{minute}", at=T0 + timedelta(minutes=minute)
            ),
        )
    moved(store, order, S.SUBMITTING)  # evidence at T0
    assert [e.summary for e in store.history("PO-1")] == [f"to {S.SUBMITTING}", "m1", "m2", "m3"]


# ---- callbacks: each distinct body recorded once, one confirming query per window ---------------


def _callback(summary: str, minute: int = 0) -> Evidence:
    return Evidence(kind=EvidenceKind.CALLBACK, summary=summary, at=T0 + timedelta(minutes=minute))


def test_a_callback_body_is_recorded_once_whatever_its_evidence_says(store: OrderStore) -> None:
    order = created(store)

    assert store.record_callback_once("PO-1", _callback("first"), "a" * 64) is True
    assert store.record_callback_once("PO-1", _callback("again", 1), "a" * 64) is False
    assert store.record_callback_once("PO-1", _callback("other", 2), "b" * 64) is True

    assert [e.summary for e in store.history("PO-1")] == ["first", "other"]
    assert store.get("PO-1") == order  # the order itself is never written


def test_a_body_marked_seen_is_not_recorded_afterwards(store: OrderStore) -> None:
    created(store)
    store.mark_callback_seen("PO-1", "c" * 64, T0)
    store.mark_callback_seen("PO-1", "c" * 64, T0)  # idempotent

    assert store.record_callback_once("PO-1", _callback("late copy"), "c" * 64) is False
    assert store.history("PO-1") == []


def test_one_callback_query_per_order_and_report_per_window(store: OrderStore) -> None:
    order = created(store)
    window = timedelta(seconds=30)

    def claim(payout_id: str, report: str, seconds: int) -> bool:
        now = T0 + timedelta(seconds=seconds)
        return store.claim_callback_query(payout_id, report, now, window)

    assert claim("PO-1", "SUCCEEDED", 0) is True
    assert claim("PO-1", "SUCCEEDED", 29) is False
    assert claim("PO-1", "REVERSED", 29) is True  # another report is another question
    assert claim("PO-2", "SUCCEEDED", 29) is True
    assert claim("PO-1", "SUCCEEDED", 30) is True
    assert claim("PO-1", "SUCCEEDED", 31) is False
    assert store.get("PO-1") == order
    assert store.history("PO-1") == []


def test_concurrent_callback_queries_exactly_one_claims_the_window(store: OrderStore) -> None:
    created(store)
    window = timedelta(seconds=30)
    claims = race(8, lambda _: store.claim_callback_query("PO-1", "SUCCEEDED", T0, window))
    assert sorted(claims) == [False] * 7 + [True]


# ---- due index ---------------------------------------------------------------------------------


def schedule(
    store: OrderStore, payout_id: str, due_in: timedelta | None, *path: OrderStatus
) -> Order:
    order = moved(store, created(store, payout_id), *path) if path else created(store, payout_id)
    result = store.update(order, T0, next_check_at=None if due_in is None else T0 + due_in)
    assert isinstance(result, Applied)
    return result.order


def test_due_returns_only_due_unresolved_orders_earliest_first(store: OrderStore) -> None:
    for i in range(12):
        schedule(store, f"PO-D{i:02d}", timedelta(seconds=-i), S.SUBMITTING, S.UNKNOWN)
    schedule(store, "PO-LATER", timedelta(minutes=5), S.SUBMITTING)
    schedule(store, "PO-NOCHECK", None, S.SUBMITTING)
    paid = schedule(store, "PO-PAID", timedelta(seconds=-60), S.SUBMITTING, S.SUBMITTED)
    moved(store, paid, S.SUCCEEDED)
    due = store.due(T0, limit=100)
    assert due.payout_ids == [f"PO-D{i:02d}" for i in reversed(range(12))]
    assert due.more is False
    assert store.due(T0 + timedelta(minutes=5), limit=100).payout_ids[-1] == "PO-LATER"


def test_a_small_limit_returns_due_orders_only_and_no_more_than_asked(store: OrderStore) -> None:
    for i in range(12):
        schedule(store, f"PO-D{i:02d}", timedelta(seconds=-i), S.SUBMITTING, S.UNKNOWN)
    schedule(store, "PO-LATER", timedelta(minutes=5), S.SUBMITTING)
    page = store.due(T0, limit=5)
    assert 0 < len(page.orders) <= 5
    assert page.more is True
    assert all(d.next_check_at <= T0 for d in page.orders)
    assert page.orders == sorted(page.orders, key=lambda d: (d.next_check_at, d.payout_id))


def test_reading_the_due_index_costs_about_the_limit_whatever_the_backlog(
    store: OrderStore,
) -> None:
    for i in range(40):
        schedule(store, f"PO-B{i:02d}", timedelta(seconds=-1), S.SUBMITTING, S.UNKNOWN)
    read = count_items_read(store)
    page = store.due(T0, limit=8)
    # One key per shard's share (8 shards, share 1), never the backlog of 40.
    assert read() <= 8
    assert page.more is True


def count_items_read(store: OrderStore) -> Callable[[], int]:
    """Counts the items every query through ``store`` returns from now on."""
    client = store._client
    counted = [0]
    make_api_call = client._make_api_call

    def counting(operation: str, params: dict[str, object]) -> object:
        answer = make_api_call(operation, params)
        if operation == "Query":
            counted[0] += len(answer.get("Items", []))
        return answer

    client._make_api_call = counting  # type: ignore[method-assign]
    return lambda: counted[0]


def test_earliest_due_reads_the_head_of_every_shard(store: OrderStore) -> None:
    assert store.earliest_due() is None
    schedule(store, "PO-A", timedelta(minutes=7), S.SUBMITTING)
    schedule(store, "PO-B", timedelta(minutes=2), S.SUBMITTING)
    assert store.earliest_due() == T0 + timedelta(minutes=2)


def test_reaching_a_terminal_status_leaves_the_due_index(store: OrderStore) -> None:
    order = schedule(store, "PO-T", timedelta(seconds=-1), S.SUBMITTING, S.SUBMITTED)
    assert store.due(T0, 10).payout_ids == ["PO-T"]
    final = moved(store, order, S.SUCCEEDED)
    assert final.next_check_at is None
    assert store.due(T0 + timedelta(days=1), 10).orders == []


# ---- ops reads -----------------------------------------------------------------------------------


@BOTH_INDEX_MODES
def test_list_by_status_within_a_day_range(store: OrderStore) -> None:
    moved(store, created(store, "PO-S1"), S.SUBMITTING)
    created(store, "PO-R1")
    listed = store.list_by_status(S.SUBMITTING, T0 - timedelta(days=2), T0)
    assert [(s.payout_id, s.status, s.amount_value, s.currency) for s in listed] == [
        ("PO-S1", S.SUBMITTING, 50000, "CNY")
    ]
    assert store.list_by_status(S.SUBMITTING, T0 + timedelta(days=1), T0 + timedelta(days=3)) == []


def created_at(store: OrderStore, payout_id: str, when: datetime) -> Order:
    result = store.create(make_request(payout_id), when, next_check_at=None)
    assert isinstance(result, Created)
    return result.order


@BOTH_INDEX_MODES
def test_list_by_status_is_newest_first_across_days_and_stops_at_the_limit(
    store: OrderStore,
) -> None:
    # Same creation time for several: ties go by id, as by-status-day's <created_at>#<id> did.
    for payout_id, when in [
        ("PO-D0-EARLY", T0),
        ("PO-D0-LATE-A", T0 + timedelta(hours=3)),
        ("PO-D0-LATE-B", T0 + timedelta(hours=3)),
        ("PO-D1", T0 + timedelta(days=1)),
        ("PO-D2", T0 + timedelta(days=2, hours=1)),
    ]:
        moved(store, created_at(store, payout_id, when), S.SUBMITTING)
    created_at(store, "PO-D1-RECEIVED", T0 + timedelta(days=1, hours=2))

    listed = store.list_by_status(S.SUBMITTING, T0, T0 + timedelta(days=2))
    limited = store.list_by_status(S.SUBMITTING, T0, T0 + timedelta(days=2), limit=3)

    newest_first = ["PO-D2", "PO-D1", "PO-D0-LATE-B", "PO-D0-LATE-A", "PO-D0-EARLY"]
    assert [row.payout_id for row in listed] == newest_first
    assert [row.payout_id for row in limited] == newest_first[:3]
    assert {row.status for row in listed} == {S.SUBMITTING}
    assert [
        row.payout_id for row in store.list_by_status(S.RECEIVED, T0, T0 + timedelta(days=2))
    ] == ["PO-D1-RECEIVED"]


@BOTH_INDEX_MODES
def test_a_listing_row_carries_what_ops_see(store: OrderStore) -> None:
    order = moved(store, created(store, "PO-ROW"), S.SUBMITTING)
    result = store.transition(
        order, S.SUBMITTED, evidence(), T0, provider="pg_v2", provider_order_id="PG-77"
    )
    assert isinstance(result, Applied)

    (row,) = store.list_by_status(S.SUBMITTED, T0, T0)

    assert (row.payout_id, row.status, row.provider, row.provider_order_id) == (
        "PO-ROW",
        S.SUBMITTED,
        "pg_v2",
        "PG-77",
    )
    assert (row.amount_value, row.currency, row.method) == (50000, "CNY", "ALIPAY")
    assert (row.needs_review, row.updated_at) == (False, T0)


@BOTH_INDEX_MODES_WITH_PROJECTIONS
def test_orders_created_on_a_day_are_oldest_first_and_only_that_days(store: OrderStore) -> None:
    for payout_id, when in [
        ("PO-B", T0 + timedelta(hours=2)),
        ("PO-A2", T0 + timedelta(hours=1)),
        ("PO-A1", T0 + timedelta(hours=1)),
        ("PO-EVE", T0 - timedelta(hours=9)),  # the day before, in UTC
    ]:
        created_at(store, payout_id, when)

    day = [order.payout_id for order in store.orders_created_on(S.RECEIVED, T0)]

    assert day == ["PO-A1", "PO-A2", "PO-B"]
    assert store.orders_created_on(S.SUBMITTING, T0) == []


def test_find_by_provider_order_id(store: OrderStore) -> None:
    order = moved(store, created(store, "PO-P"), S.SUBMITTING)
    result = store.transition(
        order, S.SUBMITTED, evidence(), T0, provider="gateway_v2", provider_order_id="POT42"
    )
    assert isinstance(result, Applied)
    assert store.find_by_provider_order_id("gateway_v2", "POT42") == result.order
    assert store.find_by_provider_order_id("pg_v2", "POT42") is None


def test_review_listing_is_sparse(store: OrderStore) -> None:
    created(store, "PO-OK")
    flagged = created(store, "PO-FLAG")
    store.update(flagged, T0, needs_review=True, review_reason="deadline")
    assert store.list_needing_review() == ["PO-FLAG"]


# ---- lease ---------------------------------------------------------------------------------------


def test_erasable_listing_holds_only_terminal_orders_changed_late_not_yet_erased(
    store: OrderStore,
) -> None:
    # Settled (at T0) two days after creation: late, so listed. One settled the day it was
    # created is left to the retention sweep of by-day and never listed.
    two_days_before = T0 - timedelta(days=2)
    moved(store, created_at(store, "PO-OPEN", two_days_before), S.SUBMITTING, S.SUBMITTED)
    done = moved(
        store, created_at(store, "PO-DONE", two_days_before), S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED
    )
    moved(
        store, created_at(store, "PO-LATER", two_days_before), S.SUBMITTING, S.SUBMITTED, S.FAILED
    )
    moved(store, created(store, "PO-SWEPT"), S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)

    assert sorted(store.erasable(T0, limit=10).payout_ids) == ["PO-DONE", "PO-LATER"]
    assert store.erasable(T0 - timedelta(microseconds=1), limit=10).payout_ids == []
    page = store.erasable(T0, limit=1)
    assert len(page.payout_ids) == 1
    assert page.more
    erasure = store.erase(done, T0, evidence("erased"), erased(done), None)
    assert isinstance(erasure, Applied)
    assert store.erasable(T0 + timedelta(days=1), limit=10).payout_ids == ["PO-LATER"]


def erased(order: Order) -> ErasedRequest:
    assert isinstance(order.request, PayoutRequest)
    return erase_request(order.request)


def test_an_erasure_is_one_conditional_put_keeping_its_record_on_the_order(
    store: OrderStore,
) -> None:
    done = moved(store, created(store, "PO-1"), S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)
    record = Evidence(kind=EvidenceKind.ERASURE, summary="personal data erased", at=T0)

    result = store.erase(done, T0 + timedelta(days=1), record, erased(done), None)

    assert isinstance(result, Applied)
    stored = store.get("PO-1")
    assert stored == result.order
    assert stored.status is S.SUCCEEDED  # never a status change
    assert stored.version == done.version + 1
    assert stored.personal_data_erased_at == T0 + timedelta(days=1)
    last = store.history("PO-1")[-1]
    assert (last.kind, last.order_version) == (EvidenceKind.ERASURE, done.version + 1)
    assert [e.kind for e in store.history("PO-1")].count(EvidenceKind.ERASURE) == 1


def test_an_erasure_from_a_stale_copy_writes_nothing(store: OrderStore) -> None:
    done = moved(store, created(store, "PO-1"), S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)
    reversed_ = moved(store, done, S.REVERSED)
    record = Evidence(kind=EvidenceKind.ERASURE, summary="personal data erased", at=T0)

    result = store.erase(done, T0, record, erased(done), None)

    assert isinstance(result, Stale)
    assert store.get("PO-1") == reversed_
    assert EvidenceKind.ERASURE not in [e.kind for e in store.history("PO-1")]
    again = store.erase(reversed_, T0, record, erased(reversed_), None)
    assert isinstance(again, Applied)
    with pytest.raises(ValueError, match="already erased"):
        store.erase(again.order, T0, record, erased(reversed_), None)


def test_lease_is_exclusive_until_it_expires_or_is_released(store: OrderStore) -> None:
    ttl = timedelta(minutes=2)
    assert store.acquire_lease("reconcile", "exec-a", ttl, T0)
    assert not store.acquire_lease("reconcile", "exec-b", ttl, T0 + timedelta(minutes=1))
    assert store.renew_lease("reconcile", "exec-a", ttl, T0 + timedelta(minutes=1))
    assert not store.release_lease("reconcile", "exec-b")
    assert store.release_lease("reconcile", "exec-a")
    assert store.acquire_lease("reconcile", "exec-b", ttl, T0)


def test_an_expired_lease_can_be_taken_over(store: OrderStore) -> None:
    assert store.acquire_lease("reconcile", "exec-a", timedelta(seconds=30), T0)
    assert store.acquire_lease(
        "reconcile", "exec-b", timedelta(seconds=30), T0 + timedelta(minutes=1)
    )
    assert not store.renew_lease(
        "reconcile", "exec-a", timedelta(seconds=30), T0 + timedelta(minutes=1)
    )


def test_concurrent_lease_takers_exactly_one_wins(store: OrderStore) -> None:
    taken = race(
        6, lambda i: store.acquire_lease("reconcile", f"exec-{i}", timedelta(minutes=1), T0)
    )
    assert taken.count(True) == 1


# ---- fewer writes per payout (issue 13) ----------------------------------------------------------


def test_create_and_claim_in_one_write_is_durable_before_any_send(store: OrderStore) -> None:
    result = store.create(
        make_request("PO-1"), T0, next_check_at=T0 + timedelta(minutes=2), send_to="gateway_v2"
    )
    assert isinstance(result, Created)
    stored = store.get("PO-1")
    assert stored == result.order
    assert stored is not None
    assert (stored.status, stored.provider, stored.submit_attempts) == (
        S.SUBMITTING,
        "gateway_v2",
        1,
    )
    assert stored.last_sent_at == T0
    assert stored.next_check_at == T0 + timedelta(minutes=2)
    # Its first send is in the history although no evidence item was written for it.
    [sent] = store.history("PO-1")
    assert (sent.kind, sent.to_status, sent.at) == (EvidenceKind.CREATE_SENT, S.SUBMITTING, T0)
    assert sent.detail["request_fingerprint"] == stored.fingerprint


def test_a_second_delivery_never_claims_an_order_stored_claimed(store: OrderStore) -> None:
    def claim(_: int) -> object:
        return store.create(make_request("PO-1"), T0, next_check_at=None, send_to="gateway_v2")

    results = race(4, claim)

    assert sum(isinstance(result, Created) for result in results) == 1
    assert all(
        isinstance(result, AlreadyExists) and result.same_request
        for result in results
        if not isinstance(result, Created)
    )


def test_the_change_that_makes_an_order_terminal_keeps_its_evidence_on_the_order(
    store: OrderStore,
) -> None:
    order = moved(store, created(store), S.SUBMITTING, S.SUBMITTED)
    paid = Evidence(kind=EvidenceKind.CALLBACK, summary="paid", detail={"fee": 5}, at=T0)

    result = store.transition(order, S.SUCCEEDED, paid, T0 + timedelta(seconds=1))

    assert isinstance(result, Applied)
    stored = store.get("PO-1")
    assert stored is not None
    assert stored.final_evidence is not None
    assert (stored.final_evidence.summary, stored.final_evidence.to_status) == ("paid", S.SUCCEEDED)
    history = store.history("PO-1")
    assert [item.summary for item in history][-1] == "paid"
    assert history[-1].from_status is S.SUBMITTED


def test_a_terminal_change_that_lost_the_race_is_stale_and_writes_nothing(
    store: OrderStore,
) -> None:
    order = moved(store, created(store), S.SUBMITTING, S.SUBMITTED)
    first = store.transition(order, S.SUCCEEDED, evidence("paid"), T0)
    # Another writer read the same version and reports the same outcome at the same instant.
    second = store.transition(order, S.SUCCEEDED, evidence("paid"), T0)

    assert isinstance(first, Applied)
    assert isinstance(second, Stale)
    assert second.current == first.order
    assert [item.summary for item in store.history("PO-1")].count("paid") == 1


def test_a_reversal_after_payment_records_its_own_evidence_item(store: OrderStore) -> None:
    paid = moved(store, created(store), S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)
    result = store.transition(paid, S.REVERSED, evidence("returned by the bank"), T0)

    assert isinstance(result, Applied)
    stored = store.get("PO-1")
    assert stored is not None
    assert stored.final_evidence is not None
    assert stored.final_evidence.to_status is S.SUCCEEDED  # the first terminal change's, kept
    summaries = [item.summary for item in store.history("PO-1")]
    assert summaries[-2:] == ["to SUCCEEDED", "returned by the bank"]
