"""Pausing a provider with the local stack running: payouts published while it is paused are
stored and held (RECEIVED, nothing at the sandbox), and after resume each is paid exactly once
(the sandbox ledger); the breaker pauses a provider by itself under the sandbox's 5xx fault,
with its ProviderPaused event on the bus; balances come from the sandbox in major units."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from payouts.domain.status import OrderStatus
from payouts_tools.cli import app
from payouts_tools.local.events_consumer import StatusEventsConsumer
from payouts_tools.local.stack import LocalStack, StackOptions
from payouts_tools.sandbox import Fault, FaultKind, Operation, Provider, SandboxConfig
from tests.support.orders import request_document

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

S = OrderStatus
# Few enough that a handful of 5xx answers trips it, many enough that one does not.
BREAKER_FAILURES = 3
Run = Callable[..., Result]


def wait_for(check: Callable[[], bool], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the stack did not get there in time")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(
        sandbox=SandboxConfig(settle_after_s=0.5, seed=5),
        environment_overrides={
            "BREAKER_FAILURES": str(BREAKER_FAILURES),
            "BREAKER_WINDOW_SECONDS": "60",
        },
        reconcile_every_s=2.0,
        log_path=tmp_path_factory.mktemp("logs") / "handlers.log",
    )
    with LocalStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def provider_events(stack: LocalStack) -> Iterator[StatusEventsConsumer]:
    bus = stack.endpoints.event_bus
    assert bus is not None
    consumer = StatusEventsConsumer(
        stack.aws.client("events"),
        stack.aws.client("sqs"),
        bus,
        "provider-events-test",
        detail_types=("ProviderPaused", "ProviderResumed"),
    )
    consumer.start()
    yield consumer
    consumer.stop()


@pytest.fixture(scope="module")
def payouts(stack: LocalStack) -> Run:
    runner = CliRunner()
    target = ["--endpoint-url", stack.endpoints.aws, "--stack-name", stack.endpoints.stack_name]

    def run(*args: str) -> Result:
        return runner.invoke(app, [*target, *args])

    return run


def publish(payouts: Run, folder: Path, documents: list[dict[str, object]]) -> None:
    file = folder / f"requests-{documents[0]['payout_id']}.json"
    file.write_text(json.dumps(documents), encoding="utf-8")
    result = payouts("publish", str(file), "--json")
    assert result.exit_code == 0, result.stderr


def paid_times(stack: LocalStack, ids: set[str]) -> Counter[str]:
    return Counter(
        entry.merchant_no for entry in stack.sandbox.ledger() if entry.merchant_no in ids
    )


def statuses(stack: LocalStack, ids: set[str]) -> dict[str, S | None]:
    store = stack.store()
    return {
        payout_id: (order.status if (order := store.get(payout_id)) else None) for payout_id in ids
    }


def provider_state(payouts: Run, name: str) -> dict[str, object]:
    result = payouts("providers", "status", "--json")
    assert result.exit_code == 0, result.stderr
    states = {view["provider"]: view for view in json.loads(result.stdout)["providers"]}
    return dict(states[name])


def test_paused_payouts_are_held_then_paid_exactly_once_after_resume(
    stack: LocalStack,
    payouts: Run,
    provider_events: StatusEventsConsumer,
    tmp_path: Path,
) -> None:
    paused = payouts("providers", "pause", "pg_v2", "--reason", "bank holiday", "--operator", "ann")
    assert paused.exit_code == 0, paused.stderr
    assert provider_state(payouts, "pg_v2")["state"] == "PAUSED"
    time.sleep(1.5)  # the functions' pause cache (1 s locally)
    ids = {f"PO-HELD-{n}" for n in range(6)}
    publish(payouts, tmp_path, [request_document(pid, "UPI", 1000 + n) for n, pid in
                                enumerate(sorted(ids))])  # fmt: skip

    def all_held() -> bool:
        store = stack.store()
        orders = [store.get(pid) for pid in ids]
        return all(
            o is not None and o.status is S.RECEIVED and "held" in (o.status_reason or "")
            for o in orders
        )

    wait_for(all_held)
    # Several reconcile runs later, still held and nothing reached the provider.
    time.sleep(5)
    assert set(statuses(stack, ids).values()) == {S.RECEIVED}
    assert paid_times(stack, ids) == Counter()
    assert not {order.merchant_no for order in stack.sandbox.orders()} & ids
    held = stack.store().get("PO-HELD-0")
    assert held is not None
    assert "operator:ann" in (held.status_reason or "")
    assert "bank holiday" in (held.status_reason or "")

    resumed = payouts("providers", "resume", "pg_v2", "--operator", "ann")
    assert resumed.exit_code == 0, resumed.stderr

    wait_for(lambda: set(statuses(stack, ids).values()) == {S.SUCCEEDED}, timeout_s=120)
    assert paid_times(stack, ids) == Counter(dict.fromkeys(ids, 1))
    wait_for(lambda: _kinds(provider_events, "pg_v2") == ["ProviderPaused", "ProviderResumed"])


def test_the_breaker_pauses_a_provider_under_5xx_and_holds_what_follows(
    stack: LocalStack,
    payouts: Run,
    provider_events: StatusEventsConsumer,
    tmp_path: Path,
) -> None:
    # Answers 500 after doing the work: every create is UNKNOWN, and each was in fact created.
    fault = stack.sandbox.inject(
        Fault(kind=FaultKind.HTTP_500, provider=Provider.GATEWAY_V2, operation=Operation.CREATE)
    )
    first = {f"PO-BRK-{n}" for n in range(BREAKER_FAILURES)}
    publish(payouts, tmp_path, [request_document(pid, "ALIPAY", 5000) for pid in sorted(first)])

    wait_for(lambda: provider_state(payouts, "gateway_v2")["state"] == "PAUSED")
    state = provider_state(payouts, "gateway_v2")
    assert (state["set_by"], state["changed_by"]) == ("breaker", "breaker")
    wait_for(lambda: _kinds(provider_events, "gateway_v2") == ["ProviderPaused"])

    later = {"PO-BRK-LATER-1", "PO-BRK-LATER-2"}
    publish(payouts, tmp_path, [request_document(pid, "ALIPAY", 7000) for pid in sorted(later)])
    time.sleep(1.5)
    wait_for(lambda: set(statuses(stack, later).values()) == {S.RECEIVED})
    # The UNKNOWN creates are reconciled by query while paused; the held ones are not sent.
    wait_for(lambda: set(statuses(stack, first).values()) == {S.SUCCEEDED}, timeout_s=120)
    assert paid_times(stack, later) == Counter()

    assert fault is not None
    stack.sandbox.disarm(fault)
    resumed = payouts("providers", "resume", "gateway_v2", "--reason", "provider fixed its 5xx")
    assert resumed.exit_code == 0, resumed.stderr
    wait_for(lambda: set(statuses(stack, later).values()) == {S.SUCCEEDED}, timeout_s=120)
    assert paid_times(stack, first | later) == Counter(dict.fromkeys(first | later, 1))


def test_balances_are_read_from_each_provider_in_major_units(payouts: Run) -> None:
    result = payouts("providers", "balance", "--json")

    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["balances"]
    assert {(row["provider"], row["currency"]) for row in rows} >= {
        ("gateway_v2", "CNY"),
        ("pg_v2", "INR"),
    }
    for row in rows:
        assert row["error"] is None
        assert row["available_minor"] == round(float(row["available"]) * 100)


def test_unknown_providers_are_refused_in_one_line(payouts: Run) -> None:
    result = payouts("providers", "pause", "acme_pay", "--reason", "x")

    assert result.exit_code == 1
    assert "unknown provider 'acme_pay'" in result.stderr


def _kinds(consumer: StatusEventsConsumer, provider: str) -> list[str]:
    return [e.detail_type for e in consumer.events() if e.detail.get("provider") == provider]
