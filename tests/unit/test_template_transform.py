"""What a first deploy meets that no linter sees: ``template.yaml`` after SAM's own transform.

The transformed template is resolved with the local stack's intrinsic-function resolver against
made-up resources, for two stacks in one account and region, with parameters at their defaults
or switched off, so each check is about the values CloudFormation would create.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

from payouts_tools.local.template import NO_VALUE, Resolver
from tests.support.cfn import TEMPLATE_PATH
from tests.support.sam_transform import transformed
from tests.support.stack_resolver import REQUIRED_PARAMETERS, stack_resolver

# One worker transforms once for the whole module.
pytestmark = pytest.mark.xdist_group("sam-transform")

type Template = dict[str, Any]

FAKE_KEY: Final = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
RESERVATIONS: Final = (
    "CallbackReservedConcurrency",
    "FindDueReservedConcurrency",
    "ReconcileReservedConcurrency",
)

# The property that names each resource type in the account and region, where one exists.
# CloudFormation generates a unique name when it is left out.
ACCOUNT_UNIQUE_NAME: Final = {
    "AWS::ApiGateway::RestApi": "Name",  # not enforced unique, but its metrics are by name
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
}
# Types whose instances are named inside another resource (a stage in its API) or not at all.
NO_ACCOUNT_UNIQUE_NAME: Final = frozenset(
    {
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::Permission",
    }
)


def _resolver(template: Template, stack_name: str, **overrides: str) -> Resolver:
    return stack_resolver(template, stack_name, **overrides)


@pytest.fixture(scope="module")
def cfn() -> Template:
    """template.yaml as CloudFormation receives it after the SAM transform."""
    return transformed(TEMPLATE_PATH, REQUIRED_PARAMETERS)


def _of_type(template: Template, type_name: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: body
        for logical_id, body in template["Resources"].items()
        if body["Type"] == type_name
    }


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


# --- the API stage --------------------------------------------------------------------------------


def test_the_api_has_exactly_the_declared_stage(cfn: Template) -> None:
    stages = _of_type(cfn, "AWS::ApiGateway::Stage")
    deployments = _of_type(cfn, "AWS::ApiGateway::Deployment")

    [(_, stage)] = stages.items()
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert stage["Properties"]["TracingEnabled"] is True
    assert "AccessLogSetting" in stage["Properties"]
    # A Deployment with a StageName creates that stage too (SAM's "Stage" stage), bare.
    assert deployments
    assert [body for body in deployments.values() if "StageName" in body["Properties"]] == []


# --- names ----------------------------------------------------------------------------------------


def test_every_resource_type_is_known_to_be_named_or_not(cfn: Template) -> None:
    types = {body["Type"] for body in cfn["Resources"].values()}

    unclassified = types - set(ACCOUNT_UNIQUE_NAME) - NO_ACCOUNT_UNIQUE_NAME

    assert unclassified == set(), "say whether these types have an account-unique name"


def _physical_names(cfn: Template, stack_name: str) -> dict[str, str]:
    """Every explicit account-unique name the stack would create, by logical id."""
    resolver = _resolver(cfn, stack_name, Stage="dev")
    names = {}
    for logical_id, body in cfn["Resources"].items():
        name_property = ACCOUNT_UNIQUE_NAME.get(body["Type"])
        if name_property and name_property in body.get("Properties", {}):
            names[logical_id] = str(resolver.resolve(body["Properties"][name_property]))
    return names


def test_two_stacks_in_one_account_and_region_name_nothing_alike(cfn: Template) -> None:
    # The worst case: both stacks deployed with the same Stage.
    first = _physical_names(cfn, "payouts-dev")
    second = _physical_names(cfn, "payouts-dev-2")

    assert first, "no explicit names at all: the check would prove nothing"
    assert set(first.values()) & set(second.values()) == set()


def test_schedules_are_left_for_cloudformation_to_name(cfn: Template) -> None:
    schedules = _of_type(cfn, "AWS::Scheduler::Schedule")

    assert "ReconcileStateMachineSchedule" in schedules
    for logical_id, schedule in schedules.items():
        assert "Name" not in schedule["Properties"], logical_id


# --- reserved concurrency -------------------------------------------------------------------------


def _reserved(cfn: Template, **overrides: str) -> dict[str, Any]:
    resolver = _resolver(cfn, "payouts-dev", **overrides)
    reserved = {}
    for logical_id, function in _of_type(cfn, "AWS::Lambda::Function").items():
        value = function["Properties"].get("ReservedConcurrentExecutions")
        if value is not None and (resolved := resolver.resolve(value)) is not NO_VALUE:
            reserved[logical_id] = int(resolved)
    return reserved


def test_each_reservation_is_a_parameter_at_its_default(cfn: Template) -> None:
    defaults = {name: int(cfn["Parameters"][name]["Default"]) for name in RESERVATIONS}

    assert _reserved(cfn) == {
        "CallbackFunction": defaults["CallbackReservedConcurrency"],
        "FindDueFunction": defaults["FindDueReservedConcurrency"],
        "ReconcileFunction": defaults["ReconcileReservedConcurrency"],
    }


@pytest.mark.parametrize("parameter", RESERVATIONS)
def test_zero_switches_a_reservation_off_and_leaves_the_others(
    cfn: Template, parameter: str
) -> None:
    switched_off = _reserved(cfn, **{parameter: "0"})

    assert len(switched_off) == len(RESERVATIONS) - 1
    assert cfn["Parameters"][parameter]["MinValue"] == 0


def test_an_account_at_the_smallest_quota_can_deploy_with_no_reservation(cfn: Template) -> None:
    assert _reserved(cfn, **dict.fromkeys(RESERVATIONS, "0")) == {}


def test_reconcile_reserves_what_the_map_runs_at_once_by_default(cfn: Template) -> None:
    parameters = cfn["Parameters"]

    assert (
        parameters["ReconcileReservedConcurrency"]["Default"]
        == parameters["ReconcileMapConcurrency"]["Default"]
    )


# --- log groups -----------------------------------------------------------------------------------


def _references(node: Any) -> set[str]:
    """Every logical id or parameter a node refers to (Ref, GetAtt, ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(str(value))
            elif key == "Fn::GetAtt":
                found.add(str(value[0]))
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
                if not isinstance(value, str):
                    found |= _references(value[1])
            else:
                found |= _references(value)
    return found


def test_every_function_logs_to_its_own_explicit_group(cfn: Template) -> None:
    functions = _of_type(cfn, "AWS::Lambda::Function")
    groups = _of_type(cfn, "AWS::Logs::LogGroup")

    targets = {
        logical_id: body["Properties"]["LoggingConfig"]["LogGroup"]
        for logical_id, body in functions.items()
    }

    assert functions
    assert all(set(target) == {"Ref"} for target in targets.values())
    assert len({target["Ref"] for target in targets.values()}) == len(functions)
    assert {target["Ref"] for target in targets.values()} <= set(groups)


def test_no_log_group_waits_for_a_function_so_none_races_its_first_invocation(
    cfn: Template,
) -> None:
    functions = set(_of_type(cfn, "AWS::Lambda::Function"))

    for logical_id, group in _of_type(cfn, "AWS::Logs::LogGroup").items():
        assert _references(group) & functions == set(), logical_id


def test_every_log_group_keeps_the_retention_and_takes_the_optional_key(cfn: Template) -> None:
    groups = _of_type(cfn, "AWS::Logs::LogGroup")
    with_key = _resolver(cfn, "payouts-dev", LogsKmsKeyArn=FAKE_KEY)
    without_key = _resolver(cfn, "payouts-dev")

    assert groups
    for logical_id, group in groups.items():
        properties = group["Properties"]
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, logical_id
        assert with_key.resolve(properties)["KmsKeyId"] == FAKE_KEY, logical_id
        assert "KmsKeyId" not in without_key.resolve(properties), logical_id


# --- secrets under a customer-managed key ---------------------------------------------------------


def _statements(role: dict[str, Any], resolver: Resolver) -> list[dict[str, Any]]:
    policies = resolver.resolve(role["Properties"].get("Policies", []))
    statements: list[dict[str, Any]] = []
    for policy in policies:
        statement = policy["PolicyDocument"]["Statement"]
        statements.extend(statement if isinstance(statement, list) else [statement])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_roles_that_read_secrets_may_decrypt_them_with_the_given_key_only(cfn: Template) -> None:
    with_key = _resolver(cfn, "payouts-dev", SecretsKmsKeyArn=FAKE_KEY)
    readers = {}
    for logical_id, role in _of_type(cfn, "AWS::IAM::Role").items():
        statements = _statements(role, with_key)
        if any("secretsmanager:GetSecretValue" in _actions(s) for s in statements):
            readers[logical_id] = [s for s in statements if "kms:Decrypt" in _actions(s)]

    assert set(readers) >= {"CallbackFunctionRole", "IntakeFunctionRole", "ReconcileFunctionRole"}
    for logical_id, decrypts in readers.items():
        assert decrypts == [
            {
                "Sid": "DecryptProviderSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": FAKE_KEY,
                "Condition": {
                    "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
                },
            }
        ], logical_id


def test_without_a_key_no_role_may_use_kms(cfn: Template) -> None:
    without_key = _resolver(cfn, "payouts-dev")

    for logical_id, role in _of_type(cfn, "AWS::IAM::Role").items():
        actions = [a for s in _statements(role, without_key) for a in _actions(s)]
        assert not [a for a in actions if a.startswith("kms:")], logical_id


# --- the orders table's migration (docs/table-migration.md) ---------------------------------------

# The last commit whose template a deployed stack may run: its table has by-status-day, no by-day.
DEPLOYED_MAIN: Final = "e0a4944"


@pytest.fixture(scope="module")
def deployed_cfn(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The template of a stack deployed from main before the migration, after the transform."""
    source = subprocess.run(
        ["git", "show", f"{DEPLOYED_MAIN}:template.yaml"],
        cwd=TEMPLATE_PATH.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path: Path = tmp_path_factory.mktemp("deployed") / "template.yaml"
    path.write_text(source)
    return transformed(path, REQUIRED_PARAMETERS)


def _table_indexes(cfn: Template, **overrides: str) -> dict[str, Any]:
    table = _resolver(cfn, "payouts-dev", **overrides).resolve(_properties(cfn, "OrdersTable"))
    return {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}


def _defined_attributes(cfn: Template, **overrides: str) -> set[str]:
    table = _resolver(cfn, "payouts-dev", **overrides).resolve(_properties(cfn, "OrdersTable"))
    return {definition["AttributeName"] for definition in table["AttributeDefinitions"]}


def test_step_one_only_adds_the_by_day_index_to_a_deployed_table(
    cfn: Template, deployed_cfn: Template
) -> None:
    # CloudFormation creates or deletes one GSI per stack update, and an index whose definition
    # changed is deleted and created again: every deployed index must stay exactly as it is.
    deployed = _table_indexes(deployed_cfn)
    step_one = _table_indexes(cfn, LegacyStatusIndex="true")

    assert "by-status-day" in deployed
    assert set(step_one) - set(deployed) == {"by-day"}
    assert {name: step_one[name] for name in deployed} == deployed
    assert _defined_attributes(cfn, LegacyStatusIndex="true") - _defined_attributes(
        deployed_cfn
    ) == {"day_pk", "created_at"}


def test_step_three_only_deletes_the_legacy_index(cfn: Template) -> None:
    step_one = _table_indexes(cfn, LegacyStatusIndex="true")
    step_three = _table_indexes(cfn, LegacyStatusIndex="false")

    assert set(step_one) - set(step_three) == {"by-status-day"}
    assert {name: step_one[name] for name in step_three} == step_three
    assert _table_indexes(cfn) == step_three, "the default is the migrated table"
    assert _defined_attributes(cfn, LegacyStatusIndex="true") - _defined_attributes(cfn) == {
        "status_pk",
        "status_sk",
    }


@pytest.mark.parametrize("legacy", ["true", "false"])
def test_every_function_is_told_the_legacy_index_setting(cfn: Template, legacy: str) -> None:
    resolver = _resolver(cfn, "payouts-dev", LegacyStatusIndex=legacy)
    functions = _of_type(cfn, "AWS::Lambda::Function")

    assert functions
    for logical_id, function in functions.items():
        variables = resolver.resolve(function["Properties"]["Environment"]["Variables"])
        assert variables["LEGACY_STATUS_INDEX"] == legacy, logical_id
