"""Money in integer minor units, and exact conversion to and from providers' decimal strings."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

# ISO 4217 minor-unit exponents for the currencies this system may carry. A currency that is not
# here is refused at intake: guessing an exponent would pay 100x too much or too little.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "BRL": 2,
    "CNY": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "IDR": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "MXN": 2,
    "PHP": 2,
    "THB": 2,
    "USD": 2,
    "VND": 0,
}

_DECIMAL_STRING = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")


class MoneyError(ValueError):
    """A money value or currency that cannot be represented exactly."""


def exponent_of(currency: str) -> int:
    """The ISO 4217 exponent of ``currency``; raises MoneyError for an unsupported code."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def to_decimal_string(minor_units: int, currency: str) -> str:
    """Integer minor units as the provider's decimal string: 10005 INR -> "100.05"."""
    exponent = exponent_of(currency)
    if minor_units < 0:
        raise MoneyError("amounts are never negative")
    if exponent == 0:
        return str(minor_units)
    whole, fraction = divmod(minor_units, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


def from_decimal_string(text: str, currency: str) -> int:
    """A provider's decimal string as integer minor units, refusing anything inexact.

    "100.05" INR -> 10005; "100.5" -> 10050; "100.055" INR raises (it is not a whole paisa).
    """
    exponent = exponent_of(currency)
    if not _DECIMAL_STRING.match(text):
        raise MoneyError(f"not a plain decimal amount: {text!r}")
    try:
        scaled = Decimal(text).scaleb(exponent)
    except InvalidOperation:
        raise MoneyError(f"not a decimal amount: {text!r}") from None
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{text!r} has more decimals than {currency} allows ({exponent})")
    return int(scaled)
