"""Intake: one SQS message -> one order -> at most one provider create, whatever is redelivered.

The order is made durable before anything is sent, and it is claimed (RECEIVED -> SUBMITTING, a
conditional write) before the HTTP call, so a redelivery, a concurrent copy of the message or a
crash between any two steps can never send a second create: only the delivery that won the claim
calls the provider, and an order left SUBMITTING is the reconcile loop's to query.

Outcomes of the create are recorded with the provider's answer as evidence:

========== ====================================================================================
ACCEPTED   SUBMITTED, with the provider's order id; queried later if no callback settles it
REJECTED   REJECTED: a documented, definitive refusal (or refused by the adapter before sending)
DUPLICATE  UNKNOWN, due for a query within seconds: the provider already has this order number
AMBIGUOUS  UNKNOWN, due for a query within seconds: the bytes may have arrived
NOT_SENT   back to RECEIVED and the message fails, so SQS retries it: it provably never left
========== ====================================================================================

While the order's provider is paused (by a person, or by the breaker after a run of AMBIGUOUS or
NOT_SENT creates: ``provider_gate``), nothing is sent: the order stays RECEIVED, held, with the
pause in its status reason and a due time for the reconcile loop, which sends it after resume.
The message is acknowledged: the order is durable and the loop owns it from there.

Invalid messages are dead-lettered explicitly with their reason and acknowledged, so they never
block a batch; transient trouble (throttling, NOT_SENT) fails only that message.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx

from payouts.domain import strict_json
from payouts.domain.errors import InvalidRequest
from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Evidence, EvidenceKind, Order, utc_now
from payouts.domain.provider_state import ProviderState
from payouts.domain.redaction import redact_document
from payouts.domain.request import PayoutRequest, parse_request, unwrap_envelope
from payouts.domain.status import OrderStatus
from payouts.observability import MetricUnit, logger, metrics, payout_log_context
from payouts.providers.base import (
    CreateKind,
    CreateOutcome,
    PayoutProvider,
    RawExchange,
    UnsupportedPayout,
)
from payouts.providers.routing import NoRoute, Router
from payouts.services.provider_gate import ProviderGate
from payouts.services.submission import create_answer_evidence, first_check_at
from payouts.settings.intake import IntakeSettings
from payouts.store import AlreadyExists, Applied, Created, OrderStore, WriteResult

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

S = OrderStatus

# Exceptions an adapter raises *before sending anything* for an order it cannot pay: a refusal,
# never an unknown (the port's UnsupportedPayout; InvalidRequest from older adapters). Anything
# else raised by a create is treated as "may have been sent".
REFUSED_BEFORE_SENDING: Final[tuple[type[Exception], ...]] = (UnsupportedPayout, InvalidRequest)

# Decisions to send (or hold) one message's order, when writes that leave it RECEIVED keep
# beating ours; past this the message is retried by SQS.
_SEND_ATTEMPTS: Final = 3

# SQS message attribute values count towards the message's size; a reason is a line, not a log.
MAX_REASON_CHARS: Final = 1024
# How much of an invalid request is kept on its REJECTED order (personal data masked).
MAX_EXCERPT_CHARS: Final = 600

# Metric names (Powertools metrics, namespace from POWERTOOLS_METRICS_NAMESPACE).
METRIC_INVALID: Final = "InvalidRequest"
METRIC_CONFLICT: Final = "RequestConflict"
METRIC_DUPLICATE: Final = "DuplicateDelivery"
METRIC_NO_ROUTE: Final = "NoRoute"
METRIC_LATE_ANSWER: Final = "LateCreateAnswer"
METRIC_CREATE_ERROR: Final = "CreateError"
METRIC_HELD: Final = "OrdersHeld"
METRIC_CREATE_PREFIX: Final = "Create"  # + ACCEPTED / REJECTED / DUPLICATE / AMBIGUOUS / NOT_SENT


class Disposition(StrEnum):
    """What intake did with one message (the record handler's result)."""

    SUBMITTED = "SUBMITTED"  # provider accepted the create
    REJECTED = "REJECTED"  # provider (or adapter, before sending) refused it definitively
    UNKNOWN = "UNKNOWN"  # outcome unknown; the reconcile loop queries it
    NO_ROUTE = "NO_ROUTE"  # no provider pays it; rejected without sending
    INVALID = "INVALID"  # dead-lettered with its reason
    CONFLICT = "CONFLICT"  # a different request under an existing id; dead-lettered, not applied
    DUPLICATE_DELIVERY = "DUPLICATE_DELIVERY"  # an earlier delivery already sent (or is sending)
    LATE_ANSWER = "LATE_ANSWER"  # the order moved on meanwhile; the answer kept as evidence
    HELD = "HELD"  # its provider is paused: stored RECEIVED, nothing sent; the loop sends it later


class RetryLater(Exception):
    """The message must be retried by SQS (its record is reported as a batch item failure)."""


@dataclass(frozen=True)
class IntakeMessage:
    """One SQS message as intake sees it."""

    message_id: str
    body: str


@dataclass(frozen=True)
class IntakeTimings:
    """When each kind of unresolved order is next looked at by the reconcile loop, and the time
    limits that keep every create inside the stale threshold.

    The reconcile loop treats a SUBMITTING order as unknown once its claim is older than
    ``stale_submitting_after``. A create starts at most ``send_within`` after its claim and is
    waited for at most ``create_budget``; ``clock_margin`` covers clocks that disagree. Together
    they fit inside the stale threshold, so the loop never queries a create still in flight.
    """

    received_grace: timedelta
    stale_submitting_after: timedelta
    submitted_first_check: timedelta
    unknown_first_check: timedelta
    held_recheck: timedelta = timedelta(seconds=60)
    create_budget: timedelta = timedelta(seconds=30)
    clock_margin: timedelta = timedelta(seconds=10)

    def __post_init__(self) -> None:
        if self.send_within <= timedelta(0):
            raise ValueError(
                f"stale_submitting_after ({self.stale_submitting_after}) must exceed the create "
                f"budget ({self.create_budget}) plus the clock margin ({self.clock_margin})"
            )

    @property
    def send_within(self) -> timedelta:
        """How long after its claim a create may still start."""
        return self.stale_submitting_after - self.create_budget - self.clock_margin

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> IntakeTimings:
        """The timings configured for the intake function."""
        return cls(
            received_grace=timedelta(seconds=settings.received_grace_seconds),
            stale_submitting_after=timedelta(seconds=settings.stale_submitting_after_seconds),
            submitted_first_check=timedelta(seconds=settings.submitted_first_check_seconds),
            unknown_first_check=timedelta(seconds=settings.unknown_first_check_seconds),
            held_recheck=settings.held_recheck,
            create_budget=timedelta(seconds=settings.create_budget_seconds),
        )


class DeadLetters(Protocol):
    """Where invalid messages go, with the reason they were refused."""

    def send(self, message: IntakeMessage, reason: str) -> None:
        """Store ``message`` durably with ``reason``; raise if that cannot be done."""
        ...


class ProviderSource(Protocol):
    """The adapters available to one invocation, by provider name."""

    def provider(self, name: str) -> PayoutProvider:
        """The adapter for ``name`` (raises if it cannot be built, e.g. its secret is missing)."""
        ...


type Counter = Callable[[str], None]


def count_metric(name: str) -> None:
    """Add 1 to the Powertools metric ``name`` (flushed by the handler's ``log_metrics``)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


class SqsDeadLetters:
    """Dead letters sent with ``SendMessage`` to the requests queue's DLQ: the original body, the
    reason and the source message id as message attributes (so a redrive sends the same body)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: IntakeMessage, reason: str) -> None:
        """Send ``message`` to the DLQ; any failure raises (and the message is retried)."""
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.body,
            MessageAttributes={
                "rejection_reason": {
                    "DataType": "String",
                    "StringValue": truncate(reason, MAX_REASON_CHARS),
                },
                "source_message_id": {"DataType": "String", "StringValue": message.message_id},
            },
        )


class ProviderPool:
    """The adapters of one invocation, around one ``httpx.AsyncClient``.

    The client is opened on first use (inside the invocation's event loop, which an AsyncClient
    is bound to) and closed by the last of the invocation's ``records`` to call ``record_done``,
    still inside that loop. Adapters are built once per provider name per invocation.
    """

    def __init__(
        self,
        build: Callable[[str, httpx.AsyncClient], PayoutProvider],
        open_client: Callable[[], httpx.AsyncClient],
        records: int,
    ) -> None:
        self._build = build
        self._open_client = open_client
        self._remaining = records
        self._client: httpx.AsyncClient | None = None
        self._adapters: dict[str, PayoutProvider] = {}

    def provider(self, name: str) -> PayoutProvider:
        """The adapter for ``name``, built around this invocation's client."""
        adapter = self._adapters.get(name)
        if adapter is None:
            adapter = self._build(name, self._client_for_this_invocation())
            self._adapters[name] = adapter
        return adapter

    async def record_done(self) -> None:
        """One record is finished; the last one closes the client."""
        self._remaining -= 1
        if self._remaining <= 0 and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @property
    def is_open(self) -> bool:
        """True while the invocation's client is open."""
        return self._client is not None

    def _client_for_this_invocation(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._open_client()
        return self._client


class Intake:
    """The intake use case for one invocation: ``handle`` one message at a time, concurrently.

    Blocking DynamoDB and SQS calls run in worker threads (``threads``; the loop's default
    executor when None), so the messages of a batch overlap in their table writes as well as in
    their provider calls; provider creates are bounded by ``concurrency``.
    """

    def __init__(
        self,
        *,
        store: OrderStore,
        router: Router,
        providers: ProviderSource,
        dead_letters: DeadLetters,
        timings: IntakeTimings,
        gate: ProviderGate,
        concurrency: int = 10,
        clock: Callable[[], datetime] = utc_now,
        count: Counter = count_metric,
        threads: Executor | None = None,
    ) -> None:
        self._store = store
        self._router = router
        self._providers = providers
        self._dead_letters = dead_letters
        self._timings = timings
        self._gate = gate
        self._sending = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._count = count
        self._threads = threads

    async def _blocking[**P, R](self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking AWS call in a worker thread, so the batch's other messages go on. It
        runs in a copy of this task's context, so what it logs names this task's payout."""
        loop = asyncio.get_running_loop()
        in_context = functools.partial(contextvars.copy_context().run, call, *args, **kwargs)
        return await loop.run_in_executor(self._threads, in_context)

    async def handle(self, message: IntakeMessage) -> Disposition:
        """Take one message in. Raises RetryLater (or a transient AWS error) when SQS must retry
        it; returns what was done otherwise, and the message is acknowledged."""
        try:
            request = parse_request(message.body)
        except InvalidRequest as invalid:
            return await self._dead_letter(message, invalid)
        # Every line logged while this message is handled names its payout (records of a batch
        # run concurrently, each in its own task: the key is per task).
        with payout_log_context(request.payout_id):
            return await self._take(request, message)

    async def _take(self, request: PayoutRequest, message: IntakeMessage) -> Disposition:
        sent = await self._store_claimed_and_send(request, message)
        if isinstance(sent, AlreadyExists):
            return await self._redelivered(sent, request_fingerprint(request), message)
        if sent is not None:
            return sent
        now = self._clock()
        stored = await self._blocking(
            self._store.create, request, now, now + self._timings.received_grace
        )
        if isinstance(stored, Created):
            # The payout id comes from the log context (payout_log_context above).
            logger.info("order received", message_id=message.message_id)
            return await self._send(stored.order)
        return await self._redelivered(stored, request_fingerprint(request), message)

    async def _store_claimed_and_send(
        self, request: PayoutRequest, message: IntakeMessage
    ) -> Disposition | AlreadyExists | None:
        """The common case in one write: a routable request for a provider that is not paused
        is stored already claimed for sending (SUBMITTING, durable before the HTTP call), and its
        create goes out at once. An order already stored is returned for the caller to judge;
        None when this does not apply (unroutable, paused): the caller then stores RECEIVED and
        decides step by step as before."""
        route = self._router.route(request)
        if isinstance(route, NoRoute):
            return None
        if await self._blocking(self._gate.pause_of, route) is not None:
            return None
        try:
            provider = self._providers.provider(route)
        except Exception:  # noqa: BLE001 - decided again, and raised, by the step-by-step path
            # A missing secret or base URL: the step-by-step path stores the order RECEIVED
            # (so it is visible and followed) and fails the message with the same error.
            return None
        async with self._sending:
            now = self._clock()
            stored = await self._blocking(
                self._store.create,
                request,
                now,
                now + self._timings.stale_submitting_after,
                send_to=provider.name,
            )
            if not isinstance(stored, Created):
                return stored
            claimed = stored.order
            if self._clock() > claimed.updated_at + self._timings.send_within:
                # The put itself took too long (retries, a frozen container): the loop could
                # judge the claim stale mid-flight. It provably never left.
                return await self._release_unsent(claimed)
            logger.info(
                "order received and claimed for sending",
                provider=provider.name,
                message_id=message.message_id,
            )
            outcome = await self._create(provider, claimed)
        try:
            return await self._record(claimed, provider.name, outcome)
        finally:
            # Also when recording raised (NOT_SENT raises RetryLater): the breaker counts creates.
            await self._blocking(self._gate.observe_create, provider.name, outcome.kind)

    # ---- existing orders ------------------------------------------------------------------------

    async def _redelivered(
        self, stored: AlreadyExists, fingerprint: str, message: IntakeMessage
    ) -> Disposition:
        order = stored.order
        if not stored.same_request:
            return await self._conflict(order, fingerprint, message)
        if order.status is S.RECEIVED:
            # Stored by an earlier delivery that never sent it (it died, or the create provably
            # never left): carry on from the claim, which still guards against a racing copy.
            return await self._send(order)
        self._duplicate(order, message)
        return Disposition.DUPLICATE_DELIVERY

    async def _conflict(
        self, order: Order, fingerprint: str, message: IntakeMessage
    ) -> Disposition:
        """Never applied, never silent: the existing order keeps what it has (a terminal one
        never moves, so the id of a rejected invalid request is spent), its history shows the
        attempt, and the message is dead-lettered with a reason its publisher can act on."""
        reason = conflict_reason(order)
        evidence = Evidence(
            kind=EvidenceKind.CONFLICT,
            summary="a different request arrived under this payout id; dead-lettered, not applied",
            detail={
                "stored_fingerprint": order.fingerprint,
                "received_fingerprint": fingerprint,
                "message_id": message.message_id,
                "reason": reason,
            },
            at=self._clock(),
        )
        await self._blocking(self._store.append_evidence, order.payout_id, evidence)
        # Sent last, as for invalid requests: a failed send fails the message, and the retry
        # sends it again (with one more CONFLICT item in the history).
        await self._blocking(self._dead_letters.send, message, reason)
        self._count(METRIC_CONFLICT)
        logger.warning(
            "payout id reused by a different request; existing order untouched, dead-lettered",
            payout_id=order.payout_id,
            message_id=message.message_id,
            status=order.status.value,
        )
        return Disposition.CONFLICT

    def _duplicate(self, order: Order, message: IntakeMessage) -> None:
        self._count(METRIC_DUPLICATE)
        logger.info(
            "duplicate delivery; no second create",
            payout_id=order.payout_id,
            message_id=message.message_id,
            status=order.status.value,
        )

    # ---- sending --------------------------------------------------------------------------------

    async def _send(self, order: Order) -> Disposition:
        # A claim (or hold) lost to a write that left the order RECEIVED (the reconcile loop
        # holding or rescheduling it) is decided again from what is stored now, so no message
        # is acknowledged while its order sits unsent unless it is held on purpose.
        for _ in range(_SEND_ATTEMPTS):
            decided = await self._send_once(order)
            if not isinstance(decided, Order):
                return decided
            order = decided
        raise RetryLater(f"{order.payout_id}: kept changing while being sent; retried")

    async def _send_once(self, order: Order) -> Disposition | Order:
        if order.request is None:
            raise ValueError(f"order {order.payout_id} has no request to send")
        route = self._router.route(order.request)
        if isinstance(route, NoRoute):
            return await self._refuse_unroutable(order, route.reason)
        pause = await self._blocking(self._gate.pause_of, route)
        if pause is not None:
            return await self._hold(order, route, pause)
        # Built before the claim: a missing secret or base URL fails the message while the order
        # is still RECEIVED, so the retry can send it once the configuration is fixed.
        provider = self._providers.provider(route)
        # The claim is taken only once a send slot is free, and the create starts at once: time
        # spent waiting for a slot never ages a claim towards the stale threshold.
        async with self._sending:
            claim = await self._claim(order, provider.name)
            if not isinstance(claim, Applied):
                return self._still_unsent(order, claim.current)
            claimed = claim.order
            if self._clock() > claimed.updated_at + self._timings.send_within:
                return await self._release_unsent(claimed)
            outcome = await self._create(provider, claimed)
        try:
            return await self._record(claimed, provider.name, outcome)
        finally:
            # Also when recording raised (NOT_SENT raises RetryLater): the breaker counts creates.
            await self._blocking(self._gate.observe_create, provider.name, outcome.kind)

    async def _hold(self, order: Order, provider: str, pause: ProviderState) -> Disposition | Order:
        """Keep the RECEIVED order unsent while ``provider`` is paused; the reconcile loop looks
        at it every ``held_recheck`` and sends it once the provider is resumed."""
        now = self._clock()
        reason = pause.held_reason()
        evidence = Evidence(
            kind=EvidenceKind.SCHEDULE,
            summary=reason,
            detail=pause.evidence_detail(),
            at=now,
        )
        result = await self._blocking(
            self._store.update,
            order,
            now,
            evidence,
            provider=provider,
            status_reason=reason,
            next_check_at=now + self._timings.held_recheck,
        )
        if not isinstance(result, Applied):
            return self._still_unsent(order, result.current)
        self._count(METRIC_HELD)
        logger.info("order held: provider paused", payout_id=order.payout_id, provider=provider)
        return Disposition.HELD

    async def _release_unsent(self, order: Order) -> Disposition:
        """SUBMITTING -> RECEIVED for a claim too old to send safely (the loop could judge it
        stale mid-flight); it provably never left, so the message is retried."""
        now = self._clock()
        reason = "not sent: the claim was too old to send safely; retried"
        evidence = Evidence(
            kind=EvidenceKind.TRANSITION,
            summary=reason,
            detail={"claimed_at": order.updated_at.isoformat()},
            at=now,
        )
        result = await self._blocking(
            self._store.transition,
            order,
            S.RECEIVED,
            evidence,
            now,
            status_reason=reason,
            next_check_at=now + self._timings.received_grace,
        )
        if not isinstance(result, Applied):
            return self._lost_race(order, result.current)
        raise RetryLater(f"{order.payout_id}: {reason}")

    async def _refuse_unroutable(self, order: Order, reason: str) -> Disposition:
        evidence = Evidence(
            kind=EvidenceKind.TRANSITION,
            summary=f"refused before sending: {reason}",
            at=self._clock(),
        )
        result = await self._blocking(
            self._store.transition, order, S.REJECTED, evidence, self._clock(), status_reason=reason
        )
        if not isinstance(result, Applied):
            return self._lost_race(order, result.current)
        self._count(METRIC_NO_ROUTE)
        logger.warning("no provider pays this request", payout_id=order.payout_id, reason=reason)
        return Disposition.NO_ROUTE

    async def _claim(self, order: Order, provider: str) -> WriteResult:
        """RECEIVED -> SUBMITTING, durable before the HTTP call; Stale when someone else wrote
        the order first."""
        now = self._clock()
        request = order.request
        detail: dict[str, Any] = {"provider": provider, "attempt": order.submit_attempts + 1}
        if request is not None:
            detail |= {
                "merchant_order_no": order.payout_id,
                "amount": request.amount.value,
                "currency": request.amount.currency,
                "method": request.method,
                "request_fingerprint": order.fingerprint,
            }
        evidence = Evidence(
            kind=EvidenceKind.CREATE_SENT,
            summary=f"create sent to {provider}",
            detail=detail,
            at=now,
        )
        return await self._blocking(
            self._store.transition,
            order,
            S.SUBMITTING,
            evidence,
            now,
            provider=provider,
            submit_attempts=order.submit_attempts + 1,
            last_sent_at=now,
            next_check_at=now + self._timings.stale_submitting_after,
        )

    async def _create(self, provider: PayoutProvider, order: Order) -> CreateOutcome:
        budget = self._timings.create_budget.total_seconds()
        try:
            async with asyncio.timeout(budget):
                return await provider.create(order)
        except TimeoutError:
            # Waited as long as the stale threshold allows: unknown, for the loop to query.
            reason = f"no answer within {budget:g} s; outcome unknown"
            return CreateOutcome(CreateKind.AMBIGUOUS, reason, RawExchange(transport="timeout"))
        except REFUSED_BEFORE_SENDING as refused:
            reason = f"refused before sending: {refused}"
            return CreateOutcome(CreateKind.REJECTED, reason, RawExchange(transport="not_sent"))
        except Exception as error:
            # The bytes may have left: the order stays SUBMITTING, which the reconcile loop
            # treats as unknown and queries. It is never put back to RECEIVED.
            self._count(METRIC_CREATE_ERROR)
            logger.exception("create raised; outcome unknown", payout_id=order.payout_id)
            note = Evidence(
                kind=EvidenceKind.CREATE_ANSWER,
                summary=f"create raised {type(error).__name__}; outcome unknown",
                detail={"provider": provider.name, "error": truncate(str(error), 300)},
                at=self._clock(),
            )
            await self._blocking(self._store.append_evidence, order.payout_id, note)
            raise

    # ---- recording the outcome ------------------------------------------------------------------

    async def _record(self, order: Order, provider: str, outcome: CreateOutcome) -> Disposition:
        now = self._clock()
        target, changes = self._next_state(order, outcome, now)
        evidence = create_answer_evidence(provider, outcome, "intake", now)
        result = await self._blocking(
            self._store.transition, order, target, evidence, now, **changes
        )
        self._count(f"{METRIC_CREATE_PREFIX}{outcome.kind.value.title().replace('_', '')}")
        if not isinstance(result, Applied):
            # A callback or an operator got there first: keep what the provider said, change
            # nothing, so a settled order is never overwritten by the create's older answer.
            late = evidence.model_copy(
                update={"summary": f"{evidence.summary} (arrived after the order moved on)"}
            )
            await self._blocking(self._store.append_evidence, order.payout_id, late)
            self._count(METRIC_LATE_ANSWER)
            logger.info(
                "create answered after the order moved on; kept as evidence only",
                payout_id=order.payout_id,
                outcome=outcome.kind.value,
                status=result.current.status.value if result.current else None,
            )
            return Disposition.LATE_ANSWER
        logger.info(
            "create answered",
            payout_id=order.payout_id,
            provider=provider,
            outcome=outcome.kind.value,
            status=target.value,
        )
        if target is S.RECEIVED:
            raise RetryLater(f"{order.payout_id}: create never left ({outcome.reason}); retry")
        return _DISPOSITIONS[outcome.kind]

    def _next_state(
        self, order: Order, outcome: CreateOutcome, now: datetime
    ) -> tuple[OrderStatus, dict[str, Any]]:
        timings = self._timings
        reason = truncate(outcome.reason, MAX_REASON_CHARS)
        match outcome.kind:
            case CreateKind.ACCEPTED:
                return S.SUBMITTED, {
                    "provider_order_id": outcome.provider_order_id,
                    "status_reason": reason,
                    "next_check_at": first_check_at(
                        order.next_check_at, now, timings.submitted_first_check
                    ),
                }
            case CreateKind.REJECTED:
                return S.REJECTED, {"status_reason": reason}
            case CreateKind.NOT_SENT:
                return S.RECEIVED, {
                    "status_reason": reason,
                    "next_check_at": now + timings.received_grace,
                }
            case CreateKind.DUPLICATE | CreateKind.AMBIGUOUS:
                return S.UNKNOWN, {
                    "status_reason": reason,
                    "next_check_at": now + timings.unknown_first_check,
                }

    def _still_unsent(self, order: Order, current: Order | None) -> Disposition | Order:
        """After a lost write: the current order to decide again when it is still RECEIVED,
        else the lost race (whoever moved it on is responsible for it now)."""
        if current is not None and current.status is S.RECEIVED:
            return current
        return self._lost_race(order, current)

    def _lost_race(self, order: Order, current: Order | None) -> Disposition:
        # Another delivery (or the reconcile loop) changed the order between our read and our
        # write: whoever won is responsible for it now.
        self._count(METRIC_DUPLICATE)
        logger.info(
            "order changed meanwhile; leaving it as it is",
            payout_id=order.payout_id,
            status=current.status.value if current else None,
        )
        return Disposition.DUPLICATE_DELIVERY

    # ---- invalid input --------------------------------------------------------------------------

    async def _dead_letter(self, message: IntakeMessage, invalid: InvalidRequest) -> Disposition:
        logger.warning(
            "invalid payout request; dead-lettering it",
            message_id=message.message_id,
            payout_id=invalid.payout_id,
            reason=truncate(invalid.reason, MAX_REASON_CHARS),
        )
        if invalid.payout_id is not None:
            # Stored first: the DLQ send is the last step, so a retry after a failed send finds
            # the rejection already there and only sends again.
            await self._blocking(self._store_rejection, invalid.payout_id, invalid, message)
        await self._blocking(self._dead_letters.send, message, invalid.reason)
        self._count(METRIC_INVALID)
        return Disposition.INVALID

    def _store_rejection(
        self, payout_id: str, invalid: InvalidRequest, message: IntakeMessage
    ) -> None:
        excerpt = redacted_excerpt(message.body)
        reason = truncate(invalid.reason, MAX_REASON_CHARS)
        stored = self._store.create_rejected(payout_id, reason, excerpt, self._clock())
        if isinstance(stored, Created):
            return
        existing = stored.order
        if existing.request is None and existing.invalid_request == excerpt:
            return  # the same invalid message again
        # A real order has this id: it is never touched, but its history shows the attempt.
        self._store.append_evidence(
            payout_id,
            Evidence(
                kind=EvidenceKind.CONFLICT,
                summary="an invalid request arrived under this payout id; it was dead-lettered",
                detail={"reason": reason, "message_id": message.message_id},
                at=self._clock(),
            ),
        )
        self._count(METRIC_CONFLICT)


_DISPOSITIONS: Final[Mapping[CreateKind, Disposition]] = {
    CreateKind.ACCEPTED: Disposition.SUBMITTED,
    CreateKind.REJECTED: Disposition.REJECTED,
    CreateKind.DUPLICATE: Disposition.UNKNOWN,
    CreateKind.AMBIGUOUS: Disposition.UNKNOWN,
}


def conflict_reason(order: Order) -> str:
    """What the publisher of a different request under ``order``'s payout id must do."""
    at = order.created_at.isoformat(timespec="seconds")
    if order.request is None:
        return (
            f"payout id {order.payout_id} was used by an invalid request rejected at {at} "
            f"({order.status_reason}); send the corrected request under a new payout id"
        )
    return (
        f"payout id {order.payout_id} is already used by a different request (stored at {at}, "
        f"now {order.status.value}); this request was not applied: send it under a new payout "
        "id, or the original request unchanged"
    )


def redacted_excerpt(body: str) -> str:
    """The start of an invalid request for its REJECTED order, with every value that is not
    known to be safe masked, whatever key it sits under (``Beneficiary`` as much as
    ``beneficiary``; see ``payouts.domain.redaction``).

    Only called when a payout id could be read, i.e. the body (or its envelope) was JSON.
    """
    try:
        document = unwrap_envelope(strict_json.loads(body))
    except (ValueError, InvalidRequest):
        return f"<unreadable body of {len(body.encode('utf-8'))} bytes>"
    if not isinstance(document, dict):
        return f"<non-object body of {len(body.encode('utf-8'))} bytes>"
    shown = redact_document(document)
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return truncate(text, MAX_EXCERPT_CHARS)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
