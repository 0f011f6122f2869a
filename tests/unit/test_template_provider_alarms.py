"""template.yaml and the provider adapters: the alarm on what they count (an answer whose signature
we cannot verify: the provider then silently stops settling), and their assumptions as deployment
parameters that reach them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from payouts.providers.gateway_v2 import GatewayV2Options
from payouts.providers.pg_v2 import PgV2Options
from payouts.providers.unverified import METRIC_ANSWER_SIGNATURE_INVALID
from payouts.services.reconcile import ReconcilePolicy
from payouts.settings import load
from payouts.settings.base import DEFAULT_ASSUMED_FAILURE_SETTLE_SECONDS
from payouts.settings.reconcile import ReconcileSettings
from tests.support.cfn import Template, load_template, resource

TO_TOPIC = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


@pytest.fixture(scope="module")
def template() -> Template:
    """The project's template.yaml, as CloudFormation reads it."""
    return load_template()


def _alarm(template: Template) -> dict[str, Any]:
    properties: dict[str, Any] = resource(template, "ProviderAnswerSignatureInvalidAlarm")[
        "Properties"
    ]
    return properties


def test_the_first_unverifiable_answer_raises_the_alarm_to_the_optional_topic(
    template: Template,
) -> None:
    alarm = _alarm(template)

    assert alarm["Namespace"] == "Payouts"
    assert alarm["MetricName"] == METRIC_ANSWER_SIGNATURE_INVALID
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "payouts"}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == TO_TOPIC


def test_the_alarm_says_what_to_check_and_where_the_runbook_is(template: Template) -> None:
    description = " ".join(_alarm(template)["AlarmDescription"].split())

    assert "PG_V2_OPTIONS" in description
    assert "GATEWAY_V2_OPTIONS" in description
    assert "docs/provider-assumptions.md" in description


# Functions that build provider adapters, and whether they settle orders (apply verdicts).
PROVIDER_FUNCTIONS = {
    "CallbackFunction": True,
    "ReconcileFunction": True,
    "IntakeFunction": False,
    "BalanceCheckFunction": False,
}


@pytest.mark.parametrize(("logical_id", "settles"), PROVIDER_FUNCTIONS.items())
def test_every_provider_assumption_is_a_deployment_parameter_with_the_safe_defaults(
    template: Template, logical_id: str, settles: bool
) -> None:
    parameters = template["Parameters"]
    variables = resource(template, logical_id)["Properties"]["Environment"]["Variables"]

    assert variables["GATEWAY_V2_OPTIONS"] == {"Ref": "GatewayV2Options"}
    assert variables["PG_V2_OPTIONS"] == {"Ref": "PgV2Options"}
    settle = variables.get("ASSUMED_FAILURE_SETTLE_SECONDS")
    assert settle == ({"Ref": "AssumedFailureSettleSeconds"} if settles else None)
    assert parameters["GatewayV2Options"]["Default"] == "{}"
    assert parameters["PgV2Options"]["Default"] == "{}"
    assert int(parameters["AssumedFailureSettleSeconds"]["Default"]) == (
        DEFAULT_ASSUMED_FAILURE_SETTLE_SECONDS
    )


@pytest.mark.parametrize(
    ("value", "allowed"), [("{}", True), ('{"extend_info": null}', True), ("[]", False)]
)
def test_the_options_parameters_take_json_objects_only(
    template: Template, value: str, allowed: bool
) -> None:
    pattern = template["Parameters"]["PgV2Options"]["AllowedPattern"]

    assert (re.fullmatch(pattern, value) is not None) is allowed


def test_the_options_parameters_reach_the_adapters() -> None:
    environ = {
        "ORDERS_TABLE": "orders",
        "CALLBACK_BASE_URL": "https://api.example.test/prod",
        "PG_V2_OPTIONS": '{"merchant_attach_max_length": 200, "extend_info": null}',
        "GATEWAY_V2_OPTIONS": '{"query_sign_location": "answer"}',
        "ASSUMED_FAILURE_SETTLE_SECONDS": "60",
    }

    settings = load(ReconcileSettings, environ)

    assert PgV2Options.model_validate(settings.pg_v2_options).merchant_attach_max_length == 200
    assert PgV2Options.model_validate(settings.pg_v2_options).extend_info is None
    gateway = GatewayV2Options.model_validate(settings.gateway_v2_options)
    assert gateway.query_sign_location == "answer"
    assert ReconcilePolicy.from_settings(settings).failure_settle == timedelta(seconds=60)
