"""The callback use case under 10,000 generated requests per run (two seeded halves).

Genuine signed callbacks of both providers, built from what the provider really did (its
"truth", which also answers the confirming queries), and mutations of them: truncated, duplicate
keys, deep nesting, wrong types, huge values, odd unicode, gateway_v2 fields regrouped, amounts and
statuses tampered after signing, bad signatures, old pg_v2 timestamps, unsigned pg_v2 bodies
about any order, replays, wrong media types, other providers. After every request:

- nothing escaped ``handle_callback`` but the refusals the endpoint maps to 4xx and the 503 that
  makes a provider retry (a 500 would be a bug);
- a body with a duplicate key or deep nesting, or a gateway_v2 body whose string to sign could be
  read two ways (the test's own reading), was refused;
- a refused (4xx) request wrote nothing;
- anything written is a callback's evidence, its marks, or a move of an order to what the
  provider truly says: no forged or altered callback moves an order anywhere else, or flags it;
- no order's history was read, orders never sent were never queried, and confirming queries
  stay within one per order and reported status per window.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from types import ModuleType
from typing import Final

import httpx
import pytest
from pydantic import SecretStr

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.status import OrderStatus
from payouts.providers.base import AdapterContext, PayoutProvider
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Credentials
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials
from payouts.services import callbacks
from payouts.services.callbacks import CallbackPolicy, CallbackRequest, handle_callback
from payouts.store import Applied, OrderStore
from payouts_tools.apigw_events import (
    SAMPLE_TIME,
    gateway_callback_body,
    notify_url,
    pg_callback_body,
    pg_headers,
)
from payouts_tools.sandbox.config import GatewayCredentials, PgCredentials
from tests.integration.fuzz.harness import (
    MemoryTable,
    Write,
    duplicate_or_deep,
    parsed_leniently,
)
from tests.integration.fuzz.mutations import Mutator
from tests.support.handlers import load_handler
from tests.support.orders import make_request

S = OrderStatus
REQUESTS_PER_HALF: Final = 5_000
WINDOW: Final = timedelta(seconds=30)
POLICY: Final = CallbackPolicy(
    max_body_bytes=64 * 1024,
    content_types=frozenset({"application/json"}),
    replay_tolerance=timedelta(minutes=5),
    confirm_by_query=frozenset(),
    confirm_timeout_seconds=5.0,
    query_window=WINDOW,
)
PROVIDER_BASE_URL: Final = "https://providers.fuzz.invalid"
GATEWAY: Final = GatewayCredentials()
PG: Final = PgCredentials()
JSON_TYPE: Final = {"Content-Type": "application/json"}
# Table items a callback may write (sort key prefixes), besides moving an order.
CALLBACK_ITEMS: Final = ("EVT#", "CALLBACK#", "CALLBACK_QUERY#")


@dataclass(frozen=True)
class Truth:
    """What the provider really did with one order: what its genuine callbacks and its query
    answers say."""

    payout_id: str
    provider: str
    method: str
    amount: int
    start: OrderStatus  # the order's status here before the run
    paid: bool | None  # True paid, False failed, None still pending
    provider_order_id: str

    @property
    def settles_to(self) -> OrderStatus:
        """Where the truth may move the order; its own start when nothing may move it."""
        if self.start in (S.RECEIVED, S.REJECTED) or self.paid is None:
            return self.start
        return S.SUCCEEDED if self.paid else S.FAILED


TRUTHS: Final = (
    Truth("FZ-GW-1", "gateway_v2", "ALIPAY", 50000, S.SUBMITTED, True, "POT00000001"),
    Truth("FZ-GW-2", "gateway_v2", "ALIPAY", 120, S.SUBMITTED, True, "POT00000002"),
    Truth("FZ-GW-3", "gateway_v2", "ALIPAY", 99999, S.SUBMITTED, False, "POT00000003"),
    Truth("FZ-GW-4", "gateway_v2", "ALIPAY", 777, S.SUBMITTED, None, "POT00000004"),
    Truth("FZ-GW-5", "gateway_v2", "ALIPAY", 4100, S.SUCCEEDED, True, "POT00000005"),
    Truth("FZ-PG-1", "pg_v2", "UPI", 10005, S.SUBMITTED, True, "20261122000000000000000000000001"),
    Truth("FZ-PG-2", "pg_v2", "PIX", 1999, S.SUBMITTED, True, "20261122000000000000000000000002"),
    Truth("FZ-PG-3", "pg_v2", "UPI", 500, S.SUBMITTED, None, "20261122000000000000000000000003"),
    Truth("FZ-PG-4", "pg_v2", "UPI", 300, S.SUBMITTED, False, "20261122000000000000000000000004"),
    Truth("FZ-PG-5", "pg_v2", "UPI", 800, S.SUCCEEDED, True, "20261122000000000000000000000005"),
    Truth("FZ-PG-6", "pg_v2", "UPI", 900, S.FAILED, False, "20261122000000000000000000000006"),
    Truth("FZ-PG-7", "pg_v2", "BANK_ACCOUNT", 700, S.RECEIVED, None, "-"),
    Truth("FZ-PG-8", "pg_v2", "UPI", 600, S.REJECTED, None, "-"),
)
BY_ID: Final = {truth.payout_id: truth for truth in TRUTHS}
PATHS: Final = {
    S.SUBMITTED: (S.SUBMITTING, S.SUBMITTED),
    S.SUCCEEDED: (S.SUBMITTING, S.SUBMITTED, S.SUCCEEDED),
    S.FAILED: (S.SUBMITTING, S.SUBMITTED, S.FAILED),
    S.RECEIVED: (),
    S.REJECTED: (S.REJECTED,),
}


def seed_orders(store: OrderStore, at: datetime) -> None:
    """Every order of ``TRUTHS`` in its start status, as intake and earlier checks left it."""
    for truth in TRUTHS:
        request = make_request(truth.payout_id, truth.method, truth.amount)
        order: Order = store.create(request, at, at + timedelta(hours=1)).order
        for status in PATHS[truth.start]:
            changes: dict[str, str] = {}
            if status is S.SUBMITTING:
                changes["provider"] = truth.provider
            if status is S.SUBMITTED:
                changes["provider_order_id"] = truth.provider_order_id
            note = Evidence(kind=EvidenceKind.TRANSITION, summary=f"seeded {status}", at=at)
            moved = store.transition(order, status, note, at, **changes)
            assert isinstance(moved, Applied)
            order = moved.order


def query_answers(request: httpx.Request) -> httpx.Response:
    """The providers' query endpoints, answering from the truth (pg_v2: unsigned, allowed)."""
    if request.url.path != "/pg/v2/payout/query":
        return httpx.Response(500)
    truth = BY_ID.get(json.loads(request.content)["merchantTradeNo"])
    if truth is None or truth.provider != "pg_v2" or truth.start in (S.RECEIVED, S.REJECTED):
        return httpx.Response(200, json={"code": "Payout.Not_Found", "errorMessage": "no order"})
    status = {True: "PAID", False: "FAILED", None: "PROCESSING"}[truth.paid]
    data = {
        "payoutNo": truth.provider_order_id,
        "merchantTradeNo": truth.payout_id,
        "amount": f"{truth.amount // 100}.{truth.amount % 100:02d}",
        "currency": "BRL" if truth.method == "PIX" else "INR",
        "status": status,
        "errorCode": "Payout.Common.Rejected" if truth.paid is False else None,
    }
    return httpx.Response(200, json={"code": "OK", "data": data})


def adapters(client: httpx.AsyncClient) -> dict[str, PayoutProvider]:
    """The real adapters with the sandbox's fake keys; queries reach ``query_answers``."""
    gateway = GatewayV2Adapter(
        credentials=GatewayV2Credentials(
            platform_id=GATEWAY.platform_id,
            platform_key=SecretStr(GATEWAY.signing_key),
            query_token=SecretStr(GATEWAY.query_token),
        ),
        context=AdapterContext(PROVIDER_BASE_URL, notify_url("gateway_v2")),
        client=client,
    )
    pg = PgV2Adapter(
        credentials=PgV2Credentials(app_id=PG.app_id, app_secret=SecretStr(PG.app_secret)),
        context=AdapterContext(PROVIDER_BASE_URL, notify_url("pg_v2")),
        client=client,
    )
    return {"gateway_v2": gateway, "pg_v2": pg}


@dataclass(frozen=True)
class Case:
    """One request to ``/callbacks/<provider>``."""

    provider: str
    body: bytes
    headers: Mapping[str, str]
    how: str


@dataclass
class Requests:
    """Seeded callback requests: genuine ones and every way one can go wrong."""

    seed: int
    rng: random.Random = field(init=False)
    mutator: Mutator = field(init=False)
    genuine: list[Case] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.mutator = Mutator(self.rng)

    def next(self, now: datetime) -> Case:
        truth = self.rng.choice(TRUTHS)
        case = self._genuine(truth, now)
        self.genuine.append(case)
        roll = self.rng.random()
        if roll < 0.12:
            return case
        if roll < 0.18:
            return self.rng.choice(self.genuine)  # a replay, maybe long after it was signed
        if roll < 0.75:
            return self._mutated(case)
        return self._forged(truth, case)

    def _genuine(self, truth: Truth, now: datetime) -> Case:
        if truth.provider == "gateway_v2":
            status = {True: 3, False: self.rng.choice((4, 5)), None: self.rng.choice((1, 2))}
            body = gateway_callback_body(
                truth.payout_id,
                status=status[truth.paid],
                amount_minor=truth.amount,
                provider_order_id=truth.provider_order_id,
                at=now,
            )
            return Case("gateway_v2", body, JSON_TYPE, "genuine")
        body = self._pg_body(truth, {True: "PAID", False: "FAILED", None: "PROCESSING"}[truth.paid])
        return Case("pg_v2", body, pg_headers(body, signed_at=now), "genuine")

    def _pg_body(self, truth: Truth, status: str) -> bytes:
        return pg_callback_body(
            truth.payout_id,
            status=status,
            amount_minor=truth.amount,
            currency="BRL" if truth.method == "PIX" else "INR",
            provider_order_id=truth.provider_order_id,
        )

    def _mutated(self, case: Case) -> Case:
        text = self.mutator.mutate(json.loads(case.body))
        headers = dict(case.headers)
        if case.provider == "pg_v2" and self.rng.random() < 0.5:
            del headers["Authorization"]  # unsigned: allowed, untrusted, confirmed by query
        return Case(case.provider, text.encode("utf-8", "surrogatepass"), headers, "mutated")

    def _forged(self, truth: Truth, case: Case) -> Case:
        forgeries = (
            self._regrouped,
            self._tampered,
            self._bad_signature,
            self._old_signature,
            self._unsigned_claim,
            self._unsigned_claim,
            self._envelope,
        )
        return self.rng.choice(forgeries)(truth, case)

    def _regrouped(self, truth: Truth, case: Case) -> Case:
        fields = json.loads(case.body)
        keys = [key for key in fields if key not in ("sign", "sign_type")]
        into, taken = self.rng.sample(keys, 2)
        if case.provider == "gateway_v2":
            fields[into] = f"{fields[into]}&{taken}={fields.pop(taken)}"
        else:
            fields["data"]["status"] = f"{fields['data']['status']}&amount=1"
        return Case(case.provider, json.dumps(fields).encode(), case.headers, "regrouped")

    def _tampered(self, truth: Truth, case: Case) -> Case:
        fields = json.loads(case.body)
        target = fields if case.provider == "gateway_v2" else fields["data"]
        name = self.rng.choice(("amount", "status", "payout_cl_id", "merchantTradeNo"))
        value = self.rng.choice((1, "1", 3, "3", "PAID", "FAILED", "REVERSED", "FZ-PG-7"))
        target[name] = value
        return Case(case.provider, json.dumps(fields).encode(), case.headers, "tampered")

    def _bad_signature(self, truth: Truth, case: Case) -> Case:
        if case.provider == "gateway_v2":
            fields = json.loads(case.body)
            fields["sign"] = self.rng.choice(("0" * 64, fields["sign"][::-1], "", 7))
            return Case(case.provider, json.dumps(fields).encode(), case.headers, "bad sign")
        header = case.headers["Authorization"]
        spoiled = header.replace("sign=", "sign=0", 1)[: self.rng.randint(10, len(header) + 1)]
        return Case(case.provider, case.body, {**JSON_TYPE, "Authorization": spoiled}, "bad sign")

    def _old_signature(self, truth: Truth, case: Case) -> Case:
        if case.provider == "gateway_v2":
            return self._bad_signature(truth, case)
        old = SAMPLE_TIME - timedelta(minutes=self.rng.randint(6, 600))
        return Case(case.provider, case.body, pg_headers(case.body, signed_at=old), "replayed")

    def _unsigned_claim(self, truth: Truth, case: Case) -> Case:
        # Anyone can POST an unsigned pg_v2 body about any order, saying anything.
        target = self.rng.choice([t for t in TRUTHS if t.provider == "pg_v2"])
        status = self.rng.choice(("PAID", "FAILED", "REVERSED", "PROCESSING", "CANCELLED", "?"))
        body = self._pg_body(target, status)
        if self.rng.random() < 0.3:
            body = body.replace(b'"amount":"', b'"amount":"9', 1)
        return Case("pg_v2", body, JSON_TYPE, "unsigned claim")

    def _envelope(self, truth: Truth, case: Case) -> Case:
        choice = self.rng.randrange(5)
        if choice == 0:
            return Case(case.provider, case.body, {"Content-Type": "text/plain"}, "media type")
        if choice == 1:
            return Case(case.provider, b" ", case.headers, "empty")
        if choice == 2:
            return Case(case.provider, b"{" + b" " * 70_000 + b"}", case.headers, "too large")
        if choice == 3:
            other = "pg_v2" if case.provider == "gateway_v2" else "gateway_v2"
            return Case(other, case.body, case.headers, "other provider")
        return Case("paypal", case.body, case.headers, "unknown provider")


@dataclass
class Run:
    """One seeded run of the callback use case over the in-memory table."""

    handler: ModuleType
    table: MemoryTable = field(default_factory=MemoryTable)
    statuses: Counter[int] = field(default_factory=Counter)
    queries: Counter[str] = field(default_factory=Counter)

    def status_of(self, error: Exception) -> int:
        """The HTTP status the endpoint answers for ``error`` (its own table), 500 otherwise."""
        mapping = self.handler.HTTP_STATUS_OF
        found = next((mapping[kind] for kind in type(error).__mro__ if kind in mapping), None)
        return int(found or HTTPStatus.INTERNAL_SERVER_ERROR)

    async def send(self, case: Case, providers: Mapping[str, PayoutProvider], now: datetime) -> int:
        request = CallbackRequest(case.provider, case.body, case.headers, "192.0.2.7")
        try:
            await handle_callback(
                request, providers=providers.get, store=self.table.store, policy=POLICY, now=now
            )
        except Exception as error:
            status = self.status_of(error)
            if status == HTTPStatus.INTERNAL_SERVER_ERROR:
                raise
            return status
        return HTTPStatus.OK

    def check(self, case: Case, status: int, writes: list[Write]) -> None:
        if duplicate_or_deep(case.body) or (
            case.provider == "gateway_v2" and signs_ambiguously(parsed_leniently(case.body))
        ):
            assert 400 <= status < 500, status
        if 400 <= status < 500:
            assert writes == [], writes
        for write in writes:
            if write.sk == "ORDER":
                assert_moved_to_truth(write)
            else:
                assert write.sk.startswith(CALLBACK_ITEMS), write
                assert write.event != "REMOVE", write


def signs_ambiguously(fields: object) -> bool:
    """gateway_v2's ``k=v&k=v`` could be cut into other pairs: a key holds ``=`` or ``&``, or a
    signed value holds ``&``."""
    if not isinstance(fields, dict):
        return False
    for key, value in fields.items():
        if "=" in key or "&" in key:
            return True
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if key not in ("sign", "sign_type") and "&" in text:
            return True
    return False


def assert_moved_to_truth(write: Write) -> None:
    """An order written by a callback moved to what its provider truly says, and no further."""
    truth = BY_ID[str(write.new["payout_id"])]
    assert write.event == "MODIFY", write
    assert write.new["status"] in (truth.start.value, truth.settles_to.value), write
    assert not write.new.get("needs_review"), write


def counting_queries(provider: PayoutProvider, queries: Counter[str]) -> PayoutProvider:
    """``provider`` counting the queries made through it, by payout id."""
    query = provider.query

    async def counted(order: Order) -> object:
        queries[order.payout_id] += 1
        return await query(order)

    provider.query = counted  # type: ignore[method-assign]
    return provider


def no_history_reads(payout_id: str) -> list[Evidence]:
    raise AssertionError(f"a callback read the whole history of {payout_id}")


@pytest.fixture
def quiet_metrics(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The use case's metrics, counted here rather than flushed to stdout every hundred."""
    counted: Counter[str] = Counter()
    monkeypatch.setattr(callbacks, "_count", lambda name: counted.update([name]))
    return counted


@pytest.mark.parametrize("seed", [2001, 2002])
def test_fuzzed_callbacks_never_move_an_order_but_to_the_truth_and_never_answer_500(
    seed: int, quiet_metrics: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run(load_handler("callback"))
    seed_orders(run.table.store, SAMPLE_TIME - timedelta(hours=1))
    run.table.writes()
    monkeypatch.setattr(run.table.store, "history", no_history_reads)
    requests = Requests(seed)
    now = SAMPLE_TIME

    async def fuzz() -> None:
        nonlocal now
        async with httpx.AsyncClient(transport=httpx.MockTransport(query_answers)) as client:
            providers = {
                name: counting_queries(adapter, run.queries)
                for name, adapter in adapters(client).items()
            }
            for number in range(REQUESTS_PER_HALF):
                now += timedelta(seconds=1)
                case = requests.next(now)
                try:
                    status = await run.send(case, providers, now)
                    run.statuses[status] += 1
                    run.check(case, status, run.table.writes())
                except Exception as error:
                    raise AssertionError(
                        f"request {number} of seed {seed} ({case.how}) to {case.provider}: "
                        f"{case.body[:300]!r} {dict(case.headers)}"
                    ) from error

    asyncio.run(fuzz())
    monkeypatch.undo()

    for truth in TRUTHS:
        order = run.table.store.get(truth.payout_id)
        assert order is not None
        assert order.status in (truth.start, truth.settles_to), truth
        assert not order.needs_review, order.review_reason
        # The genuine callbacks (and the confirming queries) did get through.
        assert order.status is truth.settles_to, (truth, order.status)
    assert run.queries["FZ-PG-7"] == run.queries["FZ-PG-8"] == 0  # never sent
    # One confirming query per order and reported status per window, at most.
    windows = REQUESTS_PER_HALF // int(WINDOW.total_seconds()) + 1
    assert max(run.queries.values()) <= 6 * windows, run.queries
    assert quiet_metrics["CallbackQuerySkipped"] > 0
    for status in (200, 400, 401, 404, 413, 415):
        assert run.statuses[status] >= 20, run.statuses
