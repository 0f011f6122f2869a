"""The sample events in events/ are real Lambda events whose bodies are what their names say, so
the tests that replay them (and ``sam local invoke``) exercise the branch they claim to."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, SQSEvent

from payouts.domain.errors import InvalidRequest
from payouts.domain.request import parse_request

EVENTS = Path(__file__).resolve().parents[3] / "events"
VALID = {
    "single.json": 1,
    "batch-10.json": 10,
    "eventbridge-wrapped.json": 1,
    "sns-wrapped.json": 1,
}
# file -> (a fragment of the refusal reason, whether the payout id is readable)
INVALID = {
    "invalid-bad-json.json": ("not valid JSON", False),
    "invalid-schema.json": ("amount.value", True),
    "invalid-unknown-method.json": ("beneficiary", True),
    "invalid-unknown-currency.json": ("unsupported currency XAU", True),
    "invalid-oversized.json": ("larger than", False),
}


def sqs_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sqs" / name).read_text(encoding="utf-8"))
    return event


def test_every_sqs_sample_is_described_here() -> None:
    assert {path.name for path in (EVENTS / "sqs").glob("*.json")} == set(VALID) | set(INVALID)


@pytest.mark.parametrize("name", sorted(VALID | INVALID))
def test_sqs_samples_are_lambda_sqs_events_with_unique_ids(name: str) -> None:
    event = SQSEvent(sqs_event(name))

    records = list(event.records)

    assert records
    assert all(record.event_source == "aws:sqs" for record in records)
    assert all(
        record.md5_of_body == hashlib.md5(record.body.encode(), usedforsecurity=False).hexdigest()
        for record in records
    )
    assert len({record.message_id for record in records}) == len(records)


@pytest.mark.parametrize(("name", "count"), sorted(VALID.items()))
def test_valid_samples_carry_valid_requests(name: str, count: int) -> None:
    bodies = [record.body for record in SQSEvent(sqs_event(name)).records]

    requests = [parse_request(body) for body in bodies]

    assert len(requests) == count
    assert len({request.payout_id for request in requests}) == count


def test_the_batch_sample_covers_every_method() -> None:
    bodies = [record.body for record in SQSEvent(sqs_event("batch-10.json")).records]

    assert {parse_request(body).method for body in bodies} == {
        "ALIPAY",
        "UPI",
        "BANK_ACCOUNT",
        "PIX",
    }


@pytest.mark.parametrize(("name", "expected"), sorted(INVALID.items()))
def test_invalid_samples_are_refused_for_the_reason_in_their_name(
    name: str, expected: tuple[str, bool]
) -> None:
    fragment, id_readable = expected
    (record,) = SQSEvent(sqs_event(name)).records

    with pytest.raises(InvalidRequest) as refused:
        parse_request(record.body)

    assert fragment in refused.value.reason
    assert (refused.value.payout_id is not None) is id_readable


def test_the_stream_sample_is_a_dynamodb_stream_event() -> None:
    raw = json.loads((EVENTS / "dynamodb" / "order-stream.json").read_text(encoding="utf-8"))

    records = list(DynamoDBStreamEvent(raw).records)

    assert [record.event_name.name for record in records if record.event_name] == [
        "INSERT",
        "INSERT",
        "MODIFY",
        "MODIFY",
        "MODIFY",
    ]
    assert all(record.dynamodb and record.dynamodb.sequence_number for record in records)
