"""template.yaml's alarms and dashboard: what an on-call person expects, each alarm its runbook
line, every figure on the dashboard one that AWS or the code actually publishes."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Final

import pytest

from payouts.providers.base import CreateKind
from payouts.services.funnel import METRIC_STATUS_CHANGED
from payouts.services.status_events import METRIC_NOT_PUBLISHED
from tests.support.cfn import TEMPLATE_PATH, Template, load_template
from tests.support.stack_resolver import stack_resolver

ROOT: Final = TEMPLATE_PATH.parent
TO_TOPIC: Final = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
STACK: Final = "payouts-dev"

# The AWS metrics alarms and widgets may use, by namespace (from each service's metric docs).
AWS_METRICS: Final = {
    "AWS/ApiGateway": {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"},
    "AWS/DynamoDB": {
        "ConsumedReadCapacityUnits",
        "ConsumedWriteCapacityUnits",
        "SystemErrors",
        "ThrottledRequests",
    },
    "AWS/Lambda": {"ConcurrentExecutions", "Duration", "Errors", "Invocations", "IteratorAge"}
    | {"Throttles"},
    "AWS/SQS": {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"},
    "AWS/States": {
        "ExecutionsAborted",
        "ExecutionsFailed",
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsTimedOut",
        "ExecutionThrottled",
    },
}
# boto3 client method -> the Operation dimension DynamoDB publishes it under.
DYNAMODB_OPERATIONS: Final = {
    "get_item": "GetItem",
    "put_item": "PutItem",
    "query": "Query",
    "scan": "Scan",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "transact_write_items": "TransactWriteItems",
    "transact_get_items": "TransactGetItems",
    "batch_get_item": "BatchGetItem",
    "batch_write_item": "BatchWriteItem",
}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def _of_type(template: Template, type_name: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: body
        for logical_id, body in template["Resources"].items()
        if body["Type"] == type_name
    }


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {
        logical_id: body["Properties"]
        for logical_id, body in _of_type(template, "AWS::CloudWatch::Alarm").items()
    }


def _dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in alarm.get("Dimensions", [])}


def _one_alarm(template: Template, namespace: str, metric: str) -> dict[str, Any]:
    [alarm] = [
        alarm
        for alarm in _alarms(template).values()
        if (alarm.get("Namespace"), alarm.get("MetricName")) == (namespace, metric)
    ]
    return alarm


def _python_files() -> list[Path]:
    return [
        *(ROOT / "layers/payouts/payouts").rglob("*.py"),
        *(ROOT / "functions").glob("*/app.py"),
    ]


def _emitted_metric_names() -> set[str]:
    """Every name the code may pass to Powertools' add_metric: its string constants (metric
    names are literals or Final constants), and the intake's Create<Outcome> family."""
    constants = {
        node.value
        for path in _python_files()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    creates = {f"Create{kind.value.title().replace('_', '')}" for kind in CreateKind}
    return {name for name in constants if re.fullmatch(r"[A-Z][A-Za-z0-9]+", name)} | creates


def _runbook_titles(doc: str) -> set[str]:
    """The bold paragraph titles of ``doc`` (a path under the repository), whitespace normalised;
    none when there is no such file."""
    path = ROOT / doc
    if not path.is_file():
        return set()
    return {" ".join(title.split()) for title in re.findall(r"\*\*([^*]+)\*\*", path.read_text())}


# --- every alarm ----------------------------------------------------------------------------------


def test_every_alarm_notifies_the_optional_topic_both_ways(template: Template) -> None:
    alarms = _alarms(template)

    assert len(alarms) >= 20
    for logical_id, alarm in alarms.items():
        assert alarm["AlarmActions"] == TO_TOPIC, logical_id
        assert alarm["OKActions"] == TO_TOPIC, logical_id
        assert "AlarmName" not in alarm, f"{logical_id}: a fixed name collides between stacks"


def test_every_alarm_description_is_a_runbook_line_naming_a_section_that_exists(
    template: Template,
) -> None:
    for logical_id, alarm in _alarms(template).items():
        description = " ".join(alarm["AlarmDescription"].split())
        cited = re.findall(r'(docs/[\w.-]+\.md), "([^"]+)"', description)
        assert len(description) <= 1024, logical_id  # CloudWatch's limit
        assert cited, f'{logical_id} names no runbook (docs/<doc>.md, "<bold title>")'
        for doc, title in cited:
            assert title in _runbook_titles(doc), f"{logical_id} cites {doc} {title!r}: not there"


def test_the_runbook_citations_are_checked_against_the_real_titles() -> None:
    titles = _runbook_titles("docs/operations.md")

    assert "The DLQ alarm fired" in titles
    assert "A function errors or is throttled" in titles
    assert "No such runbook" not in titles
    assert _runbook_titles("docs/no-such-doc.md") == set()


# --- what on-call expects -------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_its_errors_and_throttles_alarm(template: Template, metric: str) -> None:
    functions = set(_of_type(template, "AWS::Serverless::Function"))
    watched = {
        _dimensions(alarm)["FunctionName"]["Ref"]
        for alarm in _alarms(template).values()
        if (alarm.get("Namespace"), alarm.get("MetricName")) == ("AWS/Lambda", metric)
    }

    assert functions
    assert functions <= watched


def test_the_requests_queue_alarms_on_its_oldest_message(template: Template) -> None:
    alarm = _one_alarm(template, "AWS/SQS", "ApproximateAgeOfOldestMessage")

    assert _dimensions(alarm) == {"QueueName": {"Fn::GetAtt": ["PayoutRequestsQueue", "QueueName"]}}
    assert alarm["Statistic"] == "Maximum"
    # Longer than a retry (the visibility timeout), so one retried request does not page.
    assert alarm["Threshold"] > template["Parameters"]["RequestsVisibilityTimeout"]["Default"]


@pytest.mark.parametrize(
    "metric", ["ExecutionsTimedOut", "ExecutionsAborted", "ExecutionThrottled", "ExecutionsFailed"]
)
def test_the_reconcile_state_machine_alarms_on(template: Template, metric: str) -> None:
    alarm = _one_alarm(template, "AWS/States", metric)

    assert _dimensions(alarm) == {"StateMachineArn": {"Ref": "ReconcileStateMachine"}}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def _operations_the_code_calls() -> set[str]:
    calls = re.compile(r"\.(" + "|".join(DYNAMODB_OPERATIONS) + r")\(")
    used = {
        DYNAMODB_OPERATIONS[name]
        for path in (ROOT / "layers/payouts/payouts/store").rglob("*.py")
        for name in calls.findall(path.read_text())
    }
    asl = (ROOT / "statemachine/reconcile.asl.json").read_text()
    used |= {name[0].upper() + name[1:] for name in re.findall(r":dynamodb:(\w+)", asl)}
    return used


@pytest.mark.parametrize("metric", ["ThrottledRequests", "SystemErrors"])
def test_the_table_alarms_sum_every_operation_the_code_calls(
    template: Template, metric: str
) -> None:
    [alarm] = [
        alarm
        for alarm in _alarms(template).values()
        if any(
            query.get("MetricStat", {}).get("Metric", {}).get("MetricName") == metric
            for query in alarm.get("Metrics", [])
        )
    ]
    stats = [query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query]
    [total] = [query for query in alarm["Metrics"] if query.get("ReturnData")]
    operations = set()
    for stat in stats:
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert stat["Metric"]["Namespace"] == "AWS/DynamoDB"
        assert dimensions["TableName"] == {"Ref": "OrdersTable"}
        operations.add(dimensions["Operation"])

    assert {"GetItem", "PutItem", "Query", "TransactWriteItems"} <= _operations_the_code_calls()
    assert _operations_the_code_calls() <= operations
    assert total["Expression"] == "SUM(METRICS())"


def test_callback_latency_alarms_on_the_p99_of_the_declared_stage(template: Template) -> None:
    alarm = _one_alarm(template, "AWS/ApiGateway", "Latency")
    api = template["Resources"]["CallbackApi"]["Properties"]

    assert _dimensions(alarm) == {"ApiName": api["Name"], "Stage": api["StageName"]}
    assert alarm["ExtendedStatistic"] == "p99"
    # Below API Gateway's 29 s integration timeout, or the alarm would come after the 504s.
    assert alarm["Threshold"] < 29_000


def test_status_events_not_published_alarms_on_the_metric_the_service_emits(
    template: Template,
) -> None:
    alarm = _one_alarm(template, "Payouts", METRIC_NOT_PUBLISHED)

    assert _dimensions(alarm) == {"service": "payouts"}
    assert alarm["Statistic"] == "Sum"


def test_every_payouts_metric_an_alarm_reads_is_one_the_code_emits(template: Template) -> None:
    emitted = _emitted_metric_names()
    read = {alarm["MetricName"] for alarm in _alarms(template).values() if "MetricName" in alarm}
    read |= {
        query["MetricStat"]["Metric"]["MetricName"]
        for alarm in _alarms(template).values()
        for query in alarm.get("Metrics", [])
        if "MetricStat" in query and query["MetricStat"]["Metric"]["Namespace"] == "Payouts"
    }
    payouts_read = {
        name
        for name in read
        if not any(name in metrics for metrics in AWS_METRICS.values())
        or name in {"StatusEventsNotPublished"}
    }

    assert "CreateAccepted" in emitted
    assert "OrderEscalated" in emitted
    assert payouts_read - emitted == set()


# --- the dashboard --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(template: Template) -> dict[str, Any]:
    """The dashboard's body as CloudWatch receives it, for stack payouts-dev."""
    [(_, body)] = _of_type(template, "AWS::CloudWatch::Dashboard").items()
    resolved = stack_resolver(template, STACK).resolve(body["Properties"]["DashboardBody"])
    parsed: dict[str, Any] = json.loads(resolved)
    return parsed


def _series(dashboard: dict[str, Any]) -> list[list[Any]]:
    """Every metric row (not expressions) of every metric widget."""
    return [
        row
        for widget in dashboard["widgets"]
        if widget["type"] == "metric"
        for row in widget["properties"]["metrics"]
        if isinstance(row[0], str)
    ]


def _expressions(dashboard: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(expression, ids defined in its widget) for every math expression."""
    found = []
    for widget in dashboard["widgets"]:
        if widget["type"] != "metric":
            continue
        rows = widget["properties"]["metrics"]
        ids = {row[-1]["id"] for row in rows if isinstance(row[-1], dict) and "id" in row[-1]}
        found += [(row[0]["expression"], ids) for row in rows if isinstance(row[0], dict)]
    return found


def _searched(expression: str) -> list[tuple[str, str]]:
    """(namespace, metric name) of each SEARCH in a math expression."""
    pattern = r"SEARCH\('\{(AWS/\w+|Payouts)[^}]*\}[^']*MetricName=\"(\w+)\""
    return re.findall(pattern, expression)


def test_the_funnel_is_searched_by_provider_and_status_as_the_stream_counts_it(
    dashboard: dict[str, Any],
) -> None:
    searches = [
        expression
        for expression, _ in _expressions(dashboard)
        if ("Payouts", METRIC_STATUS_CHANGED) in _searched(expression)
    ]

    [funnel] = searches
    assert "{Payouts,provider,service,status}" in funnel


def test_the_dashboard_is_one_json_body_of_widgets(dashboard: dict[str, Any]) -> None:
    assert len(dashboard["widgets"]) >= 10
    for widget in dashboard["widgets"]:
        assert widget["type"] in {"metric", "text"}
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "eu-west-1"
            assert widget["properties"]["title"]


def test_every_dashboard_metric_is_published_by_aws_or_by_the_code(
    dashboard: dict[str, Any],
) -> None:
    emitted = _emitted_metric_names()

    for namespace, name, *rest in _series(dashboard):
        dimensions = [item for item in rest if not isinstance(item, dict)]
        if namespace == "Payouts":
            assert name in emitted, f"no code emits {name}"
            assert dimensions == ["service", "payouts"], name
        else:
            assert name in AWS_METRICS[namespace], f"{namespace} {name}"
    for expression, _ in _expressions(dashboard):
        for namespace, name in _searched(expression):
            assert name in (emitted if namespace == "Payouts" else AWS_METRICS[namespace]), name


def test_every_dashboard_dimension_names_a_resource_of_this_stack(
    template: Template, dashboard: dict[str, Any]
) -> None:
    resolver = stack_resolver(template, STACK)

    def refs(type_name: str, attribute: str | None = None) -> set[str]:
        return {
            str(
                resolver.resolve(
                    {"Fn::GetAtt": [logical_id, attribute]} if attribute else {"Ref": logical_id}
                )
            )
            for logical_id in _of_type(template, type_name)
        }

    allowed = {
        "FunctionName": refs("AWS::Serverless::Function"),
        "QueueName": refs("AWS::SQS::Queue", "QueueName"),
        "StateMachineArn": refs("AWS::Serverless::StateMachine"),
        "TableName": refs("AWS::DynamoDB::Table"),
        "ApiName": {
            str(resolver.resolve(template["Resources"]["CallbackApi"]["Properties"]["Name"]))
        },
        "Stage": {"dev"},
        "service": {"payouts"},
    }
    for _, _, *rest in _series(dashboard):
        dimensions = [item for item in rest if not isinstance(item, dict)]
        for name, value in zip(dimensions[::2], dimensions[1::2], strict=True):
            assert value in allowed[name], f"{name}={value}"


def test_every_expression_reads_ids_its_widget_defines(dashboard: dict[str, Any]) -> None:
    expressions = _expressions(dashboard)

    assert expressions
    for expression, ids in expressions:
        assert set(re.findall(r"\bm_\w+", expression)) <= ids, expression


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_the_dashboard_shows_every_function(
    template: Template, dashboard: dict[str, Any], metric: str
) -> None:
    resolver = stack_resolver(template, STACK)
    functions = {
        str(resolver.resolve({"Ref": logical_id}))
        for logical_id in _of_type(template, "AWS::Serverless::Function")
    }
    shown = {
        row[3] for row in _series(dashboard) if row[:3] == ["AWS/Lambda", metric, "FunctionName"]
    }

    assert functions <= shown


def test_the_dashboard_shows_both_dead_letter_queues(
    template: Template, dashboard: dict[str, Any]
) -> None:
    resolver = stack_resolver(template, STACK)
    dead_letter_queues = {
        str(resolver.resolve({"Fn::GetAtt": [name, "QueueName"]}))
        for name in ["PayoutRequestsDLQ", "StatusEventsFailureQueue"]
    }
    shown = {
        row[3]
        for row in _series(dashboard)
        if row[:3] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"]
    }

    assert dead_letter_queues <= shown
