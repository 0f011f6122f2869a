"""The pg_v2 adapter: create, query, callbacks, acknowledgement and balance over httpx.

Every request is a signed JSON POST; the body is serialised once and those bytes are both signed
and sent. Answers are classified by ``payouts.providers.transport.send`` and decided by the tables
in ``pg_v2.decisions``; every assumption lives in ``pg_v2.options``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx

from payouts.domain import strict_json
from payouts.domain.figures import NO_FIGURES
from payouts.domain.money import MoneyError, from_decimal_string
from payouts.domain.order import Order, utc_now
from payouts.providers.base import (
    Ack,
    AdapterContext,
    BalanceEntry,
    CallbackEvent,
    CallbackMalformed,
    CallbackRejected,
    CreateKind,
    CreateOutcome,
    ProviderUnavailable,
    QueryKind,
    QueryOutcome,
    RawExchange,
)
from payouts.providers.decisions import SUCCESS, decide
from payouts.providers.pg_v2.decisions import (
    CREATE_DEFAULT,
    CREATE_DEFAULT_WHY,
    OK,
    QUERY_DEFAULT,
    QUERY_DEFAULT_WHY,
    UNBELIEVABLE,
    AnswerSignature,
    PgV2Observation,
    QueryAnswer,
    build_create_rules,
    build_query_rules,
    decide_status,
)
from payouts.providers.pg_v2.figures import read_figures
from payouts.providers.pg_v2.options import PgV2Credentials, PgV2Options
from payouts.providers.pg_v2.payload import balance_body, create_body, query_body, serialise
from payouts.providers.pg_v2.signing import (
    Credential,
    SignatureFormatError,
    authorization_header,
    from_unix_millis,
    new_nonce,
    parse_authorization,
    sign,
    signed_url,
    unix_millis,
    verify,
)
from payouts.providers.transport import EXCERPT_CHARS, Exchange, Transport, send
from payouts.providers.unverified import report_unverified_answer

CREATE_PATH: Final = "/pg/v2/payout/create"
QUERY_PATH: Final = "/pg/v2/payout/query"
BALANCE_PATH: Final = "/pg/v2/balance/query"
ACK_BODY: Final = '{"code":"OK"}'
# What an operator checks when answers stop verifying (named in the log line).
ANSWER_SIGNATURE_SETTINGS: Final = (
    "the pg_v2 secret's app_secret; PG_V2_OPTIONS answer_signature, signed_url, "
    "answer_signed_method, answer_signed_url"
)

_log = logging.getLogger(__name__)

JsonObject = Mapping[str, Any]


@dataclass(frozen=True)
class _Answer:
    """One exchange and what the check of the answer's own signature found."""

    exchange: Exchange
    signature: AnswerSignature

    @property
    def document(self) -> JsonObject:
        """The answer's JSON object, or an empty one when there is none."""
        return self.exchange.document or {}

    @property
    def data(self) -> JsonObject:
        """The answer's ``data`` object, or an empty one."""
        return _object(self.document.get("data"))


class PgV2Adapter:
    """The pg_v2 payout provider (UPI and BANK_ACCOUNT in INR, PIX in BRL).

    ``nonces`` supplies each request's nonce (injectable so tests are deterministic); ``clock``
    supplies its timestamp.
    """

    name = "pg_v2"

    def __init__(
        self,
        *,
        credentials: PgV2Credentials,
        context: AdapterContext,
        client: httpx.AsyncClient,
        options: PgV2Options | None = None,
        clock: Callable[[], datetime] = utc_now,
        nonces: Callable[[], str] = new_nonce,
    ) -> None:
        self._credentials = credentials
        self._context = context
        self._client = client
        self._options = options or PgV2Options()
        self._clock = clock
        self._nonces = nonces
        self._timeout = context.timeouts.as_httpx()
        self._query_rules = build_query_rules(self._options.not_found_codes)
        self._create_rules = build_create_rules(self._options.ambiguous_client_statuses)

    async def create(self, order: Order) -> CreateOutcome:
        """Send the create under the order's own merchant number (its payout id).

        Raises ``UnsupportedPayout`` before sending when pg_v2 cannot carry the order.
        """
        body = create_body(order, notify_url=self._context.notify_url, options=self._options)
        answer = await self._post(CREATE_PATH, serialise(body))
        seen = _observe(answer, order.payout_id)
        decision = decide(
            self._create_rules, seen, default=CREATE_DEFAULT, default_why=CREATE_DEFAULT_WHY
        )
        _log.debug("pg_v2 create decided %s by row %s", decision.kind, decision.row)
        accepted = decision.kind is CreateKind.ACCEPTED
        return CreateOutcome(
            kind=decision.kind,
            reason=decision.why,
            raw=_raw(answer.exchange),
            provider_order_id=_text(answer.data, "payoutNo") if accepted else None,
            figures=read_figures(answer.data) if accepted else NO_FIGURES,
        )

    async def query(self, order: Order) -> QueryOutcome:
        """Ask where the order stands, by merchant number. Never raises for provider trouble."""
        answer = await self._post(QUERY_PATH, serialise(query_body(order.payout_id)))
        seen = _observe(answer, order.payout_id)
        verdict = decide(
            self._query_rules, seen, default=QUERY_DEFAULT, default_why=QUERY_DEFAULT_WHY
        )
        _log.debug("pg_v2 query answer %s by row %s", verdict.kind, verdict.row)
        raw = _raw(answer.exchange, _status_detail(answer.data))
        if verdict.kind is QueryAnswer.NOT_FOUND:
            return QueryOutcome(QueryKind.NOT_FOUND, verdict.why, raw)
        if verdict.kind is QueryAnswer.UNKNOWN:
            return QueryOutcome(QueryKind.UNKNOWN, verdict.why, raw)
        kind, why, documented = self._status_of(answer.data)
        amount_minor, currency = _amount(answer.data)
        return QueryOutcome(
            kind,
            why,
            raw,
            provider_order_id=_text(answer.data, "payoutNo"),
            amount_minor=amount_minor,
            documented=documented,
            currency=currency,
            figures=read_figures(answer.data),
        )

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        """Verify the signature over the raw body first, then parse.

        Raises CallbackRejected for a present-but-wrong signature (or a missing one when the
        options require it) and CallbackMalformed for a body without ``data.merchantTradeNo``.
        """
        credential = self._callback_credential(headers, raw_body)
        document = _callback_document(raw_body)
        data = _object(document.get("data"))
        merchant_order_id = _text(data, "merchantTradeNo")
        if merchant_order_id is None:
            raise CallbackMalformed("callback has no data.merchantTradeNo")
        kind, _, documented = self._status_of(data)
        amount_minor, currency = _amount(data)
        return CallbackEvent(
            provider=self.name,
            merchant_order_id=merchant_order_id,
            kind=kind,
            trusted=credential is not None and self._options.trust_signed_callbacks,
            documented=documented,
            fields=document,
            provider_order_id=_text(data, "payoutNo"),
            amount_minor=amount_minor,
            currency=currency,
            signed_at=from_unix_millis(credential.timestamp_ms) if credential else None,
            figures=read_figures(data),
        )

    def ack(self) -> Ack:
        """HTTP 200 with exactly ``{"code":"OK"}``."""
        return Ack(status_code=200, body=ACK_BODY)

    async def balance(self) -> list[BalanceEntry]:
        """The merchant's balances in minor units. Raises ProviderUnavailable when unreadable."""
        answer = await self._post(BALANCE_PATH, serialise(balance_body(self._options)))
        _require_readable(answer)
        entries = answer.data.get("balanceList")
        if not isinstance(entries, list):
            raise ProviderUnavailable("pg_v2 balance answer has no data.balanceList")
        return [_balance_entry(entry) for entry in entries]

    async def _post(self, path: str, body: bytes) -> _Answer:
        url = httpx.URL(self._context.base_url.rstrip("/") + path)
        url_line = signed_url(str(url), self._options.signed_url)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": self._authorization(url_line, body),
        }
        request = self._client.build_request(
            "POST", url, content=body, headers=headers, timeout=self._timeout
        )
        exchange = await _send(self._client, request)
        signature = self._check_answer(exchange, url_line)
        if signature in UNBELIEVABLE:
            why = f"answer to {path}: signature {signature.value}"
            report_unverified_answer(self.name, why=why, settings=ANSWER_SIGNATURE_SETTINGS)
        return _Answer(exchange, signature)

    def _authorization(self, url_line: str, body: bytes) -> str:
        app_id = self._credentials.app_id
        timestamp_ms = unix_millis(self._clock())
        nonce = self._nonces()
        signature = sign(
            app_id=app_id,
            app_secret=self._credentials.app_secret.get_secret_value(),
            method="POST",
            url=url_line,
            timestamp_ms=timestamp_ms,
            nonce=nonce,
            body=body,
        )
        return authorization_header(Credential(app_id, signature, timestamp_ms, nonce))

    def _check_answer(self, exchange: Exchange, url_line: str) -> AnswerSignature:
        """The answer's own signature under the policy: the method and URL lines the options
        name (the request's, by default), the answer's timestamp, nonce and body (assumed)."""
        policy = self._options.answer_signature
        if exchange.transport is not Transport.OK or policy == "ignore":
            return AnswerSignature.UNCHECKED
        header = exchange.headers.get("authorization") if exchange.headers else None
        if header is None:
            return AnswerSignature.MISSING if policy == "require" else AnswerSignature.UNCHECKED
        method = self._options.answer_signed_method
        signed = url_line if self._options.answer_signed_url == "request" else ""
        if self._verifies(header, method, signed, exchange.raw_body) is None:
            return AnswerSignature.INVALID
        return AnswerSignature.VERIFIED

    def _callback_credential(
        self, headers: Mapping[str, str], raw_body: bytes
    ) -> Credential | None:
        """The callback's verified credential; None when unsigned and that is allowed."""
        header = _header(headers, "authorization")
        if header is None:
            if self._options.callback_signature == "require":
                raise CallbackRejected("pg_v2 callback has no Authorization signature")
            return None
        url_line = ""
        if self._options.callback_signed_url == "notify_url":
            url_line = signed_url(self._context.notify_url, self._options.signed_url)
        method = self._options.callback_signed_method
        credential = self._verifies(header, method, url_line, raw_body)
        if credential is None:
            raise CallbackRejected("pg_v2 callback signature does not verify")
        return credential

    def _verifies(self, header: str, method: str, url_line: str, body: bytes) -> Credential | None:
        """The header's credential when it signs ``body`` for our appId, ``method`` and
        ``url_line``."""
        try:
            credential = parse_authorization(header)
        except SignatureFormatError:
            return None
        valid = verify(
            credential,
            app_id=self._credentials.app_id,
            app_secret=self._credentials.app_secret.get_secret_value(),
            method=method,
            url=url_line,
            body=body,
        )
        return credential if valid else None

    def _status_of(self, data: JsonObject) -> tuple[QueryKind, str, bool]:
        """The status's outcome, why, and whether that meaning is documented. An errorCode is
        evidence (in the raw exchange), never a verdict: only the status word decides."""
        status = _text(data, "status")
        if status is None:
            return QueryKind.UNKNOWN, "no data.status", False
        verdict = decide_status(self._options.status_words, status)
        return verdict.kind, verdict.why, verdict.documented


async def _send(client: httpx.AsyncClient, request: httpx.Request) -> Exchange:
    """``transport.send``, plus an answer whose body could not be decoded (bad gzip): httpx
    raises DecodingError, which is not a TransportError. The request arrived, so it counts as a
    broken answer (AMBIGUOUS for a create, UNKNOWN for a query), never as not sent."""
    try:
        return await send(client, request)
    except httpx.DecodingError as error:
        return Exchange(Transport.RESET, error=f"DecodingError: {error}"[:EXCERPT_CHARS])


def _observe(answer: _Answer, payout_id: str) -> PgV2Observation:
    exchange = answer.exchange
    merchant_no = answer.data.get("merchantTradeNo")
    return PgV2Observation(
        transport=exchange.transport,
        http_status=exchange.http_status,
        shape=exchange.shape,
        code=_text(answer.document, "code"),
        signature=answer.signature,
        has_payout_no=_text(answer.data, "payoutNo") is not None,
        has_error_message=_text(answer.document, "errorMessage") is not None,
        has_status=_text(answer.data, "status") is not None,
        names_other_order=merchant_no is not None and merchant_no != payout_id,
    )


def _require_readable(answer: _Answer) -> None:
    """Raise ProviderUnavailable unless the answer is a believable ``OK`` JSON object."""
    exchange = answer.exchange
    if exchange.transport is not Transport.OK:
        raise ProviderUnavailable(f"pg_v2 gave no answer ({exchange.transport})")
    if exchange.http_status not in SUCCESS or exchange.document is None:
        raise ProviderUnavailable(f"pg_v2 answer unreadable (HTTP {exchange.http_status})")
    if answer.signature in UNBELIEVABLE:
        raise ProviderUnavailable("pg_v2 answer signature is missing or wrong")
    if _text(answer.document, "code") != OK:
        raise ProviderUnavailable("pg_v2 answer code is not OK")


def _balance_entry(entry: object) -> BalanceEntry:
    item = _object(entry)
    currency = _text(item, "currency")
    available = item.get("availableAmount")
    frozen = item.get("frozenAmount")
    if currency is None or not isinstance(available, str) or not isinstance(frozen, str):
        raise ProviderUnavailable("pg_v2 balance entry lacks currency or amounts")
    try:
        return BalanceEntry(
            currency=currency,
            available_minor=from_decimal_string(available.strip(), currency),
            frozen_minor=from_decimal_string(frozen.strip(), currency),
        )
    except MoneyError as error:
        raise ProviderUnavailable(f"pg_v2 balance amount unreadable: {error}") from None


def _amount(data: JsonObject) -> tuple[int | None, str | None]:
    """The reported amount in minor units, exactly, and the reported currency. Only a decimal
    string is read (documented type); anything else, or an inexact value, gives None."""
    currency = _text(data, "currency")
    amount = data.get("amount")
    if currency is None or not isinstance(amount, str):
        return None, currency
    try:
        return from_decimal_string(amount.strip(), currency), currency
    except MoneyError:
        return None, currency


def _callback_document(raw_body: bytes) -> dict[str, Any]:
    # Strict: with a duplicate key the signed bytes would say two things and we would read one.
    try:
        document = strict_json.loads(raw_body)
    except ValueError as error:
        raise CallbackMalformed(f"pg_v2 callback body is not JSON we read: {error}") from None
    if not isinstance(document, dict):
        raise CallbackMalformed("pg_v2 callback body is not a JSON object")
    return document


def _raw(exchange: Exchange, detail: str | None = None) -> RawExchange:
    """The evidence view of an exchange: never our request, keys or signatures. ``detail``
    stands in for the message when the answer has no errorMessage."""
    document = exchange.document or {}
    return RawExchange(
        transport=exchange.transport.value,
        http_status=exchange.http_status,
        code=_text(document, "code"),
        message=_text(document, "errorMessage") or detail or exchange.error,
        body_excerpt=exchange.body_excerpt,
    )


def _status_detail(data: JsonObject) -> str | None:
    """The order's status fields in one line, since the body excerpt may cut them off."""
    parts = [
        f"{key}={value}"
        for key in ("status", "errorCode", "errorInfo")
        if (value := _text(data, key)) is not None
    ]
    return "; ".join(parts)[:EXCERPT_CHARS] or None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (API Gateway may deliver any case)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _object(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _text(document: JsonObject, key: str) -> str | None:
    """A non-blank string field, stripped; None for anything else."""
    value = document.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
