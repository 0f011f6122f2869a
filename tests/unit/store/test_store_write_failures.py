"""A store result must tell "someone else won" (Stale) from "I could not write" (an error).

Only the first may let a caller acknowledge a message: a claim cancelled for throughput is not a
lost race, and reporting it as one stranded orders RECEIVED while their message was acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from payouts.domain.order import Evidence, EvidenceKind
from payouts.domain.status import OrderStatus
from payouts.store import Applied, OrderStore, Stale
from payouts.store.codec import order_to_item
from tests.support.orders import T0, make_order

TABLE = "orders"


def cancelled(*codes: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
    reasons: list[dict[str, Any]] = [{"Code": code} for code in codes]
    if item is not None:
        reasons[0]["Item"] = item
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled",
        "http_status_code": 400,
        "response_meta": {},
        "modeled_fields": {"CancellationReasons": reasons},
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[OrderStore, Stubber, list[float]]]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    pauses: list[float] = []
    with Stubber(client) as stubber:
        yield OrderStore(client, TABLE, pause=pauses.append), stubber, pauses


def claim(store: OrderStore) -> Applied | Stale:
    order = make_order(status=OrderStatus.RECEIVED)
    evidence = Evidence(kind=EvidenceKind.CREATE_SENT, summary="claim", at=T0)
    return store.transition(order, OrderStatus.SUBMITTING, evidence, T0)


@pytest.mark.parametrize("reason", ["ThrottlingError", "TransactionConflict"])
def test_a_claim_cancelled_for_throughput_every_time_raises_and_is_never_stale(
    stubbed: tuple[OrderStore, Stubber, list[float]], reason: str
) -> None:
    store, stubber, pauses = stubbed
    for _ in range(4):
        stubber.add_client_error("transact_write_items", **cancelled(reason, "None"))
    with pytest.raises(ClientError) as raised:
        claim(store)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert len(pauses) == 3  # retried with jitter in between, then given up
    stubber.assert_no_pending_responses()


def test_a_claim_cancelled_for_throughput_then_written_is_applied(
    stubbed: tuple[OrderStore, Stubber, list[float]],
) -> None:
    store, stubber, _ = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("ThrottlingError", "None"))
    stubber.add_response("transact_write_items", {})
    assert isinstance(claim(store), Applied)


def test_a_failed_condition_is_stale_with_the_winner_s_order(
    stubbed: tuple[OrderStore, Stubber, list[float]],
) -> None:
    store, stubber, _ = stubbed
    winner = make_order(status=OrderStatus.SUBMITTING, version=2)
    stubber.add_client_error(
        "transact_write_items",
        **cancelled("ConditionalCheckFailed", "None", item=order_to_item(winner)),
    )
    result = claim(store)
    assert isinstance(result, Stale)
    assert result.current is not None
    assert result.current.status is OrderStatus.SUBMITTING
