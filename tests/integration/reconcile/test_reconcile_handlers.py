"""The two task handlers, called as Lambda calls them with the sample events in
events/stepfunctions/: typed input, the output the state machine reads, and the metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from payouts.domain.status import OrderStatus
from payouts.providers.base import QueryKind
from payouts_tools.local.moto_lambda import InvocationContext
from payouts_tools.sandbox import Outcome, Provider
from tests.integration.reconcile.loop_stack import ASL_PATH, LoopStack, loop_stack
from tests.integration.reconcile.reconcile_support import store_order
from tests.support.cfn import TEMPLATE_PATH
from tests.support.handlers import load_handler
from tests.support.observed import captured_logs, cold_start_count, new_container
from tests.support.orders import T0

S = OrderStatus
EVENTS = TEMPLATE_PATH.parent / "events" / "stepfunctions"
IDS = ["PO-20261122-000123", "PO-20261122-000124", "PO-20261122-000125"]


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def context(name: str) -> InvocationContext:
    return InvocationContext(
        function_name=name, invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:{name}"
    )


def selected_fields(state: str) -> set[str]:
    """The fields of a task's answer the state machine's ResultSelector reads."""
    definition = json.loads(Path(ASL_PATH).read_text(encoding="utf-8"))
    selector = definition["States"][state]["ResultSelector"]
    return {path.removeprefix("$.Payload.") for path in selector.values()}


def emitted_metrics(output: str) -> dict[str, float]:
    """The Powertools EMF metrics printed by one invocation."""
    metrics: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = document[definition["Name"]]
            metrics[definition["Name"]] = sum(value) if isinstance(value, list) else value
    return metrics


@pytest.fixture
def loop(monkeypatch: pytest.MonkeyPatch) -> Any:
    with loop_stack(monkeypatch) as stack:
        yield stack


def test_acquire_answers_what_the_state_machine_reads(loop: LoopStack) -> None:
    handler = loop.find_due_module.lambda_handler

    first = handler(event("find_due-acquire.json"), context("find-due"))
    other = handler({**event("find_due-acquire.json"), "owner": "other"}, context("find-due"))

    assert set(first) == selected_fields("AcquireLease")
    assert first["acquired"] is True
    assert first["budget_ends_at"] == int(T0.timestamp()) + 600
    assert other["acquired"] is False


def test_find_answers_what_the_state_machine_reads(loop: LoopStack) -> None:
    handler = loop.find_due_module.lambda_handler
    for payout_id in IDS:
        store_order(loop.store, payout_id, S.SUBMITTED)
    handler(event("find_due-acquire.json"), context("find-due"))

    plan = handler(event("find_due-find.json"), context("find-due"))

    assert set(plan) == selected_fields("FindDue")
    assert sorted(pid for batch in plan["batches"] for pid in batch) == IDS
    assert plan["iteration"] == 1
    assert plan["lease_held"] is True


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "steal", "owner": "x"},
        {"action": "acquire", "owner": "x", "budget_seconds": 5},
        {"action": "find", "owner": "x", "iteration": 0, "budget_ends_at": 1},
        {"action": "acquire", "owner": "x", "budget_seconds": 600, "extra": True},
    ],
)
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_find_due_refuses_input_it_does_not_understand(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        load_handler("find_due").lambda_handler(bad, context("find-due"))


def test_reconcile_checks_a_batch_and_publishes_its_counts(
    loop: LoopStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # One the provider has paid, one it does not know after grace, one not due yet.
    loop.sandbox.script(Provider.GATEWAY_V2, IDS[0], Outcome.SUCCESS, after_queries=1)
    order = store_order(loop.store, IDS[0], S.SUBMITTING)
    loop.create_at_provider(order, "gateway_v2")
    store_order(loop.store, IDS[1], S.UNKNOWN, at=T0.replace(hour=7))
    store_order(loop.store, IDS[2], S.SUBMITTED, next_check_at=T0.replace(hour=9))
    capsys.readouterr()

    counts = loop.reconcile_module.lambda_handler(
        event("reconcile-batch.json"), context("reconcile")
    )

    # SUBMITTING claimed at T0 is not stale yet: deferred, not queried.
    assert counts["checked"] == 3
    assert counts["deferred"] == 1
    assert counts["escalated"] == 1
    assert counts["skipped"] == 1
    assert counts["provider_calls"] == 1
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["OrderEscalated"] == 1
    assert metrics["OrdersChecked"] == 3
    assert loop.order(IDS[1]).needs_review is True
    assert loop.order(IDS[1]).status is S.UNKNOWN
    escalation = loop.store.history(IDS[1])[-1]
    assert escalation.summary.startswith("escalated: gateway_v2 has no order")
    assert escalation.detail["kind"] == QueryKind.NOT_FOUND.value


@pytest.mark.parametrize(
    "bad",
    [{"payout_ids": []}, {"payout_ids": ["not an id!"]}, {"ids": ["PO-1"]}],
)
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_reconcile_refuses_a_batch_it_cannot_read(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        load_handler("reconcile").lambda_handler(bad, context("reconcile"))


def test_find_due_logs_carry_the_execution_id_and_the_cold_start_is_counted_once(
    loop: LoopStack, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = loop.find_due_module.lambda_handler
    acquire = event("find_due-acquire.json")
    new_container()
    capsys.readouterr()

    with captured_logs() as logs:
        handler(acquire, context("find-due"))
        handler(acquire, context("find-due"))

    lines = logs.with_message("reconcile lease")
    assert [line["correlation_id"] for line in lines] == [acquire["owner"]] * 2
    assert cold_start_count(capsys.readouterr().out) == 1


def test_reconcile_logs_name_the_execution_and_each_order(
    loop: LoopStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two orders the provider does not know after grace: both escalate, concurrently.
    for payout_id in IDS[:2]:
        store_order(loop.store, payout_id, S.UNKNOWN, at=T0.replace(hour=7))
    batch = {**event("reconcile-batch.json"), "payout_ids": IDS[:2]}
    new_container()
    capsys.readouterr()

    with captured_logs() as logs:
        loop.reconcile_module.lambda_handler(batch, context("reconcile"))
        loop.reconcile_module.lambda_handler(batch, context("reconcile"))

    escalated = logs.with_message("order escalated")
    # Logged without an explicit id: each line gets its order's from the check's context.
    assert sorted(line["payout_id"] for line in escalated) == IDS[:2]
    assert {line["correlation_id"] for line in logs.all()} == {batch["owner"]}
    assert all("payout_id" not in line for line in logs.with_message("batch reconciled"))
    assert cold_start_count(capsys.readouterr().out) == 1
