"""The real statemachine/reconcile.asl.json, read as data: every target exists, JSONPath only,
every placeholder substituted by the template, guarded Choices, and retries that never repeat
anything that might follow a create."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payouts.settings.find_due import RECONCILE_LEASE
from payouts.store import keys
from payouts_tools.local.moto_lambda import create_state_machine, placeholders
from tests.support.cfn import TEMPLATE_PATH, load_template, resource

ASL_PATH = TEMPLATE_PATH.parent / "statemachine" / "reconcile.asl.json"
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.TooManyRequestsException",
    "Lambda.SdkClientException",
}
TERMINAL_TYPES = {"Succeed", "Fail"}
REGION = "us-east-1"

type State = dict[str, Any]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def machine_resource() -> dict[str, Any]:
    return resource(load_template(), "ReconcileStateMachine")


def scopes(machine: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The machine and every nested state machine (Map processors, Parallel branches)."""
    yield machine
    for state in machine["States"].values():
        nested = state.get("ItemProcessor") or state.get("Iterator")
        if nested:
            yield from scopes(nested)
        for branch in state.get("Branches", []):
            yield from scopes(branch)


def all_states(machine: dict[str, Any]) -> Iterator[tuple[str, State]]:
    for scope in scopes(machine):
        yield from scope["States"].items()


def targets(state: State) -> Iterator[str]:
    """Every state name ``state`` can move to."""
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def choice_variables(rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for combinator in ("And", "Or"):
        for inner in rule.get(combinator, []):
            yield from choice_variables(inner)
    if "Not" in rule:
        yield from choice_variables(rule["Not"])
    if "Variable" in rule:
        yield rule


def test_every_start_and_transition_target_exists_in_its_scope(definition: dict[str, Any]) -> None:
    for scope in scopes(definition):
        names = set(scope["States"])
        assert scope["StartAt"] in names
        for name, state in scope["States"].items():
            missing = set(targets(state)) - names
            assert missing == set(), f"{name} moves to states that do not exist: {missing}"


def test_every_state_ends_or_moves_on_and_every_state_is_reachable(
    definition: dict[str, Any],
) -> None:
    for scope in scopes(definition):
        reachable: set[str] = set()
        frontier = [scope["StartAt"]]
        while frontier:
            name = frontier.pop()
            if name in reachable:
                continue
            reachable.add(name)
            frontier.extend(targets(scope["States"][name]))
        assert reachable == set(scope["States"]), "unreachable states"
        for name, state in scope["States"].items():
            ends = state["Type"] in TERMINAL_TYPES or state.get("End") is True
            assert ends or "Next" in state or state["Type"] == "Choice", name


def test_the_definition_is_jsonpath_only(definition: dict[str, Any]) -> None:
    # moto cannot run JSONata; a JSONata field or expression anywhere would silently not work.
    text = ASL_PATH.read_text(encoding="utf-8")

    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert "{%" not in text
    for name, state in all_states(definition):
        assert state.get("QueryLanguage", "JSONPath") == "JSONPath", name
        assert not {"Arguments", "Output", "Assign", "Condition"} & set(state), name


def test_the_template_provides_exactly_the_placeholders_the_file_uses(
    machine_resource: dict[str, Any],
) -> None:
    properties = machine_resource["Properties"]
    substitutions = set(properties["DefinitionSubstitutions"])

    used = placeholders(ASL_PATH.read_text(encoding="utf-8"))

    assert used == substitutions
    assert properties["DefinitionUri"] == "statemachine/reconcile.asl.json"
    assert properties["Type"] == "STANDARD"
    assert "DefinitionString" not in properties
    assert "Definition" not in properties


def test_every_choice_on_a_path_is_guarded_by_is_present(definition: dict[str, Any]) -> None:
    # moto silently takes Default on a missing path where AWS raises: guard every comparison.
    for name, state in all_states(definition):
        for rule in state.get("Choices", []):
            conditions = list(choice_variables(rule))
            guarded = {c["Variable"] for c in conditions if c.get("IsPresent") is True}
            compared = {c["Variable"] for c in conditions if "IsPresent" not in c}
            assert compared <= guarded, f"{name}: unguarded {compared - guarded}"
            assert "And" in rule, f"{name}: a guard must be And-ed with its comparison"


def test_the_reconcile_task_is_retried_only_when_lambda_never_ran_it(
    definition: dict[str, Any],
) -> None:
    # reconcile may re-send a create (pg_v2's not-found policy): a function error or a timeout
    # must never run it again.
    reconcile = definition["States"]["ReconcileBatches"]["ItemProcessor"]["States"]["Reconcile"]

    retried = {error for retry in reconcile["Retry"] for error in retry["ErrorEquals"]}

    assert retried == LAMBDA_SERVICE_ERRORS
    assert "Catch" not in reconcile  # the Map catches, releases the lease and fails


def test_a_failed_step_releases_the_lease_before_failing(definition: dict[str, Any]) -> None:
    states = definition["States"]

    for name in ("AcquireLease", "FindDue", "ReconcileBatches"):
        catchers = states[name]["Catch"]
        assert [c["ErrorEquals"] for c in catchers] == [["States.ALL"]], name
        assert catchers[0]["Next"] == "ReleaseLeaseAfterFailure", name
    assert states["ReleaseLeaseAfterFailure"]["Next"] == "ReconcileFailed"
    assert states["ReconcileFailed"]["Type"] == "Fail"


@pytest.mark.parametrize("release", ["ReleaseLease", "ReleaseLeaseAfterFailure"])
def test_release_deletes_only_the_lease_item_and_only_when_this_execution_owns_it(
    definition: dict[str, Any], release: str
) -> None:
    state = definition["States"][release]
    parameters = state["Parameters"]

    assert state["Resource"] == "arn:aws:states:::dynamodb:deleteItem"
    assert parameters["Key"] == {
        "PK": {"S": keys.lease_pk(RECONCILE_LEASE)},
        "SK": {"S": keys.LEASE_SK},
    }
    assert parameters["ConditionExpression"] == "#owner = :owner"
    assert parameters["ExpressionAttributeNames"] == {"#owner": "owner"}
    assert parameters["ExpressionAttributeValues"] == {":owner": {"S.$": "$$.Execution.Id"}}


def test_the_lease_owner_is_the_execution_everywhere(definition: dict[str, Any]) -> None:
    states = definition["States"]

    assert states["AcquireLease"]["Parameters"]["Payload"]["owner.$"] == "$$.Execution.Id"
    assert states["FindDue"]["Parameters"]["Payload"]["owner.$"] == "$$.Execution.Id"


def test_the_state_machine_role_may_delete_only_the_lease_item(
    machine_resource: dict[str, Any],
) -> None:
    statements = [
        statement
        for policy in machine_resource["Properties"]["Policies"]
        if "Statement" in policy
        for statement in policy["Statement"]
    ]
    deletes = [s for s in statements if "dynamodb:DeleteItem" in str(s["Action"])]
    invokes = [
        policy["LambdaInvokePolicy"]["FunctionName"]
        for policy in machine_resource["Properties"]["Policies"]
        if "LambdaInvokePolicy" in policy
    ]

    assert len(deletes) == 1
    assert deletes[0]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [keys.lease_pk(RECONCILE_LEASE)]}
    }
    assert not [s for s in statements if "dynamodb:*" in str(s["Action"])]
    assert invokes == [{"Ref": "FindDueFunction"}, {"Ref": "ReconcileFunction"}]


def test_the_schedule_starts_it_at_the_configured_rate(machine_resource: dict[str, Any]) -> None:
    (event,) = machine_resource["Properties"]["Events"].values()

    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "ReconcileScheduleRate"}


def test_moto_parses_the_substituted_definition() -> None:
    substitutions = {
        "FindDueFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:find-due",
        "ReconcileFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:reconcile",
        "OrdersTableName": "orders",
        "LoopBudgetSeconds": "600",
        "MaxWaitSeconds": "30",
        "MaxIterations": "60",
        "MapMaxConcurrency": "4",
    }
    with mock_aws():
        client = boto3.client("stepfunctions", region_name=REGION)
        role = "arn:aws:iam::123456789012:role/reconcile"

        arn = create_state_machine(client, "reconcile", Path(ASL_PATH), substitutions, role)

        described = client.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"])["StartAt"] == "Configure"
