"""gateway_v2 callbacks through the real handler (moto DynamoDB and Secrets Manager): signed
payloads are applied; forged, tampered, malformed or misdirected ones change nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from types import ModuleType

import pytest

from payouts.domain.order import EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts_tools.apigw_events import (
    GATEWAY_AMOUNT_MINOR,
    GATEWAY_PAYOUT_ID,
    GATEWAY_PROVIDER_ORDER_ID,
    SAMPLE_TIME,
    SOURCE_IP,
    callback_event,
    event_body,
    gateway_callback_body,
    load_event,
)
from payouts_tools.sandbox.signing import GatewaySignType
from tests.integration.callbacks.callback_support import (
    callback_evidence,
    invoke,
    printed_metrics,
    settled_order,
    snapshot,
    submitted_order,
)
from tests.integration.callbacks.conftest import Aws

S = OrderStatus
ACK = '{"error_code":"0000"}'
JSON_UTF8 = {"Content-Type": "application/json;charset=utf-8"}
SEEDED_AT = SAMPLE_TIME - timedelta(minutes=1)


@pytest.fixture
def order(aws: Aws) -> Order:
    """The sample events' order, SUBMITTED at gateway_v2."""
    return submitted_order(
        aws.store,
        GATEWAY_PAYOUT_ID,
        method="ALIPAY",
        value=GATEWAY_AMOUNT_MINOR,
        provider="gateway_v2",
        provider_order_id=GATEWAY_PROVIDER_ORDER_ID,
        now=SEEDED_AT,
    )


def _event(body: bytes, headers: dict[str, str] | None = None) -> dict[str, object]:
    return callback_event(
        "gateway_v2", body, JSON_UTF8 if headers is None else headers, base64_body=False
    )


# ---- accepted ----------------------------------------------------------------------------------


def test_a_valid_callback_settles_the_order_and_answers_the_exact_ack(
    handler: ModuleType, aws: Aws, order: Order, capfd: pytest.CaptureFixture[str]
) -> None:
    event = load_event("gateway_v2-valid")

    answer = invoke(handler, event)

    assert (answer.status, answer.body, answer.content_type) == (200, ACK, "application/json")
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert stored.version == order.version + 1
    [evidence] = callback_evidence(aws.store, order.payout_id)
    assert evidence.kind is EvidenceKind.CALLBACK
    assert (evidence.from_status, evidence.to_status) == (S.SUBMITTED, S.SUCCEEDED)
    assert evidence.detail["body_sha256"] == hashlib.sha256(event_body(event)).hexdigest()
    assert evidence.detail["source_ip"] == SOURCE_IP
    assert evidence.detail["trusted"] is True
    fields = evidence.detail["fields"]
    assert isinstance(fields, dict)
    assert "sign" not in fields
    assert fields["payout_cl_id"] == GATEWAY_PAYOUT_ID
    assert printed_metrics(capfd.readouterr().out).get("CallbackApplied") == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [(3, S.SUCCEEDED), (4, S.FAILED)],
)
def test_each_documented_final_status_moves_the_order(
    handler: ModuleType, aws: Aws, order: Order, status: int, expected: OrderStatus
) -> None:
    answer = invoke(handler, _event(gateway_callback_body(status=status)))

    assert (answer.status, answer.body) == (200, ACK)
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is expected
    assert stored.needs_review is False


def test_status_5_is_an_assumed_failure_held_until_a_later_answer_confirms_it(
    handler: ModuleType, aws: Aws, order: Order, capfd: pytest.CaptureFixture[str]
) -> None:
    answer = invoke(handler, _event(gateway_callback_body(status=5)))

    assert (answer.status, answer.body) == (200, ACK)
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUBMITTED
    assert stored.failure_reported_at is not None
    assert stored.next_check_at == stored.failure_reported_at + timedelta(seconds=300)
    assert printed_metrics(capfd.readouterr().out).get("CallbackFailureHeld") == 1


def test_a_base64_encoded_body_is_verified_over_its_decoded_bytes(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    event = callback_event("gateway_v2", gateway_callback_body(), JSON_UTF8, base64_body=True)

    answer = invoke(handler, event)

    assert answer.status == 200
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUCCEEDED


def test_an_unknown_merchant_number_falls_back_to_the_providers_own_id(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    body = gateway_callback_body("PO-ECHOED-OTHERWISE")

    answer = invoke(handler, _event(body))

    assert answer.status == 200
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    [evidence] = callback_evidence(aws.store, order.payout_id)
    assert evidence.detail["matched_by"] == "provider_order_id"


# ---- duplicates and order ---------------------------------------------------------------------


def test_a_duplicate_is_acknowledged_without_a_second_transition(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    first = invoke(handler, load_event("gateway_v2-valid"))
    after_first = snapshot(aws.store, order.payout_id)

    again = invoke(handler, load_event("gateway_v2-replayed"))

    assert (first.status, again.status, again.body) == (200, 200, ACK)
    # The same signed bytes again: nothing new to record, nothing to move.
    assert snapshot(aws.store, order.payout_id) == after_first


def test_failed_after_succeeded_is_not_applied_but_escalated(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    settled_order(aws.store, order, S.SUCCEEDED, SEEDED_AT)

    answer = invoke(handler, _event(gateway_callback_body(status=4)))

    assert (answer.status, answer.body) == (200, ACK)
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert stored.needs_review is True
    assert "FAILED" in (stored.review_reason or "")
    [evidence] = callback_evidence(aws.store, order.payout_id)
    assert evidence.kind is EvidenceKind.REVIEW
    assert evidence.to_status is None


def test_pending_after_succeeded_is_ignored_and_recorded(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    succeeded = settled_order(aws.store, order, S.SUCCEEDED, SEEDED_AT)

    answer = invoke(handler, _event(gateway_callback_body(status=1)))

    assert (answer.status, answer.body) == (200, ACK)
    assert aws.store.get(order.payout_id) == succeeded
    [evidence] = callback_evidence(aws.store, order.payout_id)
    assert evidence.kind is EvidenceKind.CALLBACK
    assert evidence.to_status is None


# ---- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reported", [GATEWAY_AMOUNT_MINOR - 1, GATEWAY_AMOUNT_MINOR * 100])
def test_an_amount_mismatch_is_escalated_never_applied(
    handler: ModuleType,
    aws: Aws,
    order: Order,
    reported: int,
    capfd: pytest.CaptureFixture[str],
) -> None:
    answer = invoke(handler, _event(gateway_callback_body(amount_minor=reported)))

    assert (answer.status, answer.body) == (200, ACK)
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUBMITTED
    assert stored.needs_review is True
    assert "amount mismatch" in (stored.review_reason or "")
    assert printed_metrics(capfd.readouterr().out).get("CallbackAmountMismatch") == 1


def test_a_duplicate_success_with_another_amount_is_escalated_too(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    succeeded = settled_order(aws.store, order, S.SUCCEEDED, SEEDED_AT)

    answer = invoke(handler, _event(gateway_callback_body(amount_minor=1)))

    assert answer.status == 200
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert (stored.status, stored.needs_review) == (S.SUCCEEDED, True)
    assert stored.version == succeeded.version + 1


# ---- refused: nothing written ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (event_body(load_event("gateway_v2-tampered")), "tampered amount"),
        (gateway_callback_body(key="test-signing-key-not-secret"), "wrong key"),
        (gateway_callback_body(signed=False), "missing signature"),
        (gateway_callback_body(sign_type=GatewaySignType.MD5), "weaker algorithm than configured"),
    ],
)
def test_a_forged_callback_is_refused_401_and_changes_nothing(
    *,
    handler: ModuleType,
    aws: Aws,
    order: Order,
    body: bytes,
    why: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = snapshot(aws.store, order.payout_id)

    answer = invoke(handler, _event(body))

    assert answer.status == 401, why
    assert answer.json() == {"message": "callback signature rejected"}
    assert snapshot(aws.store, order.payout_id) == before
    assert printed_metrics(capfd.readouterr().out).get("CallbackSignatureRejected") == 1
    [logged] = [
        record for record in caplog.records if record.getMessage() == "callback signature rejected"
    ]
    assert logged.__dict__["source_ip"] == SOURCE_IP
    assert "sign" not in logged.__dict__


def test_the_tampered_sample_event_is_refused(handler: ModuleType, aws: Aws, order: Order) -> None:
    before = snapshot(aws.store, order.payout_id)

    answer = invoke(handler, load_event("gateway_v2-tampered"))

    assert answer.status == 401
    assert snapshot(aws.store, order.payout_id) == before


def test_a_callback_for_an_unknown_order_is_404_and_writes_nothing(
    handler: ModuleType, aws: Aws, capfd: pytest.CaptureFixture[str]
) -> None:
    answer = invoke(handler, load_event("gateway_v2-valid"))

    assert answer.status == 404
    assert snapshot(aws.store, GATEWAY_PAYOUT_ID).order is None
    assert snapshot(aws.store, GATEWAY_PAYOUT_ID).history == []
    assert printed_metrics(capfd.readouterr().out).get("CallbackUnknownOrder") == 1


def test_a_callback_about_an_order_sent_to_another_provider_is_404(
    handler: ModuleType, aws: Aws
) -> None:
    submitted_order(
        aws.store,
        GATEWAY_PAYOUT_ID,
        method="UPI",
        value=GATEWAY_AMOUNT_MINOR,
        provider="pg_v2",
        provider_order_id="PG-1",
        now=SEEDED_AT,
    )
    before = snapshot(aws.store, GATEWAY_PAYOUT_ID)

    answer = invoke(handler, load_event("gateway_v2-valid"))

    assert answer.status == 404
    assert snapshot(aws.store, GATEWAY_PAYOUT_ID) == before


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b'{"payout_cl_id": "PO-CB-GW-1", ', JSON_UTF8, 400, "not a JSON object"),
        (b"[1, 2, 3]", JSON_UTF8, 400, "not a JSON object"),
        (b"", JSON_UTF8, 400, "empty"),
        (b"   \n", JSON_UTF8, 400, "empty"),
        (b"{" + b" " * (64 * 1024) + b"}", JSON_UTF8, 413, "limit is 65536"),
        (gateway_callback_body(), {"Content-Type": "text/plain"}, 415, "text/plain"),
        (gateway_callback_body(), {}, 415, "(none)"),
        # Issue 10: a signed body with a second, unsigned amount; nesting too deep to walk.
        (
            gateway_callback_body().replace(b'{"payout_id"', b'{"amount":1,"payout_id"', 1),
            JSON_UTF8,
            400,
            'duplicate key "amount"',
        ),
        (b'{"a":' + b"[" * 1100 + b"]" * 1100 + b"}", JSON_UTF8, 400, "nested deeper than"),
    ],
)
def test_an_unreadable_request_is_refused_with_a_precise_reason_and_changes_nothing(
    *,
    handler: ModuleType,
    aws: Aws,
    order: Order,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    before = snapshot(aws.store, order.payout_id)

    answer = invoke(handler, _event(body, headers))

    assert answer.status == status
    assert message in answer.json()["message"]
    assert snapshot(aws.store, order.payout_id) == before


def test_a_body_that_is_not_valid_base64_is_400(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    event = _event(gateway_callback_body())
    event.update(body="not*base64!", isBase64Encoded=True)
    before = snapshot(aws.store, order.payout_id)

    answer = invoke(handler, event)

    assert answer.status == 400
    assert snapshot(aws.store, order.payout_id) == before


def test_an_unknown_provider_is_404(handler: ModuleType, aws: Aws, order: Order) -> None:
    event = callback_event("acme_pay", gateway_callback_body(), JSON_UTF8)
    before = snapshot(aws.store, order.payout_id)

    answer = invoke(handler, event)

    assert answer.status == 404
    assert "acme_pay" in answer.json()["message"]
    assert snapshot(aws.store, order.payout_id) == before


# ---- failures are retried ---------------------------------------------------------------------


def test_a_store_failure_answers_500_so_the_provider_retries(
    handler: ModuleType, aws: Aws, order: Order
) -> None:
    aws.client.delete_table(TableName=aws.table_name)  # an outage

    answer = invoke(handler, load_event("gateway_v2-valid"))

    assert answer.status == 500
    assert answer.body != ACK
    assert json.loads(answer.body) == {"message": "callback not processed; retry later"}


def test_the_ack_is_sent_only_after_the_transition_is_stored(
    handler: ModuleType, aws: Aws, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write that fails after the adapter verified the callback must not be acknowledged.
    def refuse(*_: object, **__: object) -> object:
        raise RuntimeError("DynamoDB unavailable")

    # The settling write is one put of the order item (its evidence inside), or a transaction.
    monkeypatch.setattr(aws.client, "transact_write_items", refuse)
    monkeypatch.setattr(aws.client, "put_item", refuse)
    monkeypatch.setattr(handler, "store", lambda: aws.store)

    answer = invoke(handler, load_event("gateway_v2-valid"))

    assert answer.status == 500
    stored = aws.store.get(order.payout_id)
    assert stored is not None
    assert stored.status is S.SUBMITTED


def test_base64_event_body_helper_roundtrips() -> None:
    body = gateway_callback_body()
    encoded = callback_event("gateway_v2", body, JSON_UTF8, base64_body=True)

    assert base64.b64decode(str(encoded["body"])) == body == event_body(encoded)
