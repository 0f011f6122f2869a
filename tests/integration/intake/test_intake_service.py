"""The intake use case over a moto table, with scripted providers: every branch of issue 4's
list 2 and 3, what is stored, what is sent (how often), and what is counted."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.provider_state import PausedBy
from payouts.domain.status import TERMINAL, OrderStatus
from payouts.providers.base import (
    CreateKind,
    CreateOutcome,
    RawExchange,
    UnsupportedPayout,
)
from payouts.providers.routing import Router
from payouts.services.intake import (
    Disposition,
    Intake,
    IntakeMessage,
    IntakeTimings,
    RetryLater,
)
from payouts.services.provider_gate import BreakerPolicy
from payouts.settings.base import DEFAULT_ROUTES
from payouts.store import Applied, OrderStore
from tests.support.moto_store import moto_order_store
from tests.support.orders import T0, make_request, request_document
from tests.support.provider_states import QUIET_BREAKER, MemoryProviderStates, open_gate

S = OrderStatus
TIMINGS = IntakeTimings(
    received_grace=timedelta(hours=1),
    stale_submitting_after=timedelta(minutes=2),
    submitted_first_check=timedelta(minutes=1),
    unknown_first_check=timedelta(seconds=5),
)
ACCEPTED = CreateOutcome(
    CreateKind.ACCEPTED,
    "0000 with data.payout_id",
    RawExchange("ok", 200, "0000", body_excerpt='{"error_code":"0000"}'),
    provider_order_id="POT1",
)
BENEFICIARY_VALUES = ("test_name", "payee@okbank", "001234567890", "HDFC0001234", "Test Payee")


class Crash(BaseException):
    """The function dying mid-flight (timeout, out of memory): nothing after it runs."""


class ScriptedProvider:
    """A provider whose create answers from a script, and remembers every create it received
    together with the order's stored status at that moment."""

    def __init__(
        self,
        store: OrderStore,
        name: str = "gateway_v2",
        answer: CreateOutcome | BaseException = ACCEPTED,
        during_create: Callable[[Order], None] | None = None,
    ) -> None:
        self.name = name
        self.answer = answer
        self.during_create = during_create
        self.creates: list[str] = []
        self.stored_status_when_called: list[OrderStatus | None] = []
        self._store = store

    async def create(self, order: Order) -> CreateOutcome:
        self.creates.append(order.payout_id)
        stored = self._store.get(order.payout_id)
        self.stored_status_when_called.append(stored.status if stored else None)
        if self.during_create is not None:
            self.during_create(order)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class Providers:
    """The ProviderSource of a test; can be told that building an adapter fails."""

    def __init__(self, *providers: ScriptedProvider, broken: Exception | None = None) -> None:
        self.by_name = {provider.name: provider for provider in providers}
        self.broken = broken

    def provider(self, name: str) -> ScriptedProvider:
        if self.broken is not None:
            raise self.broken
        return self.by_name[name]


class DeadLetters:
    """Collects dead letters; can be told to fail like an unreachable queue."""

    def __init__(self) -> None:
        self.sent: list[tuple[IntakeMessage, str]] = []
        self.failing = False

    def send(self, message: IntakeMessage, reason: str) -> None:
        if self.failing:
            raise ConnectionError("queue unreachable")
        self.sent.append((message, reason))


class World:
    """One test's intake, its table, its providers and what it counted."""

    def __init__(self, store: OrderStore) -> None:
        self.store = store
        self.gateway = ScriptedProvider(store, "gateway_v2")
        self.pg = ScriptedProvider(store, "pg_v2")
        self.providers = Providers(self.gateway, self.pg)
        self.dead_letters = DeadLetters()
        self.metrics: Counter[str] = Counter()
        self.now = T0
        self.routes = dict(DEFAULT_ROUTES)
        self.timings = TIMINGS
        self.provider_states = MemoryProviderStates()
        self.breaker = QUIET_BREAKER

    def intake(self) -> Intake:
        return Intake(
            store=self.store,
            router=Router(self.routes),
            providers=self.providers,
            dead_letters=self.dead_letters,
            timings=self.timings,
            # The gate keeps its own clock: tests that script intake's clock readings count
            # intake's reads only.
            gate=open_gate(
                lambda: self.now, self.provider_states, breaker=self.breaker, count=self.count
            ),
            clock=self.clock,
            count=self.count,
        )

    def count(self, metric: str) -> None:
        self.metrics[metric] += 1

    def clock(self) -> datetime:
        """A clock that ticks a millisecond per reading, as a real one does between writes."""
        self.now += timedelta(milliseconds=1)
        return self.now

    def deliver(self, body: str, message_id: str = "m-1") -> Disposition:
        return asyncio.run(self.intake().handle(IntakeMessage(message_id, body)))

    def order(self, payout_id: str = "PO-1") -> Order:
        order = self.store.get(payout_id)
        assert order is not None
        return order

    def kinds(self, payout_id: str = "PO-1") -> list[EvidenceKind]:
        return [evidence.kind for evidence in self.store.history(payout_id)]


def body(payout_id: str = "PO-1", method: str = "ALIPAY", value: int = 50000) -> str:
    return json.dumps(request_document(payout_id, method, value))


@pytest.fixture
def world() -> Iterator[World]:
    with moto_order_store() as store:
        yield World(store)


def assert_no_beneficiary_details(world: World, payout_id: str = "PO-1") -> None:
    stored = json.dumps(
        [evidence.model_dump(mode="json") for evidence in world.store.history(payout_id)]
    )
    order = world.store.get(payout_id)
    if order is not None and order.invalid_request is not None:
        stored += order.invalid_request
    for value in BENEFICIARY_VALUES:
        assert value not in stored


# --- a new request --------------------------------------------------------------------------------


def test_accepted_create_is_claimed_durably_first_then_submitted(world: World) -> None:
    disposition = world.deliver(body())

    order = world.order()
    assert disposition is Disposition.SUBMITTED
    assert world.gateway.creates == ["PO-1"]
    assert world.gateway.stored_status_when_called == [S.SUBMITTING]
    assert order.status is S.SUBMITTED
    assert order.provider == "gateway_v2"
    assert order.provider_order_id == "POT1"
    assert order.submit_attempts == 1
    # The claim's abandon-check time is kept as the first query (it falls within one wait of
    # the wanted time), so the due index entry written with the order is never moved.
    assert order.next_check_at == order.created_at + TIMINGS.stale_submitting_after
    assert world.kinds() == [EvidenceKind.CREATE_SENT, EvidenceKind.CREATE_ANSWER]
    answer = world.store.history("PO-1")[-1]
    assert (answer.from_status, answer.to_status) == (S.SUBMITTING, S.SUBMITTED)
    assert answer.detail["code"] == "0000"
    assert world.metrics == {"CreateAccepted": 1}
    assert_no_beneficiary_details(world)


def test_each_method_goes_to_its_routed_provider(world: World) -> None:
    world.deliver(body("PO-1", "ALIPAY"))
    world.deliver(body("PO-2", "UPI"), "m-2")
    world.deliver(body("PO-3", "PIX"), "m-3")

    assert world.gateway.creates == ["PO-1"]
    assert world.pg.creates == ["PO-2", "PO-3"]
    assert world.order("PO-2").provider == "pg_v2"


def test_a_definitive_refusal_rejects_and_leaves_the_due_index(world: World) -> None:
    world.gateway.answer = CreateOutcome(
        CreateKind.REJECTED, "code Payout.Invalid_Vpa (documented)", RawExchange("ok", 200, "X")
    )

    disposition = world.deliver(body())

    order = world.order()
    assert disposition is Disposition.REJECTED
    assert order.status is S.REJECTED
    assert order.status_reason == "code Payout.Invalid_Vpa (documented)"
    assert order.next_check_at is None
    assert world.store.due(T0 + timedelta(days=30), 10).orders == []


@pytest.mark.parametrize("kind", [CreateKind.AMBIGUOUS, CreateKind.DUPLICATE])
def test_an_unclear_answer_is_unknown_and_due_for_a_query_within_seconds(
    world: World, kind: CreateKind
) -> None:
    world.gateway.answer = CreateOutcome(kind, "HTTP 502 html", RawExchange("ok", 502))

    disposition = world.deliver(body())

    order = world.order()
    assert disposition is Disposition.UNKNOWN
    assert order.status is S.UNKNOWN
    assert order.next_check_at == order.updated_at + TIMINGS.unknown_first_check
    assert world.store.due(order.updated_at, 10).orders == []
    assert world.store.due(order.next_check_at, 10).payout_ids == ["PO-1"]
    assert world.metrics[f"Create{kind.value.title()}"] == 1


def test_a_create_that_never_left_goes_back_to_received_and_is_retried(world: World) -> None:
    world.gateway.answer = CreateOutcome(
        CreateKind.NOT_SENT, "connection refused", RawExchange("connect_error")
    )

    with pytest.raises(RetryLater, match="never left"):
        world.deliver(body())

    order = world.order()
    assert order.status is S.RECEIVED
    assert order.next_check_at == order.updated_at + TIMINGS.received_grace
    world.gateway.answer = ACCEPTED
    world.now = T0 + timedelta(minutes=6)

    assert world.deliver(body()) is Disposition.SUBMITTED
    assert world.gateway.creates == ["PO-1", "PO-1"]  # same merchant order number, never a new one
    assert world.order().submit_attempts == 2


def test_no_route_rejects_without_sending(world: World) -> None:
    world.routes = {"UPI:INR": "pg_v2"}

    disposition = world.deliver(body("PO-1", "ALIPAY"))

    order = world.order()
    assert disposition is Disposition.NO_ROUTE
    assert order.status is S.REJECTED
    assert order.status_reason is not None
    assert "ALIPAY:CNY" in order.status_reason
    assert world.gateway.creates == []
    assert world.metrics == {"NoRoute": 1}


def test_an_order_the_adapter_cannot_carry_is_rejected_as_refused_before_sending(
    world: World,
) -> None:
    world.gateway.answer = UnsupportedPayout("amount exceeds Integer(10) cents")

    disposition = world.deliver(body())

    order = world.order()
    assert disposition is Disposition.REJECTED
    assert order.status is S.REJECTED
    assert order.status_reason == "refused before sending: amount exceeds Integer(10) cents"
    assert world.store.history("PO-1")[-1].detail["transport"] == "not_sent"


def test_an_adapter_that_cannot_be_built_leaves_the_order_received_for_the_retry(
    world: World,
) -> None:
    world.providers.broken = RuntimeError("secret gateway_v2 is not valid JSON")

    with pytest.raises(RuntimeError, match="not valid JSON"):
        world.deliver(body())

    assert world.order().status is S.RECEIVED
    assert world.order().submit_attempts == 0
    assert world.gateway.creates == []


# --- a failure between the claim and the record ---------------------------------------------------


def test_an_error_from_the_create_leaves_the_order_submitting_never_received(world: World) -> None:
    world.gateway.answer = ValueError("adapter bug")

    with pytest.raises(ValueError, match="adapter bug"):
        world.deliver(body())

    order = world.order()
    assert order.status is S.SUBMITTING
    assert order.next_check_at == order.updated_at + TIMINGS.stale_submitting_after
    assert world.store.history("PO-1")[-1].summary == "create raised ValueError; outcome unknown"
    assert world.metrics == {"CreateError": 1}
    assert world.deliver(body(), "m-2") is Disposition.DUPLICATE_DELIVERY
    assert world.gateway.creates == ["PO-1"]


@pytest.mark.parametrize("crash_point", ["before the HTTP call", "after the HTTP call"])
def test_a_crash_after_the_claim_is_never_followed_by_a_second_create(
    world: World, crash_point: str
) -> None:
    sent: list[str] = []

    def crash(order: Order) -> None:
        if crash_point == "after the HTTP call":
            sent.append(order.payout_id)
        raise Crash

    world.gateway.during_create = crash

    with pytest.raises(Crash):
        world.deliver(body())

    assert world.order().status is S.SUBMITTING
    world.gateway.during_create = None
    assert world.deliver(body(), "m-1-again") is Disposition.DUPLICATE_DELIVERY
    assert world.gateway.creates == ["PO-1"]
    assert world.metrics["DuplicateDelivery"] == 1


def test_an_answer_that_arrives_after_a_callback_settled_the_order_changes_nothing(
    world: World,
) -> None:
    def callback_settles(order: Order) -> None:
        stored = world.order(order.payout_id)
        now = world.clock()
        settled = world.store.transition(
            stored,
            S.SUCCEEDED,
            Evidence(kind=EvidenceKind.CALLBACK, summary="paid", at=now),
            now,
            provider_order_id="POT1",
        )
        assert isinstance(settled, Applied)

    world.gateway.during_create = callback_settles

    disposition = world.deliver(body())

    order = world.order()
    assert disposition is Disposition.LATE_ANSWER
    assert order.status is S.SUCCEEDED
    assert world.kinds() == [
        EvidenceKind.CREATE_SENT,
        EvidenceKind.CALLBACK,
        EvidenceKind.CREATE_ANSWER,
    ]
    assert "after the order moved on" in world.store.history("PO-1")[-1].summary
    assert world.metrics["LateCreateAnswer"] == 1


# --- redeliveries and conflicts ------------------------------------------------------------------


def _store_in(world: World, status: OrderStatus) -> None:
    created = world.store.create(make_request("PO-1"), T0, T0 + TIMINGS.received_grace)
    order = created.order
    path = {
        S.RECEIVED: [],
        S.SUBMITTING: [S.SUBMITTING],
        S.SUBMITTED: [S.SUBMITTING, S.SUBMITTED],
        S.UNKNOWN: [S.SUBMITTING, S.UNKNOWN],
        S.SUCCEEDED: [S.SUBMITTING, S.SUCCEEDED],
        S.FAILED: [S.SUBMITTING, S.FAILED],
        S.REJECTED: [S.REJECTED],
        S.REVERSED: [S.SUBMITTING, S.SUCCEEDED, S.REVERSED],
    }[status]
    for step in path:
        moved = world.store.transition(
            order, step, Evidence(kind=EvidenceKind.TRANSITION, summary="setup", at=T0), T0
        )
        assert isinstance(moved, Applied)
        order = moved.order


@pytest.mark.parametrize("status", [S.SUBMITTING, S.SUBMITTED, S.UNKNOWN, *sorted(TERMINAL)])
def test_a_redelivery_after_the_claim_is_acknowledged_without_a_create(
    world: World, status: OrderStatus
) -> None:
    _store_in(world, status)
    before = world.order()

    disposition = world.deliver(body())

    assert disposition is Disposition.DUPLICATE_DELIVERY
    assert world.gateway.creates == []
    assert world.order() == before
    assert world.metrics == {"DuplicateDelivery": 1}


def test_a_redelivery_of_an_order_never_sent_carries_on_from_the_claim(world: World) -> None:
    _store_in(world, S.RECEIVED)

    assert world.deliver(body()) is Disposition.SUBMITTED
    assert world.gateway.creates == ["PO-1"]


def test_a_different_request_under_an_existing_id_is_recorded_and_not_applied(
    world: World,
) -> None:
    world.deliver(body("PO-1", value=50000))
    before = world.order()

    disposition = world.deliver(body("PO-1", value=99999), "m-2")

    assert disposition is Disposition.CONFLICT
    assert world.order() == before
    assert world.gateway.creates == ["PO-1"]
    # Never silently acknowledged: the publisher hears why from the DLQ.
    ((message, reason),) = world.dead_letters.sent
    assert message == IntakeMessage("m-2", body("PO-1", value=99999))
    assert reason.startswith("payout id PO-1 is already used by a different request")
    assert "send it under a new payout id" in reason
    conflict = world.store.history("PO-1")[-1]
    assert conflict.kind is EvidenceKind.CONFLICT
    assert conflict.detail == {
        "stored_fingerprint": before.fingerprint,
        "received_fingerprint": request_fingerprint(make_request("PO-1", value=99999)),
        "message_id": "m-2",
        "reason": reason,
    }
    assert world.metrics["RequestConflict"] == 1


def test_a_corrected_request_under_the_id_of_a_rejected_invalid_one_is_dead_lettered_with_why(
    world: World,
) -> None:
    # The publisher fixes an invalid request and re-sends it under the same payout id.
    document = request_document("PO-1")
    document["amount"]["value"] = 0
    world.deliver(json.dumps(document), "m-1")
    rejected = world.order()

    disposition = world.deliver(body("PO-1"), "m-2")

    # A terminal order never moves: the id is spent, and the publisher is told so.
    assert disposition is Disposition.CONFLICT
    assert world.order() == rejected
    assert world.gateway.creates == []
    (_, first), (message, reason) = world.dead_letters.sent
    assert message == IntakeMessage("m-2", body("PO-1"))
    assert reason == (
        f"payout id PO-1 was used by an invalid request rejected at "
        f"{rejected.created_at.isoformat(timespec='seconds')} ({first}); "
        "send the corrected request under a new payout id"
    )
    assert world.kinds()[-1] is EvidenceKind.CONFLICT
    assert world.metrics == {"InvalidRequest": 1, "RequestConflict": 1}


def test_a_conflict_whose_dead_letter_cannot_be_sent_fails_the_message_for_a_retry(
    world: World,
) -> None:
    world.deliver(body("PO-1", value=50000))
    world.dead_letters.failing = True

    with pytest.raises(ConnectionError):
        world.deliver(body("PO-1", value=99999), "m-2")

    assert "RequestConflict" not in world.metrics
    world.dead_letters.failing = False
    assert world.deliver(body("PO-1", value=99999), "m-2") is Disposition.CONFLICT
    assert len(world.dead_letters.sent) == 1


# --- invalid input --------------------------------------------------------------------------------


def test_unreadable_json_is_dead_lettered_with_its_reason_and_stores_nothing(
    world: World,
) -> None:
    disposition = world.deliver('{"payout_id": "PO-1", ', "m-bad")

    assert disposition is Disposition.INVALID
    ((message, reason),) = world.dead_letters.sent
    assert message == IntakeMessage("m-bad", '{"payout_id": "PO-1", ')
    assert "not valid JSON" in reason
    assert world.store.get("PO-1") is None
    assert world.metrics == {"InvalidRequest": 1}


def test_a_schema_violation_with_a_readable_id_is_also_stored_rejected(world: World) -> None:
    document = request_document("PO-1", "UPI")
    document["amount"]["value"] = 0

    disposition = world.deliver(json.dumps(document))

    order = world.order()
    assert disposition is Disposition.INVALID
    assert order.status is S.REJECTED
    assert order.request is None
    assert order.status_reason is not None
    assert "amount.value" in order.status_reason
    assert len(world.dead_letters.sent) == 1
    assert world.pg.creates == []
    assert_no_beneficiary_details(world)


def test_the_same_invalid_message_again_is_dead_lettered_again_without_a_conflict(
    world: World,
) -> None:
    document = request_document("PO-1")
    document["currency"] = "CNY"
    invalid = json.dumps(document)
    world.deliver(invalid)
    before = world.order()

    world.deliver(invalid)

    assert world.order() == before
    assert len(world.dead_letters.sent) == 2
    assert world.metrics == {"InvalidRequest": 2}


def test_an_invalid_request_reusing_a_real_orders_id_never_touches_it(world: World) -> None:
    world.deliver(body())
    before = world.order()
    document = request_document("PO-1")
    document["amount"]["currency"] = "XAU"

    disposition = world.deliver(json.dumps(document), "m-2")

    assert disposition is Disposition.INVALID
    assert world.order() == before
    assert world.kinds()[-1] is EvidenceKind.CONFLICT
    assert world.metrics["RequestConflict"] == 1


def test_a_dead_letter_that_cannot_be_sent_fails_the_message_and_is_not_counted(
    world: World,
) -> None:
    world.dead_letters.failing = True
    document = request_document("PO-1")
    # A new dict: request_document shares its beneficiaries with every other test.
    document["beneficiary"] = {"method": "PAYPAL", "email": "payee@example.com"}

    with pytest.raises(ConnectionError):
        world.deliver(json.dumps(document))

    assert world.metrics == {}
    assert world.order().status is S.REJECTED  # stored first; the retry only sends again
    world.dead_letters.failing = False
    assert world.deliver(json.dumps(document)) is Disposition.INVALID
    assert len(world.dead_letters.sent) == 1


@pytest.mark.parametrize(
    "text",
    [
        body()[:-1] + ', "payout_id": "PO-2"}',
        '{"payout_id":"PO-1","beneficiary":' + "[" * 1100 + "]" * 1100 + "}",
    ],
    ids=["duplicate payout_id", "deep nesting with a readable id"],
)
def test_an_ambiguous_or_too_deep_request_is_dead_lettered_with_its_reason_and_stores_nothing(
    world: World, text: str
) -> None:
    disposition = world.deliver(text, "m-bad")

    assert disposition is Disposition.INVALID
    ((message, reason),) = world.dead_letters.sent
    assert message.body == text
    assert "duplicate key" in reason or "nested deeper than" in reason
    assert world.store.get("PO-1") is None
    assert world.store.get("PO-2") is None
    assert world.gateway.creates == []


# --- a paused provider, and the breaker ----------------------------------------------------------


def test_a_paused_provider_holds_the_order_received_and_sends_nothing(world: World) -> None:
    world.provider_states.pause("pg_v2", T0, by="operator:ann")

    disposition = world.deliver(body("PO-1", "UPI"))

    order = world.order()
    assert disposition is Disposition.HELD  # acknowledged: the order is durable, the loop owns it
    assert world.pg.creates == []
    assert order.status is S.RECEIVED
    assert order.provider == "pg_v2"
    assert order.submit_attempts == 0
    assert order.status_reason is not None
    assert order.status_reason.startswith("held, not sent: pg_v2 paused by operator:ann")
    assert order.next_check_at == order.updated_at + TIMINGS.held_recheck
    held = world.store.history("PO-1")[-1]
    assert (held.kind, held.detail["paused_by"]) == (EvidenceKind.SCHEDULE, "operator:ann")
    assert world.metrics["OrdersHeld"] == 1


def test_only_the_paused_providers_orders_are_held(world: World) -> None:
    world.provider_states.pause("pg_v2", T0)

    held = world.deliver(body("PO-1", "UPI"))
    sent = world.deliver(body("PO-2", "ALIPAY"), "m-2")

    assert (held, sent) == (Disposition.HELD, Disposition.SUBMITTED)
    assert world.gateway.creates == ["PO-2"]


def test_a_redelivery_while_paused_holds_again_and_never_sends(world: World) -> None:
    world.provider_states.pause("pg_v2", T0)
    world.deliver(body("PO-1", "UPI"))

    again = world.deliver(body("PO-1", "UPI"), "m-2")

    assert again is Disposition.HELD
    assert world.pg.creates == []
    assert world.order().status is S.RECEIVED


def test_the_breaker_trips_on_ambiguous_creates_and_holds_what_follows(world: World) -> None:
    world.breaker = BreakerPolicy(failures=2, window=timedelta(seconds=60))
    world.gateway.answer = CreateOutcome(
        CreateKind.AMBIGUOUS, "HTTP 502, HTML body", RawExchange("ok", 502)
    )

    first = world.deliver(body("PO-1"), "m-1")
    second = world.deliver(body("PO-2"), "m-2")
    third = world.deliver(body("PO-3"), "m-3")

    assert (first, second, third) == (Disposition.UNKNOWN, Disposition.UNKNOWN, Disposition.HELD)
    assert world.gateway.creates == ["PO-1", "PO-2"]
    assert world.order("PO-3").status is S.RECEIVED
    pause = world.provider_states.states["gateway_v2"]
    assert (pause.paused, pause.changed_by) == (True, "breaker")
    assert world.metrics["ProviderBreakerTripped"] == 1


def test_creates_that_never_left_count_towards_the_breaker_too(world: World) -> None:
    world.breaker = BreakerPolicy(failures=2, window=timedelta(seconds=60))
    world.gateway.answer = CreateOutcome(
        CreateKind.NOT_SENT, "connection refused", RawExchange("connect_error")
    )

    for message in ("m-1", "m-2"):
        with pytest.raises(RetryLater):
            world.deliver(body("PO-1"), message)

    assert world.provider_states.states["gateway_v2"].set_by is PausedBy.BREAKER
    assert world.deliver(body("PO-1"), "m-3") is Disposition.HELD
    assert world.order().status is S.RECEIVED


def test_a_claim_lost_to_the_loop_rescheduling_the_order_is_decided_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the simulator: the reconcile loop's hold (or rescheduling) of a RECEIVED order
    # beat intake's claim, and intake acknowledged the message with the order left unsent.
    transition = world.store.transition
    loop_writes: list[int] = []

    def loop_writes_first(order: Order, to: OrderStatus, *args: object, **kwargs: object) -> object:
        if to is S.SUBMITTING and not loop_writes:
            written = world.store.update(order, world.clock(), None, next_check_at=T0)
            assert isinstance(written, Applied)
            loop_writes.append(written.order.version)
        return transition(order, to, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(world.store, "transition", loop_writes_first)
    # Stored RECEIVED by an earlier delivery that died before sending: the redelivery claims it
    # (a first delivery stores and claims in one write, and has no claim to lose).
    world.store.create(make_request("PO-1"), world.clock(), None)

    disposition = world.deliver(body())

    assert loop_writes == [2]
    assert disposition is Disposition.SUBMITTED
    assert world.gateway.creates == ["PO-1"]
    assert world.order().status is S.SUBMITTED
