"""Classifying a provider's answer body: an answer we cannot read one way only is malformed."""

from __future__ import annotations

import pytest

from payouts.providers.transport import BodyShape, classify_body


def test_a_json_object_is_read() -> None:
    assert classify_body(b'{"code": "OK", "data": {"status": "PAID"}}') == (
        BodyShape.JSON_OBJECT,
        {"code": "OK", "data": {"status": "PAID"}},
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"code": "OK", "data": {"status": "FAILED", "status": "PAID"}}',
        b'{"error_code": "0050", "error_code": "0000"}',
    ],
)
def test_an_answer_with_a_duplicate_key_is_malformed_never_one_copy_picked(raw: bytes) -> None:
    assert classify_body(raw) == (BodyShape.MALFORMED, None)


def test_a_deeply_nested_answer_is_malformed_not_a_recursion_error() -> None:
    # Deep enough for the C parser itself to raise RecursionError.
    raw = b'{"data": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert classify_body(raw) == (BodyShape.MALFORMED, None)
