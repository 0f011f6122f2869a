"""The shape of every field gateway_v2 signs, checked before a signature over them is believed.

The documented string to sign joins ``key=value`` pairs with ``&`` and escapes nothing, so it can
be read more than one way: ``{"amount": "206424&create_time=1595504997"}`` signs exactly like
``{"amount": "206424", "create_time": "1595504997"}``. Anyone holding one genuine signed callback
can regroup its fields and the signature still verifies. The string decodes one way only when no
key holds ``=`` or ``&`` and no value holds ``&`` (a value may hold ``=``: the first ``=`` of a pair
is always the separator once keys cannot hold one). On top of that, every documented field must
have its documented type and charset (digits for amounts and statuses...), so a value that
verifies can only be read as the provider meant it.

``field_problem`` says what is wrong; the adapter refuses a callback (400) or treats a query answer
as unreadable (UNKNOWN, keep polling) when it says anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from payouts.domain.request import PAYOUT_ID_PATTERN
from payouts.providers.gateway_v2.signing import UNSIGNED_FIELDS, CanonicalForm, render_value

type Shape = Callable[[object], bool]

# Field names: what the documented ones are made of; never ``=`` or ``&``.
_KEY: Final = re.compile(r"[A-Za-z0-9_]{1,64}")
# Integer(10) cents, as a JSON integer or a digit string (the seed's example sends strings).
_CENTS: Final = re.compile(r"0|[1-9][0-9]{0,9}")
# ASSUMPTION: the fee's unit is not documented, so a decimal literal is allowed as well.
_FEE: Final = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,8})?")
_STATUS: Final = re.compile(r"[0-9]{1,2}")
# ASSUMPTION: times are unix seconds (like request_time) or a plain date-time.
_UNIX_SECONDS: Final = re.compile(r"[0-9]{1,12}")
_DATE_TIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_PROVIDER_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MERCHANT_ID: Final = re.compile(PAYOUT_ID_PATTERN)
_PLATFORM_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_MAX_TEXT: Final = 1024


def _digits(pattern: re.Pattern[str]) -> Shape:
    """A JSON integer or a string whose text fully matches ``pattern`` (never a bool)."""

    def check(value: object) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return value >= 0 and bool(pattern.fullmatch(str(value)))
        return isinstance(value, str) and bool(pattern.fullmatch(value))

    return check


def _decimal(pattern: re.Pattern[str]) -> Shape:
    """Like ``_digits``, also allowing a JSON decimal number (parsed as Decimal)."""
    digits = _digits(pattern)

    def check(value: object) -> bool:
        if isinstance(value, Decimal):
            return value.is_finite() and bool(pattern.fullmatch(str(value)))
        return digits(value)

    return check


def _text(pattern: re.Pattern[str]) -> Shape:
    def check(value: object) -> bool:
        return isinstance(value, str) and bool(pattern.fullmatch(value))

    return check


def _time(value: object) -> bool:
    return _digits(_UNIX_SECONDS)(value) or _text(_DATE_TIME)(value)


def _free_text(value: object) -> bool:
    # Free text (error_msg) may say anything but ``&``, which would split it into more pairs.
    return isinstance(value, str) and len(value) <= _MAX_TEXT and "&" not in value


# DOCUMENTED fields of callbacks and query answers' ``data`` (providers.md), with their shapes.
# ``sign`` and ``sign_type`` are not signed; the signature check reads them.
DOCUMENTED: Final[Mapping[str, Shape]] = {
    "payout_id": _text(_PROVIDER_ID),
    "payout_cl_id": _text(_MERCHANT_ID),
    "platform_id": _text(_PLATFORM_ID),
    "amount": _digits(_CENTS),
    "real_amount": _digits(_CENTS),
    "fee": _decimal(_FEE),
    "status": _digits(_STATUS),
    "error_msg": _free_text,
    "create_time": _time,
    "update_time": _time,
    "success_time": _time,
}


def field_problem(fields: Mapping[str, object], form: CanonicalForm) -> str | None:
    """Why ``fields`` cannot be signed unambiguously or break a documented shape; None if fine.

    Empty values (None, "") are not signed at all, so they are allowed anywhere.
    """
    for key, value in fields.items():
        if not _KEY.fullmatch(key):
            return f"field name {key[:40]!r} is not made of letters, digits and _"
        if key in UNSIGNED_FIELDS:
            continue
        rendered = render_value(value, form)
        if rendered is None:
            continue
        shape = DOCUMENTED.get(key)
        if shape is not None and not shape(value):
            return f"field {key} is not in its documented shape: {rendered[:40]!r}"
        if "&" in rendered:
            return f"field {key} holds '&', which would regroup the signed pairs"
    return None
