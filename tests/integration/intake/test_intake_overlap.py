"""A batch's table writes overlap: the intake handler runs every record's blocking table calls in
its worker threads at the same time, whatever PROVIDER_CONCURRENCY (which bounds provider
creates, not table writes) says. The real handler and store over DynamoDB Local (a real engine:
moto's tables are not safe for concurrent writers), providers that accept."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from moto import mock_aws

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import CreateKind, CreateOutcome, RawExchange
from payouts.store import OrderStore
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.handlers import load_handler

# A batch can overlap at most what it holds; the barrier waits this long for all of them.
BATCH = 10
ALL_IN_FLIGHT_WITHIN_S = 10.0
EVENTS = Path(__file__).resolve().parents[3] / "events" / "sqs"

pytestmark = [
    pytest.mark.dynamodb_local,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


@dataclass(frozen=True)
class LambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str = "payouts-intake"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:payouts-intake"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


class FirstCallsMeet:
    """A botocore hook holding each of the first ``parties`` table calls until all of them are in
    flight at once; later calls pass. ``met`` tells whether they all were."""

    def __init__(self, parties: int, timeout: float) -> None:
        self._barrier = threading.Barrier(parties, timeout=timeout)
        self._lock = threading.Lock()
        self._held = 0
        self.met = False

    def __call__(self, **_: Any) -> None:  # None: a value would answer the call in botocore's place
        with self._lock:
            if self._held == self._barrier.parties or self._barrier.broken:
                return
            self._held += 1
        if self._barrier.wait() == 0:  # raises BrokenBarrierError once the timeout passes
            self.met = True


class AcceptingProvider:
    """Accepts every create at once (the overlap under test is the table's, not the provider's)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def create(self, order: Order) -> CreateOutcome:
        return CreateOutcome(
            CreateKind.ACCEPTED,
            "accepted",
            RawExchange("ok", 200, "0000"),
            provider_order_id=f"P-{order.payout_id}",
        )


class AcceptingProviders:
    """Stands in for the handler's ProviderFactory: no secrets, no HTTP."""

    def build(self, name: str, client: httpx.AsyncClient) -> AcceptingProvider:
        return AcceptingProvider(name)


@pytest.fixture
def intake(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local_endpoint: str
) -> Iterator[tuple[ModuleType, OrderStore]]:
    """The intake handler with PROVIDER_CONCURRENCY 1 over a fresh table (moto holds the
    credentials and keeps any other AWS call on this machine)."""
    with mock_aws():
        table = f"orders-{uuid.uuid4().hex[:8]}"
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local_endpoint,
            "ORDERS_TABLE": table,
            "PAYOUT_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/payouts-dlq",
            "CALLBACK_BASE_URL": "https://callbacks.example.com/dev",
            "GATEWAY_V2_BASE_URL": "https://gateway.example.com",
            "PG_V2_BASE_URL": "https://pg.example.com",
            "PROVIDER_CONCURRENCY": "1",
        }.items():
            monkeypatch.setenv(name, value)
        handler = load_handler("intake")
        dynamodb = handler.dynamodb()
        dynamodb.create_table(**table_create_kwargs(load_template(), "OrdersTable", table))
        monkeypatch.setattr(handler, "provider_factory", AcceptingProviders)
        try:
            yield handler, OrderStore(dynamodb, table)
        finally:
            dynamodb.delete_table(TableName=table)


def test_a_batch_of_ten_has_its_ten_first_table_writes_in_flight_at_once(
    intake: tuple[ModuleType, OrderStore],
) -> None:
    """Each record's first table call (storing its order) waits until all ten are in flight: if
    the handler's threads let fewer run at once, the barrier breaks and the records fail."""
    handler, store = intake
    event: dict[str, Any] = json.loads((EVENTS / "batch-10.json").read_text(encoding="utf-8"))
    assert len(event["Records"]) == BATCH
    first_calls = FirstCallsMeet(BATCH, ALL_IN_FLIGHT_WITHIN_S)
    handler.dynamodb().meta.events.register("before-call.dynamodb", first_calls)

    answer = handler.lambda_handler(event, LambdaContext())

    assert first_calls.met
    assert answer["batchItemFailures"] == []
    for record in event["Records"]:
        payout_id = json.loads(record["body"])["payout_id"]
        order = store.get(payout_id)
        assert order is not None
        assert order.status is OrderStatus.SUBMITTED
