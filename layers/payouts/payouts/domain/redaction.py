"""Masking of personal data for everything stored, logged or shown: by key *and* by value shape.

Nothing here trusts one key name. A JSON document is walked whole: a value is kept in clear
only when its key (compared without case, spaces, ``_`` or ``-``: ``Payout_Id`` is ``payoutid``)
is on ``SAFE_KEYS`` **and** the value has the shape that key's values have (an id, an amount,
a currency, a code, a timestamp, a digest). Everything else is masked: any string under any
other key (a beneficiary field under ``Beneficiary``, a name under ``payee``, free text), and any
number of six digits or more. Strings that are JSON inside JSON are walked in turn.

Text that is not a readable document (a truncated excerpt, a provider's error message, an HTML
page) is masked by shape: quoted values whose key is not safe, digit runs of six digits or more
(account numbers, CPF/CNPJ, phone numbers, with or without separators), e-mail addresses and
UPI VPAs (``name@bank``), and random PIX keys (UUIDs). Dates and times are left alone.

The masked form keeps a length class (4, 8, 12, 16, 24, 32, 48 or 64 characters, the last for
anything longer) and the last two characters, so an operator can still tell two accounts apart
(``"001234567890"`` -> ``"**********90"``) without the value's length or content being kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Final

from pydantic import JsonValue

from payouts.domain import strict_json

# Characters kept at the end of a masked value; values this short or shorter are masked whole.
KEEP: Final = 2
# A masked value's length is the first of these at least as long as the value.
_LENGTH_CLASSES: Final = (4, 8, 12, 16, 24, 32, 48, 64)
# Numbers with this many digits or more could be an account, a CPF or a phone number.
MIN_IDENTIFYING_DIGITS: Final = 6

_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:#/-]{0,99}$")
_DECIMAL: Final = re.compile(r"^-?[0-9]{1,38}(\.[0-9]{1,18})?$")
_CURRENCY: Final = re.compile(r"^[A-Z]{3}$")
_TOKEN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TIME: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_EPOCH: Final = re.compile(r"^[0-9]{10}([0-9]{3})?$")
_DIGEST: Final = re.compile(r"^[0-9a-f]{16,128}$")
_LONG_DIGIT_RUN: Final = re.compile(rf"[0-9]{{{MIN_IDENTIFYING_DIGITS},}}")


def _is_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_DECIMAL.fullmatch(value))


def _is_json_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_currency(value: object) -> bool:
    return isinstance(value, str) and bool(_CURRENCY.fullmatch(value))


def _is_code(value: object) -> bool:
    # Status and error codes, methods, kinds: short tokens, never a long run of digits.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return len(str(abs(value))) < MIN_IDENTIFYING_DIGITS
    return (
        isinstance(value, str)
        and bool(_TOKEN.fullmatch(value))
        and not _LONG_DIGIT_RUN.search(value)
    )


def _is_time(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return bool(_EPOCH.fullmatch(str(value)))
    return isinstance(value, str) and bool(_TIME.fullmatch(value) or _EPOCH.fullmatch(value))


def _is_digest(value: object) -> bool:
    return isinstance(value, str) and bool(_DIGEST.fullmatch(value))


def _is_flag(value: object) -> bool:
    return isinstance(value, bool)


type Shape = Callable[[object], bool]

_IDS: Final = (
    "payoutid payoutclid merchanttradeno merchantorderno merchantorderid providerorderid "
    "payoutno orderid orderno tradeno rrn reference providerreference messageid "
    "sourcemessageid platformid serviceid requestid executionid id"
)
# Amounts: a JSON number or a decimal string (providers send "100.05" and "50000").
_AMOUNTS: Final = (
    "amount amountminor amountvalue fee totalfee realamount credited creditedamount "
    "availableamount frozenamount totalbalance totalfrozenbalance"
)
# Generic names a digit string could hide under: JSON numbers only.
_COUNTS: Final = (
    "value version attempt attempts submitattempts checkattempts httpstatus bodybytes retentiondays"
)
_CODES: Final = (
    "method type pixkeytype status state code errorcode kind transport provider signtype "
    "matchedby applied result outcome fromstatus tostatus actor"
)
_TIMES: Final = (
    "at time timestamp createdat updatedat signedat paidat claimedat createtime updatetime "
    "successtime finishtime paidtime createdtime requesttime terminalsince erasedat"
)
_DIGESTS: Final = "fingerprint storedfingerprint receivedfingerprint bodysha256 sha256"

# Keys whose values are kept in clear, each with the shape its values must have. Normalised
# (lower case, letters and digits only), so every spelling of a key is judged alike.
SAFE_KEYS: Final[Mapping[str, Shape]] = {
    **dict.fromkeys(_IDS.split(), _is_id),
    **dict.fromkeys(_AMOUNTS.split(), _is_number),
    **dict.fromkeys(_COUNTS.split(), _is_json_number),
    **dict.fromkeys(_CODES.split(), _is_code),
    **dict.fromkeys(_TIMES.split(), _is_time),
    **dict.fromkeys(_DIGESTS.split(), _is_digest),
    "currency": _is_currency,
    "trusted": _is_flag,
    "needsreview": _is_flag,
}


def normalised_key(key: str) -> str:
    """``key`` as ``SAFE_KEYS`` spells it: lower case, letters and digits only."""
    return "".join(char for char in key.lower() if char.isalnum())


def is_safe(key: str, value: object) -> bool:
    """True when ``value`` may be kept in clear under ``key``: a safe key, and the right shape."""
    shape = SAFE_KEYS.get(normalised_key(key))
    return shape is not None and shape(value)


def mask(value: str, keep: int = KEEP) -> str:
    """The masked form: the length class of ``value`` in ``*``, ending with its last ``keep``
    characters (``"9876543210"`` -> ``"**********10"``); values of ``2 * keep`` characters or
    fewer are masked whole."""
    size = _length_class(len(value))
    if len(value) <= keep * 2:
        return "*" * size
    return "*" * (size - keep) + value[-keep:]


def _length_class(length: int) -> int:
    # The longest class stands for everything longer: a masked value never grows past it.
    return next((size for size in _LENGTH_CLASSES if length <= size), _LENGTH_CLASSES[-1])


def redact_document(value: JsonValue) -> JsonValue:
    """A copy of a JSON document with every value that is not known to be safe masked."""
    return _redact(value, key=None)


def _redact(value: JsonValue, key: str | None) -> JsonValue:
    if isinstance(value, dict):
        return {_redact_key(name): _redact(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, key) for item in value]
    if key is not None and is_safe(key, value):
        return value
    return _masked_scalar(value)


def _redact_key(key: str) -> str:
    # Keys are names, not data, but a document can be shaped {"<account number>": ...}.
    return mask(key) if _looks_identifying(key) else key


def _masked_scalar(value: JsonValue) -> JsonValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        text = repr(value)
        return value if _digit_count(text) < MIN_IDENTIFYING_DIGITS else mask(text)
    if isinstance(value, str):
        inner = _json_inside(value)
        if inner is not None:
            return json.dumps(redact_document(inner), separators=(",", ":"), ensure_ascii=False)
        return mask(value)
    return mask(str(value))


def _json_inside(text: str) -> JsonValue | None:
    """The document inside a string that holds a JSON object or array, else None."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        inner: JsonValue = strict_json.loads(stripped)
    except ValueError:
        return None
    return inner if isinstance(inner, dict | list) else None


# ---- free text -----------------------------------------------------------------------------------

# A quoted string, perhaps cut off by the end of an excerpt.
_STRING: Final = r'"(?:[^"\\]|\\.)*(?:"|$)'
# The shapes that identify a person in free text. Each alternative starts only where a token
# starts (the look-behinds), so a long run of letters or digits costs one pass, not a square.
_SHAPES: Final = (
    r"(?P<time>(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
    r"(?![0-9]))"
    r"|(?P<email>(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    r"|(?P<uuid>(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
    r"-[0-9A-Fa-f]{12})"
    r"|(?P<digits>\+?[0-9](?:[ .()/-]?[0-9])*)"
)
_TEXT_TOKENS: Final = re.compile(
    rf"(?P<key>{_STRING})(?P<colon>\s*:\s*)"
    rf"(?:(?P<svalue>{_STRING})|(?P<nvalue>-?[0-9]+(?:\.[0-9]+)?(?![0-9.])))?"
    rf"|(?P<string>{_STRING})"
    rf"|{_SHAPES}"
)
_SHAPE_TOKENS: Final = re.compile(_SHAPES)


def mask_text(text: str) -> str:
    """``text`` with everything that may identify a person masked (see the module docstring).
    JSON text, whole or cut off, keeps the values of safe keys as ``redact_document`` does;
    any other quoted string is masked whole."""
    return _TEXT_TOKENS.sub(_mask_text_token, text)


def mask_shapes(text: str) -> str:
    """``text`` with only the identifying shapes masked (digit runs, e-mail addresses and VPAs,
    UUIDs); words and quotes are left alone. For a provider's error message, whose words say
    what went wrong."""
    return _SHAPE_TOKENS.sub(_mask_shape, text)


def _mask_text_token(match: re.Match[str]) -> str:
    if match.group("key") is not None:
        return _masked_member(match)
    if match.group("string") is not None:
        return _masked_string(match.group("string"))
    return _mask_shape(match)


def _masked_member(match: re.Match[str]) -> str:
    quoted_key, colon = match.group("key"), match.group("colon")
    key = _unquoted(quoted_key)
    shown_key = _masked_string(quoted_key) if _looks_identifying(key) else quoted_key
    number, quoted_value = match.group("nvalue"), match.group("svalue")
    if number is not None:
        value: object = int(number) if _INTEGER.fullmatch(number) else number
        kept = is_safe(key, value) or _digit_count(number) < MIN_IDENTIFYING_DIGITS
        return f"{shown_key}{colon}{number if kept else mask(number)}"
    if quoted_value is None:  # a key whose value is an object, an array, or cut off
        return f"{shown_key}{colon}"
    if is_safe(key, _unquoted(quoted_value)):
        return f"{shown_key}{colon}{quoted_value}"
    return f"{shown_key}{colon}{_masked_string(quoted_value)}"


def _masked_string(quoted: str) -> str:
    closed = len(quoted) > 1 and quoted.endswith('"')
    masked = mask(_unquoted(quoted))
    return f'"{masked}"' if closed else f'"{masked}'


def _mask_shape(match: re.Match[str]) -> str:
    token = match.group(0)
    if match.group("time") is not None:
        return token
    if match.group("digits") is not None and _digit_count(token) < MIN_IDENTIFYING_DIGITS:
        return token
    return mask(token)


_INTEGER: Final = re.compile(r"-?[0-9]+")


def _digit_count(text: str) -> int:
    return sum(char.isdigit() for char in text)


def _unquoted(quoted: str) -> str:
    body = quoted[1:]
    return body[:-1] if body.endswith('"') else body


def _looks_identifying(text: str) -> bool:
    """True when ``text`` holds a digit run, an e-mail address or VPA, or a UUID."""
    return mask_shapes(text) != text
