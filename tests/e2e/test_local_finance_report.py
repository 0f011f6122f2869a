"""``payouts report`` after a demo run: its totals (count, amount, fees per provider and
currency) and its order lines equal what the sandbox's ledger says was paid, fee included."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from payouts_tools.cli import app
from payouts_tools.local.demo import DemoOptions, run_scenario, stack_options
from payouts_tools.local.scenario import parse_fault_mix
from payouts_tools.local.stack import LocalStack
from payouts_tools.sandbox import EntryKind, LedgerEntry

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

# The demo's own trouble (lost answers, 5xx, dropped and duplicate callbacks, failures): figures
# arrive by callbacks and by queries alike.
OPTIONS = DemoOptions(count=40, faults=parse_fault_mix("realistic"), seed=5, timeout_s=150)
PAID = ("SUCCEEDED", "REVERSED")

type Sums = dict[tuple[str, str], tuple[int, int, int]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = replace(
        stack_options(OPTIONS), log_path=tmp_path_factory.mktemp("logs") / "handlers.log"
    )
    with LocalStack(options) as stack:
        report = run_scenario(stack, OPTIONS)
        assert report.invariants_ok, report.as_json()
        yield stack


def report(stack: LocalStack, *args: str) -> Any:
    today = datetime.now(UTC).date()
    days = ["--from", str(today - timedelta(days=1)), "--to", str(today)]
    target = ["--endpoint-url", stack.endpoints.aws, "--stack-name", stack.endpoints.stack_name]
    result = CliRunner().invoke(app, [*target, "report", *days, *args])
    assert result.exit_code == 0, result.output
    return result.output


def ledger_sums(entries: list[LedgerEntry]) -> Sums:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in entries:
        if entry.kind is EntryKind.PAYMENT:
            figures = sums[(entry.provider.value, entry.currency)]
            figures[0] += 1
            figures[1] += entry.amount_minor
            figures[2] += entry.fee_minor
    return {key: (count, amount, fees) for key, (count, amount, fees) in sums.items()}


def test_the_reports_totals_equal_the_sandbox_ledger(demo: LocalStack) -> None:
    document = json.loads(report(demo, "--format", "json"))

    paid: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for total in document["totals"]:
        if total["status"] in PAID:
            assert total["orders_without_fee"] == 0, total
            figures = paid[(total["provider"], total["currency"])]
            figures[0] += total["count"]
            figures[1] += total["amount_minor"]
            figures[2] += total["fees_minor"]

    expected = ledger_sums(demo.sandbox.ledger())
    assert {key: tuple(value) for key, value in paid.items()} == expected
    assert sum(count for count, _, _ in expected.values()) > 20  # most of the 40 were paid
    assert all(fees > 0 for _, _, fees in expected.values())  # the sandbox charged fees
    assert document["orders"] == OPTIONS.count


def test_each_paid_order_line_matches_its_ledger_entry(demo: LocalStack) -> None:
    document = json.loads(report(demo, "--orders", "--format", "json"))
    lines = {line["payout_id"]: line for line in document["orders"]}
    payments = [e for e in demo.sandbox.ledger() if e.kind is EntryKind.PAYMENT]

    for entry in payments:
        line = lines[entry.merchant_no]
        assert line["status"] in PAID
        assert line["provider_order_id"] == entry.provider_order_id
        assert (line["amount_minor"], line["fee_minor"]) == (entry.amount_minor, entry.fee_minor)
        paid_at = datetime.fromisoformat(line["paid_at"]).timestamp()
        # gateway_v2 reports whole seconds, pg_v2 milliseconds.
        assert entry.at - 1 < paid_at <= entry.at + 0.001
        if entry.provider.value == "pg_v2":
            assert line["provider_reference"]  # its rrn, for the bank statement
    unpaid = [line for line in lines.values() if line["status"] not in PAID]
    assert all(line["paid_at"] is None for line in unpaid)


def test_csv_and_table_forms_read_the_same_orders(demo: LocalStack) -> None:
    csv_lines = report(demo, "--orders", "--format", "csv").splitlines()
    table = report(demo, "--provider", "pg_v2")

    assert csv_lines[0].startswith("payout_id,provider,provider_order_id,provider_reference")
    assert len(csv_lines) == OPTIONS.count + 1
    assert "gateway_v2" not in table
    assert "SUCCEEDED" in table
