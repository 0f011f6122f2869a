"""gateway_v2's money figures, read from a query answer's ``data`` or a callback (providers.md).

- fee: ``fee`` in both (DOCUMENTED field). Its unit is not documented; like ``amount`` it is read
  as integer cents, and a value with a fraction (which cannot be cents) is left unread.
- credited: ``real_amount``, callbacks only (DOCUMENTED field, meaning ASSUMED: what the
  beneficiary received), integer cents.
- reference: none. gateway_v2 documents no bank or network reference; its own ``payout_id``
  (the provider order id) is what its statements name.
- paid time: the query's ``success_time``; a callback's ``update_time`` when the callback reports
  success (ASSUMED: the time of the change it reports). Unix seconds (ASSUMED, like
  ``request_time``) or an ISO date-time naming its zone; a date-time without a zone is left unread
  rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final

from payouts.domain.figures import MoneyFigures, from_iso_with_zone, from_unix_seconds, note

_CENTS: Final = re.compile(r"(0|[1-9][0-9]{0,14})")
_UNIX_SECONDS: Final = re.compile(r"[0-9]{1,12}")

QUERY_PAID_TIME_FIELD: Final = "success_time"
CALLBACK_PAID_TIME_FIELD: Final = "update_time"


def read_figures(
    fields: Mapping[str, object], *, currency: str, paid_time_field: str | None
) -> MoneyFigures:
    """The figures in ``fields``; ``paid_time_field`` names the field that says when the order
    was paid (None when this answer cannot say it, e.g. a callback that is not a success)."""
    notes: list[str] = []
    fee = _cents(fields, "fee", notes)
    credited = _cents(fields, "real_amount", notes)
    paid_at = _time(fields, paid_time_field, notes) if paid_time_field else None
    return MoneyFigures(
        fee_minor=fee,
        fee_currency=currency if fee is not None else None,
        credited_minor=credited,
        paid_at=paid_at,
        unreadable=tuple(notes),
    )


def _absent(value: object) -> bool:
    return value is None or value == ""


def _cents(fields: Mapping[str, object], name: str, notes: list[str]) -> int | None:
    value = fields.get(name)
    if _absent(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _CENTS.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, Decimal | float | str):
        notes.append(note(name, value, "not integer cents (its unit is not documented)"))
    else:
        notes.append(note(name, value, "not a number"))
    return None


def _time(fields: Mapping[str, object], name: str, notes: list[str]) -> datetime | None:
    value = fields.get(name)
    if _absent(value) or value in {0, "0"}:
        return None  # not paid (yet)
    readable = isinstance(value, int | str) and not isinstance(value, bool)
    text = str(value).strip() if readable else None
    if text is not None and _UNIX_SECONDS.fullmatch(text):
        try:
            return from_unix_seconds(int(text))
        except (ValueError, OverflowError, OSError):
            notes.append(note(name, value, "not a unix time"))
            return None
    moment = from_iso_with_zone(text) if text is not None else None
    if moment is None:
        notes.append(note(name, value, "neither unix seconds nor a date-time with its zone"))
    return moment
