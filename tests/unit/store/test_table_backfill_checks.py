"""The backfill's passes check the table's indexes first, and pace their updates."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from payouts_tools.table_backfill import (
    BackfillOptions,
    BackfillRefused,
    Pacer,
    Pass,
    run_backfill,
)

TABLE = "orders"


def _described(*indexes: tuple[str, str]) -> dict[str, Any]:
    return {
        "Table": {
            "TableName": TABLE,
            "GlobalSecondaryIndexes": [
                {"IndexName": name, "IndexStatus": status} for name, status in indexes
            ],
        }
    }


def _run(which: Pass, *indexes: tuple[str, str]) -> None:
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        aws_access_key_id="fake-key-id",
        aws_secret_access_key="fake-secret",
    )
    with Stubber(client) as stub:
        stub.add_response("describe_table", _described(*indexes), {"TableName": TABLE})
        stub.add_response(
            "scan",
            {"Items": [], "Count": 0, "ScannedCount": 0},
        )
        run_backfill(client, TABLE, BackfillOptions(which=which, segments=1))
        stub.assert_no_pending_responses()


def test_removing_the_legacy_attributes_waits_for_the_index_to_be_deleted() -> None:
    with pytest.raises(BackfillRefused, match="step 3"):
        _run(Pass.REMOVE_LEGACY, ("by-day", "ACTIVE"), ("by-status-day", "ACTIVE"))


def test_an_index_being_deleted_no_longer_holds_the_removal_back() -> None:
    _run(Pass.REMOVE_LEGACY, ("by-day", "ACTIVE"), ("by-status-day", "DELETING"))


def test_the_day_key_may_be_added_while_the_index_is_still_being_created() -> None:
    _run(Pass.ADD_DAY_KEY, ("by-day", "CREATING"), ("by-status-day", "ACTIVE"))


@pytest.mark.parametrize(("segments", "rate"), [(0, 10.0), (65, 10.0), (4, 0.0), (4, -1.0)])
def test_options_out_of_range_are_refused(segments: int, rate: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        BackfillOptions(segments=segments, items_per_second=rate)


def test_the_pacer_spaces_calls_evenly_after_the_first() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()

    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert now[0] == 101.0


ORDER_ITEM = {
    "PK": {"S": "PAYOUT#PO-1"},
    "SK": {"S": "ORDER"},
    "created_at": {"S": "2026-11-22T08:00:00.000000Z"},
}


def _conflicts_then(stub: Stubber, conflicts: int, succeed: bool) -> None:
    stub.add_response("describe_table", _described(("by-day", "ACTIVE")), {"TableName": TABLE})
    stub.add_response("scan", {"Items": [ORDER_ITEM], "Count": 1, "ScannedCount": 1})
    for _ in range(conflicts):
        stub.add_client_error(
            "update_item",
            service_error_code="TransactionConflictException",
            service_message="Transaction is ongoing for the item",
            http_status_code=400,
        )
    if succeed:
        stub.add_response("update_item", {})


def _client() -> Any:
    return boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        aws_access_key_id="fake-key-id",
        aws_secret_access_key="fake-secret",
    )


def test_an_update_that_meets_a_running_transaction_is_asked_again() -> None:
    client = _client()
    with Stubber(client) as stub:
        _conflicts_then(stub, conflicts=2, succeed=True)
        counts = run_backfill(client, TABLE, BackfillOptions(segments=1, items_per_second=1000))
        stub.assert_no_pending_responses()

    assert (counts.updated, counts.done_concurrently, counts.problems) == (1, 0, 0)


def test_an_item_that_stays_in_conflict_stops_the_pass_loudly() -> None:
    client = _client()
    with Stubber(client) as stub:
        _conflicts_then(stub, conflicts=5, succeed=False)
        with pytest.raises(ClientError, match="TransactionConflict"):
            run_backfill(client, TABLE, BackfillOptions(segments=1, items_per_second=1000))
