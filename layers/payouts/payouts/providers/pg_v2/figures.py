"""pg_v2's money figures, read from a query answer's (or callback's, or create answer's) ``data``.

- fee: ``totalFee`` (DOCUMENTED field of the query answer), a decimal string in the answer's
  ``currency``, read exactly like ``amount``.
- credited: not documented: always None.
- reference: ``rrn`` (DOCUMENTED field; the retrieval reference number the payment network gives,
  the line a bank or UPI statement shows).
- paid time: ``paidTime`` (DOCUMENTED, null unless paid). ASSUMED: an ISO 8601 date-time naming
  its zone (a date-time without a zone is left unread rather than guessed: India and Brazil are
  hours apart), or unix milliseconds like the signing timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from payouts.domain.figures import (
    MoneyFigures,
    from_iso_with_zone,
    from_unix_seconds,
    note,
    reference_or_none,
)
from payouts.domain.money import MoneyError, from_decimal_string

_UNIX_MILLIS: Final = re.compile(r"[0-9]{13}")


def read_figures(data: Mapping[str, object]) -> MoneyFigures:
    """The figures in a pg_v2 ``data`` object; unreadable ones are None, with a note."""
    notes: list[str] = []
    currency = data.get("currency")
    fee = _fee(data.get("totalFee"), currency, notes)
    return MoneyFigures(
        fee_minor=fee,
        fee_currency=currency if fee is not None and isinstance(currency, str) else None,
        provider_reference=_reference(data.get("rrn"), notes),
        paid_at=_paid_time(data.get("paidTime"), notes),
        unreadable=tuple(notes),
    )


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _fee(value: object, currency: object, notes: list[str]) -> int | None:
    if _absent(value):
        return None
    if not isinstance(value, str):
        notes.append(note("totalFee", value, "not a decimal string"))
        return None
    if not isinstance(currency, str):
        notes.append(note("totalFee", value, "the answer names no currency"))
        return None
    try:
        return from_decimal_string(value.strip(), currency.strip())
    except MoneyError as error:
        notes.append(note("totalFee", value, str(error)))
        return None


def _reference(value: object, notes: list[str]) -> str | None:
    if _absent(value):
        return None
    reference = reference_or_none(value)
    if reference is None:
        notes.append(note("rrn", value, "not text"))
    return reference


def _paid_time(value: object, notes: list[str]) -> datetime | None:
    if _absent(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        notes.append(note("paidTime", value, "not a time"))
        return None
    text = str(value).strip()
    if _UNIX_MILLIS.fullmatch(text):
        return from_unix_seconds(int(text) // 1000)
    moment = from_iso_with_zone(text)
    if moment is None:
        notes.append(note("paidTime", value, "not an ISO 8601 date-time with its zone"))
    return moment
