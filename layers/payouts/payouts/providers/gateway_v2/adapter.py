"""The gateway_v2 adapter: CNY Alipay payouts over the provider's signed JSON API.

Create is signed with the platform key; query and balance carry the query token in
``Authorization``; callbacks and query answers are verified over every field received. What each
answer means is decided by the tables in ``decisions.py``; what the docs leave open is in
``GatewayV2Options``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import httpx

from payouts.domain import strict_json
from payouts.domain.order import Order, utc_now
from payouts.domain.redaction import mask
from payouts.domain.request import AlipayBeneficiary, PayoutRequest
from payouts.observability import logger
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
    UnsupportedPayout,
)
from payouts.providers.decisions import SUCCESS, Observation
from payouts.providers.gateway_v2.config import (
    AnswerSignaturePolicy,
    GatewayV2Credentials,
    GatewayV2Options,
)
from payouts.providers.gateway_v2.decisions import (
    ACCEPTED_CODE,
    ACCEPTED_WITHOUT_ID,
    QueryStep,
    decide_create,
    decide_query,
    decide_status,
)
from payouts.providers.gateway_v2.fields import field_problem
from payouts.providers.gateway_v2.figures import (
    CALLBACK_PAID_TIME_FIELD,
    QUERY_PAID_TIME_FIELD,
    read_figures,
)
from payouts.providers.gateway_v2.signing import SignType, sign, verify
from payouts.providers.transport import EXCERPT_CHARS, Exchange, Transport, send
from payouts.providers.unverified import report_unverified_answer

_log = logging.getLogger(__name__)

CREATE_PATH: Final = "/gateway/api/v2/payouts"
QUERY_PATH: Final = "/gateway/api/v2/payouts/{payout_cl_id}"
BALANCE_PATH: Final = "/gateway/api/v2/platforms/balance"
CREATE_CONTENT_TYPE: Final = "application/json;charset=utf-8"  # documented (seed 000)
ACK_BODY: Final = '{"error_code":"0000"}'  # documented: what stops the provider's retries
MAX_AMOUNT_CENTS: Final = 9_999_999_999  # documented: amount is Integer(10)

_CENTS: Final = re.compile(r"^(0|[1-9][0-9]*)$")
# Fields that would identify the beneficiary if an answer or callback ever echoed them.
_BENEFICIARY_FIELDS: Final = frozenset({"alipay_account_name", "alipay_surname"})
_SIGNATURE_FIELD: Final = "sign"
# What an operator checks when query answers stop verifying (named in the log line).
ANSWER_SIGNATURE_SETTINGS: Final = (
    "the gateway_v2 secret's platform_key; GATEWAY_V2_OPTIONS query_signature, "
    "query_sign_location, query_default_sign_type, accepted_query_sign_types"
)
# Providers whose unnamed-sign_type refusal was logged in this container (once each).
_UNNAMED_SIGN_TYPE_LOGGED: set[str] = set()
_MESSAGE_CHARS: Final = 200

type JsonObject = dict[str, Any]


class GatewayV2Adapter:
    """The ``gateway_v2`` provider port implementation (see ``payouts.providers.base``)."""

    name = "gateway_v2"

    def __init__(
        self,
        *,
        credentials: GatewayV2Credentials,
        context: AdapterContext,
        client: httpx.AsyncClient,
        options: GatewayV2Options | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._credentials = credentials
        self._context = context
        self._client = client
        self._options = options or GatewayV2Options()
        self._clock = clock
        self._timeout = context.timeouts.as_httpx()

    async def create(self, order: Order) -> CreateOutcome:
        """Send the signed create for ``order`` under its payout id as ``payout_cl_id``.

        Raises UnsupportedPayout, before sending anything, for an order this adapter cannot pay
        (not Alipay, not the account's currency, amount beyond Integer(10)).
        """
        body = _encode(self._create_params(order))
        request = self._client.build_request(
            "POST",
            self._url(CREATE_PATH),
            content=body,
            headers={"Content-Type": CREATE_CONTENT_TYPE, "Accept": "application/json"},
            timeout=self._timeout,
        )
        outcome = _create_outcome(await send(self._client, request))
        _log.debug("gateway_v2 create %s: %s (%s)", order.payout_id, outcome.kind, outcome.reason)
        return outcome

    async def query(self, order: Order) -> QueryOutcome:
        """Ask where ``order`` stands. Never raises for provider trouble: UNKNOWN instead."""
        path = QUERY_PATH.format(payout_cl_id=quote(order.payout_id, safe=""))
        exchange = await send(self._client, self._authorized_get(path))
        outcome = self._query_outcome(order.payout_id, exchange)
        _log.debug("gateway_v2 query %s: %s (%s)", order.payout_id, outcome.kind, outcome.reason)
        return outcome

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        """Verify a callback's ``sign`` over every field received, then read it.

        Raises CallbackMalformed (not a JSON object, no ``payout_cl_id``) or CallbackRejected
        (no ``sign``, a ``sign_type`` we do not accept, or a signature that does not verify).
        The signature travels in the body, so ``headers`` are not needed.
        """
        try:
            fields = _read_object(raw_body)
        except ValueError as error:
            reason = f"callback body is not a JSON object we read: {error}"
            raise CallbackMalformed(reason) from None
        # Shapes first: a regrouped genuine callback verifies, so the signature proves nothing
        # until every field can be read one way only.
        shape = field_problem(fields, self._options.canonical_form)
        if shape is not None:
            raise CallbackMalformed(f"callback {shape}")
        self._note_unnamed_sign_type(fields)
        problem = self._signature_problem(
            fields,
            unnamed=self._options.callback_default_sign_type,
            accepted=self._options.callback_sign_types(),
        )
        if problem is not None:
            raise CallbackRejected(problem)
        merchant_order_id = fields.get("payout_cl_id")
        if not isinstance(merchant_order_id, str) or not merchant_order_id:
            raise CallbackMalformed("callback has no payout_cl_id")
        status = decide_status(self._options.statuses, _text(fields.get("status")))
        kind = status.kind
        paid_time_field = CALLBACK_PAID_TIME_FIELD if kind is QueryKind.SUCCEEDED else None
        # No ``signed_at`` from ``update_time``: the provider retries the same signed body for up
        # to an hour, so a replay window of minutes would refuse its own retries. Replays are
        # harmless: every transition is a conditional write.
        return CallbackEvent(
            provider=self.name,
            merchant_order_id=merchant_order_id,
            kind=kind,
            trusted=True,
            documented=status.documented,
            fields=_evidence_fields(fields),
            provider_order_id=_nonblank(fields.get("payout_id")),
            amount_minor=_cents(fields.get(self._options.callback_amount_field)),
            currency=self._options.currency,
            figures=read_figures(
                fields, currency=self._options.currency, paid_time_field=paid_time_field
            ),
        )

    def ack(self) -> Ack:
        """HTTP 200 with exactly ``{"error_code":"0000"}``."""
        return Ack(status_code=200, body=ACK_BODY)

    async def balance(self) -> list[BalanceEntry]:
        """The account's balance, in cents. Raises ProviderUnavailable when unreadable."""
        exchange = await send(self._client, self._authorized_get(BALANCE_PATH))
        data = _balance_data(exchange)
        # ASSUMPTION: ``total_balance`` is what can be paid out and ``total_frozen_balance`` what
        # is held; the docs do not say whether the total includes the frozen part.
        available = _cents(data.get("total_balance"))
        frozen = _cents(data.get("total_frozen_balance"))
        if available is None or frozen is None:
            raise ProviderUnavailable("gateway_v2 balance amounts are not integer cents")
        return [BalanceEntry(self._options.currency, available, frozen)]

    # -- create ---------------------------------------------------------------------------------

    def _create_params(self, order: Order) -> dict[str, object]:
        request, beneficiary = self._payable(order)
        params: dict[str, object] = {
            "platform_id": self._credentials.platform_id,
            "service_id": self._options.service_ids[beneficiary.method],
            "payout_cl_id": order.payout_id,
            "amount": self._number(request.amount.value),
            "notify_url": self._context.notify_url,
            "alipay_account_name": beneficiary.account_name,
            "alipay_surname": beneficiary.surname,
            "request_time": self._number(self._unix_seconds()),
        }
        # Empty optional values (a blank notify_url) are neither signed nor sent.
        params = {key: value for key, value in params.items() if value not in (None, "")}
        params["sign_type"] = self._options.sign_type.value
        params["sign"] = sign(
            params,
            self._credentials.platform_key.get_secret_value(),
            self._options.sign_type,
            md5_key_style=self._options.md5_key_style,
            form=self._options.canonical_form,
        )
        return params

    def _payable(self, order: Order) -> tuple[PayoutRequest, AlipayBeneficiary]:
        request = order.request
        if not isinstance(request, PayoutRequest):  # invalid, or its personal data erased
            raise UnsupportedPayout("order has no valid request to send")
        if request.payout_id != order.payout_id:
            raise UnsupportedPayout("order and request disagree on the payout id")
        beneficiary = request.beneficiary
        if not isinstance(beneficiary, AlipayBeneficiary) or (
            beneficiary.method not in self._options.service_ids
        ):
            raise UnsupportedPayout(f"gateway_v2 cannot pay by {request.method}")
        if request.amount.currency != self._options.currency:
            reason = f"gateway_v2 pays {self._options.currency}, not {request.amount.currency}"
            raise UnsupportedPayout(reason)
        if request.amount.value > MAX_AMOUNT_CENTS:
            raise UnsupportedPayout("amount exceeds gateway_v2's Integer(10) cents")
        return request, beneficiary

    def _number(self, value: int) -> int | str:
        return str(value) if self._options.numbers_as_strings else value

    def _unix_seconds(self) -> int:
        now = self._clock()
        if now.tzinfo is None:
            # A naive time would be read as local time: a skewed request_time the provider refuses.
            raise ValueError("the adapter's clock must return timezone-aware datetimes")
        return int(now.timestamp())

    # -- query ----------------------------------------------------------------------------------

    def _query_outcome(self, payout_id: str, exchange: Exchange) -> QueryOutcome:
        code = _code(exchange.document)
        decision = decide_query(
            Observation(exchange.transport, exchange.http_status, exchange.shape, code)
        )
        raw = _raw_exchange(exchange, code)
        if decision.kind is QueryStep.NOT_FOUND:
            return QueryOutcome(QueryKind.NOT_FOUND, decision.why, raw)
        if decision.kind is QueryStep.UNKNOWN:
            return QueryOutcome(QueryKind.UNKNOWN, decision.why, raw)
        return self._read_order(payout_id, exchange, raw, decision.why)

    def _read_order(
        self, payout_id: str, exchange: Exchange, raw: RawExchange, why: str
    ) -> QueryOutcome:
        # Parsed again (numbers as Decimal) so the signature is checked over the literal values.
        answer = _json_object(exchange.raw_body) or {}
        data = answer.get("data")
        if not isinstance(data, dict):
            return QueryOutcome(QueryKind.UNKNOWN, f"{why}, but without a data object", raw)
        signed = answer if self._options.query_sign_location == "answer" else data
        problem = field_problem(data, self._options.canonical_form) or field_problem(
            signed, self._options.canonical_form
        )
        if problem is None:
            problem = self._answer_signature_problem(signed)
            if problem is not None:
                why = f"query answer: {problem}"
                report_unverified_answer(self.name, why=why, settings=ANSWER_SIGNATURE_SETTINGS)
        if problem is not None:
            return QueryOutcome(QueryKind.UNKNOWN, f"query answer not believed: {problem}", raw)
        echoed = data.get("payout_cl_id")
        if echoed is not None and echoed != payout_id:
            reason = f"query answer is about payout_cl_id {echoed!r}, not {payout_id!r}"
            return QueryOutcome(QueryKind.UNKNOWN, reason, raw)
        status = _text(data.get("status"))
        verdict = decide_status(self._options.statuses, status)
        kind = verdict.kind
        return QueryOutcome(
            kind,
            f"{why}; data.status={status} -> {kind.value}",
            raw,
            provider_order_id=_nonblank(data.get("payout_id")),
            amount_minor=_cents(data.get("amount")),
            documented=verdict.documented,
            currency=self._options.currency,
            figures=read_figures(
                data, currency=self._options.currency, paid_time_field=QUERY_PAID_TIME_FIELD
            ),
        )

    def _answer_signature_problem(self, signed: JsonObject) -> str | None:
        """Why the signed part of a query answer (``data``, or the whole answer, by the
        ``query_sign_location`` option) is not believed; None when it is."""
        policy = self._options.query_signature
        if policy is AnswerSignaturePolicy.IGNORE:
            return None
        if signed.get(_SIGNATURE_FIELD) in (None, "") and (
            policy is AnswerSignaturePolicy.VERIFY_IF_PRESENT
        ):
            return None
        return self._signature_problem(
            signed,
            unnamed=self._options.query_unnamed_sign_type(),
            accepted=self._options.query_sign_types(),
        )

    def _note_unnamed_sign_type(self, fields: JsonObject) -> None:
        """Log once per container when callbacks without ``sign_type`` are refused: they are read
        as ``callback_default_sign_type`` (MD5, documented), which the accepted algorithms may
        exclude, and then the provider's orders settle by polling only."""
        if fields.get("sign_type") not in (None, "") or self.name in _UNNAMED_SIGN_TYPE_LOGGED:
            return
        unnamed = self._options.callback_default_sign_type
        if unnamed in self._options.callback_sign_types():
            return
        _UNNAMED_SIGN_TYPE_LOGGED.add(self.name)
        logger.warning(
            "callbacks without sign_type are refused: they settle by polling only; check "
            "GATEWAY_V2_OPTIONS callback_default_sign_type / accepted_callback_sign_types",
            provider=self.name,
            read_as=unnamed.value,
            accepted=sorted(kind.value for kind in self._options.callback_sign_types()),
        )

    # -- shared ---------------------------------------------------------------------------------

    def _signature_problem(
        self, fields: JsonObject, *, unnamed: SignType, accepted: frozenset[SignType]
    ) -> str | None:
        """Why ``fields`` are not believed, or None when their ``sign`` verifies."""
        signature = fields.get(_SIGNATURE_FIELD)
        if not isinstance(signature, str) or not signature:
            return "no sign"
        sign_type = _sign_type(fields.get("sign_type"), unnamed)
        if sign_type is None:
            return "sign_type not recognised"
        if sign_type not in accepted:
            return f"sign_type {sign_type.value} is not accepted"
        verified = verify(
            fields,
            signature,
            self._credentials.platform_key.get_secret_value(),
            sign_type,
            md5_key_style=self._options.md5_key_style,
            form=self._options.canonical_form,
        )
        return None if verified else "sign does not verify"

    def _authorized_get(self, path: str) -> httpx.Request:
        # The query token is the whole header value: documented, no "Bearer" prefix.
        headers = {
            "Authorization": self._credentials.query_token.get_secret_value(),
            "Accept": "application/json",
        }
        return self._client.build_request(
            "GET", self._url(path), headers=headers, timeout=self._timeout
        )

    def _url(self, path: str) -> str:
        return self._context.base_url.rstrip("/") + path


def _create_outcome(exchange: Exchange) -> CreateOutcome:
    code = _code(exchange.document)
    provider_id = _provider_order_id(exchange.document)
    observed = ACCEPTED_WITHOUT_ID if code == ACCEPTED_CODE and provider_id is None else code
    decision = decide_create(
        Observation(exchange.transport, exchange.http_status, exchange.shape, observed)
    )
    return CreateOutcome(
        kind=decision.kind,
        reason=decision.why,
        raw=_raw_exchange(exchange, code),
        provider_order_id=provider_id if decision.kind is CreateKind.ACCEPTED else None,
    )


def _balance_data(exchange: Exchange) -> JsonObject:
    if exchange.transport is not Transport.OK:
        raise ProviderUnavailable(f"gateway_v2 balance: no answer ({exchange.transport.value})")
    if exchange.http_status not in SUCCESS or exchange.document is None:
        raise ProviderUnavailable(
            f"gateway_v2 balance: HTTP {exchange.http_status}, {exchange.shape.value} answer"
        )
    code = _code(exchange.document)
    data = exchange.document.get("data")
    if code != ACCEPTED_CODE or not isinstance(data, dict):
        raise ProviderUnavailable(f"gateway_v2 balance: error_code {code}")
    return data


def _encode(params: Mapping[str, object]) -> bytes:
    """The create body, serialised once: compact, keys sorted like the seed's example, UTF-8."""
    return json.dumps(params, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def _json_object(raw: bytes) -> JsonObject | None:
    """``raw`` as a JSON object with numbers kept as Decimal (their literal text), or None."""
    try:
        return _read_object(raw)
    except ValueError:
        return None


def _read_object(raw: bytes) -> JsonObject:
    """``raw`` as a JSON object, numbers kept as Decimal (their literal text, which is what was
    signed). Raises ValueError saying why not: not UTF-8, not JSON, not an object, a duplicate
    key (the signature would cover one copy and we would read the other) or too deep."""
    parsed = strict_json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    if not isinstance(parsed, dict):
        raise strict_json.JsonRefused(f"a JSON {type(parsed).__name__}, not an object")
    return parsed


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _evidence_fields(fields: JsonObject) -> dict[str, object]:
    """Every field received, for the evidence log: no signature, beneficiary details masked."""
    evidence: dict[str, object] = {}
    for key, value in fields.items():
        if key == _SIGNATURE_FIELD:
            continue
        evidence[key] = (
            mask(value) if key in _BENEFICIARY_FIELDS and isinstance(value, str) else value
        )
    return evidence


def _raw_exchange(exchange: Exchange, code: str | None) -> RawExchange:
    return RawExchange(
        transport=exchange.transport.value,
        http_status=exchange.http_status,
        code=code,
        message=_message(exchange),
        body_excerpt=_excerpt(exchange),
    )


def _message(exchange: Exchange) -> str | None:
    if exchange.document is not None:
        message = exchange.document.get("error_msg")
        return message[:_MESSAGE_CHARS] if isinstance(message, str) else None
    return exchange.error


def _excerpt(exchange: Exchange) -> str | None:
    """The answer's first characters, without any signature in it."""
    if exchange.document is None:
        return exchange.body_excerpt
    redacted = _without_signature(exchange.document)
    data = redacted.get("data")
    if isinstance(data, dict):
        redacted["data"] = _without_signature(data)
    text = json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)
    return text[:EXCERPT_CHARS]


def _without_signature(fields: JsonObject) -> JsonObject:
    return {key: value for key, value in fields.items() if key != _SIGNATURE_FIELD}


def _code(document: JsonObject | None) -> str | None:
    """The answer's ``error_code`` as text; a non-string code never equals a documented one."""
    if document is None:
        return None
    code = document.get("error_code")
    if code is None or isinstance(code, str):
        return code
    return json.dumps(code)


def _provider_order_id(document: JsonObject | None) -> str | None:
    data = document.get("data") if document is not None else None
    return _nonblank(data.get("payout_id")) if isinstance(data, dict) else None


def _sign_type(value: object, unnamed: SignType) -> SignType | None:
    """The algorithm an answer names, ``unnamed`` when it names none, None when unknown."""
    if value is None or value == "":
        return unnamed
    if not isinstance(value, str):
        return None
    try:
        return SignType(value.upper())
    except ValueError:
        return None


def _cents(value: object) -> int | None:
    """An amount in integer cents (documented: Integer, sent as a number or a digit string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and _CENTS.match(value):
        return int(value)
    return None


def _text(value: object) -> str | None:
    """A status as text: ``3`` and ``"3"`` are the same status."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _nonblank(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
