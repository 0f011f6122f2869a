"""pg_v2 money figures: totalFee, rrn and paidTime from query answers and callbacks, read exactly
when documented-shaped, left None with a note when not, and never changing the verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from payouts.providers.base import QueryKind
from payouts.providers.pg_v2 import PgV2Options
from payouts.providers.pg_v2.figures import read_figures
from tests.unit.providers.test_pg_v2_callback import _signed
from tests.unit.providers.test_pg_v2_query import _ok, _query
from tests.unit.providers.test_pg_v2_support import offline_adapter, signed_answer

PAID = datetime(2024, 4, 26, 13, 50, 48, 123_000, tzinfo=UTC)


def test_paid_query_answer_gives_fee_reference_and_paid_time() -> None:
    paid = _ok(
        status="PAID", totalFee="0.10", rrn="411712345678", paidTime="2024-04-26T13:50:48.123Z"
    )

    outcome = _query(signed_answer(paid))

    assert outcome.kind is QueryKind.SUCCEEDED
    figures = outcome.figures
    assert (figures.fee_minor, figures.fee_currency) == (10, "INR")
    assert figures.provider_reference == "411712345678"
    assert figures.paid_at == PAID
    # pg_v2 documents no credited amount.
    assert figures.credited_minor is None
    assert figures.unreadable == ()


def test_pending_query_answer_has_a_fee_but_no_reference_or_paid_time() -> None:
    outcome = _query(signed_answer(_ok()))

    assert outcome.kind is QueryKind.PENDING
    assert outcome.figures.fee_minor == 10
    assert outcome.figures.provider_reference is None
    assert outcome.figures.paid_at is None
    assert outcome.figures.unreadable == ()


def test_a_trusted_callback_carries_its_figures() -> None:
    data = {
        "payoutNo": "P1",
        "merchantTradeNo": "MTOU-0211",
        "amount": "1.00",
        "currency": "BRL",
        "status": "PAID",
        "totalFee": "0.05",
        "rrn": "E2E0001",
        "paidTime": "2024-04-26T10:50:48.123-03:00",
    }
    body = json.dumps({"code": "OK", "data": data}).encode()
    adapter = offline_adapter(PgV2Options(trust_signed_callbacks=True))

    event = adapter.verify_callback(_signed(body), body)

    assert event.trusted is True
    assert (event.figures.fee_minor, event.figures.fee_currency) == (5, "BRL")
    assert event.figures.provider_reference == "E2E0001"
    assert event.figures.paid_at == PAID


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"totalFee": "0.105"}, "totalFee="),  # not a whole paisa
        ({"totalFee": 0.1}, "totalFee="),  # a JSON number, not the documented string
        ({"totalFee": "0.10", "currency": None}, "totalFee="),
        ({"rrn": {"x": 1}}, "rrn="),
        ({"paidTime": "2024-04-26 19:20:48"}, "paidTime="),  # no zone: not guessed
        ({"paidTime": "soon"}, "paidTime="),
    ],
)
def test_garbled_figures_are_left_unread_with_a_note(
    changes: dict[str, object], problem: str
) -> None:
    data: dict[str, object] = {"currency": "INR", "totalFee": None, "rrn": None, "paidTime": None}
    data.update(changes)

    figures = read_figures(data)

    assert (figures.fee_minor, figures.provider_reference, figures.paid_at) == (None, None, None)
    (note,) = figures.unreadable
    assert note.startswith(problem)


def test_paid_time_in_unix_millis_is_read() -> None:
    figures = read_figures({"paidTime": "1714139448123"})

    assert figures.paid_at == datetime(2024, 4, 26, 13, 50, 48, tzinfo=UTC)


def test_a_long_reference_is_cut_to_a_bounded_length() -> None:
    figures = read_figures({"rrn": "R" * 500})

    assert figures.provider_reference == "R" * 64


def test_garbled_figures_never_change_the_verdict_or_the_amount() -> None:
    paid = _ok(status="PAID", totalFee="abc", rrn="", paidTime="not a time")

    outcome = _query(signed_answer(paid))

    assert outcome.kind is QueryKind.SUCCEEDED
    assert (outcome.amount_minor, outcome.currency) == (100, "INR")
    assert outcome.figures.fee_minor is None
    assert len(outcome.figures.unreadable) == 2
