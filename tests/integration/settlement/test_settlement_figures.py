"""A verdict's money figures are written with the transition it makes, and never from an answer
whose amount does not match the order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from payouts.domain.figures import MoneyFigures
from payouts.domain.status import OrderStatus
from payouts.providers.base import QueryKind
from payouts.services.settlement import Escalated, Settled, apply_verdict
from payouts.store import OrderStore
from tests.integration.settlement.test_settlement import NOW, note, order_in, verdict
from tests.support.moto_store import moto_order_store

S = OrderStatus
FIGURES = MoneyFigures(
    fee_minor=300,
    fee_currency="CNY",
    credited_minor=50000,
    paid_at=datetime(2026, 11, 22, 8, 0, 30, tzinfo=UTC),
    unreadable=("success_time='x': garbled",),
)


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with moto_order_store() as order_store:
        yield order_store


def test_a_success_writes_its_figures_with_the_transition(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)

    outcome = apply_verdict(
        store, order, replace(verdict(QueryKind.SUCCEEDED), figures=FIGURES), note(), NOW
    )

    assert isinstance(outcome, Settled)
    stored = store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert (stored.fee_minor, stored.fee_currency, stored.credited_minor) == (300, "CNY", 50000)
    assert stored.paid_at == FIGURES.paid_at
    assert stored.provider_reference is None


def test_a_later_verdict_keeps_figures_it_does_not_state(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    apply_verdict(store, order, replace(verdict(QueryKind.SUCCEEDED), figures=FIGURES), note(), NOW)
    paid = store.get(order.payout_id)
    assert paid is not None

    reversal = replace(
        verdict(QueryKind.REVERSED), figures=MoneyFigures(fee_minor=0, fee_currency="CNY")
    )
    apply_verdict(store, paid, reversal, note(), NOW)

    stored = store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.REVERSED
    assert stored.fee_minor == 0
    assert stored.paid_at == FIGURES.paid_at  # not restated, so kept


def test_figures_of_an_answer_with_another_amount_are_never_written(store: OrderStore) -> None:
    order = order_in(store, S.SUBMITTING, S.SUBMITTED)
    wrong = replace(verdict(QueryKind.SUCCEEDED, amount=49999), figures=FIGURES)

    outcome = apply_verdict(store, order, wrong, note(), NOW)

    assert isinstance(outcome, Escalated)
    stored = store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUBMITTED
    assert (stored.fee_minor, stored.paid_at) == (None, None)
