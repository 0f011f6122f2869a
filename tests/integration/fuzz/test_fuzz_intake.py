"""Intake under 10,000 generated SQS bodies per run (two seeded halves, one per xdist worker).

Valid requests, their redeliveries, different requests under used ids, corrected re-sends of
rejected ones, and mutations of all of these (envelopes included). After every message:

- nothing escaped ``Intake.handle`` but ``RetryLater`` (SQS retries the message);
- a body with a duplicate key or deep nesting (the test's own reading) was INVALID;
- an INVALID or CONFLICT message was dead-lettered once, with a reason;
- a DUPLICATE_DELIVERY was the very request already stored (nothing else is acknowledged
  silently);
- bad input wrote nothing but the documented REJECTED order (a new one, never a change) or a
  CONFLICT evidence item beside an existing order;
- no payout id was ever sent to the provider twice;
- no beneficiary value was written in clear anywhere but the valid request an order must pay
  (rejected requests' excerpts, evidence, every other attribute), whatever key it came under.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Final

import pytest

from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Order
from payouts.domain.request import parse_request
from payouts.providers.base import CreateKind, CreateOutcome, RawExchange
from payouts.providers.routing import Router
from payouts.services.intake import Disposition, Intake, IntakeMessage, IntakeTimings, RetryLater
from payouts.settings.base import DEFAULT_ROUTES
from tests.integration.fuzz.harness import (
    InlineExecutor,
    MemoryTable,
    Write,
    duplicate_or_deep,
    parsed_leniently,
)
from tests.integration.fuzz.mutations import Json, Mutator
from tests.support.orders import BENEFICIARIES, CURRENCIES, T0, request_document
from tests.support.provider_states import open_gate

MESSAGES_PER_HALF: Final = 5_000
TIMINGS: Final = IntakeTimings(
    received_grace=timedelta(hours=1),
    stale_submitting_after=timedelta(minutes=5),
    submitted_first_check=timedelta(minutes=1),
    unknown_first_check=timedelta(seconds=5),
)
BAD_INPUT: Final = frozenset({Disposition.INVALID, Disposition.CONFLICT})


class Provider:
    """Accepts every create, and remembers each one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.creates: Counter[str] = Counter()

    async def create(self, order: Order) -> CreateOutcome:
        self.creates[order.payout_id] += 1
        raw = RawExchange("ok", 200, "0000")
        return CreateOutcome(CreateKind.ACCEPTED, "accepted", raw, f"P-{order.payout_id}")


class Providers:
    def __init__(self) -> None:
        self.by_name = {name: Provider(name) for name in ("gateway_v2", "pg_v2")}

    def provider(self, name: str) -> Provider:
        return self.by_name[name]

    def creates(self) -> Counter[str]:
        return sum((provider.creates for provider in self.by_name.values()), Counter())


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: dict[str, list[str]] = {}

    def send(self, message: IntakeMessage, reason: str) -> None:
        self.reasons.setdefault(message.message_id, []).append(reason)


class Bodies:
    """Seeded SQS message bodies: valid requests and every way one can go wrong."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.mutator = Mutator(self.rng)
        self.seed = seed
        self.sent: list[str] = []
        self.valid: list[str] = []
        self.ids: list[str] = []

    def next(self) -> str:
        roll = self.rng.random()
        if roll < 0.12:
            body = self._enveloped(self._valid(self._fresh_id()))
            self.valid.append(body)
        elif roll < 0.20 and self.valid:
            # A redelivery, or a publisher's retry, of something sent before.
            body = self.rng.choice(self.valid if roll < 0.16 else self.sent)
        elif roll < 0.27 and self.ids:
            body = self._enveloped(self._valid(self.rng.choice(self.ids)))  # reused id
        elif roll < 0.97:
            payout_id = self.rng.choice(self.ids) if self.ids and roll < 0.4 else self._fresh_id()
            body = self.mutator.mutate(self._enveloped_document(self._valid(payout_id)))
        else:
            body = self.rng.choice(("", " ", "null", "0", "[]", '""', "{}", "\ufeff{}", "nul"))
        self.sent.append(body)
        return body

    def _fresh_id(self) -> str:
        payout_id = f"FZ{self.seed}-{len(self.ids)}"
        self.ids.append(payout_id)
        return payout_id

    def _valid(self, payout_id: str) -> Json:
        method = self.rng.choice(sorted(BENEFICIARIES))
        document = request_document(payout_id, method, self.rng.randint(1, 10**7))
        if self.rng.random() < 0.3:
            document["metadata"] = {"source": self.rng.choice(("a", "b", "é"))}
        if self.rng.random() < 0.1:
            document["amount"]["currency"] = self.rng.choice(sorted(set(CURRENCIES.values())))
        return document

    def _enveloped_document(self, document: Json) -> Json:
        roll = self.rng.random()
        if roll < 0.15:
            return {"version": "0", "detail-type": "PayoutRequested", "detail": document}
        if roll < 0.25:
            return {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(document)}
        return document

    def _enveloped(self, document: Json) -> str:
        return json.dumps(self._enveloped_document(document))


class Run:
    """One seeded run of intake over the in-memory table."""

    def __init__(self) -> None:
        self.table = MemoryTable()
        self.providers = Providers()
        self.dead_letters = DeadLetters()
        self.now = T0
        self.outcomes: Counter[str] = Counter()
        self.rejected_excerpts = 0
        self.intake = Intake(
            store=self.table.store,
            router=Router(dict(DEFAULT_ROUTES)),
            providers=self.providers,
            dead_letters=self.dead_letters,
            timings=TIMINGS,
            gate=open_gate(self._clock),
            clock=self._clock,
            count=lambda _: None,
            threads=InlineExecutor(),
        )

    def _clock(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def deliver(self, runner: asyncio.Runner, message: IntakeMessage) -> None:
        try:
            disposition: Disposition | None = runner.run(self.intake.handle(message))
        except RetryLater:
            disposition = None
        self.outcomes[disposition.value if disposition else "RETRY"] += 1
        self.check(message, disposition, self.table.writes())

    def check(
        self, message: IntakeMessage, disposition: Disposition | None, writes: list[Write]
    ) -> None:
        reasons = self.dead_letters.reasons.get(message.message_id, [])
        if must_be_invalid(message.body):
            assert disposition is Disposition.INVALID
        if disposition is Disposition.DUPLICATE_DELIVERY:
            request = parse_request(message.body)
            stored = self.table.store.get(request.payout_id)
            assert stored is not None
            assert stored.fingerprint == request_fingerprint(request)
        if disposition in BAD_INPUT:
            assert len(reasons) == 1, reasons
            assert reasons[0].strip()
            for write in writes:
                assert documented_bad_input_write(write), write
        else:
            assert reasons == []
        for write in writes:
            clear = beneficiary_values_in_clear(write)
            assert not clear, (clear, write)
            self.rejected_excerpts += write.sk == "ORDER" and "invalid_request" in write.new


def must_be_invalid(body: str) -> bool:
    """The body, or the SNS message inside it, holds a duplicate key or nests too deep."""
    if duplicate_or_deep(body):
        return True
    document = parsed_leniently(body)
    if isinstance(document, dict) and document.get("Type") == "Notification":
        message = document.get("Message")
        return isinstance(message, str) and duplicate_or_deep(message)
    return False


# The sample beneficiaries' personal values (a one-letter surname says nothing on its own).
BENEFICIARY_VALUES: Final = sorted(
    {
        str(value)
        for beneficiary in BENEFICIARIES.values()
        for name, value in beneficiary.items()
        if name not in {"method", "pix_key_type"} and len(str(value)) > 1
    }
)


def beneficiary_values_in_clear(write: Write) -> list[str]:
    """The beneficiary values a write stored in clear, outside the one place a valid request
    keeps them until it is paid and the retention period has passed (the order's ``request``)."""
    stored = {name: value for name, value in write.new.items() if name != "request"}
    text = json.dumps(stored, ensure_ascii=False, default=str)
    return [value for value in BENEFICIARY_VALUES if value in text]


def documented_bad_input_write(write: Write) -> bool:
    """A new REJECTED order with no request (the invalid request's own record), or a CONFLICT
    evidence item beside an order: the only things bad input may leave in the table."""
    if write.event != "INSERT":
        return False
    if write.sk == "ORDER":
        return write.new["status"] == "REJECTED" and "request" not in write.new
    return write.sk.startswith("EVT#") and write.new["kind"] == "CONFLICT"


@pytest.mark.parametrize("seed", [1001, 1002])
def test_fuzzed_sqs_bodies_are_each_processed_retried_or_dead_lettered_with_a_reason(
    seed: int,
) -> None:
    run = Run()
    bodies = Bodies(seed)
    with asyncio.Runner() as runner:
        for number in range(MESSAGES_PER_HALF):
            body = bodies.next()
            try:
                run.deliver(runner, IntakeMessage(f"m-{number}", body))
            except Exception as error:
                raise AssertionError(f"message {number} of seed {seed}: {body[:400]!r}") from error

    assert sum(run.outcomes.values()) == MESSAGES_PER_HALF
    # Redeliveries and replays included, nothing was ever sent twice.
    assert max(run.providers.creates().values()) == 1
    # The generator reaches every path this test is about.
    for disposition in (*BAD_INPUT, Disposition.SUBMITTED, Disposition.DUPLICATE_DELIVERY):
        assert run.outcomes[disposition.value] >= 100, run.outcomes
    assert run.rejected_excerpts >= 500  # each scanned for beneficiary values in clear
