"""template.yaml wires the intake and status-events functions as the code expects: the settings
their models require, the event sources' partial-failure semantics, least privilege, logs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payouts.settings.intake import IntakeSettings
from payouts.settings.status_events import StatusEventsSettings
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE
from tests.support.cfn import Template, load_template, resource

# Read by the libraries themselves (Powertools, pydantic), not by a settings model.
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_METRICS_NAMESPACE",
    "PYDANTIC_DISABLE_PLUGINS",
}
# Read by the store's codec, in every function that writes orders (docs/table-migration.md).
STORE_VARIABLES = {LEGACY_STATUS_INDEX_VARIABLE}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = resource(template, logical_id)["Properties"]
    return properties


def _environment(template: Template, logical_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **_properties(template, logical_id)["Environment"]["Variables"],
    }
    return variables


def _required(model: type[IntakeSettings] | type[StatusEventsSettings]) -> set[str]:
    return {name.upper() for name, field in model.model_fields.items() if field.is_required()}


@pytest.mark.parametrize(
    ("logical_id", "model"),
    [("IntakeFunction", IntakeSettings), ("StatusEventsFunction", StatusEventsSettings)],
)
def test_each_function_gets_every_setting_its_model_requires(
    template: Template, logical_id: str, model: type[IntakeSettings] | type[StatusEventsSettings]
) -> None:
    environment = _environment(template, logical_id)

    assert _required(model) <= set(environment)
    # Anything else set is read by Powertools or by the model: no setting is silently ignored.
    read_by_model = set(environment) - POWERTOOLS_VARIABLES - STORE_VARIABLES
    assert read_by_model <= {name.upper() for name in model.model_fields}


def test_intake_is_the_requests_queues_consumer_with_partial_batch_failures(
    template: Template,
) -> None:
    function = _properties(template, "IntakeFunction")
    source = function["Events"]["PayoutRequests"]

    assert function["CodeUri"] == "functions/intake"
    assert function["Handler"] == "app.lambda_handler"
    assert function["Timeout"] == {"Ref": "IntakeFunctionTimeout"}
    assert source["Type"] == "SQS"
    assert source["Properties"] == {
        "Queue": {"Fn::GetAtt": ["PayoutRequestsQueue", "Arn"]},
        "BatchSize": {"Ref": "IntakeBatchSize"},
        "MaximumBatchingWindowInSeconds": {"Ref": "IntakeMaximumBatchingWindowInSeconds"},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "IntakeMaximumConcurrency"}},
    }


def test_intake_timeout_leaves_room_for_the_provider_timeouts(template: Template) -> None:
    timeout = template["Parameters"]["IntakeFunctionTimeout"]["Default"]
    environment = _environment(template, "IntakeFunction")
    provider_bound = float(environment["PROVIDER_CONNECT_TIMEOUT"]) + float(
        environment["PROVIDER_READ_TIMEOUT"]
    )

    # Every create of a batch runs at once, so one provider bound (plus the table) per batch.
    assert (
        int(environment["PROVIDER_CONCURRENCY"])
        >= (template["Parameters"]["IntakeBatchSize"]["MaxValue"])
    )
    assert timeout >= 3 * provider_bound
    assert int(environment["STALE_SUBMITTING_AFTER_SECONDS"]) > timeout
    visibility = template["Parameters"]["RequestsVisibilityTimeout"]["Default"]
    receives = template["Parameters"]["RequestsMaxReceiveCount"]["Default"]
    assert int(environment["RECEIVED_GRACE_SECONDS"]) > visibility * receives


def test_intake_may_touch_order_partitions_the_dlq_and_the_two_secrets_only(
    template: Template,
) -> None:
    policies = _properties(template, "IntakeFunction")["Policies"]

    (table_statement,) = policies[0]["Statement"]
    assert table_statement["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert table_statement["Resource"] == {"Fn::GetAtt": ["OrdersTable", "Arn"]}
    assert table_statement["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PAYOUT#*"]}
    }
    # The provider gate's items (tests/unit/test_template_providers.py says which).
    (gate_statement,) = policies[1]["Statement"]
    assert gate_statement["Sid"] == "ProviderGateReadWrite"
    assert policies[2:5] == [
        {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["PayoutRequestsDLQ", "QueueName"]}}},
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "GatewayV2SecretArn"}}},
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "PgV2SecretArn"}}},
    ]
    # kms:Decrypt only when the secrets' key is given (tests/unit/test_template_transform.py).
    (decrypt_when_keyed,) = policies[5:]
    assert decrypt_when_keyed["Fn::If"][0] == "HasSecretsKmsKey"


def test_intake_dead_letters_to_the_requests_queues_dlq(template: Template) -> None:
    assert _environment(template, "IntakeFunction")["PAYOUT_DLQ_URL"] == {
        "Ref": "PayoutRequestsDLQ"
    }


def test_status_events_follow_the_table_stream_without_losing_a_batch(template: Template) -> None:
    source = _properties(template, "StatusEventsFunction")["Events"]["OrdersStream"]
    properties = source["Properties"]

    assert source["Type"] == "DynamoDB"
    assert properties["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] == {"Ref": "StatusEventsMaximumRetryAttempts"}
    assert properties["DestinationConfig"] == {
        "OnFailure": {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["StatusEventsFailureQueue", "Arn"]},
        }
    }
    # Order items, and providers' state items (ProviderPaused / ProviderResumed).
    orders, providers = properties["FilterCriteria"]["Filters"]
    assert json.loads(orders["Pattern"]) == {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"Keys": {"SK": {"S": ["ORDER"]}}},
    }
    assert json.loads(providers["Pattern"]) == {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"Keys": {"SK": {"S": ["SETTING"]}}},
    }


def test_status_events_may_only_put_events_on_the_payouts_bus(template: Template) -> None:
    function = _properties(template, "StatusEventsFunction")

    assert function["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": "PayoutsEventBus"}
    assert function["Policies"] == [
        {"EventBridgePutEventsPolicy": {"EventBusName": {"Ref": "PayoutsEventBus"}}},
        {
            "SQSSendMessagePolicy": {
                "QueueName": {"Fn::GetAtt": ["StatusEventsFailureQueue", "QueueName"]}
            }
        },
    ]
    assert resource(template, "PayoutsEventBus")["Type"] == "AWS::Events::EventBus"


@pytest.mark.parametrize(
    ("function", "group_name"),
    [("IntakeFunction", "intake"), ("StatusEventsFunction", "status-events")],
)
def test_each_function_logs_to_its_own_group_with_the_stacks_retention(
    template: Template, function: str, group_name: str
) -> None:
    log_group = _properties(template, f"{function}LogGroup")

    assert _properties(template, function)["LoggingConfig"] == {
        "LogGroup": {"Ref": f"{function}LogGroup"}
    }
    assert log_group == {
        "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{group_name}"},
        "RetentionInDays": {"Ref": "LogRetentionInDays"},
        "KmsKeyId": {
            "Fn::If": ["HasLogsKmsKey", {"Ref": "LogsKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
        },
    }


def test_the_failure_queue_is_encrypted_keeps_messages_two_weeks_and_is_watched(
    template: Template,
) -> None:
    queue = _properties(template, "StatusEventsFailureQueue")
    alarm = _properties(template, "StatusEventsFailureDepthAlarm")

    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["StatusEventsFailureQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0


def test_request_conflicts_raise_an_alarm(template: Template) -> None:
    alarm = _properties(template, "IntakeRequestConflictAlarm")

    assert (alarm["Namespace"], alarm["MetricName"]) == ("Payouts", "RequestConflict")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "payouts"}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
