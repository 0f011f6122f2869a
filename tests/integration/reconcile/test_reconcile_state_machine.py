"""The real statemachine/reconcile.asl.json, executed by moto's interpreter with the real find_due
and reconcile handlers in-process, against the provider sandbox, on a virtual clock: every order
ends where the rules say, nothing is paid twice, and the lease keeps executions apart."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from payouts.domain.order import Evidence, EvidenceKind
from payouts.domain.status import OrderStatus
from payouts.store import Applied
from payouts_tools.sandbox import EntryKind, Outcome, Provider
from tests.integration.reconcile.loop_stack import LoopLimits, LoopStack, loop_stack
from tests.integration.reconcile.reconcile_support import store_order
from tests.support.orders import T0

S = OrderStatus
GW, PG = Provider.GATEWAY_V2, Provider.PG_V2
HOUR = 3600
# Five virtual hours: past the (shortened) 4 h deadline and the 10th query (3 h 24 min in).
LONG_RUN = LoopLimits(budget_seconds=5 * HOUR, max_wait_seconds=HOUR, max_iterations=150)
SCENARIO_SETTINGS = {"RECONCILE_DEADLINE_SECONDS": str(4 * HOUR), "BACKOFF_JITTER": "0"}


def submitted(loop: LoopStack, payout_id: str, method: str, provider: Provider) -> None:
    """An order the provider accepted (created at the sandbox by the real adapter), stored
    SUBMITTED with the provider's id."""
    order = store_order(loop.store, payout_id, S.SUBMITTING, method=method)
    provider_id = loop.create_at_provider(order, provider.value)
    note = Evidence(kind=EvidenceKind.CREATE_ANSWER, summary="setup: accepted", at=T0)
    accepted = loop.store.transition(order, S.SUBMITTED, note, T0, provider_order_id=provider_id)
    assert isinstance(accepted, Applied)


def payments(loop: LoopStack) -> Counter[str]:
    return Counter(
        entry.merchant_no for entry in loop.sandbox.ledger() if entry.kind is EntryKind.PAYMENT
    )


def test_the_loop_follows_every_kind_of_order_to_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    with loop_stack(monkeypatch, limits=LONG_RUN, environment=SCENARIO_SETTINGS) as loop:
        sandbox = loop.sandbox
        # Resolve on the 1st, 3rd and 10th query; one fails; one never resolves.
        sandbox.script(GW, "PO-FIRST", Outcome.SUCCESS, after_queries=1)
        sandbox.script(PG, "PO-THIRD", Outcome.SUCCESS, after_queries=3)
        sandbox.script(GW, "PO-TENTH", Outcome.SUCCESS, after_queries=10)
        sandbox.script(PG, "PO-FAILS", Outcome.FAILURE, after_queries=2)
        sandbox.script(GW, "PO-NEVER", Outcome.NEVER)
        submitted(loop, "PO-FIRST", "ALIPAY", GW)
        submitted(loop, "PO-THIRD", "UPI", PG)
        submitted(loop, "PO-TENTH", "ALIPAY", GW)
        submitted(loop, "PO-FAILS", "PIX", PG)
        submitted(loop, "PO-NEVER", "ALIPAY", GW)
        # The create reached the provider but the sender died before recording the answer.
        sandbox.script(PG, "PO-STALE", Outcome.SUCCESS, after_queries=1)
        claimed_at = T0 - timedelta(minutes=3)
        stale = store_order(
            loop.store, "PO-STALE", S.SUBMITTING, method="BANK_ACCOUNT", at=claimed_at
        )
        loop.create_at_provider(stale, "pg_v2")
        # Unknown creates the providers never received: pg_v2 re-sends, gateway_v2 escalates.
        sandbox.script(PG, "PO-LOST-PG", Outcome.SUCCESS, after_queries=2)
        store_order(loop.store, "PO-LOST-PG", S.UNKNOWN, method="UPI")
        store_order(loop.store, "PO-LOST-GW", S.UNKNOWN, method="ALIPAY")
        # Stored, never sent (its message died in the DLQ): the loop sends it itself.
        sandbox.script(GW, "PO-UNSENT", Outcome.SUCCESS, after_queries=1)
        store_order(loop.store, "PO-UNSENT", S.RECEIVED)

        result = loop.run(timeout_s=90)

        assert result["status"] == "SUCCEEDED", result
        expected = {
            "PO-FIRST": S.SUCCEEDED,
            "PO-THIRD": S.SUCCEEDED,
            "PO-TENTH": S.SUCCEEDED,
            "PO-FAILS": S.FAILED,
            "PO-NEVER": S.SUBMITTED,
            "PO-STALE": S.SUCCEEDED,
            "PO-LOST-PG": S.SUCCEEDED,
            "PO-LOST-GW": S.UNKNOWN,
            "PO-UNSENT": S.SUCCEEDED,
        }
        assert {pid: loop.order(pid).status for pid in expected} == expected
        # The one that never resolves was escalated at its deadline, never failed.
        never = loop.order("PO-NEVER")
        assert never.needs_review is True
        assert never.review_reason is not None
        assert never.review_reason.startswith("unresolved for more than 4 h")
        assert loop.order("PO-LOST-GW").needs_review is True
        assert loop.order("PO-UNSENT").needs_review is False
        assert not any(loop.order(pid).needs_review for pid in ("PO-FIRST", "PO-TENTH"))
        # Exactly the orders that succeeded were paid, each once.
        paid = {pid for pid, status in expected.items() if status is S.SUCCEEDED}
        assert sandbox.double_payouts() == []
        assert payments(loop) == Counter(dict.fromkeys(paid, 1))
        # The re-send went out under the same merchant number, once; gateway_v2 got none.
        creates = Counter((view.provider, view.merchant_no) for view in sandbox.orders())
        assert creates[(PG, "PO-LOST-PG")] == 1
        assert creates[(GW, "PO-LOST-GW")] == 0
        assert creates[(GW, "PO-UNSENT")] == 1  # sent once, by the loop
        tenth = next(view for view in sandbox.orders() if view.merchant_no == "PO-TENTH")
        assert tenth.queries == 10
        assert not loop.lease_item_exists()


def test_a_second_execution_ends_quietly_while_the_first_holds_the_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with loop_stack(monkeypatch, limits=LoopLimits(budget_seconds=60), block_waits=True) as loop:
        # Something due later keeps the first execution waiting (and holding the lease).
        store_order(loop.store, "PO-LATER", S.SUBMITTED, next_check_at=T0 + timedelta(seconds=20))
        first = loop.start("first")
        _wait_until(lambda: loop.lease_item_exists() and loop.lambdas.count("find-due") >= 2)

        second = loop.finish(loop.start("second"), timeout_s=30)

        assert second["status"] == "SUCCEEDED"
        second_states = [
            event["stateEnteredEventDetails"]["name"]
            for event in loop.history(second["executionArn"])
            if "stateEnteredEventDetails" in event
        ]
        assert second_states[-1] == "LeaseHeldElsewhere"
        assert "FindDue" not in second_states
        loop.release_waits.set()
        assert loop.finish(first)["status"] == "SUCCEEDED"
        assert not loop.lease_item_exists()


def test_a_failing_batch_releases_the_lease_and_fails_the_execution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_reconcile(event: dict[str, object], context: object) -> dict[str, int]:
        raise RuntimeError("secret unreadable")

    with loop_stack(monkeypatch, handlers={"reconcile": broken_reconcile}) as loop:
        store_order(loop.store, "PO-1", S.SUBMITTED)

        result = loop.run()

        assert result["status"] == "FAILED"
        assert result.get("error") == "RuntimeError"
        assert not loop.lease_item_exists()
        # A function error is never retried: reconcile may have re-sent a create.
        assert loop.lambdas.count("reconcile") == 1
        assert loop.order("PO-1").status is S.SUBMITTED


def test_an_execution_stays_within_its_iteration_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = LoopLimits(budget_seconds=HOUR, max_wait_seconds=5, max_iterations=4)
    with loop_stack(monkeypatch, limits=limits) as loop:
        store_order(loop.store, "PO-LATER", S.SUBMITTED, next_check_at=T0 + timedelta(minutes=30))

        result = loop.run()

        assert result["status"] == "SUCCEEDED"
        assert loop.lambdas.count("find-due") == 1 + 4  # acquire, then four iterations
        assert loop.waits == [5, 5, 5]
        assert not loop.lease_item_exists()


def _wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


# Events of an execution (docs/reconcile.md): ExecutionStarted, Configure (2), AcquireLease (5),
# LeaseTaken (2), ReleaseLease (5), Done (2), ExecutionSucceeded; then per iteration FindDue (5)
# and Route (2), plus the Map (4 + 7 per batch) or the Wait (2).
FIXED_EVENTS = 18


def iteration_events(batches: int) -> int:
    return 5 + 2 + 4 + 7 * batches


def test_the_history_grows_by_the_documented_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = {"RECONCILE_BATCH_SIZE": "2", "RECONCILE_BATCHES_PER_ITERATION": "3"}
    with loop_stack(monkeypatch, environment=environment) as loop:
        for number in range(13):  # 13 due, at most 6 per iteration
            payout_id = f"PO-{number}"
            loop.sandbox.script(GW, payout_id, Outcome.SUCCESS, after_queries=1)
            submitted(loop, payout_id, "ALIPAY", GW)

        result = loop.run()

        events = loop.history(result["executionArn"])
        finds = loop.lambdas.count("find-due") - 1
        reconciles = loop.lambdas.count("reconcile")
        working = finds - 1  # the last find-due finds nothing left
        assert result["status"] == "SUCCEEDED"
        # Each iteration hands out at most 3 batches of 2; how the 13 spread over iterations
        # depends on the shards' shares, the arithmetic per iteration does not.
        assert 7 <= reconciles <= 3 * working
        assert len(events) == FIXED_EVENTS + working * iteration_events(0) + 7 * reconciles + 7
        assert len(events) <= FIXED_EVENTS + finds * iteration_events(3)
        assert payments(loop) == Counter({f"PO-{number}": 1 for number in range(13)})
