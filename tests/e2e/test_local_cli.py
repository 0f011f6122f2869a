"""Every ``payouts`` ops command against a running local stack, found the way a deployed stack is
(``--endpoint-url`` and ``--stack-name``: names from the stack's outputs), including bad ids and
bad arguments. Errors must be one line on stderr with a non-zero exit code."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from payouts.domain.order import Order
from payouts.domain.status import OrderStatus
from payouts_tools.cli import app
from payouts_tools.local.stack import LocalStack, StackOptions
from payouts_tools.sandbox import (
    Fault,
    FaultKind,
    Operation,
    Outcome,
    Provider,
    SandboxConfig,
)
from tests.support.orders import request_document

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

REPO = Path(__file__).resolve().parents[2]
SETTLES = "PO-E2E-OK"  # pg_v2, settles normally
PENDING = "PO-E2E-PENDING"  # pg_v2, the provider keeps it pending for ever
UNKNOWN = "PO-E2E-UNKNOWN"  # gateway_v2, its create times out and nothing is created
UPI_VPA = "payee@okbank"  # tests/support/orders.py's UPI beneficiary


def wait_for(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the stack did not get there in time")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(
        sandbox=SandboxConfig(settle_after_s=1.0, seed=3),
        log_path=tmp_path_factory.mktemp("logs") / "handlers.log",
    )
    with LocalStack(options) as running:
        running.sandbox.script(Provider.PG_V2, PENDING, Outcome.NEVER)
        running.sandbox.inject(
            Fault(
                kind=FaultKind.READ_TIMEOUT,
                provider=Provider.GATEWAY_V2,
                operation=Operation.CREATE,
                merchant_no=UNKNOWN,
                times=1,
            )
        )
        yield running


@pytest.fixture(scope="module")
def payouts(stack: LocalStack) -> Callable[..., Result]:
    runner = CliRunner()
    target = ["--endpoint-url", stack.endpoints.aws, "--stack-name", stack.endpoints.stack_name]

    def run(*args: str) -> Result:
        return runner.invoke(app, [*target, *args])

    return run


def order(stack: LocalStack, payout_id: str) -> Order | None:
    return stack.store().get(payout_id)


@pytest.fixture(scope="module")
def published(
    stack: LocalStack, payouts: Callable[..., Result], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    requests = [
        request_document(SETTLES, "UPI", 12345),
        request_document(PENDING, "PIX", 2500),
        request_document(UNKNOWN, "ALIPAY", 50000),
    ]
    file = tmp_path_factory.mktemp("requests") / "requests.json"
    file.write_text(json.dumps(requests), encoding="utf-8")
    result = payouts("publish", str(file), "--json")
    assert result.exit_code == 0, result.stderr

    def settled() -> bool:
        ok, pending, unknown = (order(stack, pid) for pid in (SETTLES, PENDING, UNKNOWN))
        return (
            ok is not None
            and ok.status is OrderStatus.SUCCEEDED
            and pending is not None
            and pending.status is OrderStatus.SUBMITTED
            and unknown is not None
            and unknown.needs_review
        )

    wait_for(settled, timeout_s=90)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("payouts: error: ")
    return lines[0]


# ---- publish ------------------------------------------------------------------------------------


def test_publish_sends_each_request_with_its_payout_id(published: dict[str, Any]) -> None:
    assert [item["payout_id"] for item in published["published"]] == [SETTLES, PENDING, UNKNOWN]
    assert all(item["message_id"] for item in published["published"])


def test_publish_refuses_an_invalid_request_before_sending(
    payouts: Callable[..., Result],
) -> None:
    result = payouts("publish", str(REPO / "events/sqs/invalid-schema.json"))

    assert result.exit_code == 1
    assert "request 1 is invalid" in one_error_line(result)


def test_publish_of_a_missing_file_is_one_line(payouts: Callable[..., Result]) -> None:
    result = payouts("publish", "/nonexistent/requests.json")

    assert result.exit_code == 1
    assert "cannot read" in one_error_line(result)


# ---- orders -------------------------------------------------------------------------------------


def test_orders_list_by_status_provider_and_review(
    published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    everything = json.loads(payouts("orders", "list", "--json").stdout)
    statuses = {row["payout_id"]: row["status"] for row in everything["orders"]}
    assert statuses[SETTLES] == "SUCCEEDED"
    assert statuses[PENDING] == "SUBMITTED"

    succeeded = json.loads(payouts("orders", "list", "--status", "SUCCEEDED", "--json").stdout)
    assert {row["status"] for row in succeeded["orders"]} == {"SUCCEEDED"}

    gateway = json.loads(payouts("orders", "list", "--provider", "gateway_v2", "--json").stdout)
    assert [row["payout_id"] for row in gateway["orders"]] == [UNKNOWN]

    review = json.loads(payouts("orders", "list", "--review", "--json").stdout)
    assert [row["payout_id"] for row in review["orders"]] == [UNKNOWN]

    table = payouts("orders", "list")
    assert table.exit_code == 0
    assert SETTLES in table.stdout


def test_orders_show_gives_the_timeline_with_the_beneficiary_masked(
    published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    result = payouts("orders", "show", SETTLES, "--json")

    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["order"]["status"] == "SUCCEEDED"
    assert shown["order"]["amount"]["display"] == "123.45 INR"
    assert UPI_VPA not in result.stdout
    assert shown["order"]["beneficiary"]["vpa"].endswith("nk")
    kinds = [item["kind"] for item in shown["timeline"]]
    assert kinds[:2] == ["CREATE_SENT", "CREATE_ANSWER"]
    # The same order by the provider's own id.
    by_ref = payouts("orders", "show", f"pg_v2:{shown['order']['provider_order_id']}", "--json")
    assert json.loads(by_ref.stdout)["order"]["payout_id"] == SETTLES
    assert UPI_VPA not in payouts("orders", "show", SETTLES).stdout


@pytest.mark.parametrize("reference", ["PO-NOPE", "pg_v2:NOPE"])
def test_orders_show_of_an_unknown_order_is_one_line(
    published: dict[str, Any], payouts: Callable[..., Result], reference: str
) -> None:
    result = payouts("orders", "show", reference)

    assert result.exit_code == 1
    assert one_error_line(result) == f"payouts: error: no order {reference}"


def test_orders_requery_asks_the_provider_now(
    published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    result = payouts("orders", "requery", PENDING, "--json")

    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["payout_id"], answer["status"], answer["escalated"]) == (
        PENDING,
        "SUBMITTED",
        False,
    )
    # PENDING: the provider still has it. RACED: the reconcile loop checked it at the same
    # moment and wrote first (the requery's answer then changes nothing).
    assert answer["outcome"] in {"PENDING", "RACED"}
    assert answer["provider_calls"] == 1
    assert payouts("orders", "requery", "PO-NOPE").exit_code == 1


def test_orders_resubmit_is_refused_without_confirmation_or_from_an_unsafe_status(
    published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    unconfirmed = payouts("orders", "resubmit", UNKNOWN, "--reason", "checked")
    assert unconfirmed.exit_code == 1
    assert "--confirm" in one_error_line(unconfirmed)

    submitted = payouts("orders", "resubmit", PENDING, "--confirm", "--reason", "checked")
    assert submitted.exit_code == 1
    assert "SUBMITTED" in one_error_line(submitted)

    no_reason = payouts("orders", "resubmit", UNKNOWN, "--confirm")
    assert no_reason.exit_code == 1
    assert "--reason" in one_error_line(no_reason)


def test_resubmit_that_may_pay_twice_asks_at_a_terminal_and_a_no_sends_nothing(
    stack: LocalStack,
    published: dict[str, Any],
    payouts: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A person at a terminal (``payouts_tools.cli.app`` the attribute is the Typer app).
    monkeypatch.setattr(
        importlib.import_module("payouts_tools.cli.app"), "_interactive", lambda: True
    )
    history = len(stack.store().history(UNKNOWN))
    runner = CliRunner()
    target = ["--endpoint-url", stack.endpoints.aws, "--stack-name", stack.endpoints.stack_name]

    declined = runner.invoke(
        app, [*target, "orders", "resubmit", UNKNOWN, "--confirm", "--reason", "r"], input="n\n"
    )

    assert declined.exit_code == 1
    warning = declined.stderr.splitlines()[0]
    assert warning.startswith("warning: gateway_v2 does not document")
    assert "may pay twice" in warning
    # The warning, then the question; the answer's newline is the terminal's (echoed to stdout).
    assert "Send it again anyway? [y/N]" in declined.stderr
    assert declined.stderr.endswith("payouts: error: nothing sent: resubmit declined\n")
    after = order(stack, UNKNOWN)
    assert after is not None
    assert after.status is OrderStatus.UNKNOWN
    assert len(stack.store().history(UNKNOWN)) == history


def test_resubmit_that_may_pay_twice_is_refused_before_anything_is_written_or_sent(
    stack: LocalStack, published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    before = order(stack, UNKNOWN)
    assert before is not None
    assert before.status is OrderStatus.UNKNOWN
    history = len(stack.store().history(UNKNOWN))

    # Not at a terminal (CliRunner's stdin is not a TTY) and without the flag: refused.
    refused = payouts("orders", "resubmit", UNKNOWN, "--confirm", "--reason", "checked")

    assert refused.exit_code == 1
    line = one_error_line(refused)
    assert "may pay twice" in line
    assert "--accept-duplicate-risk" in line
    after = order(stack, UNKNOWN)
    assert after is not None
    assert (after.status, after.version) == (before.status, before.version)
    assert len(stack.store().history(UNKNOWN)) == history  # not even the operator's note
    assert not any(entry.merchant_no == UNKNOWN for entry in stack.sandbox.ledger())


def test_orders_resubmit_sends_again_under_the_same_number_and_review_resolves(
    stack: LocalStack, published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    before = order(stack, UNKNOWN)
    assert before is not None
    assert before.status is OrderStatus.UNKNOWN

    result = payouts(
        "orders",
        "resubmit",
        UNKNOWN,
        "--confirm",
        "--reason",
        "provider has no such order",
        "--accept-duplicate-risk",
        "--operator",
        "e2e-operator",
        "--json",
    )

    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["result"] == "RECORDED"
    assert answer["status"] == "SUBMITTED"
    assert "gateway_v2" in answer["warning"]  # no documented duplicate protection there
    wait_for(
        lambda: (
            stack.sandbox.ledger() != []
            and any(entry.merchant_no == UNKNOWN for entry in stack.sandbox.ledger())
        )
    )
    assert UNKNOWN not in stack.sandbox.double_payouts()
    timeline = json.loads(payouts("orders", "show", UNKNOWN, "--json").stdout)["timeline"]
    assert any(
        item["kind"] == "OPERATOR" and item["actor"] == "operator:e2e-operator" for item in timeline
    )

    resolved = payouts(
        "orders", "review", UNKNOWN, "--resolve", "resubmitted after checking", "--json"
    )
    assert resolved.exit_code == 0, resolved.stderr
    assert json.loads(resolved.stdout)["order"]["needs_review"] is False
    again = payouts("orders", "review", UNKNOWN, "--resolve", "twice")
    assert again.exit_code == 1
    assert "not flagged for review" in one_error_line(again)


# ---- stats, dlq ---------------------------------------------------------------------------------


def test_stats_counts_by_status_and_names_the_oldest_unresolved(
    published: dict[str, Any], payouts: Callable[..., Result]
) -> None:
    result = payouts("stats", "--json")

    assert result.exit_code == 0
    figures = json.loads(result.stdout)
    assert figures["by_status"]["SUCCEEDED"] >= 1
    assert figures["oldest_unresolved"]["status"] in {"SUBMITTED", "UNKNOWN", "SUBMITTING"}
    assert payouts("stats").exit_code == 0


def test_dead_letters_are_listed_with_their_reason_and_redriven(
    stack: LocalStack, payouts: Callable[..., Result]
) -> None:
    sent = payouts("publish", "--no-validate", str(REPO / "events/sqs/invalid-schema.json"))
    assert sent.exit_code == 0

    def listed() -> list[dict[str, Any]]:
        letters: list[dict[str, Any]] = json.loads(payouts("dlq", "list", "--json").stdout)[
            "dead_letters"
        ]
        return letters

    wait_for(lambda: len(listed()) == 1)
    letter = listed()[0]
    assert letter["reason"]
    assert "body" not in letter  # bodies hold beneficiary details

    # Without --yes, and not at a terminal: refused, nothing moved. --dry-run only shows.
    unconfirmed = payouts("dlq", "redrive")
    assert unconfirmed.exit_code == 1
    assert "--yes" in one_error_line(unconfirmed)
    dry = json.loads(payouts("dlq", "redrive", "--dry-run", "--json").stdout)
    assert (dry["would_redrive"], dry["redriven"]) == ([letter["message_id"]], [])
    assert [item["message_id"] for item in listed()] == [letter["message_id"]]
    unknown = payouts("dlq", "redrive", "--id", "no-such-message", "--yes")
    assert unknown.exit_code == 1
    assert "no dead letter no-such-message" in one_error_line(unknown)

    moved = json.loads(
        payouts("dlq", "redrive", "--id", letter["message_id"], "--yes", "--json").stdout
    )
    assert moved["redriven"] == [letter["message_id"]]
    assert payouts("dlq", "list").exit_code == 0


# ---- bad arguments and targets ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "list", "--status", "BOGUS"],
        ["orders", "list", "--provider", "BOGUS"],
        ["orders", "list", "--from", "2026-13-01"],
        ["orders", "list", "--limit", "0"],
        ["orders", "show"],
        ["orders", "review", SETTLES],
        ["dlq", "list", "--limit", "0"],
        ["nonsense"],
        ["orders", "list", "--bogus"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    payouts: Callable[..., Result], args: list[str]
) -> None:
    result = payouts(*args)

    assert result.exit_code == 2
    one_error_line(result)


# ---- output that fits the terminal -------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
def test_tables_fit_the_terminal_and_keep_ids_and_statuses_whole(
    stack: LocalStack, published: dict[str, Any], columns: int
) -> None:
    runner = CliRunner()
    target = ["--endpoint-url", stack.endpoints.aws, "--stack-name", stack.endpoints.stack_name]
    env = {"COLUMNS": str(columns)}
    listing = runner.invoke(app, [*target, "orders", "list"], env=env)
    stats = runner.invoke(app, [*target, "stats"], env=env)
    shown = runner.invoke(app, [*target, "orders", "show", SETTLES], env=env)

    for result in (listing, stats, shown):
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= columns, result.stdout
        assert "…" not in result.stdout
    rows = {
        line.split()[1]: line.split()[3] for line in listing.stdout.splitlines() if "PO-E2E" in line
    }
    assert rows[SETTLES] == "SUCCEEDED"
    assert rows[PENDING] == "SUBMITTED"
    assert stats.stdout.splitlines()[0].startswith("orders created ")  # the title, on one line
    assert ".." in stats.stdout.splitlines()[0]


def test_an_unknown_stack_is_one_line(stack: LocalStack) -> None:
    result = CliRunner().invoke(
        app, ["--endpoint-url", stack.endpoints.aws, "--stack-name", "nope", "orders", "list"]
    )

    assert result.exit_code == 1
    assert "cannot read stack 'nope'" in one_error_line(result)
