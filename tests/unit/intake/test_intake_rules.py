"""Intake's pure parts: evidence and excerpts never carry beneficiary details, settings and
timings, the per-invocation HTTP client's lifecycle, and the dead-letter message's shape."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import boto3
import httpx
import pytest
from botocore.stub import Stubber

from payouts.providers.base import CreateKind, CreateOutcome, PayoutProvider, RawExchange
from payouts.services.intake import (
    MAX_EXCERPT_CHARS,
    MAX_REASON_CHARS,
    IntakeMessage,
    IntakeTimings,
    ProviderPool,
    SqsDeadLetters,
    redacted_excerpt,
    truncate,
)
from payouts.services.submission import create_answer_evidence
from payouts.settings import SettingsError, load
from payouts.settings.intake import IntakeSettings
from tests.support.orders import T0, request_document

DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/payouts-dlq"
REQUIRED_ENV = {
    "ORDERS_TABLE": "orders-test",
    "CALLBACK_BASE_URL": "https://callbacks.example.com/dev",
    "PAYOUT_DLQ_URL": DLQ_URL,
}


# --- evidence of the provider's answer ------------------------------------------------------------


def test_answer_evidence_keeps_what_the_provider_said_and_drops_empty_fields() -> None:
    outcome = CreateOutcome(
        kind=CreateKind.ACCEPTED,
        reason="0000 with data.payout_id",
        raw=RawExchange(transport="ok", http_status=200, code="0000", body_excerpt='{"a":1}'),
        provider_order_id="POT1",
    )

    evidence = create_answer_evidence("gateway_v2", outcome, "intake", T0)

    assert evidence.kind == "CREATE_ANSWER"
    assert evidence.at == T0
    assert evidence.detail == {
        "provider": "gateway_v2",
        "outcome": "ACCEPTED",
        "reason": "0000 with data.payout_id",
        "transport": "ok",
        "http_status": 200,
        "code": "0000",
        "body_excerpt": '{"a":1}',
        "provider_order_id": "POT1",
    }


def test_answer_evidence_of_an_unanswered_create_says_how_the_transport_ended() -> None:
    outcome = CreateOutcome(CreateKind.AMBIGUOUS, "read timeout", RawExchange("read_timeout"))

    evidence = create_answer_evidence("pg_v2", outcome, "intake", T0)

    assert evidence.summary == "pg_v2 create: AMBIGUOUS"
    assert evidence.detail == {
        "provider": "pg_v2",
        "outcome": "AMBIGUOUS",
        "reason": "read timeout",
        "transport": "read_timeout",
    }


# --- the excerpt kept on a REJECTED order ---------------------------------------------------------


@pytest.mark.parametrize("method", ["ALIPAY", "UPI", "BANK_ACCOUNT", "PIX"])
def test_excerpt_masks_every_beneficiary_value_but_the_method_and_key_type(method: str) -> None:
    document = request_document("PO-1", method)
    document["amount"]["value"] = -1
    body = json.dumps(document)

    excerpt = redacted_excerpt(body)

    shown = json.loads(excerpt)
    assert shown["beneficiary"]["method"] == method
    for field, value in document["beneficiary"].items():
        if field not in ("method", "pix_key_type"):  # which kind of key, not the key
            assert shown["beneficiary"][field] != value
            assert shown["beneficiary"][field].startswith("*")
            if len(value) > 4:
                assert value not in excerpt, f"{field} appears in clear"
    assert shown["payout_id"] == "PO-1"
    assert shown["amount"] == {"value": -1, "currency": document["amount"]["currency"]}


@pytest.mark.parametrize("key", ["Beneficiary", "BENEFICIARY", "beneficiary ", "payee", "to"])
def test_excerpt_masks_a_beneficiary_under_any_other_key(key: str) -> None:
    # 237 of 2,690 rejected orders of a fuzz run held account numbers and names in clear this way.
    document = request_document("PO-1", "BANK_ACCOUNT")
    document[key] = document.pop("beneficiary")

    excerpt = redacted_excerpt(json.dumps(document))

    for secret in ("001234567890", "Test Payee", "HDFC0001234"):
        assert secret not in excerpt
    shown = json.loads(excerpt)
    assert shown[key]["method"] == "BANK_ACCOUNT"
    assert shown["payout_id"] == "PO-1"


def test_excerpt_masks_personal_data_in_free_text_metadata_and_json_inside_strings() -> None:
    document = request_document(
        "PO-1",
        "UPI",
        description="salary ravi@okhdfc",
        metadata={"payee": json.dumps({"vpa": "ravi@okhdfc", "phone": "+55 11 91234-5678"})},
    )
    document["beneficiary"]["extra"] = {"nested": ["12345678901"]}

    excerpt = redacted_excerpt(json.dumps(document))

    for secret in ("ravi@okhdfc", "91234-5678", "12345678901", "payee@okbank", "Test Payee"):
        assert secret not in excerpt


def test_excerpt_unwraps_an_sns_envelope_before_masking() -> None:
    inner = request_document("PO-2", "UPI")
    envelope = {"Type": "Notification", "Message": json.dumps(inner)}

    excerpt = redacted_excerpt(json.dumps(envelope))

    assert json.loads(excerpt)["payout_id"] == "PO-2"
    assert "payee@okbank" not in excerpt


def test_excerpt_is_bounded_and_marked_when_cut() -> None:
    # Masked values are at most 64 characters, so only many of them make a long excerpt.
    document = request_document("PO-3", metadata={f"key{n}": "v" * 256 for n in range(16)})

    excerpt = redacted_excerpt(json.dumps(document))

    assert len(excerpt) == MAX_EXCERPT_CHARS
    assert excerpt.endswith("…")


def test_excerpt_of_unreadable_text_keeps_only_its_size() -> None:
    body = '{"payout_id": "PO-4", "benef'

    assert redacted_excerpt(body) == f"<unreadable body of {len(body)} bytes>"


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("x" * 11, 10) == "x" * 9 + "…"


# --- settings and timings -------------------------------------------------------------------------


def test_settings_need_the_dead_letter_queue() -> None:
    environ = {key: value for key, value in REQUIRED_ENV.items() if key != "PAYOUT_DLQ_URL"}

    with pytest.raises(SettingsError, match="PAYOUT_DLQ_URL"):
        load(IntakeSettings, environ)


def test_settings_defaults_leave_the_reconcile_loop_room() -> None:
    settings = load(IntakeSettings, REQUIRED_ENV)

    timings = IntakeTimings.from_settings(settings)

    assert settings.provider_concurrency == 10
    # Longer than SQS's own retries with the template defaults (5 receives x 360 s).
    assert timings.received_grace > timedelta(seconds=5 * 360)
    # Longer than the function's timeout (60 s): a SUBMITTING order is never queried mid-create.
    assert timings.stale_submitting_after > timedelta(seconds=60)
    assert timings.unknown_first_check <= timedelta(seconds=10)
    assert timings.submitted_first_check == timedelta(seconds=60)


def test_settings_read_overrides_from_the_environment() -> None:
    environ = {**REQUIRED_ENV, "PROVIDER_CONCURRENCY": "3", "UNKNOWN_FIRST_CHECK_SECONDS": "2"}

    settings = load(IntakeSettings, environ)

    assert settings.provider_concurrency == 3
    assert IntakeTimings.from_settings(settings).unknown_first_check == timedelta(seconds=2)


def test_settings_refuse_a_concurrency_of_zero() -> None:
    with pytest.raises(SettingsError, match="PROVIDER_CONCURRENCY"):
        load(IntakeSettings, {**REQUIRED_ENV, "PROVIDER_CONCURRENCY": "0"})


# --- one HTTP client per invocation ---------------------------------------------------------------


class _Adapter:
    """Stands in for an adapter: remembers the client it was built around."""

    def __init__(self, name: str, client: httpx.AsyncClient) -> None:
        self.name = name
        self.client = client


def _pool(records: int, opened: list[httpx.AsyncClient]) -> ProviderPool:
    def open_client() -> httpx.AsyncClient:
        client = httpx.AsyncClient()
        opened.append(client)
        return client

    def build(name: str, client: httpx.AsyncClient) -> PayoutProvider:
        adapter: PayoutProvider = _Adapter(name, client)  # type: ignore[assignment]
        return adapter

    return ProviderPool(build, open_client, records)


def test_pool_opens_one_client_for_every_adapter_and_closes_it_after_the_last_record() -> None:
    opened: list[httpx.AsyncClient] = []

    async def invocation() -> None:
        pool = _pool(3, opened)
        first, second = pool.provider("gateway_v2"), pool.provider("pg_v2")
        again = pool.provider("gateway_v2")
        assert again is first
        assert first.client is second.client  # type: ignore[attr-defined]
        await pool.record_done()
        await pool.record_done()
        assert pool.is_open
        await pool.record_done()
        assert not pool.is_open

    asyncio.run(invocation())

    assert len(opened) == 1
    assert opened[0].is_closed


def test_pool_never_opens_a_client_when_no_record_needs_a_provider() -> None:
    opened: list[httpx.AsyncClient] = []

    async def invocation() -> None:
        pool = _pool(2, opened)
        await pool.record_done()
        await pool.record_done()

    asyncio.run(invocation())

    assert opened == []


# --- the dead letter ------------------------------------------------------------------------------


def test_dead_letter_carries_the_original_body_the_reason_and_the_message_id() -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    long_reason = "amount.value: must be > 0; " * 100
    with Stubber(client) as stub:
        stub.add_response(
            "send_message",
            {"MessageId": "dlq-1"},
            {
                "QueueUrl": DLQ_URL,
                "MessageBody": '{"payout_id": "PO-1"',
                "MessageAttributes": {
                    "rejection_reason": {
                        "DataType": "String",
                        "StringValue": truncate(long_reason, MAX_REASON_CHARS),
                    },
                    "source_message_id": {"DataType": "String", "StringValue": "m-1"},
                },
            },
        )

        SqsDeadLetters(client, DLQ_URL).send(
            IntakeMessage("m-1", '{"payout_id": "PO-1"'), long_reason
        )

        stub.assert_no_pending_responses()


def test_a_dead_letter_that_cannot_be_sent_raises() -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("send_message", "AWS.SimpleQueueService.NonExistentQueue")

        with pytest.raises(client.exceptions.ClientError):
            SqsDeadLetters(client, DLQ_URL).send(IntakeMessage("m-2", "{}"), "bad")
