"""template.yaml's part of pausing providers and watching balances: the breaker's alarm and
parameters, the gate's settings and table rights in both functions that send creates, the
provider events on the stream, and the balance check with one low-balance alarm per provider
and currency whose threshold is a parameter."""

from __future__ import annotations

from typing import Any

import pytest

from payouts.services.balances import METRIC_AVAILABLE
from payouts.services.provider_gate import METRIC_BREAKER_TRIPPED
from payouts.settings.intake import IntakeSettings
from payouts.settings.provider_gate import ProviderGateSettings
from payouts.settings.reconcile import ReconcileSettings
from payouts.store import keys
from tests.support.cfn import Template, load_template, resource

SENDERS = ("IntakeFunction", "ReconcileFunction")
# Every (provider, currency) a default route pays in.
PAID_IN = {("gateway_v2", "CNY"), ("pg_v2", "INR"), ("pg_v2", "BRL")}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def _alarms(template: Template, metric: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: body["Properties"]
        for logical_id, body in template["Resources"].items()
        if body["Type"] == "AWS::CloudWatch::Alarm"
        and body["Properties"].get("MetricName") == metric
    }


def _dimensions(properties: dict[str, Any]) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in properties["Dimensions"]}


def test_one_low_balance_alarm_per_provider_and_currency_with_a_parameter_threshold(
    template: Template,
) -> None:
    alarms = _alarms(template, METRIC_AVAILABLE)
    by_pair = {(_dimensions(p)["provider"], _dimensions(p)["currency"]): p for p in alarms.values()}

    assert set(by_pair) == PAID_IN
    thresholds = set()
    for properties in by_pair.values():
        assert _dimensions(properties)["service"] == "payouts"
        assert properties["ComparisonOperator"] == "LessThanThreshold"
        # A balance that is not published at all (the check or the endpoint failing) alarms too.
        assert properties["TreatMissingData"] == "breaching"
        parameter = properties["Threshold"]["Ref"]
        assert template["Parameters"][parameter]["Type"] == "Number"
        thresholds.add(parameter)
    assert len(thresholds) == len(PAID_IN)


def test_the_balance_check_runs_on_its_own_schedule_with_secret_rights_only(
    template: Template,
) -> None:
    properties = resource(template, "BalanceCheckFunction")["Properties"]

    schedule = properties["Events"]["Schedule"]
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "BalanceCheckScheduleRate"}
    policies = str(properties["Policies"])
    assert "dynamodb" not in policies
    assert "AWSSecretsManagerGetSecretValuePolicy" in policies


def test_the_breaker_trip_pages_at_once(template: Template) -> None:
    (properties,) = _alarms(template, METRIC_BREAKER_TRIPPED).values()

    assert properties["Threshold"] == 0
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("function", SENDERS)
def test_both_senders_configure_the_gate_alike(template: Template, function: str) -> None:
    variables = resource(template, function)["Properties"]["Environment"]["Variables"]
    other = resource(template, SENDERS[1 - SENDERS.index(function)])["Properties"]
    gate_names = {name.upper() for name in ProviderGateSettings.model_fields}

    assert gate_names <= set(variables)
    for name in gate_names:
        assert variables[name] == other["Environment"]["Variables"][name]
    assert variables["BREAKER_FAILURES"] == {"Ref": "BreakerFailures"}
    assert variables["BREAKER_WINDOW_SECONDS"] == {"Ref": "BreakerWindowSeconds"}


def test_the_gate_settings_are_read_by_both_senders() -> None:
    for model in (IntakeSettings, ReconcileSettings):
        assert set(ProviderGateSettings.model_fields) <= set(model.model_fields)
    assert "held_sends_per_batch" in ReconcileSettings.model_fields


@pytest.mark.parametrize("function", SENDERS)
def test_both_senders_may_touch_the_provider_items_and_nothing_else_new(
    template: Template, function: str
) -> None:
    statements = [
        statement
        for policy in resource(template, function)["Properties"]["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]
    (gate,) = [s for s in statements if s.get("Sid") == "ProviderGateReadWrite"]

    leading = gate["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert sorted(leading) == sorted([keys.provider_setting_pk("*"), keys.breaker_pk("*")])
    assert sorted(gate["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]


def test_provider_state_writes_reach_the_status_events_function(template: Template) -> None:
    stream = resource(template, "StatusEventsFunction")["Properties"]["Events"]["OrdersStream"]
    patterns = [item["Pattern"] for item in stream["Properties"]["FilterCriteria"]["Filters"]]

    assert any(f'["{keys.SETTING_SK}"]' in pattern for pattern in patterns)
    assert any(f'["{keys.ORDER_SK}"]' in pattern for pattern in patterns)
