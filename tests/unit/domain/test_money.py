"""Money conversion between integer minor units and providers' decimal strings: exact or refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts.domain.money import MoneyError, exponent_of, from_decimal_string, to_decimal_string


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (10005, "INR", "100.05"),
        (100, "INR", "1.00"),
        (1, "BRL", "0.01"),
        (0, "BRL", "0.00"),
        (50000, "CNY", "500.00"),
        (1500, "JPY", "1500"),
        (99999999999999999, "INR", "999999999999999.99"),
    ],
)
def test_round_trip_examples(minor: int, currency: str, text: str) -> None:
    assert to_decimal_string(minor, currency) == text
    assert from_decimal_string(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [("100.5", "INR", 10050), ("100", "INR", 10000), ("0.10", "BRL", 10), ("7", "JPY", 7)],
)
def test_fewer_decimals_are_exact(text: str, currency: str, expected: int) -> None:
    assert from_decimal_string(text, currency) == expected


@pytest.mark.parametrize(
    "text",
    [
        "100.055",
        "1e3",
        "-1.00",
        "+1.00",
        " 1.00",
        "1,00",
        "",
        "NaN",
        "Infinity",
        "01.00",
        "1.",
        ".5",
    ],
)
def test_inexact_or_odd_strings_are_refused(text: str) -> None:
    with pytest.raises(MoneyError):
        from_decimal_string(text, "INR")


def test_yen_has_no_decimals() -> None:
    with pytest.raises(MoneyError, match="more decimals than JPY allows"):
        from_decimal_string("1.5", "JPY")


def test_unknown_currency_is_refused_not_guessed() -> None:
    with pytest.raises(MoneyError, match="unsupported currency 'XXX'"):
        exponent_of("XXX")
    with pytest.raises(MoneyError):
        to_decimal_string(100, "XXX")


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(MoneyError):
        to_decimal_string(-1, "INR")


@given(st.integers(min_value=0, max_value=10**17), st.sampled_from(["INR", "BRL", "CNY", "JPY"]))
def test_round_trip_is_exact_for_every_amount(minor: int, currency: str) -> None:
    assert from_decimal_string(to_decimal_string(minor, currency), currency) == minor
