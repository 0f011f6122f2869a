"""Callbacks: a provider reports on an order; verify it, apply it by the settlement rules, ack.

The order of operations is the contract (issue 5, DESIGN.md "Callbacks"):

1. unknown provider -> ``UnknownProvider`` (404);
2. the envelope: too large -> ``BodyTooLarge`` (413), not JSON -> ``UnsupportedContentType``
   (415), empty -> ``CallbackMalformed`` (400); nothing is hashed or parsed before this;
3. the signature, over the raw bytes, by the provider's own adapter -> ``CallbackRejected`` (401)
   or ``CallbackMalformed`` (400); a signed timestamp outside the window -> ``ReplayRejected``
   (401);
4. the order, by our merchant order number, else by the provider's id -> ``UnknownOrder`` (404);
5. a payload the adapter does not trust (or an operator told us not to) only triggers a query,
   and the query's answer is applied instead (``ConfirmationUnavailable``, 503, when it gives
   none); no query for an order it cannot change, at most one per order and reported status per
   window (``query_skipped``), and the callback is then acknowledged only if nothing is lost;
6. ``settlement.apply_verdict`` decides (conditional writes: duplicates and late callbacks change
   nothing; amount or currency mismatches are escalated, never applied);
7. the provider's own acknowledgement, only once what had to be written is written.

Steps 1-4 write nothing. A callback that changes nothing is recorded once per distinct body.
Every refusal is counted (metric) and logged with the source IP; no signature, key or
beneficiary detail is ever logged or stored in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pydantic import JsonValue

from payouts.domain.order import Evidence, EvidenceKind, Order
from payouts.domain.redaction import redact_document
from payouts.domain.request import is_valid_payout_id
from payouts.domain.status import OrderStatus
from payouts.observability import MetricUnit, logger, metrics, payout_log_context, tracer
from payouts.providers.base import (
    Ack,
    CallbackEvent,
    CallbackMalformed,
    CallbackRejected,
    PayoutProvider,
    QueryKind,
    QueryOutcome,
    RawExchange,
)
from payouts.services.settlement import (
    DEFAULT_FAILURE_SETTLE,
    Escalated,
    FailureHeld,
    Outcome,
    Settled,
    Unchanged,
    Verdict,
    apply_verdict,
    escalate,
    mismatch,
    query_verdict,
)
from payouts.settings.callbacks import DEFAULT_CALLBACK_QUERY_WINDOW_SECONDS, CallbackSettings
from payouts.store import OrderStore

# Never stored at all: signatures (gateway_v2 carries its ``sign`` in the body).
SIGNATURE_FIELDS: Final = frozenset({"sign", "signature", "authorization"})
# Conditional writes lost to concurrent writers before giving the decision to the next check.
_ESCALATION_ATTEMPTS: Final = 3
# Callback fields are kept whole in the evidence up to this size; beyond, an excerpt.
MAX_EVIDENCE_FIELDS_CHARS: Final = 4096
# An untrusted callback decides nothing (a query confirms it, and the query's answer is kept): a
# short excerpt of its fields is enough, and its body's digest says which body it was. The
# evidence of the change that settles an order is kept on the order item (write units).
MAX_UNTRUSTED_FIELDS_CHARS: Final = 120
# Orders that never reached the provider (or were refused by it before anything existed there):
# no callback about them can be confirmed by a query, so none is made.
NEVER_SENT: Final = frozenset({OrderStatus.RECEIVED, OrderStatus.REJECTED})
# The final status each final report would mean.
FINAL_REPORTS: Final[Mapping[QueryKind, OrderStatus]] = {
    QueryKind.SUCCEEDED: OrderStatus.SUCCEEDED,
    QueryKind.FAILED: OrderStatus.FAILED,
    QueryKind.REVERSED: OrderStatus.REVERSED,
}

type ProviderLookup = Callable[[str], PayoutProvider | None]
"""The adapter for a provider name from the URL, or None when no such provider is configured."""


# ---- what the caller gets back, and the refusals ------------------------------------------------


class CallbackRefused(Exception):
    """The callback was refused before anything was written (base of the HTTP 4xx refusals)."""


class UnknownProvider(CallbackRefused):
    """The URL names no configured provider (404)."""


class BodyTooLarge(CallbackRefused):
    """The body exceeds ``max_callback_body_bytes`` (413)."""


class UnsupportedContentType(CallbackRefused):
    """The Content-Type is missing or not one the providers use (415)."""


class ReplayRejected(CallbackRejected):
    """A correctly signed callback whose signed timestamp is outside the replay window (401)."""


class UnknownOrder(CallbackRefused):
    """No order of ours matches the callback (404)."""


class ConfirmationUnavailable(Exception):
    """The query that must confirm an untrusted callback gave no usable answer (503): the
    callback is recorded, and the provider's retry (or the reconcile loop) will try again."""


@dataclass(frozen=True)
class CallbackRequest:
    """One callback as it arrived: the provider named in the URL, the exact body bytes (after
    API Gateway's base64, if any), the headers and the caller's IP."""

    provider: str
    raw_body: bytes
    headers: Mapping[str, str]
    source_ip: str | None = None

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name (API Gateway keeps the sender's case)."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    @property
    def body_sha256(self) -> str:
        """Hex SHA-256 of the raw body: tells a retry of the same message from new content."""
        return hashlib.sha256(self.raw_body).hexdigest()


@dataclass(frozen=True)
class CallbackPolicy:
    """The checks' parameters (see ``CallbackSettings`` for each one's meaning and default)."""

    max_body_bytes: int
    content_types: frozenset[str]
    replay_tolerance: timedelta
    confirm_by_query: frozenset[str]
    confirm_timeout_seconds: float
    query_window: timedelta = timedelta(seconds=DEFAULT_CALLBACK_QUERY_WINDOW_SECONDS)
    # How long an assumed failure is held before a FAILED answer confirms it (settlement).
    failure_settle: timedelta = DEFAULT_FAILURE_SETTLE

    @classmethod
    def from_settings(cls, settings: CallbackSettings) -> CallbackPolicy:
        """The policy the function's settings describe."""
        return cls(
            max_body_bytes=settings.max_callback_body_bytes,
            content_types=settings.callback_content_types,
            replay_tolerance=timedelta(seconds=settings.replay_tolerance_seconds),
            confirm_by_query=settings.callback_confirm_by_query,
            confirm_timeout_seconds=settings.confirm_query_timeout_seconds,
            query_window=timedelta(seconds=settings.callback_query_window_seconds),
            failure_settle=settings.failure_settle,
        )


# ---- the use case -------------------------------------------------------------------------------


@tracer.capture_method(capture_response=False)
async def handle_callback(
    request: CallbackRequest,
    *,
    providers: ProviderLookup,
    store: OrderStore,
    policy: CallbackPolicy,
    now: datetime,
) -> Ack:
    """Verify, apply and acknowledge one callback; raise a refusal when it must not count.

    Returns the provider's exact acknowledgement only after every write is durable; any other
    failure (the store, the provider's credentials) propagates so the endpoint answers 5xx and
    the provider retries.
    """
    provider = providers(request.provider)
    if provider is None:
        _refuse(request, "CallbackUnknownProvider", "no such provider")
        raise UnknownProvider(f"no callback endpoint for provider {request.provider!r}")
    check_envelope(request, policy)
    event = verify(provider, request, policy, now)
    order, matched_by = find_order(store, event, request)
    # From here on, every line logged names the order (the callback is one order's).
    with payout_log_context(order.payout_id):
        return await _apply(
            provider,
            request,
            event,
            order,
            matched_by=matched_by,
            store=store,
            policy=policy,
            now=now,
        )


async def _apply(
    provider: PayoutProvider,
    request: CallbackRequest,
    event: CallbackEvent,
    order: Order,
    *,
    matched_by: str,
    store: OrderStore,
    policy: CallbackPolicy,
    now: datetime,
) -> Ack:
    """Decide, write and acknowledge a verified callback about ``order``."""
    evidence = callback_evidence(request, event, matched_by, now)
    if event.trusted and provider.name not in policy.confirm_by_query:
        verdict = verdict_from_callback(event)
    else:
        skipped = query_skipped(store, order, event, policy, now)
        if skipped is not None:
            return unconfirmed(provider, store, request, order, evidence=evidence, skipped=skipped)
        verdict, evidence = await confirmed_verdict(provider, store, order, evidence, policy)
    outcome = settle(store, order, verdict, evidence, now, failure_settle=policy.failure_settle)
    _report(request, order, verdict, outcome)
    if isinstance(outcome, Unchanged):
        record_unapplied(store, outcome.order, evidence)
    elif not settled_by_body(outcome.order, request.body_sha256):
        # Its evidence went in with the write: a retry of the same body is not recorded again.
        # (When that evidence is on the order item itself, the order is the mark: no write.)
        store.mark_callback_seen(order.payout_id, request.body_sha256, now)
    return provider.ack()


def settled_by_body(order: Order, body_sha256: str) -> bool:
    """True when the evidence kept on ``order`` (of the change that made it terminal) is a
    callback with exactly this body: a retry of it has nothing new to record."""
    final = order.final_evidence
    return final is not None and final.detail.get("body_sha256") == body_sha256


def check_envelope(request: CallbackRequest, policy: CallbackPolicy) -> None:
    """Size, then media type, then emptiness: cheap refusals before any hashing or parsing."""
    size = len(request.raw_body)
    if size > policy.max_body_bytes:
        _refuse(request, "CallbackBodyTooLarge", "body too large", size=size)
        raise BodyTooLarge(f"body is {size} bytes; the limit is {policy.max_body_bytes}")
    media_type = media_type_of(request.header("content-type"))
    if media_type not in policy.content_types:
        _refuse(request, "CallbackUnsupportedMediaType", "unsupported media type")
        accepted = ", ".join(sorted(policy.content_types))
        raise UnsupportedContentType(
            f"Content-Type {media_type or '(none)'} is not accepted; send {accepted}"
        )
    if not request.raw_body.strip():
        _refuse(request, "CallbackMalformed", "empty body")
        raise CallbackMalformed("the callback body is empty")


def verify(
    provider: PayoutProvider, request: CallbackRequest, policy: CallbackPolicy, now: datetime
) -> CallbackEvent:
    """The adapter's verified event, refused when its signed time is outside the window."""
    try:
        event = provider.verify_callback(request.headers, request.raw_body)
    except CallbackRejected as error:
        _refuse(request, "CallbackSignatureRejected", "callback signature rejected", why=error)
        raise
    except CallbackMalformed as error:
        _refuse(request, "CallbackMalformed", "callback malformed", why=error)
        raise
    except RecursionError:
        # Belt and braces (the adapters bound the depth they parse): a body too deep to walk is
        # the sender's fault, a 400 at once, not a 500 the provider would retry for an hour.
        _refuse(request, "CallbackMalformed", "callback malformed", why="nested too deeply")
        raise CallbackMalformed("the callback body is nested too deeply to be read") from None
    if event.signed_at is not None and abs(now - event.signed_at) > policy.replay_tolerance:
        age = int((now - event.signed_at).total_seconds())
        window = int(policy.replay_tolerance.total_seconds())
        _refuse(request, "CallbackSignatureRejected", "callback outside replay window", age=age)
        _count("CallbackReplayRejected")
        raise ReplayRejected(f"signed {age} s before now; the window is ±{window} s")
    return event


def find_order(
    store: OrderStore, event: CallbackEvent, request: CallbackRequest
) -> tuple[Order, str]:
    """The order the callback is about and how it was matched; ``UnknownOrder`` when none is,
    or when the order was sent to another provider."""
    order: Order | None = None
    matched_by = "merchant_order_id"
    if is_valid_payout_id(event.merchant_order_id):
        order = store.get(event.merchant_order_id)
    if order is None and event.provider_order_id:
        order = store.find_by_provider_order_id(event.provider, event.provider_order_id)
        matched_by = "provider_order_id"
    if order is None or (order.provider is not None and order.provider != event.provider):
        _refuse(request, "CallbackUnknownOrder", "callback for an unknown order")
        raise UnknownOrder(f"no {event.provider} order {event.merchant_order_id!r}")
    return order, matched_by


@dataclass(frozen=True)
class QuerySkipped:
    """Why an untrusted callback triggers no confirming query, and whether it may be
    acknowledged all the same (nothing is lost) or must come back later (503)."""

    why: str
    acknowledge: bool


def query_skipped(
    store: OrderStore, order: Order, event: CallbackEvent, policy: CallbackPolicy, now: datetime
) -> QuerySkipped | None:
    """None when a callback the adapter does not trust must be confirmed by a query now.

    Bounds what a flood of callbacks (a provider's retries, unsigned bodies anyone can send) can
    cost: no query for an order the answer cannot change, and at most one per order and reported
    status per ``policy.query_window``, claimed with one conditional write (no history read).
    Per reported status, so a reversal reported moments after the payment is still confirmed.
    """
    if order.status in NEVER_SENT:
        why = f"the order is {order.status}: never sent, the provider has nothing to report"
        return QuerySkipped(why, acknowledge=True)
    if order.is_terminal and not contradicts(order.status, event.kind):
        why = f"the order is {order.status}; a report of {event.kind} cannot change it"
        return QuerySkipped(why, acknowledge=True)
    if store.claim_callback_query(order.payout_id, event.kind.value, now, policy.query_window):
        return None
    window = f"queried less than {policy.query_window.total_seconds():g} s ago for {event.kind}"
    if order.is_unresolved:
        # Nothing is lost: the reconcile loop polls every unresolved order.
        return QuerySkipped(f"{window}; the reconcile loop polls this order", acknowledge=True)
    # Nobody polls a settled order: acknowledged, a genuine "paid" after "failed" (or a
    # reversal) would never be heard again. The provider retries after the window.
    return QuerySkipped(f"{window}; retry later", acknowledge=False)


def contradicts(status: OrderStatus, reported: QueryKind) -> bool:
    """True when a report would move (or dispute) a settled order: another final status."""
    target = FINAL_REPORTS.get(reported)
    return target is not None and target is not status


def unconfirmed(
    provider: PayoutProvider,
    store: OrderStore,
    request: CallbackRequest,
    order: Order,
    *,
    evidence: Evidence,
    skipped: QuerySkipped,
) -> Ack:
    """Record a callback that was not confirmed by a query (once per body) and answer it: the
    provider's ack, or ``ConfirmationUnavailable`` (503) when it must come back later."""
    record_unapplied(store, order, evidence.with_detail(applied="none", query_skipped=skipped.why))
    _count("CallbackQuerySkipped")
    logger.info(
        "callback not confirmed by a query",
        provider=request.provider,
        payout_id=order.payout_id,
        status=order.status.value,
        why=skipped.why,
    )
    if not skipped.acknowledge:
        raise ConfirmationUnavailable(skipped.why)
    return provider.ack()


async def confirmed_verdict(
    provider: PayoutProvider,
    store: OrderStore,
    order: Order,
    evidence: Evidence,
    policy: CallbackPolicy,
) -> tuple[Verdict, Evidence]:
    """The verdict of a query made because of an untrusted callback, and the evidence of both.

    When the query gives no usable answer the callback is recorded and
    ``ConfirmationUnavailable`` raised: nothing the payload says is ever applied.
    """
    answer = await confirm_by_query(provider, order, policy)
    evidence = evidence.with_detail(applied="query", query=_query_detail(answer, order))
    if answer.kind is QueryKind.UNKNOWN:
        record_unapplied(store, order, evidence)
        _count("CallbackConfirmUnavailable")
        raise ConfirmationUnavailable(f"the confirming query gave no answer: {answer.reason}")
    return query_verdict(provider.name, answer, source="callback-query"), evidence


def settle(
    store: OrderStore,
    order: Order,
    verdict: Verdict,
    evidence: Evidence,
    now: datetime,
    *,
    failure_settle: timedelta = DEFAULT_FAILURE_SETTLE,
) -> Outcome:
    """``apply_verdict``, after one rule of our own: an amount or currency the provider states
    that differs from the order's is escalated even when the status would not move (a duplicate
    "paid" with another amount is exactly what a person must see)."""
    current = order
    for _ in range(_ESCALATION_ATTEMPTS):
        problem = stated_mismatch(current, verdict)
        if problem is None:
            return apply_verdict(
                store, current, verdict, evidence, now, failure_settle=failure_settle
            )
        if current.needs_review:
            return Unchanged(current, f"already under review; {problem}")
        escalated = escalate(store, current, f"amount mismatch: {problem}", evidence, now)
        if escalated is not None:
            return escalated
        # Lost a race with another writer: decide again on what is stored now.
        fresh = store.get(order.payout_id)
        if fresh is None:
            raise LookupError(f"order {order.payout_id} vanished")
        current = fresh
    return Unchanged(current, "the order kept changing under us; the next check will decide")


def stated_mismatch(order: Order, verdict: Verdict) -> str | None:
    """``settlement.mismatch`` for a verdict that states an amount or currency, else None."""
    if verdict.amount_minor is None and verdict.currency is None:
        return None
    return mismatch(order, verdict)


async def confirm_by_query(
    provider: PayoutProvider, order: Order, policy: CallbackPolicy
) -> QueryOutcome:
    """The provider's own answer about ``order``; UNKNOWN when it takes too long."""
    try:
        async with asyncio.timeout(policy.confirm_timeout_seconds):
            answer = await provider.query(order)
    except TimeoutError:
        return _no_answer(f"no answer within {policy.confirm_timeout_seconds} s")
    _count("CallbackConfirmedByQuery")
    return answer


def verdict_from_callback(event: CallbackEvent) -> Verdict:
    """What a trusted callback says, for ``apply_verdict``."""
    return Verdict(
        kind=event.kind,
        source="callback",
        reason=f"{event.provider} callback: {event.kind.value}",
        provider=event.provider,
        provider_order_id=event.provider_order_id,
        amount_minor=event.amount_minor,
        currency=event.currency,
        documented=event.documented,
        figures=event.figures,
    )


def callback_evidence(
    request: CallbackRequest, event: CallbackEvent, matched_by: str, now: datetime
) -> Evidence:
    """The CALLBACK evidence: digest of the raw body, the verified fields (redacted, no
    signature), what they report, the source IP and how the order was found."""
    # What the adapter read from the body. The provider's own order id is in the fields (and on
    # the order): not repeated here, the evidence of a settling change is paid for by the byte.
    reported: dict[str, JsonValue] = {
        "kind": event.kind.value,
        "merchant_order_id": event.merchant_order_id,
        "amount_minor": event.amount_minor,
        "currency": event.currency,
    }
    detail: dict[str, JsonValue] = {
        "provider": event.provider,
        "source_ip": request.source_ip,
        "body_sha256": request.body_sha256,
        "body_bytes": len(request.raw_body),
        "trusted": event.trusted,
        "signed_at": event.signed_at.isoformat() if event.signed_at else None,
        "matched_by": matched_by,
        "reported": reported,
        "applied": "callback",
        **_fields_detail(
            event.fields,
            MAX_EVIDENCE_FIELDS_CHARS if event.trusted else MAX_UNTRUSTED_FIELDS_CHARS,
        ),
    }
    if event.trusted and not event.figures.is_empty:
        # The figures as read (and why any was not), beside the raw fields they came from. An
        # untrusted body's figures are never used: the confirming query's are (its detail).
        detail["figures"] = event.figures.evidence()
    trust = "signed" if event.trusted else "untrusted"
    return Evidence(
        kind=EvidenceKind.CALLBACK,
        summary=f"{event.provider} callback ({trust}) reports {event.kind.value}",
        detail={key: value for key, value in detail.items() if value is not None},
        at=now,
    )


def record_unapplied(store: OrderStore, order: Order, evidence: Evidence) -> None:
    """Keep a callback that changed nothing in the order's history, once per distinct body.

    A provider's retries of the same message add nothing (one conditional write, never a read of
    the history); a message with new content for the same order (a replay with different
    fields) is kept, so it stays visible.
    """
    digest = evidence.detail.get("body_sha256")
    if isinstance(digest, str) and settled_by_body(order, digest):
        return
    if isinstance(digest, str):
        store.record_callback_once(order.payout_id, evidence, digest)
    else:
        store.append_evidence(order.payout_id, evidence)


def media_type_of(content_type: str | None) -> str:
    """``application/json`` from ``Application/JSON; charset=utf-8``; "" when absent."""
    if content_type is None:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def redact(value: JsonValue) -> JsonValue:
    """A copy of ``value`` with signatures dropped and every value not known to be safe masked,
    at any depth and under any key (``payouts.domain.redaction``)."""
    return redact_document(_without_signatures(value))


def _without_signatures(value: JsonValue) -> JsonValue:
    if isinstance(value, dict):
        return {
            key: _without_signatures(item)
            for key, item in value.items()
            if key.lower() not in SIGNATURE_FIELDS
        }
    if isinstance(value, list):
        return [_without_signatures(item) for item in value]
    return value


# ---- helpers ------------------------------------------------------------------------------------


def _fields_detail(fields: Mapping[str, object], limit: int) -> dict[str, JsonValue]:
    # A round trip through JSON turns what the adapters parsed (Decimal, tuples) into plain JSON.
    plain: JsonValue = json.loads(json.dumps(dict(fields), default=str))
    redacted = redact(plain)
    text = json.dumps(redacted, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > limit:
        return {"fields_excerpt": text[:limit]}
    return {"fields": redacted}


def _query_detail(answer: QueryOutcome, order: Order) -> dict[str, JsonValue]:
    raw = answer.raw
    detail: dict[str, JsonValue] = {
        "kind": answer.kind.value,
        "reason": answer.reason,
        # Stated only when it is news: the order already holds the id the provider gave it.
        "provider_order_id": (
            answer.provider_order_id
            if answer.provider_order_id != order.provider_order_id
            else None
        ),
        "amount_minor": answer.amount_minor,
        "currency": answer.currency,
        "figures": answer.figures.evidence() or None,
        "transport": raw.transport,
        "http_status": raw.http_status,
        "code": raw.code,
        "message": raw.message,
        # The excerpt is kept where it is the only record of what was said (an answer that was
        # not understood); an understood one is fully stated by the fields above. This detail is
        # kept on the order item, where every byte is paid by each later write.
        "body_excerpt": raw.body_excerpt if answer.kind is QueryKind.UNKNOWN else None,
    }
    return {key: value for key, value in detail.items() if value is not None}


def _no_answer(reason: str) -> QueryOutcome:
    return QueryOutcome(QueryKind.UNKNOWN, reason, RawExchange(transport="read_timeout"))


def _report(request: CallbackRequest, order: Order, verdict: Verdict, outcome: Outcome) -> None:
    """Count and log what the callback did to the order."""
    if isinstance(outcome, Settled):
        _count("CallbackApplied")
    elif isinstance(outcome, Escalated):
        _count("CallbackEscalated")
    elif isinstance(outcome, FailureHeld):
        _count("CallbackFailureHeld")
    else:
        _count("CallbackIgnored")
    if stated_mismatch(order, verdict) is not None:
        _count("CallbackAmountMismatch")
    logger.info(
        "callback processed",  # the payout id comes from the log context (handle_callback)
        provider=request.provider,
        reported=verdict.kind.value,
        source=verdict.source,
        outcome=type(outcome).__name__,
        status=outcome.order.status.value,
        why=getattr(outcome, "why", None),
    )


def _refuse(request: CallbackRequest, metric: str, message: str, **context: object) -> None:
    """Count a refusal and log it with the caller's IP (never the body or its signature)."""
    _count(metric)
    fields = {key: str(value) for key, value in context.items()}
    logger.warning(
        message, extra={"provider": request.provider, "source_ip": request.source_ip, **fields}
    )


def _count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
