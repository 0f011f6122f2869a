"""The ops commands' building blocks: what is printed about an order (masked), how request files
are read, day ranges, dead letters described without their bodies, and review resolution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from payouts.domain.order import Evidence, EvidenceKind
from payouts.domain.status import OrderStatus
from payouts.store import OrderStore
from payouts_tools.cli.operations import (
    day_range,
    get_order,
    list_dead_letters,
    read_requests,
    redrive,
    resolve_review,
)
from payouts_tools.cli.target import CliError
from payouts_tools.cli.views import masked_beneficiary, money, order_view
from tests.support.moto_store import moto_order_store
from tests.support.orders import BENEFICIARIES, T0, make_order, make_request, request_document

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("method", sorted(BENEFICIARIES))
def test_no_beneficiary_detail_is_shown_in_clear(method: str) -> None:
    view = order_view(make_order("PO-1", method))
    printed = json.dumps(view)

    personal = {
        name: value
        for name, value in BENEFICIARIES[method].items()
        if name not in {"method", "pix_key_type"} and len(str(value)) > 1
    }
    for value in personal.values():
        assert str(value) not in printed
    assert view["beneficiary"]["method"] == method


def test_masking_keeps_only_the_last_characters() -> None:
    masked = masked_beneficiary(make_request("PO-1", "BANK_ACCOUNT"))

    assert masked["account_number"] == "**********90"
    assert masked["ifsc"] == "**********34"


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (12345, "INR", "123.45 INR"),
        (500, "JPY", "500 JPY"),
        (None, "INR", None),
        (5, "XXX", "5 (minor units) XXX"),
    ],
)
def test_money_is_shown_in_major_units(value: int | None, currency: str, shown: str | None) -> None:
    assert money(value, currency) == shown


def test_request_files_can_be_an_object_an_array_lines_or_an_sqs_event() -> None:
    one = request_document("PO-1")
    assert [json.loads(body)["payout_id"] for body in read_requests(json.dumps(one))] == ["PO-1"]
    many = json.dumps([request_document("PO-1"), request_document("PO-2")])
    assert len(read_requests(many)) == 2
    lines = "\n".join(json.dumps(request_document(f"PO-{n}")) for n in range(3))
    assert len(read_requests(lines)) == 3
    event = {"Records": [{"body": "not even json"}, {"body": json.dumps(one)}]}
    assert read_requests(json.dumps(event)) == ["not even json", json.dumps(one)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("[1, 2]", "request 1 is not a JSON object"),
        ('{"a": 1}\n{oops', "line 2 is not JSON"),
        ('{"Records": [{"nobody": 1}]}', "record 1 has no string body"),
    ],
)
def test_unreadable_request_files_are_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        read_requests(text)


def test_day_ranges() -> None:
    now = datetime(2026, 11, 22, 10, tzinfo=UTC)
    first, last = day_range(now, None, None, 7)
    assert (first.date().isoformat(), last.date().isoformat()) == ("2026-11-16", "2026-11-22")
    with pytest.raises(CliError, match="after"):
        day_range(now, datetime(2026, 11, 23, tzinfo=UTC), now, 1)


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with moto_order_store() as order_store:
        yield order_store


def test_resolving_a_review_clears_the_flag_with_the_note_as_evidence(store: OrderStore) -> None:
    created = store.create(make_request("PO-R"), T0, None).order
    flagged = store.update(created, T0, needs_review=True, review_reason="amount mismatch")
    assert flagged.order.needs_review  # type: ignore[union-attr]

    resolved = resolve_review(store, "PO-R", "refunded by the provider", "alice", T0)

    assert not resolved.needs_review
    assert resolved.status is OrderStatus.RECEIVED
    note = store.history("PO-R")[-1]
    assert (note.kind, note.actor) == (EvidenceKind.REVIEW, "operator:alice")
    assert note.detail["review_reason"] == "amount mismatch"
    with pytest.raises(CliError, match="not flagged"):
        resolve_review(store, "PO-R", "again", "alice", T0)
    with pytest.raises(CliError, match="note is required"):
        resolve_review(store, "PO-R", "  ", "alice", T0)


def test_orders_are_found_by_payout_id_or_provider_reference(store: OrderStore) -> None:
    created = store.create(make_request("PO-F"), T0, None).order
    claimed = store.transition(
        created, OrderStatus.SUBMITTING, Evidence(kind=EvidenceKind.CREATE_SENT, summary="s"), T0
    ).order  # type: ignore[union-attr]
    store.transition(
        claimed,
        OrderStatus.SUBMITTED,
        Evidence(kind=EvidenceKind.CREATE_ANSWER, summary="a"),
        T0,
        provider="gateway_v2",
        provider_order_id="POT-1",
    )

    assert get_order(store, "PO-F").payout_id == "PO-F"
    assert get_order(store, "gateway_v2:POT-1").payout_id == "PO-F"
    with pytest.raises(CliError, match="no order pg_v2:POT-1"):
        get_order(store, "pg_v2:POT-1")


def test_dead_letters_are_described_without_bodies_and_redriven_as_they_were() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="requests")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="requests-dlq")["QueueUrl"]
        body = json.dumps(request_document("PO-D", "UPI", 12345))
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=body,
            MessageAttributes={
                "rejection_reason": {"DataType": "String", "StringValue": "amount.value: bad"},
                "source_message_id": {"DataType": "String", "StringValue": "m-1"},
                "origin": {"DataType": "String", "StringValue": "settlements"},
            },
        )

        (letter,) = list_dead_letters(sqs, dlq, 10)
        # Listing leaves the message on the DLQ, visible again at once.
        assert len(list_dead_letters(sqs, dlq, 10)) == 1
        assert (letter.payout_id, letter.amount, letter.method) == ("PO-D", "123.45 INR", "UPI")
        assert letter.reason == "amount.value: bad"
        assert "payee@okbank" not in json.dumps(letter.as_json())

        assert redrive(sqs, dlq, queue, 10) == [letter.message_id]
        moved = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
        assert moved[0]["Body"] == body
        assert set(moved[0]["MessageAttributes"]) == {"origin"}
        assert list_dead_letters(sqs, dlq, 10) == []


def test_a_redrive_moves_only_the_messages_the_operator_confirmed() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="requests")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="requests-dlq")["QueueUrl"]
        for payout_id in ("PO-A", "PO-B", "PO-C"):
            sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(request_document(payout_id)))
        letters = {
            letter.payout_id: letter.message_id for letter in list_dead_letters(sqs, dlq, 10)
        }

        moved = redrive(sqs, dlq, queue, 10, only={letters["PO-B"]})

        assert moved == [letters["PO-B"]]
        left = {letter.payout_id for letter in list_dead_letters(sqs, dlq, 10)}
        assert left == {"PO-A", "PO-C"}  # released at once, still on the DLQ
        (copy,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert json.loads(copy["Body"])["payout_id"] == "PO-B"
