"""``payouts orders close``: the command a person finishes an escalated order with, run through
the CLI over a moto table (``--table``): confirmation, one-line refusals that write nothing, and
the close itself with the operator in its evidence."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.services.settlement import escalate
from payouts.store import Applied, Created, OrderStore
from payouts.store.orders import CLIENT_CONFIG
from payouts_tools.cli import app
from tests.support.cfn import load_template, table_create_kwargs
from tests.support.orders import T0, make_request

pytestmark = pytest.mark.e2e

S = OrderStatus
TABLE = "orders-cli-close"
Run = Callable[..., Result]


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", config=CLIENT_CONFIG)
        client.create_table(**table_create_kwargs(load_template(), "OrdersTable", TABLE))
        yield OrderStore(client, TABLE)


@pytest.fixture
def payouts(store: OrderStore) -> Run:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, ["--table", TABLE, "--region", "us-east-1", *args])

    return run


def escalated(store: OrderStore, payout_id: str, *path: OrderStatus) -> Order:
    created = store.create(make_request(payout_id), T0, None)
    assert isinstance(created, Created)
    order = created.order
    for status in path:
        moved = store.transition(order, status, Evidence(kind=EvidenceKind.QUERY, summary="s"), T0)
        assert isinstance(moved, Applied)
        order = moved.order
    note = Evidence(kind=EvidenceKind.QUERY, summary="no such order", at=T0)
    flagged = escalate(store, order, "gateway_v2 has no order under this number", note, T0)
    assert flagged is not None
    return flagged.order


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("payouts: error: ")
    return lines[0]


def test_close_as_failed_clears_the_flag_and_names_the_operator(
    store: OrderStore, payouts: Run
) -> None:
    # Against a deployment (moto here) the caller's IAM principal is recorded beside the name.
    actor = "operator:bob (arn:aws:sts::123456789012:user/moto)"
    escalated(store, "PO-C1", S.SUBMITTING, S.UNKNOWN)

    result = payouts(
        "orders", "close", "PO-C1", "--status", "FAILED", "--reason", "provider: never received",
        "--operator", "bob", "--confirm", "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)["order"]
    assert (shown["status"], shown["needs_review"]) == ("FAILED", False)
    stored = store.get("PO-C1")
    assert stored is not None
    assert (stored.status, stored.needs_review, stored.closed_by) == (
        S.FAILED,
        False,
        actor,
    )
    assert store.history("PO-C1")[-1].actor == actor


def test_close_as_succeeded_records_the_reference(store: OrderStore, payouts: Run) -> None:
    escalated(store, "PO-C2", S.SUBMITTING, S.SUBMITTED)

    result = payouts(
        "orders", "close", "PO-C2", "--status", "SUCCEEDED", "--reason", "paid per statement",
        "--reference", "UTR 123456789012", "--operator", "bob", "--confirm",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "PO-C2: closed by you, now" in result.stdout
    last = store.history("PO-C2")[-1]
    assert (last.to_status, last.detail["reference"]) == (S.SUCCEEDED, "UTR 123456789012")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "FAILED", "--reason", "x"], "add --confirm"),
        (["--status", "SUCCEEDED", "--reason", "paid", "--confirm"], "requires --reference"),
        (["--status", "FAILED", "--confirm"], "--reason is required"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    store: OrderStore, payouts: Run, args: list[str], message: str
) -> None:
    before = escalated(store, "PO-C3", S.SUBMITTING, S.UNKNOWN)

    result = payouts("orders", "close", "PO-C3", *args)

    assert result.exit_code == 1
    assert message in one_error_line(result)
    assert store.get("PO-C3") == before


def test_a_final_status_is_refused(store: OrderStore, payouts: Run) -> None:
    before = escalated(store, "PO-C4", S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED)

    result = payouts(
        "orders", "close", "PO-C4", "--status", "FAILED", "--reason", "x", "--confirm"
    )  # fmt: skip

    assert result.exit_code == 1
    assert "is SUCCEEDED, a final status" in one_error_line(result)
    assert store.get("PO-C4") == before


def test_only_succeeded_or_failed_is_accepted_as_an_argument(
    store: OrderStore, payouts: Run
) -> None:
    before = escalated(store, "PO-C5", S.SUBMITTING, S.UNKNOWN)

    result = payouts(
        "orders", "close", "PO-C5", "--status", "REJECTED", "--reason", "x", "--confirm"
    )

    assert result.exit_code == 2
    assert "--status" in one_error_line(result)
    assert store.get("PO-C5") == before


def test_an_unknown_order_is_one_line(payouts: Run) -> None:
    result = payouts(
        "orders", "close", "PO-NONE", "--status", "FAILED", "--reason", "x", "--confirm"
    )

    assert result.exit_code == 1
    assert "no order PO-NONE" in one_error_line(result)
