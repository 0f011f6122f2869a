"""The reconcile functions' settings: safe defaults, environment parsing, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind
from payouts.services.submission import outcome_status
from payouts.settings import SettingsError, load
from payouts.settings.find_due import FindDueSettings
from payouts.settings.reconcile import ReconcileSettings

BASE = {"ORDERS_TABLE": "orders", "CALLBACK_BASE_URL": "https://callbacks.example.test/prod"}


def test_defaults_follow_the_design() -> None:
    settings = load(ReconcileSettings, BASE)

    assert settings.backoff_seconds == (15, 30, 60, 120, 300, 900, 3600)
    assert settings.backoff_jitter == 0.1
    assert settings.deadline == timedelta(hours=24)
    assert settings.stale_submitting_after == timedelta(seconds=120)
    assert settings.not_found_grace == timedelta(minutes=10)
    assert settings.not_found_policy == {"pg_v2": "resend", "gateway_v2": "escalate"}
    assert settings.schedule().cap == timedelta(hours=1)


def test_lists_and_policies_arrive_as_json_strings() -> None:
    settings = load(
        ReconcileSettings,
        {
            **BASE,
            "BACKOFF_SECONDS": "[1, 2, 4]",
            "NOT_FOUND_POLICY": '{"pg_v2": "escalate"}',
            "RECONCILE_DEADLINE_SECONDS": "3600",
        },
    )

    assert settings.schedule().steps == tuple(timedelta(seconds=s) for s in (1, 2, 4))
    assert settings.not_found_policy == {"pg_v2": "escalate"}
    assert settings.deadline == timedelta(hours=1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BACKOFF_SECONDS", "[30, 15]"),
        ("BACKOFF_SECONDS", "[]"),
        ("NOT_FOUND_POLICY", '{"pg_v2": "guess"}'),
        ("STALE_SUBMITTING_SECONDS", "5"),
        ("BACKOFF_JITTER", "1.5"),
    ],
)
def test_a_setting_that_makes_no_sense_stops_the_function(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(ReconcileSettings, {**BASE, name: value})


def test_the_table_is_required() -> None:
    with pytest.raises(SettingsError, match="ORDERS_TABLE"):
        load(FindDueSettings, {})


def test_find_due_capacity_is_batches_times_batch_size() -> None:
    settings = load(
        FindDueSettings,
        {
            "ORDERS_TABLE": "orders",
            "RECONCILE_BATCH_SIZE": "5",
            "RECONCILE_BATCHES_PER_ITERATION": "3",
        },
    )

    assert settings.capacity == 15
    assert settings.lease_margin == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("kind", "previously_sent", "expected"),
    [
        (CreateKind.ACCEPTED, False, OrderStatus.SUBMITTED),
        (CreateKind.ACCEPTED, True, OrderStatus.SUBMITTED),
        (CreateKind.REJECTED, False, OrderStatus.REJECTED),
        (CreateKind.REJECTED, True, OrderStatus.REJECTED),
        (CreateKind.DUPLICATE, True, OrderStatus.UNKNOWN),
        (CreateKind.AMBIGUOUS, False, OrderStatus.UNKNOWN),
        (CreateKind.AMBIGUOUS, True, OrderStatus.UNKNOWN),
        (CreateKind.NOT_SENT, False, OrderStatus.RECEIVED),
        # A re-send that never left does not make the earlier, unknown create known.
        (CreateKind.NOT_SENT, True, OrderStatus.UNKNOWN),
    ],
)
def test_a_create_outcome_moves_the_order_as_intake_does(
    kind: CreateKind, previously_sent: bool, expected: OrderStatus
) -> None:
    assert outcome_status(kind, previously_sent=previously_sent) is expected
