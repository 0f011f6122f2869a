"""The per-order rules of the reconcile loop over a moto table, with scripted providers: what is
queried, what is applied, what is re-sent (how often), what is escalated, and when each order is
checked next."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, QueryKind, UnsupportedPayout
from payouts.providers.registry import ProviderConfigError
from payouts.providers.routing import Router
from payouts.services.backoff import BackoffSchedule
from payouts.services.reconcile import (
    NEVER_SENT_REASON,
    BatchReport,
    CheckOutcome,
    LazyProviders,
    ReconcilePolicy,
    Reconciler,
)
from payouts.settings.base import DEFAULT_ROUTES
from payouts.store import OrderStore
from tests.integration.reconcile.reconcile_support import (
    ScriptedProvider,
    VirtualClock,
    answer,
    create_outcome,
    store_order,
)
from tests.support.moto_store import moto_order_store
from tests.support.orders import T0
from tests.support.provider_states import MemoryProviderStates, open_gate

S = OrderStatus
NOW = T0 + timedelta(minutes=1)
POLICY = ReconcilePolicy(
    schedule=BackoffSchedule.of_seconds((15, 30, 60, 120, 300, 900, 3600), jitter=0.1),
    deadline=timedelta(hours=24),
    stale_submitting_after=timedelta(seconds=120),
    not_found_grace=timedelta(minutes=10),
    not_found_policy={"pg_v2": "resend", "gateway_v2": "escalate"},
    max_submit_attempts=3,
    first_check_after=timedelta(seconds=15),
    concurrency=4,
)


@dataclass
class World:
    """One test's table, providers and clock."""

    store: OrderStore
    gateway: ScriptedProvider
    pg: ScriptedProvider
    clock: VirtualClock
    provider_states: MemoryProviderStates = field(default_factory=MemoryProviderStates)

    def reconciler(self, policy: ReconcilePolicy = POLICY) -> Reconciler:
        return Reconciler(
            store=self.store,
            providers={"gateway_v2": self.gateway, "pg_v2": self.pg},
            router=Router(DEFAULT_ROUTES),
            policy=policy,
            gate=open_gate(self.clock.now, self.provider_states),
            clock=self.clock.now,
            random=lambda: 0.5,  # the middle of the jitter band: no jitter
        )

    def run(self, *payout_ids: str, policy: ReconcilePolicy = POLICY) -> BatchReport:
        return asyncio.run(self.reconciler(policy).reconcile(list(payout_ids)))

    def order(self, payout_id: str) -> Order:
        order = self.store.get(payout_id)
        assert order is not None
        return order

    def kinds(self, payout_id: str) -> list[EvidenceKind]:
        return [evidence.kind for evidence in self.store.history(payout_id)]

    def due_ids(self, at: datetime) -> list[str]:
        return self.store.due(at, 100).payout_ids


@pytest.fixture
def world() -> Iterator[World]:
    with moto_order_store() as store:
        yield World(
            store, ScriptedProvider("gateway_v2"), ScriptedProvider("pg_v2"), VirtualClock(NOW)
        )


# ---- answers the provider gives ----------------------------------------------------------------


def test_a_pending_order_stays_and_is_checked_again_after_the_first_step(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED)

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].outcome is CheckOutcome.PENDING
    assert order.status is S.SUBMITTED
    assert order.check_attempts == 1
    assert order.next_check_at == NOW + timedelta(seconds=15)
    assert world.kinds("PO-1")[-1] is EvidenceKind.QUERY
    assert world.gateway.queries == ["PO-1"]


def test_each_further_pending_check_waits_longer(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED, check_attempts=3)

    world.run("PO-1")

    assert world.order("PO-1").next_check_at == NOW + timedelta(minutes=2)


def test_an_unknown_order_the_provider_has_becomes_submitted_and_stays_due(world: World) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN)

    world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.SUBMITTED
    assert order.provider_order_id == "P-1"
    assert order.next_check_at == NOW + timedelta(seconds=15)
    assert world.due_ids(NOW + timedelta(seconds=15)) == ["PO-1"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (QueryKind.SUCCEEDED, S.SUCCEEDED),
        (QueryKind.FAILED, S.FAILED),
        (QueryKind.REVERSED, S.REVERSED),
    ],
)
def test_a_terminal_answer_is_applied_and_the_order_leaves_the_due_index(
    world: World, kind: QueryKind, expected: OrderStatus
) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED)
    world.gateway.query_script["PO-1"] = [answer(kind)]

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].outcome is CheckOutcome.SETTLED
    assert order.status is expected
    assert order.next_check_at is None
    assert world.due_ids(NOW + timedelta(days=30)) == []


def test_an_assumed_failure_is_held_then_confirmed_by_the_query_after_the_settle_period(
    world: World,
) -> None:
    settle = POLICY.failure_settle
    store_order(world.store, "PO-1", S.UNKNOWN)
    world.gateway.query_script["PO-1"] = [answer(QueryKind.FAILED, documented=False)]

    first = world.run("PO-1")

    held = world.order("PO-1")
    assert (first.checks[0].outcome, held.status) == (CheckOutcome.PENDING, S.SUBMITTED)
    assert held.failure_reported_at == NOW
    # Not rescheduled by the backoff: due exactly when the failure may be confirmed.
    assert held.next_check_at == NOW + settle
    assert world.due_ids(NOW + settle - timedelta(seconds=1)) == []
    assert world.due_ids(NOW + settle) == ["PO-1"]

    world.clock.set(NOW + settle)
    second = world.run("PO-1")

    failed = world.order("PO-1")
    assert (second.checks[0].outcome, failed.status) == (CheckOutcome.SETTLED, S.FAILED)
    assert world.gateway.queries == ["PO-1", "PO-1"]
    assert world.due_ids(NOW + timedelta(days=30)) == []


def test_an_assumed_failure_that_the_next_query_contradicts_follows_the_new_answer(
    world: World,
) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED)
    world.gateway.query_script["PO-1"] = [
        answer(QueryKind.FAILED, documented=False),
        answer(QueryKind.SUCCEEDED),
    ]

    world.run("PO-1")
    world.clock.set(NOW + POLICY.failure_settle)
    world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.SUCCEEDED
    assert order.failure_reported_at is None
    assert order.needs_review is False


@pytest.mark.parametrize(("amount", "currency"), [(49999, "CNY"), (50000, "USD"), (None, None)])
def test_a_terminal_answer_with_other_money_is_escalated_never_applied(
    world: World, amount: int | None, currency: str | None
) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED)
    world.gateway.query_script["PO-1"] = [
        answer(QueryKind.SUCCEEDED, amount=amount, currency=currency)
    ]

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].escalated is True
    assert order.status is S.SUBMITTED
    assert order.needs_review is True
    assert order.review_reason is not None
    assert "mismatch" in order.review_reason
    # Escalated orders keep being polled, slowly.
    assert order.next_check_at == NOW + timedelta(hours=1)


def test_an_unreadable_answer_changes_nothing_but_the_schedule(world: World) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN)
    world.gateway.query_script["PO-1"] = [answer(QueryKind.UNKNOWN)]

    world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.UNKNOWN
    assert order.next_check_at == NOW + timedelta(seconds=15)
    assert world.kinds("PO-1")[-1] is EvidenceKind.QUERY


# ---- what is not queried -------------------------------------------------------------------------


def test_orders_not_due_or_already_settled_are_skipped_without_a_provider_call(
    world: World,
) -> None:
    store_order(world.store, "PO-LATER", S.SUBMITTED, next_check_at=NOW + timedelta(minutes=5))
    store_order(world.store, "PO-PAID", S.SUCCEEDED)

    report = world.run("PO-LATER", "PO-PAID", "PO-GONE")

    assert [check.outcome for check in report.checks] == [CheckOutcome.SKIPPED] * 3
    assert world.gateway.queries == []


def test_a_received_order_that_fell_due_is_sent_by_the_loop_under_its_own_number(
    world: World,
) -> None:
    # RECEIVED proves its create never left (its message was dead-lettered or lost), so the
    # loop sends it, claimed first, exactly as intake would have.
    store_order(world.store, "PO-1", S.RECEIVED)

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].outcome is CheckOutcome.SENT
    assert world.gateway.creates == ["PO-1"]
    assert order.status is S.SUBMITTED
    assert order.submit_attempts == 1
    assert order.needs_review is False
    kinds = world.kinds("PO-1")
    assert (kinds.count(EvidenceKind.CREATE_SENT), kinds.count(EvidenceKind.CREATE_ANSWER)) == (
        1,
        1,
    )


def test_a_received_order_the_loop_cannot_send_is_escalated_never_sent(world: World) -> None:
    store_order(world.store, "PO-1", S.RECEIVED, submit_attempts=3)

    first = world.run("PO-1")
    world.clock.advance(3600)
    second = world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.RECEIVED
    assert order.needs_review is True
    assert order.review_reason == NEVER_SENT_REASON
    assert (first.checks[0].escalated, second.checks[0].escalated) == (True, False)
    assert order.next_check_at == NOW + timedelta(hours=2)  # checked at the cap
    assert world.gateway.creates == []
    assert world.gateway.queries == []


def test_a_submitting_order_still_in_flight_is_left_alone_until_it_would_be_stale(
    world: World,
) -> None:
    claimed_at = NOW - timedelta(seconds=30)
    store_order(world.store, "PO-1", S.SUBMITTING, at=claimed_at, next_check_at=claimed_at)

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].outcome is CheckOutcome.DEFERRED
    assert order.status is S.SUBMITTING
    assert order.updated_at == claimed_at  # staleness still counts from the claim
    assert order.next_check_at == claimed_at + timedelta(seconds=120)
    assert world.gateway.queries == []


def test_a_stale_submitting_order_is_treated_as_unknown_and_queried(world: World) -> None:
    claimed_at = NOW - timedelta(seconds=121)
    store_order(world.store, "PO-1", S.SUBMITTING, at=claimed_at, next_check_at=claimed_at)
    world.gateway.query_script["PO-1"] = [answer(QueryKind.SUCCEEDED)]

    world.run("PO-1")

    moves = {(e.from_status, e.to_status) for e in world.store.history("PO-1")}
    assert world.order("PO-1").status is S.SUCCEEDED
    assert {(S.SUBMITTING, S.UNKNOWN), (S.UNKNOWN, S.SUCCEEDED)} <= moves
    assert world.gateway.creates == []


# ---- not found after an unknown create ---------------------------------------------------------


def test_not_found_inside_the_grace_period_is_just_checked_again(world: World) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN, method="UPI", at=NOW - timedelta(minutes=9))
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.UNKNOWN
    assert order.needs_review is False
    assert world.pg.creates == []


def test_pg_v2_not_found_after_grace_is_resent_under_the_same_number(world: World) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN, method="UPI", at=NOW - timedelta(minutes=11))
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].outcome is CheckOutcome.RESENT
    assert world.pg.creates == ["PO-1"]
    assert order.status is S.SUBMITTED
    assert order.provider_order_id == "P-new"
    assert order.submit_attempts == 2
    # Written at the same virtual instant, so their order in the timeline is not asserted.
    assert sorted(world.kinds("PO-1")[-3:]) == sorted(
        [EvidenceKind.QUERY, EvidenceKind.CREATE_SENT, EvidenceKind.CREATE_ANSWER]
    )


@pytest.mark.parametrize(("method", "provider"), [("UPI", "pg"), ("ALIPAY", "gateway")])
def test_not_found_grace_counts_from_the_last_create_sent_not_from_when_it_was_stored(
    world: World, method: str, provider: str
) -> None:
    # Stored two hours ago, its latest create sent a minute ago (a re-send, or a long hold):
    # that create may still be landing, so "no such order" proves nothing yet.
    store_order(
        world.store,
        "PO-1",
        S.UNKNOWN,
        method=method,
        at=NOW - timedelta(hours=2),
        last_sent_at=NOW - timedelta(minutes=1),
    )
    scripted = world.pg if provider == "pg" else world.gateway
    scripted.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].outcome is CheckOutcome.PENDING
    assert scripted.creates == []
    assert order.needs_review is False
    assert order.submit_attempts == 1


@pytest.mark.parametrize("kind", [CreateKind.AMBIGUOUS, CreateKind.DUPLICATE, CreateKind.NOT_SENT])
def test_a_resend_without_a_clear_answer_leaves_the_order_unknown_and_due_soon(
    world: World, kind: CreateKind
) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN, method="PIX", at=NOW - timedelta(minutes=11))
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]
    world.pg.create_script["PO-1"] = create_outcome(kind)

    world.run("PO-1")

    order = world.order("PO-1")
    # Never RECEIVED: the first create may still have reached the provider.
    assert order.status is S.UNKNOWN
    assert order.next_check_at == NOW + timedelta(seconds=15)


def test_a_resend_the_adapter_refuses_goes_back_to_unknown_and_is_escalated(world: World) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN, method="UPI", at=NOW - timedelta(minutes=11))
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]
    world.pg.create_script["PO-1"] = UnsupportedPayout("pg_v2 does not carry this")

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.UNKNOWN
    assert order.needs_review is True
    assert report.checks[0].escalated is True


def test_gateway_v2_not_found_after_grace_is_escalated_never_resent(world: World) -> None:
    store_order(world.store, "PO-1", S.UNKNOWN, at=NOW - timedelta(minutes=11))
    world.gateway.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].escalated is True
    assert order.status is S.UNKNOWN
    assert order.needs_review is True
    assert order.next_check_at == NOW + timedelta(hours=1)
    assert world.gateway.creates == []


@pytest.mark.parametrize(
    ("waited", "said"), [(timedelta(seconds=40), "40 s"), (timedelta(minutes=11), "11 min")]
)
def test_the_escalation_says_how_long_the_provider_said_not_found(
    world: World, waited: timedelta, said: str
) -> None:
    # A short grace (the local stack's) once read "0 min after an unknown create".
    store_order(world.store, "PO-1", S.UNKNOWN, at=NOW - waited)
    world.gateway.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    world.run("PO-1", policy=replace(POLICY, not_found_grace=timedelta(seconds=30)))

    assert f"has no order under this number {said} after an unknown create" in (
        world.order("PO-1").review_reason or ""
    )


def test_an_accepted_order_the_provider_loses_is_escalated_never_resent(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED, method="UPI", at=NOW - timedelta(minutes=11))
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.SUBMITTED
    assert order.needs_review is True
    assert world.pg.creates == []


def test_resending_stops_after_the_most_creates_and_a_person_decides(world: World) -> None:
    store_order(
        world.store,
        "PO-1",
        S.UNKNOWN,
        method="UPI",
        at=NOW - timedelta(minutes=30),
        submit_attempts=3,
    )
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    world.run("PO-1")

    order = world.order("PO-1")
    assert order.needs_review is True
    assert order.review_reason is not None
    assert "3 creates" in order.review_reason
    assert world.pg.creates == []


# ---- deadline ------------------------------------------------------------------------------------


def test_past_the_deadline_an_order_is_escalated_once_then_polled_at_the_cap(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED, at=NOW - timedelta(hours=24))

    first = world.run("PO-1")
    world.clock.advance(3600)
    second = world.run("PO-1")

    order = world.order("PO-1")
    assert (first.checks[0].escalated, second.checks[0].escalated) == (True, False)
    assert order.status is S.SUBMITTED  # never failed by the loop
    assert order.needs_review is True
    assert order.review_reason is not None
    assert order.review_reason.startswith("unresolved for more than 24 h")
    assert order.next_check_at == NOW + timedelta(hours=2)
    assert world.kinds("PO-1").count(EvidenceKind.REVIEW) == 1


def test_just_before_the_deadline_nothing_is_escalated(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED, at=NOW - timedelta(hours=23, minutes=59))

    report = world.run("PO-1")

    assert report.checks[0].escalated is False
    assert world.order("PO-1").needs_review is False


# ---- a batch -------------------------------------------------------------------------------------


def test_one_failing_check_does_not_stop_the_batch_and_is_pushed_back(world: World) -> None:
    store_order(world.store, "PO-BAD", S.SUBMITTED)
    store_order(world.store, "PO-OK", S.SUBMITTED)
    world.gateway.query_script["PO-BAD"] = [RuntimeError("adapter bug")]
    world.gateway.query_script["PO-OK"] = [answer(QueryKind.SUCCEEDED)]

    report = world.run("PO-BAD", "PO-OK")

    assert report.counts()["error"] == 1
    assert report.counts()["settled"] == 1
    bad = world.order("PO-BAD")
    assert bad.status is S.SUBMITTED
    assert bad.next_check_at == NOW + timedelta(seconds=15)  # not spinning on it
    assert world.kinds("PO-BAD")[-1] is EvidenceKind.SCHEDULE


def test_an_order_whose_provider_is_not_configured_is_escalated(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED, provider="retired_provider")

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].escalated is True
    assert (
        order.review_reason
        == "provider retired_provider is not configured for the reconcile function"
    )


def test_a_batch_checks_each_order_once_and_counts_the_outcomes(world: World) -> None:
    for payout_id in ("PO-1", "PO-2", "PO-3"):
        store_order(world.store, payout_id, S.SUBMITTED)
    world.gateway.query_script["PO-2"] = [answer(QueryKind.SUCCEEDED)]

    report = world.run("PO-1", "PO-2", "PO-3", "PO-1")

    assert sorted(world.gateway.queries) == ["PO-1", "PO-2", "PO-3"]
    counts = report.counts()
    assert counts["checked"] == 3
    assert counts["pending"] == 2
    assert counts["settled"] == 1
    assert counts["provider_calls"] == 3


def test_a_callback_settling_the_order_during_the_query_wins(world: World) -> None:
    store_order(world.store, "PO-1", S.SUBMITTED)
    world.gateway.query_script["PO-1"] = [answer(QueryKind.PENDING)]

    def callback_settles(order: Order) -> None:
        current = world.order(order.payout_id)
        note = Evidence(kind=EvidenceKind.CALLBACK, summary="paid", at=NOW)
        world.store.transition(current, S.SUCCEEDED, note, NOW)

    world.gateway.on_query = callback_settles

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert order.status is S.SUCCEEDED
    assert order.next_check_at is None  # the pending answer's reschedule lost, as it must
    assert report.checks[0].outcome is CheckOutcome.RACED


def test_a_provider_that_cannot_be_built_fails_only_its_own_orders(world: World) -> None:
    store_order(world.store, "PO-GW", S.SUBMITTED)
    store_order(world.store, "PO-PG", S.SUBMITTED, method="UPI")
    world.gateway.query_script["PO-GW"] = [answer(QueryKind.SUCCEEDED)]
    built: list[str] = []

    def build(name: str) -> ScriptedProvider:
        built.append(name)
        if name == "pg_v2":
            raise ProviderConfigError("secret payouts/pg_v2 is not valid JSON")
        return world.gateway

    reconciler = Reconciler(
        store=world.store,
        providers=LazyProviders({"gateway_v2", "pg_v2"}, build),
        router=Router(DEFAULT_ROUTES),
        policy=POLICY,
        gate=open_gate(world.clock.now),
        clock=world.clock.now,
        random=lambda: 0.5,
    )

    report = asyncio.run(reconciler.reconcile(["PO-GW", "PO-PG", "PO-GW"]))

    outcomes = {check.payout_id: check.outcome for check in report.checks}
    assert outcomes == {"PO-GW": CheckOutcome.SETTLED, "PO-PG": CheckOutcome.ERROR}
    assert world.order("PO-PG").needs_review is False  # a broken secret is not a person's job
    assert sorted(built) == ["gateway_v2", "pg_v2"]


# ---- a paused provider: held orders, and sending them after resume -------------------------------


def test_a_held_order_is_never_sent_while_its_provider_is_paused(world: World) -> None:
    world.provider_states.pause("gateway_v2", T0, by="operator:ann")
    store_order(world.store, "PO-1", S.RECEIVED)

    first = world.run("PO-1")
    world.clock.advance(POLICY.held_recheck.total_seconds())
    second = world.run("PO-1")

    order = world.order("PO-1")
    assert [first.checks[0].outcome, second.checks[0].outcome] == [CheckOutcome.HELD] * 2
    assert world.gateway.creates == []
    assert order.status is S.RECEIVED
    assert order.next_check_at == world.clock.now() + POLICY.held_recheck
    assert order.status_reason is not None
    assert "paused by operator:ann" in order.status_reason
    # One SCHEDULE item for the hold, not one per look.
    assert world.kinds("PO-1").count(EvidenceKind.SCHEDULE) == 1


def test_after_resume_held_orders_are_sent_at_the_bounded_rate(world: World) -> None:
    world.provider_states.pause("gateway_v2", T0)
    ids = [f"PO-{n}" for n in range(7)]
    for payout_id in ids:
        store_order(world.store, payout_id, S.RECEIVED)
    world.run(*ids)
    world.provider_states.resume("gateway_v2", world.clock.now())
    world.clock.advance(POLICY.held_recheck.total_seconds())
    policy = replace(POLICY, held_sends_per_batch=3)

    first = world.run(*ids, policy=policy)
    world.clock.advance(POLICY.held_recheck.total_seconds())
    second = world.run(*ids, policy=policy)
    world.clock.advance(POLICY.held_recheck.total_seconds())
    third = world.run(*ids, policy=policy)

    sent = [
        sum(check.outcome is CheckOutcome.SENT for check in run.checks)
        for run in (first, second, third)
    ]
    assert sent == [3, 3, 1]
    assert sorted(world.gateway.creates) == ids  # each exactly once
    assert {world.order(pid).status for pid in ids} == {S.SUBMITTED}


def test_a_held_order_past_its_deadline_is_escalated_and_still_not_sent(world: World) -> None:
    world.provider_states.pause("gateway_v2", T0)
    store_order(world.store, "PO-1", S.RECEIVED)
    world.clock.advance(POLICY.deadline.total_seconds())

    report = world.run("PO-1")

    order = world.order("PO-1")
    assert report.checks[0].escalated is True
    assert order.needs_review is True
    assert order.review_reason is not None
    assert "never failed" in order.review_reason
    assert order.status is S.RECEIVED
    assert world.gateway.creates == []


def test_no_resend_while_paused_the_not_found_order_is_asked_again(world: World) -> None:
    # pg_v2 re-sends an order it still does not know after the grace: not while paused.
    world.provider_states.pause("pg_v2", T0)
    store_order(
        world.store,
        "PO-1",
        S.UNKNOWN,
        method="UPI",
        value=10000,
        last_sent_at=T0 - timedelta(hours=1),
    )
    world.pg.query_script["PO-1"] = [answer(QueryKind.NOT_FOUND)]

    report = world.run("PO-1")

    assert report.checks[0].outcome is CheckOutcome.PENDING
    assert world.pg.queries == ["PO-1"]
    assert world.pg.creates == []
    assert world.order("PO-1").status is S.UNKNOWN


def test_a_loop_create_that_turns_ambiguous_feeds_the_breaker(world: World) -> None:
    store_order(world.store, "PO-1", S.RECEIVED)
    world.gateway.create_script["PO-1"] = create_outcome(CreateKind.AMBIGUOUS)

    world.run("PO-1")

    assert [kind for _, kind in world.provider_states.marks["gateway_v2"]] == ["AMBIGUOUS"]
