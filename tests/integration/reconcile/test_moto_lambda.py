"""The in-process Lambda technique (payouts_tools.local.moto_lambda) against the pinned moto: real
handlers run, their errors look like Lambda's, Step Functions can catch them by type, Waits
return at once, and everything is undone on exit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws

from payouts_tools.local.moto_lambda import (
    EXECUTION_CONFIG,
    HANDLER_NOT_FOUND,
    InProcessLambdas,
    MotoVersionError,
    check_moto_version,
    create_function,
    create_role,
    execution_history,
    instant_waits,
    state_transitions,
    wait_for_execution,
)

REGION = "us-east-1"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws(config=EXECUTION_CONFIG):
        role = create_role(boto3.client("iam", region_name=REGION))
        yield {
            "role": role,
            "lambda": boto3.client("lambda", region_name=REGION),
            "sfn": boto3.client("stepfunctions", region_name=REGION),
        }


def invoke(aws: dict[str, Any], name: str, event: object) -> tuple[str | None, Any]:
    answer = aws["lambda"].invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


def test_the_registered_handler_runs_with_the_event_and_a_lambda_context(
    aws: dict[str, Any],
) -> None:
    seen: list[tuple[Any, str, str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context.function_name, context.invoked_function_arn))
        return {"doubled": event["n"] * 2}

    arn = create_function(aws["lambda"], "doubler", aws["role"])
    with InProcessLambdas({"doubler": handler}) as lambdas:
        error, payload = invoke(aws, "doubler", {"n": 21})

    assert (error, payload) == (None, {"doubled": 42})
    assert seen == [({"n": 21}, "doubler", arn)]
    assert lambdas.count("doubler") == 1


def test_an_exception_comes_back_as_lambdas_unhandled_error(aws: dict[str, Any]) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        raise ValueError("bad batch")

    create_function(aws["lambda"], "broken", aws["role"])
    with InProcessLambdas({"broken": handler}) as lambdas:
        error, payload = invoke(aws, "broken", {})

    assert error == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad batch"
    assert lambdas.invocations[0].error_type == "ValueError"


def test_a_function_without_a_handler_fails_instead_of_echoing(aws: dict[str, Any]) -> None:
    create_function(aws["lambda"], "orphan", aws["role"])
    with InProcessLambdas({}):
        error, payload = invoke(aws, "orphan", {"n": 1})

    assert error == "Unhandled"
    assert payload["errorType"] == HANDLER_NOT_FOUND


def test_outside_the_context_moto_echoes_again(aws: dict[str, Any]) -> None:
    create_function(aws["lambda"], "doubler", aws["role"])
    with InProcessLambdas({"doubler": lambda event, context: {"ran": True}}):
        pass

    _, payload = invoke(aws, "doubler", {"n": 1})

    assert payload == {"n": 1}


def test_step_functions_catches_a_handler_error_by_its_type_and_waits_return_at_once(
    aws: dict[str, Any],
) -> None:
    arn = create_function(aws["lambda"], "broken", aws["role"])
    definition = {
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Call"},
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload": {}},
                "Catch": [{"ErrorEquals": ["KeyError"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    machine = aws["sfn"].create_state_machine(
        name="catcher", definition=json.dumps(definition), roleArn=aws["role"]
    )["stateMachineArn"]

    def handler(event: dict[str, Any], context: Any) -> None:
        raise KeyError("missing")

    advanced: list[int] = []
    with InProcessLambdas({"broken": handler}), instant_waits(advanced.append) as asked:
        started = time.monotonic()
        execution = aws["sfn"].start_execution(stateMachineArn=machine, name="one")
        result = wait_for_execution(aws["sfn"], execution["executionArn"], timeout_s=20)

    assert result["status"] == "SUCCEEDED"
    assert asked == advanced == [3600]
    assert time.monotonic() - started < 20
    events = execution_history(aws["sfn"], execution["executionArn"])
    assert state_transitions(events) == 3  # Pause, Call, Caught


def test_parallel_invocations_run_one_at_a_time(aws: dict[str, Any]) -> None:
    arn = create_function(aws["lambda"], "slow", aws["role"])
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 4,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Call",
                    "States": {
                        "Call": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    machine = aws["sfn"].create_state_machine(
        name="fan", definition=json.dumps(definition), roleArn=aws["role"]
    )["stateMachineArn"]
    inside = 0
    most = 0
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        with lock:
            inside -= 1
        return 0

    with InProcessLambdas({"slow": handler}) as lambdas:
        execution = aws["sfn"].start_execution(
            stateMachineArn=machine, name="fan-1", input=json.dumps({"items": [1, 2, 3, 4]})
        )
        result = wait_for_execution(aws["sfn"], execution["executionArn"], timeout_s=20)

    assert result["status"] == "SUCCEEDED"
    assert lambdas.count("slow") == 4
    assert most == 1


def test_only_one_in_process_lambda_context_at_a_time() -> None:
    with InProcessLambdas({}), pytest.raises(RuntimeError, match="already active"):
        InProcessLambdas({}).__enter__()


def test_an_unknown_moto_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_moto_version().startswith("5.2.")

    monkeypatch.setattr(moto, "__version__", "5.3.0")

    with pytest.raises(MotoVersionError, match=r"5\.3\.0"):
        check_moto_version()
