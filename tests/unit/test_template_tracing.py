"""Tracing is a deployment choice (its cost grows with traffic): the functions and the state
machine follow TracingMode; the callback API stage is always traced, sampled by X-Ray's rules."""

from __future__ import annotations

import pytest

from tests.support.cfn import TEMPLATE_PATH, Template, load_template


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def test_tracing_mode_is_a_parameter_defaulting_to_active(template: Template) -> None:
    parameter = template["Parameters"]["TracingMode"]

    assert parameter["AllowedValues"] == ["Active", "PassThrough"]
    assert parameter["Default"] == "Active"
    assert template["Conditions"]["TracesActively"] == {
        "Fn::Equals": [{"Ref": "TracingMode"}, "Active"]
    }


def test_every_function_and_the_state_machine_follow_it(template: Template) -> None:
    functions = {
        name: body
        for name, body in template["Resources"].items()
        if body["Type"] == "AWS::Serverless::Function"
    }
    [machine] = [
        body
        for body in template["Resources"].values()
        if body["Type"] == "AWS::Serverless::StateMachine"
    ]

    assert template["Globals"]["Function"]["Tracing"] == {"Ref": "TracingMode"}
    # No function overrides the global choice.
    assert [name for name, body in functions.items() if "Tracing" in body["Properties"]] == []
    assert machine["Properties"]["Tracing"] == {
        "Enabled": {"Fn::If": ["TracesActively", True, False]}
    }


def test_the_cost_of_full_sampling_is_stated_where_the_parameter_is_set() -> None:
    # Whoever chooses the mode sees what it costs: the README's deploy section says it.
    readme = (TEMPLATE_PATH.parent / "README.md").read_text(encoding="utf-8")

    assert "TracingMode" in readme
    assert "$6-18 per million payouts" in readme
