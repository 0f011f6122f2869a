"""gateway_v2 balance: one CNY entry in cents, or ProviderUnavailable."""

from __future__ import annotations

import httpx
import pytest

from payouts.providers.base import BalanceEntry, ProviderUnavailable
from tests.unit.providers.test_gateway_v2_support import (
    BASE_URL,
    QUERY_TOKEN,
    Handler,
    answer,
    failing,
    raw_answer,
    with_provider,
)


def balance(handler: Handler) -> list[BalanceEntry]:
    return with_provider(handler, lambda adapter: adapter.balance())


def balance_answer(total: object = 12345678, frozen: object = 5000) -> Handler:
    return answer(
        {"error_code": "0000", "data": {"total_balance": total, "total_frozen_balance": frozen}}
    )


def test_balance_request_uses_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return balance_answer()(request)

    balance(handler)
    (request,) = seen
    assert request.method == "GET"
    assert str(request.url) == f"{BASE_URL}/gateway/api/v2/platforms/balance"
    assert request.headers["authorization"] == QUERY_TOKEN
    assert request.extensions["timeout"]["connect"] == 1.5


@pytest.mark.parametrize(
    ("total", "frozen"), [(12345678, 5000), ("12345678", "5000")], ids=["numbers", "strings"]
)
def test_balance_in_cents(total: object, frozen: object) -> None:
    assert balance(balance_answer(total, frozen)) == [BalanceEntry("CNY", 12345678, 5000)]


@pytest.mark.parametrize(
    "handler",
    [
        failing(httpx.ConnectError),
        failing(httpx.ReadTimeout),
        answer({"error_code": "0000", "data": {}}, status=500),
        raw_answer(b"", 200),
        raw_answer(b"<html></html>", 200, "text/html"),
        answer({"error_code": "0006", "error_msg": "invalid Authorization"}),
        answer({"error_code": "0000"}),
        answer({"data": {"total_balance": 1, "total_frozen_balance": 0}}),
        balance_answer(total="123.45"),
        balance_answer(frozen=None),
        balance_answer(total=-1),
    ],
    ids=[
        "refused",
        "read-timeout",
        "500",
        "blank",
        "html",
        "0006",
        "no-data",
        "no-code",
        "decimal",
        "no-frozen",
        "negative",
    ],
)
def test_unreadable_balance_raises(handler: Handler) -> None:
    with pytest.raises(ProviderUnavailable):
        balance(handler)
