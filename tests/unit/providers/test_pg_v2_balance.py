"""pg_v2 balance: the signed request, minor-unit conversion, and ProviderUnavailable."""

from __future__ import annotations

import httpx
import pytest

from payouts.providers.base import BalanceEntry, ProviderUnavailable
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Options
from tests.unit.providers.test_pg_v2_support import (
    ANSWER_NONCE,
    ANSWER_TIMESTAMP_MS,
    BALANCE_URL,
    SEED_NONCE,
    SEED_TIMESTAMP_MS,
    Handler,
    Recorder,
    answer,
    authorization,
    failing,
    independent_sign,
    raw_answer,
    run_adapter,
    signed_answer,
)


def _balances(*entries: object) -> dict[str, object]:
    return {"code": "OK", "errorMessage": None, "data": {"balanceList": list(entries)}}


def _entry(
    currency: object = "INR", available: object = "1234.56", frozen: object = "10.00"
) -> object:
    return {"currency": currency, "availableAmount": available, "frozenAmount": frozen}


def _balance(handler: Handler, options: PgV2Options | None = None) -> list[BalanceEntry]:
    async def action(adapter: PgV2Adapter) -> list[BalanceEntry]:
        return await adapter.balance()

    return run_adapter(handler, action, options)


def test_balance_posts_the_currencies_signed() -> None:
    recorder = Recorder(answer(_balances()))

    _balance(recorder)

    request = recorder.requests[0]
    body = b'{"currencies":["INR","BRL"]}'
    expected = independent_sign("POST", BALANCE_URL, SEED_TIMESTAMP_MS, SEED_NONCE, body)
    assert (request.method, str(request.url), request.content) == ("POST", BALANCE_URL, body)
    assert f"sign={expected}," in request.headers["authorization"]


def test_balance_currencies_are_an_option() -> None:
    recorder = Recorder(answer(_balances()))

    _balance(recorder, PgV2Options(balance_currencies=("BRL",)))

    assert recorder.requests[0].content == b'{"currencies":["BRL"]}'


def test_balance_entries_are_converted_to_minor_units() -> None:
    handler = answer(_balances(_entry(), _entry("BRL", "0.05", "0")))

    assert _balance(handler) == [
        BalanceEntry(currency="INR", available_minor=123456, frozen_minor=1000),
        BalanceEntry(currency="BRL", available_minor=5, frozen_minor=0),
    ]


def test_an_empty_balance_list_is_no_balances() -> None:
    assert _balance(answer(_balances())) == []


def test_a_correctly_signed_balance_is_read_when_signatures_are_required() -> None:
    entries = _balance(signed_answer(_balances(_entry())), PgV2Options(answer_signature="require"))

    assert entries == [BalanceEntry("INR", 123456, 1000)]


def _badly_signed(request: httpx.Request) -> httpx.Response:
    body = b'{"code":"OK","data":{"balanceList":[]}}'
    signature = independent_sign(
        "POST", str(request.url), ANSWER_TIMESTAMP_MS, ANSWER_NONCE, body, secret="wrong-not-secret"
    )
    return httpx.Response(200, headers={"Authorization": authorization(signature)}, content=body)


@pytest.mark.parametrize(
    ("handler", "options"),
    [
        pytest.param(failing(httpx.ConnectError), None, id="connection refused"),
        pytest.param(failing(httpx.ReadTimeout), None, id="read timeout"),
        pytest.param(answer(_balances(_entry()), status=500), None, id="500"),
        pytest.param(
            answer({"code": "Sign.Invalid", "errorMessage": "bad"}, status=401), None, id="401"
        ),
        pytest.param(raw_answer(b""), None, id="blank"),
        pytest.param(raw_answer(b"<html></html>", content_type="text/html"), None, id="HTML"),
        pytest.param(
            answer({"code": "System.Busy", "errorMessage": "later"}), None, id="code not OK"
        ),
        pytest.param(answer({"data": {"balanceList": []}}), None, id="no code"),
        pytest.param(answer({"code": "OK", "data": None}), None, id="no data"),
        pytest.param(
            answer({"code": "OK", "data": {"balanceList": {}}}), None, id="list not a list"
        ),
        pytest.param(answer(_balances("INR 1.00")), None, id="entry not an object"),
        pytest.param(answer(_balances(_entry(currency=None))), None, id="entry without currency"),
        pytest.param(answer(_balances(_entry(available="1.001"))), None, id="inexact amount"),
        pytest.param(answer(_balances(_entry(available=1234.56))), None, id="numeric amount"),
        pytest.param(answer(_balances(_entry(frozen=None))), None, id="missing frozen amount"),
        pytest.param(answer(_balances(_entry(currency="XYZ"))), None, id="unknown currency"),
        pytest.param(_badly_signed, None, id="wrong signature"),
        pytest.param(
            answer(_balances()),
            PgV2Options(answer_signature="require"),
            id="missing signature while required",
        ),
    ],
)
def test_an_unreadable_balance_raises_provider_unavailable(
    handler: Handler, options: PgV2Options | None
) -> None:
    with pytest.raises(ProviderUnavailable):
        _balance(handler, options)
