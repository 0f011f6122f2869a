"""The intake function end to end: the real handler and adapters, the provider sandbox on
loopback (its ledger is what "paid exactly once" is checked against), a real DynamoDB engine
(DynamoDB Local: conditional writes are atomic there, as on AWS, which racing deliveries need)
and moto for SQS and Secrets Manager."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.providers.gateway_v2 import GatewayV2Adapter
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.sandbox import (
    CallbackOptions,
    Fault,
    FaultKind,
    Operation,
    Provider,
    Sandbox,
    SandboxConfig,
)
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.handlers import load_handler
from tests.support.observed import captured_logs, cold_start_count, new_container

pytestmark = [
    pytest.mark.dynamodb_local,
    # A crashed invocation, or one of several racing in one process, may flush no metrics.
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

S = OrderStatus
EVENTS = Path(__file__).resolve().parents[3] / "events" / "sqs"
# Fast settlement; no callbacks (no callback endpoint runs in these tests).
SANDBOX = SandboxConfig(seed=4, settle_after_s=0.2, callbacks=CallbackOptions(enabled=False))
# Generous: a busy 2-core machine can hold a connection up for a second or more (the sandbox's
# listen backlog is 5 and a batch connects 10 at once). The lost-answer test sets its own.
PROVIDER_TIMEOUT_S = "5"
SETTLE_WAIT_S = 10.0


class Crash(BaseException):
    """The function dying mid-flight: nothing after it runs, nothing catches it."""


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str = "payouts-intake"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:payouts-intake"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass
class Stack:
    """The function's world for one test."""

    sandbox: Sandbox
    store: OrderStore
    dlq_url: str
    monkeypatch: pytest.MonkeyPatch

    def handler(self) -> ModuleType:
        """A freshly loaded handler module (its cached settings and clients start empty)."""
        return load_handler("intake")

    def invoke(self, event: dict[str, Any], handler: ModuleType | None = None) -> list[str]:
        """Run one invocation; the ids of the records it asked SQS to retry."""
        module = handler or self.handler()
        answer = module.lambda_handler(event, LambdaContext(aws_request_id=uuid.uuid4().hex))
        return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]

    def order(self, payout_id: str) -> Order:
        order = self.store.get(payout_id)
        assert order is not None, f"no order {payout_id}"
        return order

    def creates_at_provider(self, merchant_no: str) -> int:
        return sum(1 for order in self.sandbox.orders() if order.merchant_no == merchant_no)

    def payments(self, merchant_no: str) -> int:
        return sum(1 for entry in self.sandbox.ledger() if entry.merchant_no == merchant_no)

    def dead_letters(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        received: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return received
            received.extend(batch)  # type: ignore[arg-type]


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def payout_ids(event: dict[str, Any]) -> list[str]:
    ids = []
    for record in event["Records"]:
        document = json.loads(record["body"])
        if "detail" in document:
            document = document["detail"]
        elif "Message" in document:
            document = json.loads(document["Message"])
        ids.append(document["payout_id"])
    return ids


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds (the sandbox settles on its own thread)."""
    deadline = time.monotonic() + SETTLE_WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, dynamodb_local_endpoint: str) -> Iterator[Stack]:
    """Sandbox + DynamoDB Local table + moto SQS and Secrets Manager + the function's env."""
    with Sandbox(SANDBOX) as sandbox, mock_aws():
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local_endpoint)
        dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
        table = f"orders-{uuid.uuid4().hex[:8]}"
        dynamodb.create_table(**table_create_kwargs(load_template(), "OrdersTable", table))
        dlq_url = boto3.client("sqs").create_queue(QueueName="payouts-dlq")["QueueUrl"]
        secrets = boto3.client("secretsmanager")
        gateway, pg = sandbox.config.gateway, sandbox.config.pg
        gateway_secret = secrets.create_secret(
            Name="payouts/gateway_v2",
            SecretString=json.dumps(
                {
                    "platform_id": gateway.platform_id,
                    "platform_key": gateway.signing_key,
                    "query_token": gateway.query_token,
                }
            ),
        )["ARN"]
        pg_secret = secrets.create_secret(
            Name="payouts/pg_v2",
            SecretString=json.dumps({"app_id": pg.app_id, "app_secret": pg.app_secret}),
        )["ARN"]
        for name, value in {
            "ORDERS_TABLE": table,
            "PAYOUT_DLQ_URL": dlq_url,
            "CALLBACK_BASE_URL": "https://callbacks.example.com/dev",
            "GATEWAY_V2_BASE_URL": sandbox.base_url,
            "GATEWAY_V2_SECRET_ID": gateway_secret,
            "PG_V2_BASE_URL": sandbox.base_url,
            "PG_V2_SECRET_ID": pg_secret,
            "PROVIDER_CONNECT_TIMEOUT": PROVIDER_TIMEOUT_S,
            "PROVIDER_READ_TIMEOUT": PROVIDER_TIMEOUT_S,
        }.items():
            monkeypatch.setenv(name, value)
        try:
            yield Stack(sandbox, OrderStore(dynamodb, table), dlq_url, monkeypatch)
        finally:
            dynamodb.delete_table(TableName=table)


# --- the sample events -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["single.json", "eventbridge-wrapped.json", "sns-wrapped.json", "batch-10.json"]
)
def test_every_request_is_submitted_once_and_paid_once(stack: Stack, name: str) -> None:
    event = sample(name)

    failed = stack.invoke(event)

    ids = payout_ids(event)
    assert failed == []
    for payout_id in ids:
        order = stack.order(payout_id)
        assert order.status is S.SUBMITTED
        assert order.provider_order_id
        assert stack.creates_at_provider(payout_id) == 1
    wait_until(lambda: len(stack.sandbox.ledger()) == len(ids), "every payout to settle")
    assert stack.sandbox.double_payouts() == []
    assert sorted(entry.merchant_no for entry in stack.sandbox.ledger()) == sorted(ids)


# --- exactly once ------------------------------------------------------------------------------


def test_one_message_delivered_ten_times_concurrently_is_created_once(stack: Stack) -> None:
    event = sample("single.json")
    handler = stack.handler()

    with ThreadPoolExecutor(max_workers=10) as pool:
        failures = list(pool.map(lambda _: stack.invoke(copy.deepcopy(event), handler), range(10)))

    (payout_id,) = payout_ids(event)
    assert failures == [[]] * 10
    assert stack.creates_at_provider(payout_id) == 1
    assert stack.order(payout_id).status is S.SUBMITTED
    assert stack.order(payout_id).submit_attempts == 1
    wait_until(lambda: stack.payments(payout_id) == 1, "the payout to settle")
    assert stack.sandbox.double_payouts() == []


def test_ten_copies_of_one_message_in_one_batch_make_one_create(stack: Stack) -> None:
    (record,) = sample("single.json")["Records"]
    event = {"Records": [{**record, "messageId": f"copy-{copy_no}"} for copy_no in range(10)]}

    failed = stack.invoke(event)

    (payout_id,) = payout_ids(sample("single.json"))
    assert failed == []
    assert stack.creates_at_provider(payout_id) == 1
    assert stack.order(payout_id).status is S.SUBMITTED


def test_killed_after_the_claim_before_the_http_call_redelivery_sends_nothing(
    stack: Stack,
) -> None:
    async def crash_before_sending(self: GatewayV2Adapter, order: Order) -> None:
        raise Crash

    event = sample("single.json")
    (payout_id,) = payout_ids(event)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GatewayV2Adapter, "create", crash_before_sending)
        with pytest.raises(Crash):
            stack.invoke(event)

    assert stack.order(payout_id).status is S.SUBMITTING
    assert stack.invoke(event) == []
    assert stack.creates_at_provider(payout_id) == 0
    # Left for the reconcile loop, which treats a stale SUBMITTING as unknown and queries it.
    order = stack.order(payout_id)
    assert order.status is S.SUBMITTING
    assert order.next_check_at is not None


def test_killed_after_the_http_call_before_the_write_redelivery_sends_nothing(
    stack: Stack,
) -> None:
    send = GatewayV2Adapter.create

    async def crash_after_sending(self: GatewayV2Adapter, order: Order) -> None:
        await send(self, order)
        raise Crash

    event = sample("single.json")
    (payout_id,) = payout_ids(event)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GatewayV2Adapter, "create", crash_after_sending)
        with pytest.raises(Crash):
            stack.invoke(event)

    assert stack.order(payout_id).status is S.SUBMITTING
    assert stack.invoke(event) == []
    assert stack.creates_at_provider(payout_id) == 1
    wait_until(lambda: stack.payments(payout_id) == 1, "the payout to settle")
    assert stack.sandbox.double_payouts() == []


def test_processed_but_the_answer_lost_is_unknown_never_failed_and_paid_once(
    stack: Stack,
) -> None:
    event = sample("single.json")
    (payout_id,) = payout_ids(event)
    stack.monkeypatch.setenv("PROVIDER_READ_TIMEOUT", "1")
    stack.sandbox.inject(
        Fault(
            kind=FaultKind.LOST_ANSWER,
            provider=Provider.GATEWAY_V2,
            operation=Operation.CREATE,
            times=1,
            sleep_s=3.0,
        )
    )

    assert stack.invoke(event) == []

    order = stack.order(payout_id)
    assert order.status is S.UNKNOWN
    assert order.provider_order_id is None
    assert order.next_check_at is not None
    assert stack.invoke(event) == []  # a redelivery must not try again
    assert stack.creates_at_provider(payout_id) == 1
    wait_until(lambda: stack.payments(payout_id) == 1, "the lost-answer payout to settle")
    assert stack.order(payout_id).status is S.UNKNOWN


# --- partial batch failures and the DLQ -------------------------------------------------------


def test_partial_batch_response_names_exactly_the_messages_that_never_left(stack: Stack) -> None:
    stack.monkeypatch.setenv("GATEWAY_V2_BASE_URL", stack.sandbox.refused_base_url)
    event = sample("batch-10.json")
    invalid = sample("invalid-schema.json")["Records"][0]
    event["Records"].append(invalid)
    alipay = [
        record["messageId"]
        for record in event["Records"]
        if '"method":"ALIPAY"' in record["body"] and record is not invalid
    ]

    failed = stack.invoke(event)

    assert sorted(failed) == sorted(alipay)
    statuses = {payout_id: stack.order(payout_id).status for payout_id in payout_ids(event)}
    retried = payout_ids({"Records": [r for r in event["Records"] if r["messageId"] in alipay]})
    assert {statuses[payout_id] for payout_id in retried} == {S.RECEIVED}
    assert all(
        status is S.SUBMITTED
        for payout_id, status in statuses.items()
        if payout_id not in retried and payout_id != payout_ids({"Records": [invalid]})[0]
    )
    # SQS redelivers only the failed ones; the provider is reachable again.
    stack.monkeypatch.setenv("GATEWAY_V2_BASE_URL", stack.sandbox.base_url)
    again = {"Records": [r for r in event["Records"] if r["messageId"] in alipay]}
    assert stack.invoke(again) == []
    assert {stack.order(payout_id).status for payout_id in retried} == {S.SUBMITTED}
    assert all(stack.creates_at_provider(payout_id) == 1 for payout_id in retried)


INVALID_SAMPLES = {
    "invalid-bad-json.json": ("not valid JSON", None),
    "invalid-schema.json": ("amount.value", "PO-20261122-000402"),
    "invalid-unknown-method.json": ("beneficiary", "PO-20261122-000403"),
    "invalid-unknown-currency.json": ("unsupported currency XAU", "PO-20261122-000404"),
    "invalid-oversized.json": ("larger than 16384 bytes", None),
}


def test_invalid_messages_go_to_the_dlq_with_their_reasons_and_are_acknowledged(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [sample(name)["Records"][0] for name in INVALID_SAMPLES]

    failed = stack.invoke({"Records": records})

    assert failed == []
    dead = {
        message["MessageAttributes"]["source_message_id"]["StringValue"]: message
        for message in stack.dead_letters()
    }
    assert set(dead) == {record["messageId"] for record in records}
    for record, (fragment, payout_id) in zip(records, INVALID_SAMPLES.values(), strict=True):
        message = dead[record["messageId"]]
        assert message["Body"] == record["body"]
        assert fragment in message["MessageAttributes"]["rejection_reason"]["StringValue"]
        if payout_id is not None:
            order = stack.order(payout_id)
            assert order.status is S.REJECTED
            assert order.status_reason is not None
            assert fragment in order.status_reason
    assert stack.sandbox.orders() == []
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert sum(sum(metric.get("InvalidRequest", [])) for metric in emitted) == len(records)


def test_a_dead_letter_that_cannot_be_sent_fails_its_record_and_only_it(stack: Stack) -> None:
    stack.monkeypatch.setenv("PAYOUT_DLQ_URL", stack.dlq_url + "-gone")
    invalid = sample("invalid-bad-json.json")["Records"][0]
    valid = sample("single.json")["Records"][0]

    failed = stack.invoke({"Records": [invalid, valid]})

    assert failed == [invalid["messageId"]]
    assert stack.order(payout_ids({"Records": [valid]})[0]).status is S.SUBMITTED


def test_a_duplicate_delivery_is_counted(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    event = sample("single.json")
    stack.invoke(event)
    capsys.readouterr()

    stack.invoke(event)

    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert [metric.get("DuplicateDelivery") for metric in emitted] == [[1.0]]


def test_every_line_logged_for_a_record_names_its_payout_and_the_cold_start_counts_once(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sample("batch-10.json")
    module = stack.handler()
    new_container()
    capsys.readouterr()

    with captured_logs() as logs:
        stack.invoke(event, module)
        # A redelivery of one record: handled with its own id, by a warm container.
        stack.invoke({"Records": event["Records"][:1]}, module)

    # The records run concurrently on one event loop; each line names the payout it is about.
    per_record = [line for line in logs.all() if "message_id" in line]
    expected = dict(
        zip([record["messageId"] for record in event["Records"]], payout_ids(event), strict=True)
    )
    # (The receipt is logged without an explicit payout id: it comes from the record's context.)
    received = logs.with_message("order received and claimed for sending")
    assert {line["message_id"] for line in received} == set(expected)
    assert {line["message_id"] for line in per_record} == set(expected)
    assert all(line["payout_id"] == expected[line["message_id"]] for line in per_record)
    assert cold_start_count(capsys.readouterr().out) == 1
