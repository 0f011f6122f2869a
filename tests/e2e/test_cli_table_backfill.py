"""``payouts table backfill``: the migration's command run through the CLI over a moto table
(``--table``) with the step-1 schema: the summary on stdout, progress apart, a second run that
updates nothing, and a one-line refusal that writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from payouts.domain.order import Evidence, EvidenceKind
from payouts.domain.status import OrderStatus
from payouts.store import Applied, Created, OrderStore
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.cli import app
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.orders import T0, make_request

pytestmark = pytest.mark.e2e

TABLE = "orders-cli-backfill"
ORDERS = 12
Run = Callable[..., Result]


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[OrderStore]:
    """Orders written the pre-migration way (legacy attributes, no day_pk) on the step-1 table."""
    monkeypatch.setenv(LEGACY_STATUS_INDEX_VARIABLE, "true")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", config=CLIENT_CONFIG)
        step_one = {"LegacyStatusIndex": "true"}
        client.create_table(**table_create_kwargs(load_template(), "OrdersTable", TABLE, step_one))
        store = OrderStore(client, TABLE)
        for number in range(ORDERS):
            created = store.create(make_request(f"PO-{number}"), T0, next_check_at=None)
            assert isinstance(created, Created)
            if number % 2:
                moved = store.transition(
                    created.order, OrderStatus.REJECTED, _evidence(), T0, provider="pg_v2"
                )
                assert isinstance(moved, Applied)
            client.update_item(
                TableName=TABLE,
                Key={"PK": {"S": f"PAYOUT#PO-{number}"}, "SK": {"S": "ORDER"}},
                UpdateExpression="REMOVE day_pk",
            )
        assert store.acquire_lease("reconcile", "execution-1", timedelta(minutes=5), T0)
        yield store


def _evidence() -> Evidence:
    return Evidence(kind=EvidenceKind.TRANSITION, summary="refused", at=T0)


@pytest.fixture
def payouts(store: OrderStore) -> Run:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, ["--table", TABLE, "--region", "us-east-1", *args])

    return run


def test_backfill_then_verify_through_the_cli(store: OrderStore, payouts: Run) -> None:
    first = payouts("table", "backfill", "--segments", "3", "--rate", "1000", "--json")
    again = payouts("table", "backfill", "--segments", "3", "--dry-run", "--json")

    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["pass"], summary["updated"], summary["problems"]) == ("add-day-key", ORDERS, 0)
    assert summary["not_orders"] == 1  # the lease, untouched
    verified = json.loads(again.stdout)
    assert (verified["dry_run"], verified["updated"], verified["already_done"]) == (
        True,
        0,
        ORDERS,
    )


def test_remove_legacy_before_step_three_is_one_line_and_writes_nothing(payouts: Run) -> None:
    result = payouts("table", "backfill", "--remove-legacy")

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("payouts: error: ")
    assert "by-status-day" in lines[0]
    assert result.stdout == ""
