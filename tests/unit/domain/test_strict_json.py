"""Strict JSON: a duplicate key or deep nesting is refused with a reason, never half-read."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from payouts.domain import strict_json
from payouts.domain.strict_json import MAX_DEPTH, DuplicateKey, TooDeep, check_depth


def test_plain_documents_read_as_json_loads_reads_them() -> None:
    text = '{"a": [1, {"b": "x"}], "c": 1.50, "d": null, "e": "\\"[{"}'
    assert strict_json.loads(text) == json.loads(text)
    assert strict_json.loads(text.encode()) == json.loads(text)
    assert strict_json.loads(text, parse_float=Decimal)["c"] == Decimal("1.50")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 1}', '"a"'),
        ('{"a": {"b": 1, "c": 2, "b": 3}}', '"b"'),
        ('[{"x": 0}, {"y": 1, "y": 1}]', '"y"'),
        ('{"\\u0061": 1, "a": 2}', '"a"'),  # the same key, spelt differently
    ],
)
def test_a_duplicate_key_at_any_depth_is_refused(text: str, key: str) -> None:
    with pytest.raises(DuplicateKey, match=f"duplicate key {key}"):
        strict_json.loads(text)


def test_nesting_up_to_the_limit_is_read_and_one_more_level_refused() -> None:
    assert strict_json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(TooDeep, match=f"nested deeper than {MAX_DEPTH} levels"):
        strict_json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_brackets_inside_strings_and_escaped_quotes_do_not_count() -> None:
    check_depth(json.dumps({"s": "[[[{{{" * 100, "t": '\\"[[[' * 100}), max_depth=1)
    with pytest.raises(TooDeep):
        check_depth('{"s": "\\"", "t": [[]]}', max_depth=2)


def test_depth_is_judged_before_parsing_so_truncated_bodies_are_refused_too() -> None:
    with pytest.raises(TooDeep):
        strict_json.loads("[" * 100_000)


def test_a_recursion_error_from_the_parser_is_refused_as_too_deep() -> None:
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(TooDeep):
        strict_json.loads(deep, max_depth=10**6)


def test_bytes_must_be_utf8_and_every_refusal_is_a_value_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        strict_json.loads(b'{"a": "\xff"}')
    assert issubclass(DuplicateKey, ValueError)
    assert issubclass(TooDeep, ValueError)
