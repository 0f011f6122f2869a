"""Mid-migration the CLI reads and writes orders as the stack's functions do: its index mode is
the stack's LegacyStatusIndex parameter, not whatever the operator's shell says."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE, legacy_status_index
from payouts_tools.cli.target import Target, TargetOptions


def stack_with(legacy: str | None) -> Any:
    parameters = (
        [] if legacy is None else [{"ParameterKey": "LegacyStatusIndex", "ParameterValue": legacy}]
    )
    cloudformation = boto3.client(
        "cloudformation",
        region_name="eu-west-1",
        aws_access_key_id="fake",
        aws_secret_access_key="fake",
    )
    stubber = Stubber(cloudformation)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "payouts-dev",
                    "CreationTime": "2026-11-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": parameters,
                    "Outputs": [{"OutputKey": "OrdersTableName", "OutputValue": "orders-dev"}],
                }
            ]
        },
        {"StackName": "payouts-dev"},
    )
    stubber.activate()
    return cloudformation


def target_over(monkeypatch: pytest.MonkeyPatch, stack: Any, **options: Any) -> Target:
    target = Target(TargetOptions(region="eu-west-1", **options))
    clients = {"cloudformation": stack, "dynamodb": object()}
    monkeypatch.setattr(target, "client", lambda service, **_: clients[service])
    return target


@pytest.mark.parametrize(("stack_says", "shell_says"), [("true", "false"), ("false", "true")])
def test_the_stacks_parameter_decides_over_the_shell(
    monkeypatch: pytest.MonkeyPatch, stack_says: str, shell_says: str
) -> None:
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, shell_says)
    target = target_over(monkeypatch, stack_with(stack_says))

    _ = target.store

    assert legacy_status_index() is (stack_says == "true")


def test_a_stack_without_the_parameter_leaves_the_shells_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, "true")
    target = target_over(monkeypatch, stack_with(None))

    _ = target.store

    assert legacy_status_index()


def test_an_explicit_table_has_no_stack_to_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, "true")
    unused = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    Stubber(unused).activate()  # any call to it would fail the test
    target = target_over(monkeypatch, unused, table="orders-elsewhere")

    _ = target.store

    assert legacy_status_index()
