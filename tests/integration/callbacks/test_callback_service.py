"""The use case over a moto table with stub providers: races, the confirming query's timeout and
its "not found", and the callbacks that change nothing being recorded once per distinct body."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

import pytest

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import (
    Ack,
    BalanceEntry,
    CallbackEvent,
    CreateOutcome,
    QueryKind,
    QueryOutcome,
    RawExchange,
)
from payouts.services.callbacks import (
    CallbackPolicy,
    CallbackRequest,
    ConfirmationUnavailable,
    handle_callback,
    settle,
)
from payouts.services.operator import close_order
from payouts.services.settlement import Escalated, Verdict
from payouts.store import Applied, OrderStore
from tests.integration.callbacks.callback_support import (
    callback_evidence,
    settled_order,
    submitted_order,
)
from tests.integration.callbacks.conftest import Aws
from tests.support.orders import T0, make_request

S = OrderStatus
NOW = T0 + timedelta(minutes=5)
POLICY = CallbackPolicy(
    max_body_bytes=64 * 1024,
    content_types=frozenset({"application/json"}),
    replay_tolerance=timedelta(minutes=5),
    confirm_by_query=frozenset(),
    confirm_timeout_seconds=0.2,
)
EVENT = CallbackEvent(
    provider="pg_v2",
    merchant_order_id="PO-SVC-1",
    kind=QueryKind.SUCCEEDED,
    trusted=False,
    fields={"code": "OK"},
    amount_minor=10005,
    currency="INR",
)


class StubProvider:
    """pg_v2 as far as callbacks go: verification returns ``event``, a query ``answer``."""

    name = "pg_v2"

    def __init__(
        self, event: CallbackEvent, answer: QueryOutcome | None = None, delay: float = 0
    ) -> None:
        self.event = event
        self.answer = answer
        self.delay = delay
        self.queries = 0

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return self.event

    async def query(self, order: Order) -> QueryOutcome:
        self.queries += 1
        await asyncio.sleep(self.delay)
        assert self.answer is not None
        return self.answer

    async def create(self, order: Order) -> CreateOutcome:
        raise AssertionError("a callback never creates")

    def ack(self) -> Ack:
        return Ack(200, '{"code":"OK"}')

    async def balance(self) -> list[BalanceEntry]:
        raise AssertionError("not asked")


@pytest.fixture
def store(aws: Aws) -> OrderStore:
    """A fresh table in the module's moto account."""
    return aws.store


@pytest.fixture
def order(store: OrderStore) -> Order:
    return submitted_order(
        store,
        "PO-SVC-1",
        method="UPI",
        value=10005,
        provider="pg_v2",
        provider_order_id="P1",
        now=T0,
    )


def _answer(kind: QueryKind, amount: int | None = 10005) -> QueryOutcome:
    return QueryOutcome(
        kind, f"query says {kind}", RawExchange("ok", 200, "OK"), "P1", amount, "INR"
    )


def _handle(store: OrderStore, provider: StubProvider, body: bytes = b'{"code":"OK"}') -> Ack:
    request = CallbackRequest("pg_v2", body, {"Content-Type": "application/json"}, "192.0.2.1")
    return asyncio.run(
        handle_callback(
            request,
            providers=lambda name: provider if name == "pg_v2" else None,
            store=store,
            policy=POLICY,
            now=NOW,
        )
    )


def test_a_query_that_takes_too_long_is_no_answer(store: OrderStore, order: Order) -> None:
    provider = StubProvider(EVENT, _answer(QueryKind.SUCCEEDED), delay=5)

    with pytest.raises(ConfirmationUnavailable, match="no answer within"):
        _handle(store, provider)

    assert store.get(order.payout_id) == order
    [evidence] = callback_evidence(store, order.payout_id)
    query = evidence.detail["query"]
    assert isinstance(query, dict)
    assert query["kind"] == "UNKNOWN"


def test_a_query_that_finds_nothing_is_acknowledged_and_recorded(
    store: OrderStore, order: Order
) -> None:
    ack = _handle(store, StubProvider(EVENT, _answer(QueryKind.NOT_FOUND, None)))

    assert ack.body == '{"code":"OK"}'
    assert store.get(order.payout_id) == order
    assert len(callback_evidence(store, order.payout_id)) == 1


def test_callbacks_that_change_nothing_are_recorded_once_per_distinct_body(
    store: OrderStore, order: Order
) -> None:
    provider = StubProvider(EVENT, _answer(QueryKind.PENDING))

    _handle(store, provider, b'{"code":"OK","n":1}')
    _handle(store, provider, b'{"code":"OK","n":1}')
    _handle(store, provider, b'{"code":"OK","n":2}')

    assert provider.queries == 1  # one confirming query per order per window
    assert store.get(order.payout_id) == order
    assert len(callback_evidence(store, order.payout_id)) == 2


def test_an_untrusted_payload_is_never_applied_even_when_the_query_has_no_amount(
    store: OrderStore, order: Order
) -> None:
    # The query says paid without saying how much: not applied, escalated (settlement's rule).
    _handle(store, StubProvider(EVENT, _answer(QueryKind.SUCCEEDED, None)))

    stored = store.get(order.payout_id)
    assert stored is not None
    assert (stored.status, stored.needs_review) == (S.SUBMITTED, True)


def test_an_escalation_that_loses_a_race_decides_again_on_the_stored_order(
    store: OrderStore, order: Order
) -> None:
    stale = order
    assert isinstance(store.update(order, NOW, next_check_at=NOW), Applied)  # another writer
    verdict = Verdict(QueryKind.SUCCEEDED, "callback", "r", amount_minor=1, currency="INR")
    evidence = Evidence(kind=EvidenceKind.CALLBACK, summary="cb", detail={"body_sha256": "x"})

    outcome = settle(store, stale, verdict, evidence, NOW)

    assert isinstance(outcome, Escalated)
    assert outcome.order.version == stale.version + 2


def test_an_order_already_under_review_is_not_escalated_again(
    store: OrderStore, order: Order
) -> None:
    event = replace(EVENT, trusted=True, amount_minor=1)
    _handle(store, StubProvider(event), b'{"first":1}')
    flagged = store.get(order.payout_id)

    _handle(store, StubProvider(event), b'{"second":1}')

    assert flagged is not None
    assert flagged.needs_review
    assert store.get(order.payout_id) == flagged
    assert len(callback_evidence(store, order.payout_id)) == 2


# ---- issue 10: a flood of untrusted callbacks is bounded ---------------------------------------


def _at(store: OrderStore, provider: StubProvider, body: bytes, seconds: float) -> Ack:
    request = CallbackRequest("pg_v2", body, {"Content-Type": "application/json"}, "192.0.2.1")
    return asyncio.run(
        handle_callback(
            request,
            providers=lambda name: provider if name == "pg_v2" else None,
            store=store,
            policy=POLICY,
            now=NOW + timedelta(seconds=seconds),
        )
    )


def _received(store: OrderStore) -> Order:
    return store.create(make_request("PO-SVC-1", "UPI", 10005), T0, T0).order


def _rejected(store: OrderStore) -> Order:
    return settled_order(store, _received(store), S.REJECTED, T0)


@pytest.mark.parametrize("never_sent", [_received, _rejected], ids=["RECEIVED", "REJECTED"])
def test_an_order_never_sent_is_not_queried_and_the_provider_is_acknowledged(
    store: OrderStore, never_sent: Callable[[OrderStore], Order]
) -> None:
    order = never_sent(store)
    provider = StubProvider(EVENT, _answer(QueryKind.SUCCEEDED))

    acks = [_handle(store, provider, b'{"n":%d}' % n) for n in range(5)]

    assert acks == [Ack(200, '{"code":"OK"}')] * 5
    assert provider.queries == 0
    assert store.get(order.payout_id) == order
    recorded = callback_evidence(store, order.payout_id)
    assert len(recorded) == 5
    assert {item.detail["applied"] for item in recorded} == {"none"}


@pytest.mark.parametrize(
    ("status", "reported"),
    [
        (S.SUCCEEDED, QueryKind.SUCCEEDED),
        (S.SUCCEEDED, QueryKind.PENDING),
        (S.FAILED, QueryKind.FAILED),
        (S.REVERSED, QueryKind.UNKNOWN),
    ],
)
def test_a_settled_order_the_report_cannot_change_is_not_queried(
    store: OrderStore, order: Order, status: OrderStatus, reported: QueryKind
) -> None:
    if status is S.REVERSED:
        order = settled_order(store, order, S.SUCCEEDED, T0)
    settled = settled_order(store, order, status, T0)
    provider = StubProvider(replace(EVENT, kind=reported), _answer(QueryKind.SUCCEEDED))

    assert _handle(store, provider).body == '{"code":"OK"}'

    assert provider.queries == 0
    assert store.get(order.payout_id) == settled


def test_a_settled_order_is_queried_when_the_report_contradicts_it(
    store: OrderStore, order: Order
) -> None:
    failed = settled_order(store, order, S.FAILED, T0)
    provider = StubProvider(EVENT, _answer(QueryKind.SUCCEEDED))  # "paid", says the payload

    _handle(store, provider)

    # The provider confirms: a person must look (a failed order that was paid).
    assert provider.queries == 1
    stored = store.get(order.payout_id)
    assert stored is not None
    assert (stored.status, stored.needs_review) == (S.FAILED, True)
    assert failed.needs_review is False


def test_at_most_one_confirming_query_per_order_per_window(store: OrderStore, order: Order) -> None:
    provider = StubProvider(EVENT, _answer(QueryKind.PENDING))

    acks = [_at(store, provider, b'{"n":%d}' % n, seconds=n) for n in range(10)]

    # Acknowledged all the same: the order is unresolved, so the reconcile loop polls it anyway.
    assert {ack.body for ack in acks} == {'{"code":"OK"}'}
    assert provider.queries == 1
    _at(store, provider, b'{"n":99}', seconds=POLICY.query_window.total_seconds())
    assert provider.queries == 2
    assert store.get(order.payout_id) == order


def test_another_report_within_the_window_is_confirmed_at_once(
    store: OrderStore, order: Order
) -> None:
    # Paid, then returned moments later: nobody polls a paid order, so the reversal must be
    # confirmed when it is reported, not dropped because the payment was just confirmed.
    provider = StubProvider(EVENT, _answer(QueryKind.SUCCEEDED))
    _at(store, provider, b'{"status":"PAID"}', seconds=0)
    provider.event = replace(EVENT, kind=QueryKind.REVERSED)
    provider.answer = _answer(QueryKind.REVERSED)

    _at(store, provider, b'{"status":"REVERSED"}', seconds=1)

    assert provider.queries == 2
    stored = store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.REVERSED


def test_a_contradiction_within_the_window_is_answered_retry_later_not_acknowledged(
    store: OrderStore, order: Order
) -> None:
    settled_order(store, order, S.FAILED, T0)
    provider = StubProvider(EVENT, _answer(QueryKind.FAILED))
    _handle(store, provider, b'{"n":1}')

    # Nobody polls a settled order: acknowledging would lose a real "paid" report for good.
    with pytest.raises(ConfirmationUnavailable, match="queried less than 30 s ago"):
        _handle(store, provider, b'{"n":2}')
    assert provider.queries == 1


def test_duplicate_bodies_are_recorded_once_without_reading_the_history(
    store: OrderStore, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled_order(store, order, S.SUCCEEDED, T0)
    monkeypatch.setattr(store, "history", _no_history_reads)
    provider = StubProvider(EVENT)

    for _ in range(3):
        _handle(store, provider, b'{"same":1}')

    monkeypatch.undo()
    assert len(callback_evidence(store, order.payout_id)) == 1


def test_a_retry_of_an_applied_callback_is_not_recorded_again(
    store: OrderStore, order: Order
) -> None:
    event = replace(EVENT, trusted=True)

    _handle(store, StubProvider(event), b'{"paid":1}')
    _handle(store, StubProvider(event), b'{"paid":1}')

    stored = store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert len(callback_evidence(store, order.payout_id)) == 1


def _no_history_reads(payout_id: str) -> list[Evidence]:
    raise AssertionError(f"the whole history of {payout_id} was read")


@pytest.mark.parametrize("trusted", [True, False])
@pytest.mark.parametrize(
    ("closed_as", "reported"),
    [(S.FAILED, QueryKind.SUCCEEDED), (S.SUCCEEDED, QueryKind.FAILED)],
)
def test_a_callback_contradicting_a_persons_close_escalates_never_moves(
    store: OrderStore,
    order: Order,
    closed_as: OrderStatus,
    reported: QueryKind,
    *,
    trusted: bool,
) -> None:
    # Terminal orders are not polled, but a callback still arrives: signed and trusted, or
    # confirmed by a query that says the same.
    closed = close_order(
        store,
        order.payout_id,
        closed_as,
        reason="provider support said so",
        reference="ticket 9",
        operator="alice",
        now=T0,
    )
    provider = StubProvider(replace(EVENT, kind=reported, trusted=trusted), _answer(reported))

    _handle(store, provider)

    stored = store.get(order.payout_id)
    assert stored is not None
    assert (stored.status, stored.needs_review) == (closed.status, True)
    assert stored.review_reason is not None
    assert f"operator:alice closed the order {closed_as} by hand" in stored.review_reason
    assert provider.queries == (0 if trusted else 1)
