"""template.yaml alarms on what the provider adapters count: an answer whose signature we cannot
verify (the provider then silently stops settling)."""

from __future__ import annotations

from typing import Any

import pytest

from payouts.providers.unverified import METRIC_ANSWER_SIGNATURE_INVALID
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
