"""JSON from outside, read strictly: one meaning per document, and a bounded depth.

``json.loads`` keeps the last of two equal keys, so ``{"payout_id":"A",...,"payout_id":"B"}``
reads as payout B while a reader that keeps the first (or a signature computed over the other)
sees payout A. Nothing that moves money may pick one: a document with a duplicate key, at any
depth, is refused.

Deep nesting is refused before parsing, by a scan that skips strings and stops at the first
bracket past the limit, so no recursive walk of a document (the parser's, pydantic's, our own
masking and redaction) can ever raise RecursionError. Every document this system reads (requests,
their EventBridge and SNS envelopes, provider answers and callbacks) is a few levels deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

# Our documents are at most 4 levels deep (an EventBridge envelope around a request around its
# amount; pg_v2's answer around data around payoutMethod); 16 leaves providers room to add fields.
MAX_DEPTH: Final = 16

# A JSON string (escapes included) or one bracket. Strings are skipped whole, so brackets inside
# them never count; written unrolled so a long string is matched without backtracking.
_STRING_OR_BRACKET: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class JsonRefused(ValueError):
    """Well-formed or not, this JSON is not read: ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DuplicateKey(JsonRefused):
    """An object carries the same key twice."""


class TooDeep(JsonRefused):
    """Arrays and objects are nested deeper than allowed."""


def loads(
    text: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    parse_float: Callable[[str], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """``json.loads``, refusing duplicate keys (``DuplicateKey``) and nesting deeper than
    ``max_depth`` (``TooDeep``). Bytes must be UTF-8. Malformed JSON raises
    ``json.JSONDecodeError`` as usual; every error raised is a ``ValueError``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError too
    check_depth(text, max_depth)
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_float=parse_float,
            parse_constant=parse_constant,
        )
    except RecursionError:
        # Belt and braces: check_depth already refused anything this deep.
        raise TooDeep(f"nested deeper than {max_depth} levels") from None


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``TooDeep`` when arrays and objects in ``text`` nest deeper than ``max_depth``.

    Brackets inside strings do not count. Malformed text is not judged here (the parser does
    that), only its brackets.
    """
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                raise TooDeep(f"nested deeper than {max_depth} levels")
        elif token in ("]", "}"):
            depth -= 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateKey(f"duplicate key {json.dumps(key)[:80]}")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a repeated key")
