"""A NOT_FOUND answer is believed only after a grace that outlasts any create still on its way.

After an unknown create the reconcile loop queries at once, and a provider that has not yet
processed a slow create answers "no such order". Until the sender has given up on it (the create
budget, plus the clock margin), that answer proves nothing: escalating (gateway_v2) or re-sending
(pg_v2) then is premature. The local stack once used a 5 s grace against a 12 s budget, and a
busy machine escalated an order no fault had touched (`payouts demo --count 1000 --faults none`).
"""

from __future__ import annotations

from typing import Any

import pytest

from payouts.settings import load
from payouts.settings.intake import IntakeSettings
from payouts.settings.reconcile import ReconcileSettings
from payouts_tools.local.stack import LOCAL_TIMINGS
from tests.support.cfn import load_template, resource

CLOCK_MARGIN_SECONDS = 10  # IntakeTimings.clock_margin
REQUIRED = {
    "ORDERS_TABLE": "orders",
    "PAYOUT_DLQ_URL": "https://sqs.invalid/dlq",
    "CALLBACK_BASE_URL": "https://callbacks.invalid",
}


def _environment(logical_id: str) -> dict[str, str]:
    template = load_template()
    variables: dict[str, Any] = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **resource(template, logical_id)["Properties"]["Environment"]["Variables"],
    }
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def _grace_and_budget(intake_env: dict[str, str], reconcile_env: dict[str, str]) -> tuple[int, int]:
    intake = load(IntakeSettings, {**REQUIRED, **intake_env})
    reconcile = load(ReconcileSettings, {**REQUIRED, **reconcile_env})
    return reconcile.not_found_grace_seconds, intake.create_budget_seconds


@pytest.mark.parametrize("where", ["template", "local stack"])
def test_not_found_is_believed_only_after_every_create_could_have_landed(where: str) -> None:
    if where == "template":
        envs = _environment("IntakeFunction"), _environment("ReconcileFunction")
    else:
        envs = dict(LOCAL_TIMINGS), dict(LOCAL_TIMINGS)
    grace, budget = _grace_and_budget(*envs)

    assert grace >= budget + CLOCK_MARGIN_SECONDS
