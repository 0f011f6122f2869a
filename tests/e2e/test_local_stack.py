"""The local stack end to end: it comes up from template.yaml, a demo with faults on settles with
the ledger invariants holding, and it goes down leaving nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from payouts_tools.local.demo import DemoOptions, run_scenario, stack_options
from payouts_tools.local.scenario import parse_fault_mix
from payouts_tools.local.stack import LocalStack
from payouts_tools.local.template import load_template, resources_of_type, table_create_kwargs

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

# Every kind of trouble, often enough that a few dozen payouts meet each of them.
HEAVY = "heavy,slow_ms=200"


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = replace(
        stack_options(DemoOptions(count=40, faults=parse_fault_mix(HEAVY), seed=11)),
        log_path=tmp_path_factory.mktemp("logs") / "handlers.log",
    )
    with LocalStack(options) as stack:
        yield stack


def test_the_stack_is_made_from_the_template(demo_stack: LocalStack) -> None:
    template = load_template()
    resources = demo_stack.resources
    assert resources is not None
    # Every queue, the table, the bus, every function and the state machine of the template.
    for resource_type in (
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::Events::EventBus",
        "AWS::Serverless::Function",
        "AWS::Serverless::StateMachine",
    ):
        assert set(resources_of_type(template, resource_type)) <= set(resources.made)
    # The queue's visibility timeout and redrive policy are the template parameters' defaults.
    sqs = demo_stack.aws.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=demo_stack.endpoints.queue_url, AttributeNames=["All"]
    )["Attributes"]
    defaults = template["Parameters"]
    assert attributes["VisibilityTimeout"] == str(defaults["RequestsVisibilityTimeout"]["Default"])
    assert (
        f'"maxReceiveCount": {defaults["RequestsMaxReceiveCount"]["Default"]}'
        in (attributes["RedrivePolicy"])
    )
    # The table has the template's indexes and stream.
    table = demo_stack.aws.client("dynamodb").describe_table(TableName=demo_stack.endpoints.table)[
        "Table"
    ]
    # As declared at the parameters' defaults (the legacy index is conditional).
    declared = table_create_kwargs(template, "OrdersTable", "t")["GlobalSecondaryIndexes"]
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {
        index["IndexName"] for index in declared
    }
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_the_stack_registers_itself_with_the_templates_outputs(demo_stack: LocalStack) -> None:
    cloudformation = demo_stack.aws.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=demo_stack.endpoints.stack_name)["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}
    assert outputs["OrdersTableName"] == demo_stack.endpoints.table
    assert outputs["PayoutRequestsQueueUrl"] == demo_stack.endpoints.queue_url
    # The API is the local bridge: its output is where providers' callbacks go locally.
    assert outputs["CallbackBaseUrl"] == demo_stack.endpoints.callbacks
    reconcile = cloudformation.describe_stack_resource(
        StackName=demo_stack.endpoints.stack_name, LogicalResourceId="ReconcileFunction"
    )["StackResourceDetail"]["PhysicalResourceId"]
    environment = demo_stack.aws.client("lambda").get_function_configuration(
        FunctionName=reconcile
    )["Environment"]["Variables"]
    # The function's settings point at the local sandbox and secrets, not at the template's.
    assert environment["PG_V2_BASE_URL"] == demo_stack.endpoints.sandbox
    assert environment["ORDERS_TABLE"] == demo_stack.endpoints.table


def test_a_demo_with_faults_on_settles_and_the_ledger_invariants_hold(
    demo_stack: LocalStack,
) -> None:
    options = DemoOptions(count=40, faults=parse_fault_mix(HEAVY), seed=11, timeout_s=150)

    report = run_scenario(demo_stack, options)

    assert report.orders == 40
    assert report.double_payouts == []
    assert report.unresolved == []
    assert report.failed_but_paid == []
    assert report.succeeded_but_unpaid == []
    assert report.amount_mismatches == []
    assert report.without_final_event == []
    assert report.invariants_ok, report.as_json()
    # The faults really happened: some orders went through UNKNOWN, and every order's status
    # changes reached the event bus's consumer.
    assert report.status_events >= 3 * report.orders
    assert sum(report.by_status.values()) == 40


def test_only_one_stack_runs_per_process(demo_stack: LocalStack) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        LocalStack().start()
    assert LocalStack.running()
