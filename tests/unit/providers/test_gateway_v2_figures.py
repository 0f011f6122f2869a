"""gateway_v2 money figures: fee, credited amount and paid time from query answers and callbacks,
read when documented-shaped, left None with a note when not, and never changing the verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payouts.providers.base import QueryKind
from payouts.providers.gateway_v2.figures import read_figures
from tests.unit.providers.test_gateway_v2_callback import HEADERS, callback_fields
from tests.unit.providers.test_gateway_v2_query import found, order_data, query
from tests.unit.providers.test_gateway_v2_support import offline_adapter, signed

PAID = datetime(2020, 7, 23, 11, 51, 40, tzinfo=UTC)  # unix 1595505100


def test_query_answer_gives_fee_and_paid_time_but_no_reference_or_credited() -> None:
    outcome = query(found(signed(order_data(fee=300, success_time=1595505100))))

    assert outcome.kind is QueryKind.SUCCEEDED
    figures = outcome.figures
    assert (figures.fee_minor, figures.fee_currency) == (300, "CNY")
    assert figures.paid_at == PAID
    # gateway_v2 documents no bank reference and no credited amount in its query answer.
    assert figures.provider_reference is None
    assert figures.credited_minor is None
    assert figures.unreadable == ()


def test_query_answer_of_a_pending_order_has_no_paid_time() -> None:
    outcome = query(found(signed(order_data(status=2, success_time=None))))

    assert outcome.kind is QueryKind.PENDING
    assert outcome.figures.paid_at is None
    assert outcome.figures.fee_minor == 300


def test_success_callback_gives_fee_credited_amount_and_update_time_as_paid_time() -> None:
    fields = signed(callback_fields(fee="300", real_amount="49700", update_time="1595505100"))

    event = offline_adapter().verify_callback(HEADERS, json.dumps(fields).encode())

    assert event.kind is QueryKind.SUCCEEDED
    assert event.figures.fee_minor == 300
    assert event.figures.credited_minor == 49700
    assert event.figures.paid_at == PAID


def test_failure_callback_does_not_read_update_time_as_a_paid_time() -> None:
    fields = signed(callback_fields(status=4, fee=0))

    event = offline_adapter().verify_callback(HEADERS, json.dumps(fields).encode())

    assert event.kind is QueryKind.FAILED
    assert event.figures.paid_at is None
    assert event.figures.fee_minor == 0


@pytest.mark.parametrize(
    ("fee", "why"),
    [
        (Decimal("3.10"), "not integer cents"),
        ("3.10", "not integer cents"),
        ("-3", "not integer cents"),
        ([300], "not a number"),
    ],
)
def test_a_fee_that_is_not_integer_cents_is_left_unread_with_a_note(fee: object, why: str) -> None:
    figures = read_figures({"fee": fee}, currency="CNY", paid_time_field=None)

    assert figures.fee_minor is None
    assert figures.fee_currency is None
    (problem,) = figures.unreadable
    assert problem.startswith("fee=")
    assert why in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1595505100, PAID),
        ("1595505100", PAID),
        ("2020-07-23T19:51:40+08:00", PAID),
        ("2020-07-23 11:51:40Z", PAID),
    ],
)
def test_paid_time_is_unix_seconds_or_a_zoned_date_time(value: object, expected: datetime) -> None:
    figures = read_figures({"success_time": value}, currency="CNY", paid_time_field="success_time")

    assert figures.paid_at == expected
    assert figures.unreadable == ()


@pytest.mark.parametrize("value", ["2020-07-23 19:51:40", "yesterday", True, 10**15])
def test_a_paid_time_without_zone_or_garbled_is_left_unread(value: object) -> None:
    figures = read_figures({"success_time": value}, currency="CNY", paid_time_field="success_time")

    assert figures.paid_at is None
    (problem,) = figures.unreadable
    assert problem.startswith("success_time=")


@pytest.mark.parametrize("value", [None, "", 0, "0"])
def test_an_empty_paid_time_means_not_paid_and_is_not_a_problem(value: object) -> None:
    figures = read_figures({"success_time": value}, currency="CNY", paid_time_field="success_time")

    assert figures.paid_at is None
    assert figures.unreadable == ()


def test_garbled_figures_in_a_signed_answer_never_change_the_verdict() -> None:
    data = order_data(fee="3.10", success_time="2020-07-23 19:51:40")

    outcome = query(found(signed(data)))

    assert outcome.kind is QueryKind.SUCCEEDED
    assert outcome.amount_minor == 50000
    assert outcome.figures.fee_minor is None
    assert outcome.figures.paid_at is None
    assert len(outcome.figures.unreadable) == 2
    assert outcome.figures.evidence()["unreadable"] == list(outcome.figures.unreadable)
