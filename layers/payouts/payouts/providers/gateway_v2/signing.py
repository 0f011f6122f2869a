"""gateway_v2 signing, as pure functions (the provider's signature appendix, see providers.md).

1. Take every parameter except ``sign`` and ``sign_type``; drop empty values (None and "").
2. Sort by key, ASCII ascending; join ``key=value`` with ``&``; no URL-encoding; arrays and
   objects as compact JSON.
3. HMAC-SHA256 of that string keyed with the platform key, lowercase hex (recommended), or MD5
   of ``string + "&" + key``, lowercase hex (the legacy default when ``sign_type`` is absent).

Where the appendix is silent, :class:`CanonicalForm` holds the assumption, with its default.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

# Never part of the string to sign (documented).
UNSIGNED_FIELDS: Final = frozenset({"sign", "sign_type"})


class SignType(StrEnum):
    """The signature algorithms the provider names in ``sign_type`` (documented)."""

    HMAC_SHA256 = "HMAC-SHA256"
    MD5 = "MD5"


class Md5KeyStyle(StrEnum):
    """How the key is appended to the string for MD5.

    ``&<key>`` is what the current docs and production integrations use (and what reproduces the
    public MD5 test vector); older mirrors of the docs say ``&key=<key>``: kept as a documented
    alternative, never the default.
    """

    AMPERSAND = "&<key>"
    AMPERSAND_KEY_EQUALS = "&key=<key>"


@dataclass(frozen=True)
class CanonicalForm:
    """Choices the appendix leaves open when rendering values into the string to sign.

    All are ASSUMPTIONS (no documented field is nested, so none has been seen signed): nested
    objects keep the key order they were built or received in; non-ASCII characters are written
    as themselves (UTF-8), not as ``\\uXXXX`` escapes; "empty" means None and "" only, so an empty
    array or object is signed as ``[]`` / ``{}``.
    """

    sort_nested_keys: bool = False
    escape_non_ascii: bool = False
    drop_empty_containers: bool = False


DEFAULT_FORM: Final = CanonicalForm()


def render_value(value: object, form: CanonicalForm = DEFAULT_FORM) -> str | None:
    """The text of one parameter in the string to sign, or None when it is empty (dropped).

    Strings are themselves. Non-string scalars render as JSON would (``50000``, ``true``, ``1.50``
    for a number received as ``1.50``): an ASSUMPTION, the appendix only shows strings and integers.
    Arrays and objects render as compact JSON (documented).
    """
    if _is_empty(value, form):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | Decimal):
        return _scalar(value)
    return json.dumps(
        value,
        separators=(",", ":"),
        ensure_ascii=form.escape_non_ascii,
        sort_keys=form.sort_nested_keys,
        default=_decimal_as_number,
    )


def string_to_sign(params: Mapping[str, object], form: CanonicalForm = DEFAULT_FORM) -> str:
    """``k=v`` pairs of every signed, non-empty parameter, sorted by key, joined with ``&``."""
    pairs: list[str] = []
    for key in sorted(params):
        if key in UNSIGNED_FIELDS:
            continue
        text = render_value(params[key], form)
        if text is not None:
            pairs.append(f"{key}={text}")
    return "&".join(pairs)


def digest(
    text: str,
    key: str,
    sign_type: SignType,
    md5_key_style: Md5KeyStyle = Md5KeyStyle.AMPERSAND,
) -> str:
    """The lowercase hex signature of an already-built string to sign."""
    if sign_type is SignType.HMAC_SHA256:
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    suffix = f"&{key}" if md5_key_style is Md5KeyStyle.AMPERSAND else f"&key={key}"
    # MD5 is the provider's legacy scheme, not our choice of hash: usedforsecurity=False says so.
    return hashlib.md5((text + suffix).encode(), usedforsecurity=False).hexdigest()


def sign(
    params: Mapping[str, object],
    key: str,
    sign_type: SignType,
    *,
    md5_key_style: Md5KeyStyle = Md5KeyStyle.AMPERSAND,
    form: CanonicalForm = DEFAULT_FORM,
) -> str:
    """The ``sign`` value for ``params`` (their own ``sign``/``sign_type`` are ignored)."""
    return digest(string_to_sign(params, form), key, sign_type, md5_key_style)


def verify(
    params: Mapping[str, object],
    signature: str,
    key: str,
    sign_type: SignType,
    *,
    md5_key_style: Md5KeyStyle = Md5KeyStyle.AMPERSAND,
    form: CanonicalForm = DEFAULT_FORM,
) -> bool:
    """True when ``signature`` is the signature of every received field of ``params``.

    Compared in constant time; hex case is not significant.
    """
    expected = sign(params, key, sign_type, md5_key_style=md5_key_style, form=form)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def _is_empty(value: object, form: CanonicalForm) -> bool:
    if value is None or value == "":
        return True
    return form.drop_empty_containers and isinstance(value, dict | list) and not value


def _scalar(value: bool | int | Decimal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # Numbers are parsed as Decimal so that they render as the literal the provider sent.
    return str(value)


def _decimal_as_number(value: object) -> object:
    if isinstance(value, Decimal):
        # Inside arrays/objects a Decimal can only be written as a float (an ASSUMPTION that no
        # nested number needs more than float precision; none is documented).
        return float(value)
    raise TypeError(f"cannot sign a value of type {type(value).__name__}")
