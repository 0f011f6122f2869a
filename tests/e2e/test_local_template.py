"""Resolving template.yaml's intrinsic functions against local resources, and event filters."""

from __future__ import annotations

from typing import Any

import pytest

from payouts_tools.local.event_filter import FilterError, compile_filters, delivered, matches
from payouts_tools.local.template import (
    LocalResource,
    Resolver,
    TemplateError,
    Unresolved,
    function_properties,
    load_template,
    parameter_defaults,
    parameters_behind_variables,
)

pytestmark = pytest.mark.e2e

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "Cidrs": {"Type": "CommaDelimitedList", "Default": ""},
        "Required": {"Type": "String"},
    },
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "HasCidrs": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Cidrs"}]}, ""]}]},
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Api": {"Type": "AWS::Serverless::Api"},
    },
}
QUEUE = LocalResource(ref="http://local/queue", attributes={"Arn": "arn:queue", "QueueName": "q"})


def resolver(**parameters: str) -> Resolver:
    values = {"Stage": "dev", "Cidrs": "", "Required": "given", **parameters}
    pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
    return Resolver(TEMPLATE, values, {"Queue": QUEUE}, pseudo)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Queue"}, "http://local/queue"),
        ({"Ref": "AWS::Region"}, "us-east-1"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:queue"),
        ({"Fn::Sub": "payouts-${Stage}-${AWS::Region}"}, "payouts-dev-us-east-1"),
        ({"Fn::Sub": "${Queue.QueueName}/${!Literal}"}, "q/${Literal}"),
        ({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Stage"}}]}, "dev-x"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}, "a-dev"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::If": ["HasCidrs", "deny", {"Ref": "AWS::NoValue"}]}, None),
        ([1, {"Ref": "AWS::NoValue"}, 2], [1, 2]),
        ({"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}}, {"Keep": 1}),
    ],
)
def test_intrinsics_resolve_as_cloudformation_would(node: Any, expected: Any) -> None:
    resolved = resolver().resolve({"Value": node})
    assert resolved.get("Value") == expected


def test_a_list_parameter_is_a_list_to_join_and_conditions() -> None:
    with_cidrs = resolver(Cidrs="10.0.0.0/8,192.168.0.0/16")
    assert with_cidrs.resolve({"Ref": "Cidrs"}) == ["10.0.0.0/8", "192.168.0.0/16"]
    assert with_cidrs.condition("HasCidrs") is True
    assert resolver().condition("HasCidrs") is False


def test_a_resource_not_made_yet_is_unresolved_and_names_itself() -> None:
    with pytest.raises(Unresolved) as missing:
        resolver().resolve({"Fn::Sub": "https://${Api}.execute-api"})
    assert missing.value.logical_id == "Api"


@pytest.mark.parametrize(
    "node",
    [{"Ref": "Nowhere"}, {"Fn::GetAtt": ["Queue", "Nope"]}, {"Fn::Base64": "x"}],
)
def test_what_cannot_be_resolved_is_an_error(node: Any) -> None:
    with pytest.raises(TemplateError):
        resolver().resolve(node)


def test_parameter_defaults_need_a_value_for_every_parameter_without_default() -> None:
    with pytest.raises(TemplateError, match="Required"):
        parameter_defaults(TEMPLATE, {})
    assert parameter_defaults(TEMPLATE, {"Required": "x"})["Stage"] == "dev"
    assert "Required" not in parameter_defaults(TEMPLATE, {}, strict=False)
    with pytest.raises(TemplateError, match="no such parameters"):
        parameter_defaults(TEMPLATE, {"Typo": "x"})


def test_the_real_template_maps_provider_variables_to_their_parameters() -> None:
    template = load_template()

    behind = parameters_behind_variables(template)

    assert behind["GATEWAY_V2_BASE_URL"] == "GatewayV2BaseUrl"
    assert behind["PG_V2_SECRET_ID"] == "PgV2SecretArn"
    merged = function_properties(template, "IntakeFunction")
    # Globals' variables are merged under the function's own.
    assert "ORDERS_TABLE" in merged["Environment"]["Variables"]
    assert "PAYOUT_DLQ_URL" in merged["Environment"]["Variables"]


# ---- event filters ------------------------------------------------------------------------------

ORDER_RECORD = {"eventName": "MODIFY", "dynamodb": {"Keys": {"SK": {"S": "ORDER"}}}}
EVIDENCE_RECORD = {"eventName": "INSERT", "dynamodb": {"Keys": {"SK": {"S": "EVT#1"}}}}


def test_the_templates_stream_filter_passes_order_items_only() -> None:
    template = load_template()
    events = function_properties(template, "StatusEventsFunction")["Events"]
    (stream,) = events.values()
    patterns = compile_filters(stream["Properties"]["FilterCriteria"])

    assert delivered(patterns, ORDER_RECORD)
    assert not delivered(patterns, EVIDENCE_RECORD)
    assert not delivered(patterns, {**ORDER_RECORD, "eventName": "REMOVE"})


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "EVT#"}]}}}}, [EVIDENCE_RECORD]),
        ({"eventName": [{"anything-but": ["INSERT"]}]}, [ORDER_RECORD]),
        ({"missing": [{"exists": False}]}, [ORDER_RECORD, EVIDENCE_RECORD]),
        ({"eventName": [{"exists": True}]}, [ORDER_RECORD, EVIDENCE_RECORD]),
    ],
)
def test_filter_operators(pattern: dict[str, Any], matched: list[dict[str, Any]]) -> None:
    assert [r for r in (ORDER_RECORD, EVIDENCE_RECORD) if matches(pattern, r)] == matched


def test_no_filters_deliver_everything_and_unknown_operators_are_refused() -> None:
    assert delivered([], EVIDENCE_RECORD)
    with pytest.raises(FilterError, match="numeric"):
        compile_filters({"Filters": [{"Pattern": '{"size": [{"numeric": [">", 1]}]}'}]})
