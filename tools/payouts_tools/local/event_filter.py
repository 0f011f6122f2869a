"""Lambda event filtering (an event source mapping's ``FilterCriteria``) for the local sources.

A filter is an EventBridge-style pattern matched against the record as Lambda sees it; a record
is delivered when any filter matches. Supported: exact values (``["INSERT", "MODIFY"]``), nested
objects, ``prefix``, ``exists`` and ``anything-but``. Anything else is refused when the stack
starts, so the local stack never silently delivers what AWS would filter out, or the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

_OPERATORS: Final = frozenset({"prefix", "exists", "anything-but"})
_MISSING: Final = object()


class FilterError(ValueError):
    """A filter pattern the local sources do not implement."""


def compile_filters(criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of ``FilterCriteria`` (``{"Filters": [{"Pattern": "<json>"}]}``), checked."""
    if not criteria:
        return []
    patterns = []
    for item in criteria.get("Filters", []):
        raw = item.get("Pattern")
        pattern = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(pattern, dict):
            raise FilterError(f"a filter pattern must be a JSON object: {raw!r}")
        _check(pattern)
        patterns.append(pattern)
    return patterns


def delivered(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """True when no filters are set, or when any pattern matches ``record``."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """True when ``value`` (a record, or part of one) matches ``pattern``."""
    if not isinstance(value, Mapping):
        return False
    for key, expected in pattern.items():
        actual = value.get(key, _MISSING)
        if isinstance(expected, Mapping):
            if not matches(expected, actual):
                return False
        elif not any(_matches_one(rule, actual) for rule in expected):
            return False
    return True


def _matches_one(rule: Any, actual: Any) -> bool:
    if not isinstance(rule, Mapping):
        return actual is not _MISSING and actual == rule
    operator, argument = next(iter(rule.items()))
    if operator == "exists":
        return (actual is not _MISSING) is bool(argument)
    if actual is _MISSING:
        return False
    if operator == "prefix":
        return isinstance(actual, str) and actual.startswith(str(argument))
    excluded = argument if isinstance(argument, list) else [argument]
    return actual not in excluded


def _check(pattern: Mapping[str, Any]) -> None:
    for key, expected in pattern.items():
        if isinstance(expected, Mapping):
            _check(expected)
            continue
        if not isinstance(expected, list):
            raise FilterError(f"{key}: a pattern value must be a list or an object")
        for rule in expected:
            if isinstance(rule, Mapping) and (len(rule) != 1 or not set(rule) <= _OPERATORS):
                raise FilterError(f"{key}: filter operator {sorted(rule)} is not supported locally")
