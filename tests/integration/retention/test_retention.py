"""Retention: a terminal order's personal data is replaced by its masked form after the retention
period, and nothing that matters for money changes: status, amount, ids, fingerprint, evidence.
A duplicate of the request after erasure is still the same request, and is never paid twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Final

import pytest

from payouts.domain.erasure import ErasedRequest
from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, CreateOutcome, RawExchange
from payouts.providers.routing import Router
from payouts.services.intake import Disposition, Intake, IntakeMessage, IntakeTimings
from payouts.services.retention import erase_due, erase_order
from payouts.services.status_events import stream_events
from payouts.settings.base import DEFAULT_ROUTES
from payouts.store import Applied, Stale
from payouts.store.codec import order_to_item
from payouts.store.orders import SweepPosition
from payouts_tools.local.moto_lambda import InvocationContext
from tests.integration.fuzz.harness import InlineExecutor
from tests.integration.retention.conftest import Table
from tests.support.handlers import load_handler
from tests.support.orders import BENEFICIARIES, T0, make_request, request_document
from tests.support.provider_states import open_gate

S = OrderStatus
RETENTION: Final = timedelta(days=180)
DAY: Final = timedelta(days=1)
# Every personal value the sample beneficiaries carry.
PERSONAL: Final = sorted(
    {
        str(value)
        for beneficiary in BENEFICIARIES.values()
        for name, value in beneficiary.items()
        if name not in {"method", "pix_key_type"} and len(str(value)) > 2
    }
)


def evidence(summary: str, at: datetime) -> Evidence:
    return Evidence(kind=EvidenceKind.TRANSITION, summary=summary, at=at)


def settled(
    table: Table, payout_id: str, method: str, at: datetime, to: OrderStatus = S.SUCCEEDED
) -> Order:
    """An order received, sent and settled (``to``) at ``at``."""
    request = make_request(payout_id, method, 12_345_678)
    created = table.store.create(request, at, at + timedelta(minutes=1))
    order = created.order
    for status in (S.SUBMITTING, S.SUBMITTED, to):
        result = table.store.transition(
            order, status, evidence(f"to {status}", at), at, provider="pg_v2"
        )
        assert isinstance(result, Applied)
        order = result.order
    return order


def raw_text(table: Table, payout_id: str) -> str:
    return json.dumps(table.partition(payout_id), ensure_ascii=False)


@pytest.mark.parametrize("method", sorted(BENEFICIARIES))
def test_an_order_terminal_for_the_retention_period_keeps_no_personal_data(
    table: Table, method: str
) -> None:
    before = settled(table, "PO-OLD", method, T0)
    now = T0 + RETENTION + DAY

    run = erase_due(table.store, retention=RETENTION, now=now, limit=10)

    assert (run.erased, run.skipped) == (1, 0)
    after = table.store.get("PO-OLD")
    assert after is not None
    # Nothing that matters for money moved.
    assert after.status is before.status
    assert after.fingerprint == before.fingerprint
    assert after.provider == before.provider
    assert after.version == before.version + 1
    assert after.personal_data_erased_at == now
    assert isinstance(after.request, ErasedRequest)
    assert after.request.amount == make_request("PO-OLD", method, 12_345_678).amount
    assert after.request.method == method
    # Nowhere in the partition (order, index attributes, evidence) is a personal value in clear.
    stored = raw_text(table, "PO-OLD")
    for value in PERSONAL:
        assert value not in stored, value
    erasure = table.store.history("PO-OLD")[-1]
    assert erasure.kind is EvidenceKind.ERASURE
    assert erasure.detail["fingerprint"] == before.fingerprint
    assert erasure.detail["retention_days"] == 180
    # An erased order leaves the index: the next run reads nothing.
    assert table.store.erasable(now, 10).payout_ids == []


def test_only_orders_terminal_and_unchanged_for_the_whole_period_are_erased(
    table: Table,
) -> None:
    settled(table, "PO-DUE", "UPI", T0)
    settled(table, "PO-YOUNG", "UPI", T0 + 2 * DAY)
    table.store.create(make_request("PO-OPEN", "UPI"), T0 - 400 * DAY, T0)  # never terminal
    now = T0 + RETENTION + DAY

    run = erase_due(table.store, retention=RETENTION, now=now, limit=10)

    assert run.erased == 1
    erased = {
        payout_id
        for payout_id in ("PO-DUE", "PO-YOUNG", "PO-OPEN")
        if (order := table.store.get(payout_id)) and order.personal_data_erased_at is not None
    }
    assert erased == {"PO-DUE"}
    assert "payee@okbank" in raw_text(table, "PO-YOUNG")
    assert "payee@okbank" in raw_text(table, "PO-OPEN")


def order_item(table: Table, payout_id: str) -> dict[str, Any]:
    (item,) = [i for i in table.partition(payout_id) if i["SK"]["S"] == "ORDER"]
    return item


def test_a_payout_settled_the_day_it_was_created_writes_no_erasable_entry_and_is_swept(
    table: Table,
) -> None:
    settled(table, "PO-1", "UPI", T0)
    assert "erase_pk" not in order_item(table, "PO-1")  # one index write fewer per payout

    # Not before the retention period (plus the sweep's one-day margin) ...
    early = erase_due(table.store, retention=RETENTION, now=T0 + RETENTION, limit=10)
    run = erase_due(table.store, retention=RETENTION, now=T0 + RETENTION + DAY, limit=10)

    assert early.erased == 0
    assert run.erased == 1
    order = table.store.get("PO-1")
    assert order is not None
    assert order.personal_data_erased_at == T0 + RETENTION + DAY


def test_an_order_still_open_when_the_sweep_passes_is_erased_once_it_settles(
    table: Table,
) -> None:
    # Created long before it settles: the sweep passes it by while it is open, and the change
    # that settles it (late) lists it in the erasable index.
    open_order = table.store.create(make_request("PO-SLOW", "UPI"), T0, T0 + DAY).order
    passing = T0 + RETENTION + 2 * DAY
    assert erase_due(table.store, retention=RETENTION, now=passing, limit=10).erased == 0
    assert table.store.sweep_position() is not None
    settled_at = passing + DAY
    order = open_order
    for status in (S.SUBMITTING, S.SUBMITTED, S.FAILED):
        result = table.store.transition(
            order, status, evidence(f"to {status}", settled_at), settled_at, provider="pg_v2"
        )
        assert isinstance(result, Applied)
        order = result.order
    assert "erase_pk" in order_item(table, "PO-SLOW")

    kept = erase_due(table.store, retention=RETENTION, now=settled_at + DAY, limit=10)
    run = erase_due(table.store, retention=RETENTION, now=settled_at + RETENTION, limit=10)

    assert kept.erased == 0
    assert run.erased == 1
    assert "payee@okbank" not in raw_text(table, "PO-SLOW")


def test_each_run_sweeps_on_from_where_the_last_one_stopped(table: Table) -> None:
    for hour in range(6):
        settled(table, f"PO-{hour}", "PIX", T0 + timedelta(hours=hour))
    # The sweep reaches orders created up to now - retention - 1 day: 3 hours' worth, then 3.
    first = erase_due(
        table.store, retention=RETENTION, now=T0 + RETENTION + DAY + timedelta(hours=2), limit=10
    )
    second = erase_due(
        table.store, retention=RETENTION, now=T0 + RETENTION + DAY + timedelta(hours=9), limit=10
    )

    assert (first.erased, first.skipped) == (3, 0)
    assert (second.erased, second.skipped) == (3, 0)  # the first three not looked at again


def test_a_failed_erasure_keeps_the_sweeps_progress_up_to_the_order_that_failed(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    for minute in range(4):
        settled(table, f"PO-{minute}", "UPI", T0 + timedelta(minutes=minute))
    now = T0 + RETENTION + 2 * DAY
    real_erase = table.store.erase
    calls = 0

    def third_throttled(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("throttled past the retries")
        return real_erase(*args, **kwargs)

    monkeypatch.setattr(table.store, "erase", third_throttled)
    with pytest.raises(RuntimeError, match="throttled"):
        erase_due(table.store, retention=RETENTION, now=now, limit=10)

    assert table.store.sweep_position() == SweepPosition(T0 + timedelta(minutes=1), "PO-1")
    monkeypatch.setattr(table.store, "erase", real_erase)
    run = erase_due(table.store, retention=RETENTION, now=now, limit=10)
    assert (run.erased, run.skipped) == (2, 0)  # the first two are not read again
    for minute in range(4):
        order = table.store.get(f"PO-{minute}")
        assert order is not None
        assert order.personal_data_erased_at is not None


def test_a_later_change_restarts_the_period(table: Table) -> None:
    order = settled(table, "PO-1", "BANK_ACCOUNT", T0)
    reviewed = table.store.update(order, T0 + 100 * DAY, needs_review=True, review_reason="x")
    assert isinstance(reviewed, Applied)

    run = erase_due(table.store, retention=RETENTION, now=T0 + RETENTION + DAY, limit=10)

    assert run.erased == 0
    later = T0 + 100 * DAY + RETENTION + DAY
    assert erase_due(table.store, retention=RETENTION, now=later, limit=10).erased == 1


def test_an_order_changed_after_it_was_read_is_not_erased_then_but_on_a_later_run(
    table: Table,
) -> None:
    stale_copy = settled(table, "PO-1", "PIX", T0)
    moved = table.store.transition(stale_copy, S.REVERSED, evidence("returned", T0 + DAY), T0 + DAY)
    assert isinstance(moved, Applied)

    result = erase_order(table.store, stale_copy, RETENTION, T0 + RETENTION + 2 * DAY)

    assert isinstance(result, Stale)
    current = table.store.get("PO-1")
    assert current is not None
    assert current.status is S.REVERSED
    assert current.personal_data_erased_at is None
    run = erase_due(table.store, retention=RETENTION, now=T0 + RETENTION + 2 * DAY, limit=10)
    assert run.erased == 1


def test_erasure_never_erases_a_second_time_and_a_reversal_after_it_keeps_it_erased(
    table: Table,
) -> None:
    settled(table, "PO-1", "UPI", T0)
    now = T0 + RETENTION + DAY
    erase_due(table.store, retention=RETENTION, now=now, limit=10)
    erased = table.store.get("PO-1")
    assert erased is not None

    reversed_ = table.store.transition(erased, S.REVERSED, evidence("returned", now), now)

    assert isinstance(reversed_, Applied)
    again = table.store.get("PO-1")
    assert again is not None
    assert again.status is S.REVERSED
    assert again.request == erased.request
    later = now + RETENTION + DAY
    assert erase_due(table.store, retention=RETENTION, now=later, limit=10).erased == 0
    assert "payee@okbank" not in raw_text(table, "PO-1")


def test_an_invalid_requests_excerpt_stored_in_clear_is_masked_by_erasure(table: Table) -> None:
    # An excerpt as stored before masking went by shape (the beneficiary under "Beneficiary").
    document = request_document("PO-BAD", "BANK_ACCOUNT")
    document["Beneficiary"] = document.pop("beneficiary")
    table.store.create_rejected("PO-BAD", "beneficiary: missing", json.dumps(document), T0)

    run = erase_due(table.store, retention=RETENTION, now=T0 + RETENTION + DAY, limit=10)

    assert run.erased == 1
    order = table.store.get("PO-BAD")
    assert order is not None
    assert order.status is S.REJECTED
    assert order.request is None
    stored = raw_text(table, "PO-BAD")
    for value in ("001234567890", "Test Payee", "HDFC0001234"):
        assert value not in stored
    assert '"payout_id": "PO-BAD"' in str(order.invalid_request)


def test_erasure_publishes_no_status_event() -> None:
    order = settled_in_memory()
    erased = order.model_copy(
        update={
            "request": ErasedRequest.model_validate(
                {
                    "payout_id": order.payout_id,
                    "amount": {"value": 1, "currency": "INR"},
                    "beneficiary": {"method": "UPI", "fields": {"vpa": "**********nk"}},
                }
            ),
            "version": order.version + 1,
            "personal_data_erased_at": T0 + RETENTION,
        }
    )
    record = {
        "eventName": "MODIFY",
        "dynamodb": {
            "Keys": {"PK": {"S": "PAYOUT#PO-1"}, "SK": {"S": "ORDER"}},
            "OldImage": order_to_item(order),
            "NewImage": order_to_item(erased),
        },
    }

    assert stream_events(record) == []


def settled_in_memory() -> Order:
    request = make_request("PO-1", "UPI")
    return Order(
        payout_id="PO-1",
        request=request,
        fingerprint="f" * 64,
        status=S.SUCCEEDED,
        version=4,
        created_at=T0,
        updated_at=T0,
    )


# ---- a duplicate after erasure is still a duplicate ----------------------------------------------


class CountingProvider:
    def __init__(self, name: str) -> None:
        self.name = name
        self.creates: Counter[str] = Counter()

    async def create(self, order: Order) -> CreateOutcome:
        self.creates[order.payout_id] += 1
        return CreateOutcome(CreateKind.ACCEPTED, "accepted", RawExchange("ok", 200), "P-1")


class Providers:
    def __init__(self) -> None:
        self.pg_v2 = CountingProvider("pg_v2")

    def provider(self, name: str) -> CountingProvider:
        assert name == "pg_v2"
        return self.pg_v2


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def send(self, message: IntakeMessage, reason: str) -> None:
        self.reasons.append(reason)


def deliver(table: Table, body: str, now: datetime) -> tuple[Disposition, Providers, DeadLetters]:
    providers, dead_letters = Providers(), DeadLetters()
    intake = Intake(
        store=table.store,
        router=Router(dict(DEFAULT_ROUTES)),
        providers=providers,
        dead_letters=dead_letters,
        timings=IntakeTimings(
            received_grace=timedelta(hours=1),
            stale_submitting_after=timedelta(minutes=5),
            submitted_first_check=timedelta(minutes=1),
            unknown_first_check=timedelta(seconds=5),
        ),
        gate=open_gate(lambda: now),
        clock=lambda: now,
        count=lambda _: None,
        threads=InlineExecutor(),
    )
    disposition = asyncio.run(intake.handle(IntakeMessage("m-late", body)))
    return disposition, providers, dead_letters


def test_a_duplicate_of_the_request_after_erasure_is_not_paid_again(table: Table) -> None:
    settled(table, "PO-1", "BANK_ACCOUNT", T0)
    now = T0 + RETENTION + DAY
    erase_due(table.store, retention=RETENTION, now=now, limit=10)
    original = json.dumps(request_document("PO-1", "BANK_ACCOUNT", 12_345_678))

    disposition, providers, dead_letters = deliver(table, original, now + DAY)

    assert disposition is Disposition.DUPLICATE_DELIVERY
    assert providers.pg_v2.creates == Counter()
    assert dead_letters.reasons == []


def test_a_different_request_under_an_erased_orders_id_is_still_a_conflict(table: Table) -> None:
    settled(table, "PO-1", "BANK_ACCOUNT", T0)
    now = T0 + RETENTION + DAY
    erase_due(table.store, retention=RETENTION, now=now, limit=10)
    different = json.dumps(request_document("PO-1", "BANK_ACCOUNT", 999))

    disposition, providers, dead_letters = deliver(table, different, now + DAY)

    assert disposition is Disposition.CONFLICT
    assert providers.pg_v2.creates == Counter()
    assert len(dead_letters.reasons) == 1


# ---- the function --------------------------------------------------------------------------------


def test_the_handler_erases_everything_due_in_passes_of_its_batch_size(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(7):
        settled(table, f"PO-{number}", "PIX", T0 + number * timedelta(minutes=1))
    settled(table, "PO-YOUNG", "PIX", T0 + 30 * DAY)
    monkeypatch.setenv("ORDERS_TABLE", table.name)
    monkeypatch.setenv("PERSONAL_DATA_RETENTION_DAYS", "180")
    monkeypatch.setenv("ERASURE_BATCH_SIZE", "3")
    module: Any = load_handler("retention")
    monkeypatch.setattr(module, "dynamodb", lambda: table.client)
    # A day after the retention period of the last of the seven (the sweep's margin).
    monkeypatch.setattr(module, "now", lambda: T0 + RETENTION + 2 * DAY)
    context = InvocationContext(
        function_name="retention",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:retention",
    )

    answer = module.lambda_handler({}, context)

    assert answer == {"erased": 7, "skipped": 0, "more": False}
    young = table.store.get("PO-YOUNG")
    assert young is not None
    assert young.personal_data_erased_at is None
