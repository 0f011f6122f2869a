"""pg_v2 callbacks through the real handler: their signing is not documented, so by default a
callback only makes us query the order (against the provider sandbox on loopback) and the
query's answer is applied, never the payload's. Signed timestamps outside the window are 401."""

from __future__ import annotations

import json
from datetime import timedelta
from types import ModuleType

import pytest

from payouts.domain.order import EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts_tools.apigw_events import (
    PG_AMOUNT_MINOR,
    PG_PAYOUT_ID,
    SAMPLE_TIME,
    callback_event,
    load_event,
    notify_url,
    pg_callback_body,
    pg_headers,
)
from payouts_tools.sandbox import Outcome, Provider, Sandbox
from tests.integration.callbacks.callback_support import (
    callback_evidence,
    create_at_sandbox,
    invoke,
    printed_metrics,
    snapshot,
    submitted_order,
)
from tests.integration.callbacks.conftest import NOW, Aws

S = OrderStatus
ACK = '{"code":"OK"}'
JSON = {"Content-Type": "application/json"}
SEEDED_AT = SAMPLE_TIME - timedelta(minutes=1)


def _seed(aws: Aws, provider_order_id: str | None, value: int = PG_AMOUNT_MINOR) -> Order:
    return submitted_order(
        aws.store,
        PG_PAYOUT_ID,
        method="UPI",
        value=value,
        provider="pg_v2",
        provider_order_id=provider_order_id,
        now=SEEDED_AT,
    )


@pytest.fixture
def at_sandbox(
    aws: Aws, sandbox: Sandbox, provider_env: pytest.MonkeyPatch, handler: ModuleType
) -> Order:
    """The sample events' order, created at the sandbox (settles on its first query) and
    SUBMITTED here; the handler queries the sandbox."""
    provider_env.setenv("PG_V2_BASE_URL", sandbox.base_url)
    order = _seed(aws, provider_order_id=None)
    create_at_sandbox(sandbox, order, notify_url("pg_v2"))
    return order


def _queries(sandbox: Sandbox) -> int:
    return sum(view.queries for view in sandbox.orders() if view.merchant_no == PG_PAYOUT_ID)


# ---- confirmed by query ------------------------------------------------------------------------


def test_a_valid_callback_is_confirmed_by_query_and_the_querys_answer_applied(
    handler: ModuleType,
    aws: Aws,
    sandbox: Sandbox,
    at_sandbox: Order,
    capfd: pytest.CaptureFixture[str],
) -> None:
    answer = invoke(handler, load_event("pg_v2-valid"))

    assert (answer.status, answer.body, answer.content_type) == (200, ACK, "application/json")
    stored = aws.store.get(PG_PAYOUT_ID)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert _queries(sandbox) == 1
    [evidence] = callback_evidence(aws.store, PG_PAYOUT_ID)
    assert (evidence.kind, evidence.to_status) == (EvidenceKind.CALLBACK, S.SUCCEEDED)
    assert evidence.detail["trusted"] is False
    assert evidence.detail["applied"] == "query"
    query = evidence.detail["query"]
    assert isinstance(query, dict)
    assert query["kind"] == "SUCCEEDED"
    assert evidence.detail["signed_at"] == SAMPLE_TIME.isoformat()
    metrics = printed_metrics(capfd.readouterr().out)
    assert metrics.get("CallbackConfirmedByQuery") == 1
    assert metrics.get("CallbackApplied") == 1


def test_a_paid_payload_is_not_applied_while_the_provider_says_pending(
    handler: ModuleType, aws: Aws, sandbox: Sandbox, at_sandbox: Order
) -> None:
    sandbox.script(Provider.PG_V2, PG_PAYOUT_ID, Outcome.SUCCESS, after_queries=5)

    answer = invoke(handler, load_event("pg_v2-valid"))

    assert (answer.status, answer.body) == (200, ACK)
    stored = aws.store.get(PG_PAYOUT_ID)
    assert stored is not None
    assert stored.status is S.SUBMITTED
    [evidence] = callback_evidence(aws.store, PG_PAYOUT_ID)
    assert evidence.detail["reported"] == {
        "kind": "SUCCEEDED",
        "merchant_order_id": PG_PAYOUT_ID,
        "amount_minor": PG_AMOUNT_MINOR,
        "currency": "INR",
    }
    query = evidence.detail["query"]
    assert isinstance(query, dict)
    assert query["kind"] == "PENDING"


def test_a_failed_payload_loses_to_a_query_that_says_paid(
    handler: ModuleType, aws: Aws, at_sandbox: Order
) -> None:
    body = pg_callback_body(status="FAILED", error_code="Payout.Common.Rejected")

    answer = invoke(handler, callback_event("pg_v2", body, pg_headers(body)))

    assert answer.status == 200
    stored = aws.store.get(PG_PAYOUT_ID)
    assert stored is not None
    assert stored.status is S.SUCCEEDED


def test_an_unsigned_callback_only_triggers_the_query(
    handler: ModuleType, aws: Aws, sandbox: Sandbox, at_sandbox: Order
) -> None:
    body = pg_callback_body(status="FAILED")

    answer = invoke(handler, callback_event("pg_v2", body, JSON))

    assert answer.status == 200
    stored = aws.store.get(PG_PAYOUT_ID)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    assert _queries(sandbox) == 1


def test_a_query_reporting_another_amount_is_escalated_not_applied(
    handler: ModuleType, aws: Aws, sandbox: Sandbox, provider_env: pytest.MonkeyPatch
) -> None:
    provider_env.setenv("PG_V2_BASE_URL", sandbox.base_url)
    ours = _seed(aws, provider_order_id=None)
    # The provider holds the order with another amount than ours (as if it changed it).
    create_at_sandbox(
        sandbox,
        ours.model_copy(
            update={
                "request": ours.request.model_copy(
                    update={"amount": ours.request.amount.model_copy(update={"value": 99})}
                )
                if ours.request
                else None
            }
        ),
        notify_url("pg_v2"),
    )

    answer = invoke(handler, load_event("pg_v2-valid"))

    assert answer.status == 200
    stored = aws.store.get(PG_PAYOUT_ID)
    assert stored is not None
    assert (stored.status, stored.needs_review) == (S.SUBMITTED, True)
    assert "amount mismatch" in (stored.review_reason or "")


def test_a_provider_that_gives_no_answer_gets_503_and_the_callback_is_kept_once(
    handler: ModuleType, aws: Aws, capfd: pytest.CaptureFixture[str]
) -> None:
    order = _seed(aws, provider_order_id="20261122080000000000000000000001")
    event = load_event("pg_v2-valid")

    first = invoke(handler, event)
    second = invoke(handler, event)

    # The retry comes within the query window: no second query, and acknowledged, since the
    # order is unresolved and the reconcile loop polls it anyway.
    assert (first.status, second.status) == (503, 200)
    assert aws.store.get(PG_PAYOUT_ID) == order
    [evidence] = callback_evidence(aws.store, PG_PAYOUT_ID)
    query = evidence.detail["query"]
    assert isinstance(query, dict)
    assert (query["kind"], query["transport"]) == ("UNKNOWN", "connect_error")
    metrics = printed_metrics(capfd.readouterr().out)
    assert metrics.get("CallbackConfirmUnavailable") == 1
    assert metrics.get("CallbackQuerySkipped") == 1


# ---- per-provider trust -------------------------------------------------------------------------


def test_a_merchant_who_trusts_signed_callbacks_applies_them_without_a_query(
    handler: ModuleType, aws: Aws, provider_env: pytest.MonkeyPatch
) -> None:
    provider_env.setenv("PG_V2_OPTIONS", json.dumps({"trust_signed_callbacks": True}))
    _seed(aws, provider_order_id="20261122080000000000000000000001")

    # The provider is unreachable: only the payload can have settled the order.
    answer = invoke(handler, load_event("pg_v2-valid"))

    assert answer.status == 200
    stored = aws.store.get(PG_PAYOUT_ID)
    assert stored is not None
    assert stored.status is S.SUCCEEDED
    [evidence] = callback_evidence(aws.store, PG_PAYOUT_ID)
    assert (evidence.detail["trusted"], evidence.detail["applied"]) == (True, "callback")


def test_the_operator_switch_confirms_even_trusted_callbacks_by_query(
    handler: ModuleType, aws: Aws, provider_env: pytest.MonkeyPatch
) -> None:
    provider_env.setenv("PG_V2_OPTIONS", json.dumps({"trust_signed_callbacks": True}))
    provider_env.setenv("CALLBACK_CONFIRM_BY_QUERY", json.dumps(["pg_v2"]))
    order = _seed(aws, provider_order_id="20261122080000000000000000000001")

    answer = invoke(handler, load_event("pg_v2-valid"))

    assert answer.status == 503
    assert aws.store.get(PG_PAYOUT_ID) == order


def test_when_signatures_are_required_an_unsigned_callback_is_401(
    handler: ModuleType, aws: Aws, provider_env: pytest.MonkeyPatch
) -> None:
    provider_env.setenv("PG_V2_OPTIONS", json.dumps({"callback_signature": "require"}))
    _seed(aws, provider_order_id=None)
    before = snapshot(aws.store, PG_PAYOUT_ID)
    body = pg_callback_body()

    answer = invoke(handler, callback_event("pg_v2", body, JSON))

    assert answer.status == 401
    assert snapshot(aws.store, PG_PAYOUT_ID) == before


# ---- refused: nothing written, nothing queried -------------------------------------------------


@pytest.mark.parametrize(
    ("stem_or_case", "metric"),
    [
        ("pg_v2-tampered", "CallbackSignatureRejected"),
        ("pg_v2-replayed", "CallbackReplayRejected"),
        ("wrong key", "CallbackSignatureRejected"),
        ("signed for another URL", "CallbackSignatureRejected"),
        ("signed in the future", "CallbackReplayRejected"),
    ],
)
def test_a_forged_or_replayed_callback_is_401_and_changes_nothing(
    *,
    handler: ModuleType,
    aws: Aws,
    sandbox: Sandbox,
    at_sandbox: Order,
    stem_or_case: str,
    metric: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    body = pg_callback_body()
    events = {
        "wrong key": lambda: callback_event(
            "pg_v2", body, pg_headers(body, app_secret="test-app-secret-not-secret")
        ),
        "signed for another URL": lambda: callback_event(
            "pg_v2", body, pg_headers(body, url="https://elsewhere.example/callbacks/pg_v2")
        ),
        "signed in the future": lambda: callback_event(
            "pg_v2", body, pg_headers(body, signed_at=NOW + timedelta(minutes=6))
        ),
    }
    event = events[stem_or_case]() if stem_or_case in events else load_event(stem_or_case)
    before = snapshot(aws.store, PG_PAYOUT_ID)

    answer = invoke(handler, event)

    assert answer.status == 401
    assert answer.json() == {"message": "callback signature rejected"}
    assert snapshot(aws.store, PG_PAYOUT_ID) == before
    assert _queries(sandbox) == 0
    assert printed_metrics(capfd.readouterr().out).get(metric) == 1


def test_a_callback_signed_inside_the_window_is_accepted(
    handler: ModuleType, aws: Aws, at_sandbox: Order
) -> None:
    body = pg_callback_body()
    headers = pg_headers(body, signed_at=NOW - timedelta(seconds=299))

    answer = invoke(handler, callback_event("pg_v2", body, headers))

    assert answer.status == 200


def test_a_callback_for_an_unknown_order_is_404_and_queries_nothing(
    handler: ModuleType, aws: Aws, sandbox: Sandbox, provider_env: pytest.MonkeyPatch
) -> None:
    provider_env.setenv("PG_V2_BASE_URL", sandbox.base_url)

    answer = invoke(handler, load_event("pg_v2-valid"))

    assert answer.status == 404
    assert aws.store.get(PG_PAYOUT_ID) is None
    assert aws.store.history(PG_PAYOUT_ID) == []
    assert _queries(sandbox) == 0
