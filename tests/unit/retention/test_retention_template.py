"""template.yaml wires the retention function as the code expects: the settings its model
requires, the retention period as a parameter (default 180 days), an hourly schedule, least
privilege (the erasable index and order partitions only), and its own log group."""

from __future__ import annotations

from typing import Any

import pytest

from payouts.settings import SettingsError, load
from payouts.settings.retention import RetentionSettings
from tests.support.cfn import Template, load_template, resource


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def _function(template: Template) -> dict[str, Any]:
    properties: dict[str, Any] = resource(template, "RetentionFunction")["Properties"]
    return properties


def test_the_function_gets_every_setting_its_model_requires(template: Template) -> None:
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **_function(template)["Environment"]["Variables"],
    }
    required = {
        name.upper()
        for name, field in RetentionSettings.model_fields.items()
        if field.is_required()
    }

    assert required <= set(variables)
    assert variables["PERSONAL_DATA_RETENTION_DAYS"] == {"Ref": "PersonalDataRetentionDays"}


def test_the_retention_period_is_a_parameter_of_180_days_by_default(template: Template) -> None:
    parameter = template["Parameters"]["PersonalDataRetentionDays"]

    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 180
    assert parameter["MinValue"] == 1


def test_the_function_runs_every_hour_on_the_scheduler(template: Template) -> None:
    (event,) = _function(template)["Events"].values()

    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    assert "Name" not in event["Properties"]  # a fixed name collides between two stacks


def test_the_function_may_query_only_its_two_indexes_and_touch_order_partitions_and_its_position(
    template: Template,
) -> None:
    (policy,) = _function(template)["Policies"]
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}

    assert set(statements) == {"ReadErasableAndByDayIndexes", "OrderPartitionsReadWrite"}
    index = statements["ReadErasableAndByDayIndexes"]
    assert index["Action"] == "dynamodb:Query"
    assert index["Resource"] == [
        {"Fn::Sub": "${OrdersTable.Arn}/index/erasable"},
        {"Fn::Sub": "${OrdersTable.Arn}/index/by-day"},
    ]
    partitions = statements["OrderPartitionsReadWrite"]
    # No Scan, no Delete, no UpdateItem: reads, conditional puts.
    assert partitions["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
    ]
    assert partitions["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PAYOUT#*", "SWEEP#retention"]}
    }


def test_the_function_logs_to_its_own_group_with_the_stacks_retention(template: Template) -> None:
    group = resource(template, "RetentionFunctionLogGroup")["Properties"]

    assert _function(template)["LoggingConfig"] == {
        "LogGroup": {"Ref": "RetentionFunctionLogGroup"}
    }
    assert group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


@pytest.mark.parametrize("days", ["0", "3651", "ninety"])
def test_a_retention_period_out_of_range_is_refused_at_start_up(days: str) -> None:
    with pytest.raises(SettingsError, match="PERSONAL_DATA_RETENTION_DAYS"):
        load(RetentionSettings, {"ORDERS_TABLE": "orders", "PERSONAL_DATA_RETENTION_DAYS": days})


def test_the_retention_period_has_no_silent_default() -> None:
    with pytest.raises(SettingsError, match="PERSONAL_DATA_RETENTION_DAYS"):
        load(RetentionSettings, {"ORDERS_TABLE": "orders"})
