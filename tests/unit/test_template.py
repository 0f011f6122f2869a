"""template.yaml says what the code relies on: table keys and indexes, queues, runtime, wiring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cfn import (
    TEMPLATE_PATH,
    CfnNode,
    Template,
    load_template,
    resource,
    table_create_kwargs,
)

# Names CloudFormation defines itself; a Ref to them needs no declaration.
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
FOUR_DAYS_S = 4 * 24 * 3600
FOURTEEN_DAYS_S = 14 * 24 * 3600


@pytest.fixture(scope="module")
def template() -> Template:
    """The project's template.yaml, as CloudFormation reads it."""
    return load_template()


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = resource(template, logical_id)["Properties"]
    return properties


def _resources_of_type(template: Template, type_name: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: body
        for logical_id, body in template["Resources"].items()
        if body["Type"] == type_name
    }


def _walk(node: CfnNode) -> Iterator[dict[str, Any]]:
    """Every mapping in the template, depth first (intrinsic functions are mappings)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


# --- the loader -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("!Ref Stage", {"Ref": "Stage"}),
        ("!Condition HasAlarmTopic", {"Condition": "HasAlarmTopic"}),
        ("!GetAtt Queue.Arn", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Queue, Arn]", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("!Sub payouts-${Stage}", {"Fn::Sub": "payouts-${Stage}"}),
        ("!Join ['-', [a, b]]", {"Fn::Join": ["-", ["a", "b"]]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        (
            "!If [C, !Ref A, !Ref AWS::NoValue]",
            {"Fn::If": ["C", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]},
        ),
        (
            "!Not [!Equals [!Ref P, '']]",
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]},
        ),
        (
            "!And [!Condition A, !Or [!Condition B, !Condition C]]",
            {
                "Fn::And": [
                    {"Condition": "A"},
                    {"Fn::Or": [{"Condition": "B"}, {"Condition": "C"}]},
                ]
            },
        ),
        ("!FindInMap [M, k1, k2]", {"Fn::FindInMap": ["M", "k1", "k2"]}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!Base64 text", {"Fn::Base64": "text"}),
        ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
        (
            "!Sub {String: '${A}', Vars: {A: b}}",
            {"Fn::Sub": {"String": "${A}", "Vars": {"A": "b"}}},
        ),
    ],
)
def test_short_tags_load_as_their_long_forms(
    tmp_path: Path, yaml_text: str, expected: dict[str, Any]
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"Resources:\n  R:\n    Type: X\n    Properties:\n      V: {yaml_text}\n")

    loaded = load_template(path)

    assert loaded["Resources"]["R"]["Properties"]["V"] == expected


def test_a_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    path = tmp_path / "not-a-template.yaml"
    path.write_text("just: data\n")

    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template(path)


def test_the_loader_builds_no_python_objects(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("Resources: !!python/object/apply:os.getcwd []\n")

    with pytest.raises(yaml.constructor.ConstructorError, match="python/object"):
        load_template(path)


def test_a_missing_resource_is_named_with_those_that_exist(template: Template) -> None:
    with pytest.raises(KeyError, match=r"NoSuchThing.*OrdersTable"):
        resource(template, "NoSuchThing")


# --- layout and wiring ----------------------------------------------------------------------------


def test_sections_come_in_the_fixed_order(template: Template) -> None:
    order = ["Parameters", "Conditions", "Globals", "Resources", "Outputs"]

    present = [key for key in template if key in order]

    assert present == order
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def test_every_ref_and_get_att_names_something_declared(template: Template) -> None:
    declared = set(template["Parameters"]) | set(template["Resources"]) | PSEUDO_PARAMETERS
    referenced: list[str] = []
    for node in _walk(template):
        if "Ref" in node:
            referenced.append(node["Ref"])
        if "Fn::GetAtt" in node:
            referenced.append(node["Fn::GetAtt"][0])

    assert referenced, "the walk found no references at all"
    assert {name for name in referenced if name not in declared} == set()


def test_every_condition_used_is_declared(template: Template) -> None:
    declared = set(template.get("Conditions", {}))
    used = {body["Condition"] for body in template["Resources"].values() if "Condition" in body}
    used |= {node["Fn::If"][0] for node in _walk(template) if "Fn::If" in node}

    assert used
    assert used <= declared


def test_functions_run_python_3_13_on_arm64_with_the_layer(template: Template) -> None:
    function_globals = template["Globals"]["Function"]

    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == {"Ref": "TracingMode"}
    assert function_globals["Layers"] == [{"Ref": "PayoutsLayer"}]
    assert function_globals["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "payouts",
        "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
        "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "ORDERS_TABLE": {"Ref": "OrdersTable"},
        "LEGACY_STATUS_INDEX": {"Ref": "LegacyStatusIndex"},
    }


def test_the_layer_is_built_for_the_functions_runtime(template: Template) -> None:
    layer = resource(template, "PayoutsLayer")

    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/payouts"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    # sam build's python3.x build method installs the dependencies listed beside the code.
    assert (TEMPLATE_PATH.parent / layer["Properties"]["ContentUri"] / "requirements.txt").is_file()


def test_outputs_are_the_contract_and_described(template: Template) -> None:
    outputs = template["Outputs"]

    # What operators, the CLI and publishers read; other sections add their own outputs.
    assert set(outputs) >= {
        "OrdersTableName",
        "PayoutRequestsQueueUrl",
        "PayoutRequestsQueueArn",
        "PayoutRequestsDLQUrl",
        "PayoutsLayerArn",
        "CallbackBaseUrl",
        "PayoutsEventBusName",
        "ReconcileStateMachineArn",
    }
    assert all(output["Description"].strip() for output in outputs.values())
    assert outputs["OrdersTableName"]["Value"] == {"Ref": "OrdersTable"}
    assert outputs["PayoutRequestsQueueArn"]["Value"] == {
        "Fn::GetAtt": ["PayoutRequestsQueue", "Arn"]
    }


# --- queues ---------------------------------------------------------------------------------------


def test_requests_queue_dead_letters_to_the_dlq(template: Template) -> None:
    queue = _properties(template, "PayoutRequestsQueue")

    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["PayoutRequestsDLQ", "Arn"]},
        "maxReceiveCount": {"Ref": "RequestsMaxReceiveCount"},
    }
    assert template["Parameters"]["RequestsMaxReceiveCount"]["Default"] == 5
    assert queue["MessageRetentionPeriod"] == FOUR_DAYS_S


def test_the_dlq_keeps_messages_longer_than_the_queue(template: Template) -> None:
    # A dead-lettered message keeps its original enqueue time, so a shorter DLQ retention
    # would silently drop requests that were already old when they failed.
    queue = _properties(template, "PayoutRequestsQueue")
    dlq = _properties(template, "PayoutRequestsDLQ")

    assert dlq["MessageRetentionPeriod"] == FOURTEEN_DAYS_S
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_every_queue_is_encrypted_at_rest(template: Template) -> None:
    # Stands in for checkov's CKV_AWS_27, skipped because it only recognises KMS keys.
    queues = _resources_of_type(template, "AWS::SQS::Queue")

    assert queues
    for logical_id, queue in queues.items():
        properties = queue["Properties"]
        encrypted = properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
        assert encrypted, f"{logical_id} is not encrypted at rest"


def test_every_queue_has_a_dead_letter_queue_or_is_one(template: Template) -> None:
    queues = _resources_of_type(template, "AWS::SQS::Queue")
    dead_letter_targets = {
        body["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for body in queues.values()
        if "RedrivePolicy" in body["Properties"]
    }

    failure_destinations = _on_failure_destinations(template)
    without = {
        logical_id
        for logical_id, body in queues.items()
        if "RedrivePolicy" not in body["Properties"]
        and logical_id not in dead_letter_targets | failure_destinations
    }

    assert dead_letter_targets == {"PayoutRequestsDLQ"}
    assert without == set()


def _on_failure_destinations(template: Template) -> set[str]:
    """Queues named as an event source's on-failure destination (a DLQ in all but name)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            on_failure = node.get("OnFailure")
            if isinstance(on_failure, dict):
                target = on_failure.get("Destination")
                if isinstance(target, dict) and "Fn::GetAtt" in target:
                    found.add(target["Fn::GetAtt"][0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(template["Resources"])
    return found


def test_visibility_timeout_is_at_least_six_times_the_intake_timeout(template: Template) -> None:
    parameters = template["Parameters"]
    queue = _properties(template, "PayoutRequestsQueue")

    assert queue["VisibilityTimeout"] == {"Ref": "RequestsVisibilityTimeout"}
    assert parameters["IntakeFunctionTimeout"]["Default"] == 60
    assert (
        parameters["RequestsVisibilityTimeout"]["Default"]
        >= 6 * parameters["IntakeFunctionTimeout"]["Default"]
    )


# --- the orders table -----------------------------------------------------------------------------


def test_orders_table_is_protected_and_streams_both_images(template: Template) -> None:
    table = resource(template, "OrdersTable")
    properties = table["Properties"]

    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_orders_table_keys_are_pk_and_sk(template: Template) -> None:
    properties = _properties(template, "OrdersTable")

    assert properties["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]


STATUS_DAY_ATTRIBUTES = [
    "payout_id",
    "status",
    "provider",
    "provider_order_id",
    "amount_value",
    "currency",
    "method",
    "needs_review",
    "updated_at",
]


@pytest.mark.parametrize(
    ("index_name", "key_schema", "projection"),
    [
        ("due", [("due_pk", "HASH"), ("due_sk", "RANGE")], {"ProjectionType": "KEYS_ONLY"}),
        (
            "by-status-day",
            [("status_pk", "HASH"), ("status_sk", "RANGE")],
            {"ProjectionType": "INCLUDE", "NonKeyAttributes": STATUS_DAY_ATTRIBUTES},
        ),
        ("by-provider-ref", [("provider_ref", "HASH")], {"ProjectionType": "KEYS_ONLY"}),
        ("by-day", [("day_pk", "HASH"), ("created_at", "RANGE")], {"ProjectionType": "KEYS_ONLY"}),
        (
            "review",
            [("review_pk", "HASH"), ("review_sk", "RANGE")],
            {"ProjectionType": "KEYS_ONLY"},
        ),
        (
            "erasable",
            [("erase_pk", "HASH"), ("erase_sk", "RANGE")],
            {"ProjectionType": "KEYS_ONLY"},
        ),
    ],
)
def test_orders_table_index_is_exactly_what_the_store_queries(
    template: Template,
    index_name: str,
    key_schema: list[tuple[str, str]],
    projection: dict[str, Any],
) -> None:
    # The legacy index exists only with LegacyStatusIndex=true: read the table as created so.
    table = table_create_kwargs(template, "OrdersTable", "t", {"LegacyStatusIndex": "true"})
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}

    index = indexes[index_name]

    assert index["KeySchema"] == [
        {"AttributeName": name, "KeyType": key_type} for name, key_type in key_schema
    ]
    assert index["Projection"] == projection


@pytest.mark.parametrize(
    ("legacy", "index_names"),
    [
        ("false", ["due", "by-provider-ref", "review", "erasable", "by-day"]),
        ("true", ["due", "by-status-day", "by-provider-ref", "review", "erasable", "by-day"]),
    ],
)
def test_orders_table_has_only_its_indexes_and_defines_exactly_their_string_keys(
    template: Template, legacy: str, index_names: list[str]
) -> None:
    # CreateTable refuses an attribute definition that no key uses: the legacy index's key
    # attributes come and go with it.
    table = table_create_kwargs(template, "OrdersTable", "t", {"LegacyStatusIndex": legacy})
    key_attributes = {
        key["AttributeName"]
        for index in [table, *table["GlobalSecondaryIndexes"]]
        for key in index["KeySchema"]
    }

    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == index_names
    assert {
        definition["AttributeName"]: definition["AttributeType"]
        for definition in table["AttributeDefinitions"]
    } == dict.fromkeys(key_attributes, "S")


def test_functions_are_told_whether_the_legacy_index_is_kept(template: Template) -> None:
    parameter = template["Parameters"]["LegacyStatusIndex"]

    assert parameter["AllowedValues"] == ["true", "false"]
    assert parameter["Default"] == "false"
    assert template["Conditions"]["KeepsLegacyStatusIndex"] == {
        "Fn::Equals": [{"Ref": "LegacyStatusIndex"}, "true"]
    }


def test_every_table_is_encrypted_at_rest(template: Template) -> None:
    # Stands in for checkov's CKV_AWS_119, skipped because we use the AWS-managed key on purpose.
    tables = _resources_of_type(template, "AWS::DynamoDB::Table")

    assert tables
    for logical_id, table in tables.items():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id


# --- alarms ---------------------------------------------------------------------------------------


def test_any_message_in_the_dlq_raises_the_alarm_to_the_optional_topic(template: Template) -> None:
    alarm = _properties(template, "PayoutRequestsDLQDepthAlarm")
    to_topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}

    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["PayoutRequestsDLQ", "QueueName"]}}
    ]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["AlarmActions"] == to_topic
    assert template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""


# --- table_create_kwargs --------------------------------------------------------------------------


def test_create_kwargs_carry_the_tables_own_keys_and_indexes(template: Template) -> None:
    properties = _properties(template, "OrdersTable")

    kwargs = table_create_kwargs(template, "OrdersTable", "orders-test")

    assert kwargs["TableName"] == "orders-test"
    assert kwargs["KeySchema"] == properties["KeySchema"]
    # Everything declared unconditionally is passed as declared (the conditional legacy index
    # and its definitions are left out at the parameter's default).
    unconditional = [
        index for index in properties["GlobalSecondaryIndexes"] if "Fn::If" not in index
    ]
    assert kwargs["GlobalSecondaryIndexes"] == unconditional
    assert kwargs["AttributeDefinitions"] == [
        definition
        for definition in properties["AttributeDefinitions"]
        if "Fn::If" not in definition
    ]
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert kwargs["SSESpecification"] == {"Enabled": True}


def test_create_kwargs_leave_out_what_create_table_cannot_take(template: Template) -> None:
    kwargs = table_create_kwargs(template, "OrdersTable", "orders-test")

    assert not {
        "PointInTimeRecoverySpecification",
        "TimeToLiveSpecification",
        "DeletionProtectionEnabled",
    } & set(kwargs)
    assert not [
        node for node in _walk(kwargs) if "Ref" in node or any(k.startswith("Fn::") for k in node)
    ]
    assert {"Key": "stage", "Value": "dev"} in kwargs["Tags"]


def test_create_kwargs_refuse_a_property_nobody_decided_about(template: Template) -> None:
    changed = {**template, "Resources": {**template["Resources"]}}
    table = resource(template, "OrdersTable")
    changed["Resources"]["OrdersTable"] = {
        **table,
        "Properties": {**table["Properties"], "BrandNewSetting": True},
    }

    with pytest.raises(ValueError, match="BrandNewSetting"):
        table_create_kwargs(changed, "OrdersTable", "orders-test")


def test_create_kwargs_take_a_conditional_branch_from_the_given_parameters(
    template: Template,
) -> None:
    legacy = table_create_kwargs(template, "OrdersTable", "t", {"LegacyStatusIndex": "true"})
    current = table_create_kwargs(template, "OrdersTable", "t", {"LegacyStatusIndex": "false"})

    assert table_create_kwargs(template, "OrdersTable", "t") == current
    legacy_only = list(legacy["GlobalSecondaryIndexes"])
    for index in current["GlobalSecondaryIndexes"]:
        legacy_only.remove(index)
    assert [index["IndexName"] for index in legacy_only] == ["by-status-day"]


def test_create_kwargs_refuse_a_parameter_the_template_does_not_declare(
    template: Template,
) -> None:
    with pytest.raises(ValueError, match="LegacyStatusIndexx"):
        table_create_kwargs(template, "OrdersTable", "t", {"LegacyStatusIndexx": "true"})


def test_create_kwargs_refuse_what_is_not_a_table(template: Template) -> None:
    with pytest.raises(ValueError, match="not an AWS::DynamoDB::Table"):
        table_create_kwargs(template, "PayoutRequestsQueue", "orders-test")


def test_create_kwargs_refuse_an_intrinsic_they_cannot_resolve(template: Template) -> None:
    changed = {**template, "Resources": {**template["Resources"]}}
    table = resource(template, "OrdersTable")
    changed["Resources"]["OrdersTable"] = {
        **table,
        "Properties": {
            **table["Properties"],
            "Tags": [{"Key": "name", "Value": {"Fn::Sub": "${AWS::StackName}"}}],
        },
    }

    with pytest.raises(ValueError, match="cannot resolve"):
        table_create_kwargs(changed, "OrdersTable", "orders-test")
