"""template.yaml's callback section: the REST API and its protections, the function's wiring and
least-privilege access, the alarms on 401 and 5xx rates, and the URL the intake sends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cfn import Template, load_template, resource


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = resource(template, logical_id)["Properties"]
    return properties


def test_the_function_is_the_callback_handler_behind_post_callbacks_provider(
    template: Template,
) -> None:
    function = _properties(template, "CallbackFunction")

    assert resource(template, "CallbackFunction")["Type"] == "AWS::Serverless::Function"
    assert (function["CodeUri"], function["Handler"]) == (
        "functions/callback",
        "app.lambda_handler",
    )
    assert function["Events"]["Callback"] == {
        "Type": "Api",
        "Properties": {
            "RestApiId": {"Ref": "CallbackApi"},
            "Path": "/callbacks/{provider}",
            "Method": "POST",
        },
    }
    # API Gateway gives up after 29 s: the function must answer (or fail) before.
    assert function["Timeout"] < 29


def test_reserved_concurrency_caps_the_function_unless_set_to_zero(template: Template) -> None:
    function = _properties(template, "CallbackFunction")

    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "ReservesCallbackConcurrency",
            {"Ref": "CallbackReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert template["Conditions"]["ReservesCallbackConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CallbackReservedConcurrency"}, "0"]}]
    }
    assert template["Parameters"]["CallbackReservedConcurrency"]["Default"] > 0


def test_the_function_gets_its_settings_and_not_a_hand_written_callback_url(
    template: Template,
) -> None:
    variables = _properties(template, "CallbackFunction")["Environment"]["Variables"]

    assert variables["GATEWAY_V2_SECRET_ID"] == {"Ref": "GatewayV2SecretArn"}
    assert variables["PG_V2_SECRET_ID"] == {"Ref": "PgV2SecretArn"}
    assert variables["GATEWAY_V2_BASE_URL"] == {"Ref": "GatewayV2BaseUrl"}
    assert variables["PG_V2_BASE_URL"] == {"Ref": "PgV2BaseUrl"}
    assert variables["MAX_CALLBACK_BODY_BYTES"] == str(64 * 1024)
    assert variables["REPLAY_TOLERANCE_SECONDS"] == "300"
    # Derived from the request (a Ref to the API here would be a circular dependency).
    assert "CALLBACK_BASE_URL" not in variables


def test_the_function_may_read_and_write_orders_and_read_two_secrets_only(
    template: Template,
) -> None:
    policies = _properties(template, "CallbackFunction")["Policies"]
    [statement_policy] = [p for p in policies if "Statement" in p]
    secrets = [
        p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
        for p in policies
        if "AWSSecretsManagerGetSecretValuePolicy" in p
    ]

    [statement] = statement_policy["Statement"]
    assert set(statement["Action"]) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["OrdersTable", "Arn"]},
        {"Fn::Sub": "${OrdersTable.Arn}/index/by-provider-ref"},
    ]
    assert secrets == [{"Ref": "GatewayV2SecretArn"}, {"Ref": "PgV2SecretArn"}]
    # kms:Decrypt only when the secrets' key is given (tests/unit/test_template_transform.py).
    assert policies[3]["Fn::If"][0] == "HasSecretsKmsKey"
    assert len(policies) == 4


def test_every_log_group_keeps_logs_for_the_configured_retention(template: Template) -> None:
    function_logs = _properties(template, "CallbackFunctionLogGroup")
    access_logs = _properties(template, "CallbackApiAccessLogGroup")

    assert function_logs["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}-callback"}
    assert _properties(template, "CallbackFunction")["LoggingConfig"] == {
        "LogGroup": {"Ref": "CallbackFunctionLogGroup"}
    }
    assert function_logs["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert access_logs["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


def test_the_api_is_a_throttled_traced_logged_rest_api_with_raw_bodies(template: Template) -> None:
    api = _properties(template, "CallbackApi")
    [method_settings] = api["MethodSettings"]

    assert resource(template, "CallbackApi")["Type"] == "AWS::Serverless::Api"
    assert api["StageName"] == {"Ref": "Stage"}
    assert api["TracingEnabled"] is True
    assert api["BinaryMediaTypes"] == ["*~1*"]
    assert method_settings["ThrottlingRateLimit"] == {"Ref": "CallbackThrottlingRateLimit"}
    assert method_settings["ThrottlingBurstLimit"] == {"Ref": "CallbackThrottlingBurstLimit"}
    assert method_settings["DataTraceEnabled"] is False
    assert api["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["CallbackApiAccessLogGroup", "Arn"]
    }
    assert "$context.identity.sourceIp" in api["AccessLogSetting"]["Format"]


@pytest.mark.parametrize(
    ("provider", "parameter"),
    [("gateway_v2", "GatewayV2CallbackCidrs"), ("pg_v2", "PgV2CallbackCidrs")],
)
def test_each_provider_can_be_limited_to_its_source_ips(
    template: Template, provider: str, parameter: str
) -> None:
    statements = _properties(template, "CallbackApi")["Auth"]["ResourcePolicy"]["CustomStatements"]
    conditional = [s["Fn::If"] for s in statements if "Fn::If" in s]
    [(condition, deny, otherwise)] = [
        branch for branch in conditional if branch[1]["Resource"].endswith(f"/{provider}")
    ]

    assert template["Parameters"][parameter]["Type"] == "CommaDelimitedList"
    assert template["Parameters"][parameter]["Default"] == ""
    assert deny["Effect"] == "Deny"
    assert deny["Resource"] == f"execute-api:/*/POST/callbacks/{provider}"
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": {"Ref": parameter}}}
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert template["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": parameter}]}, ""]}]
    }


def test_unauthorized_callbacks_alarm_on_their_share_of_requests(template: Template) -> None:
    alarm = _properties(template, "CallbackUnauthorizedRateAlarm")
    by_id = {metric["Id"]: metric for metric in alarm["Metrics"]}

    assert by_id["rejected"]["MetricStat"]["Metric"]["MetricName"] == "CallbackSignatureRejected"
    assert by_id["rejected"]["MetricStat"]["Metric"]["Namespace"] == "Payouts"
    assert by_id["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
    assert "rejected" in by_id["unauthorizedPercent"]["Expression"]
    assert "requests" in by_id["unauthorizedPercent"]["Expression"]
    assert alarm["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"


def test_server_errors_alarm_on_their_rate(template: Template) -> None:
    alarm = _properties(template, "Callback5xxRateAlarm")

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/ApiGateway",
        "5XXError",
        "Average",
    )
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "ApiName": _properties(template, "CallbackApi")["Name"],
        "Stage": {"Ref": "Stage"},
    }


def test_any_amount_mismatch_raises_its_alarm(template: Template) -> None:
    alarm = _properties(template, "CallbackAmountMismatchAlarm")

    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "CallbackAmountMismatch",
        0,
        "GreaterThanThreshold",
    )


def test_the_callback_base_url_comes_from_the_stack(template: Template) -> None:
    output = template["Outputs"]["CallbackBaseUrl"]

    assert output["Value"] == {
        "Fn::Sub": "https://${CallbackApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
    }
