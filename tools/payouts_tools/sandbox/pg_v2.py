"""pg_v2 as its documents describe it: V2_SHA256-signed requests and answers, deduplicated
creates, query by either number, balance, signed callbacks. Undocumented choices come from
``assumptions``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from payouts.domain.money import MoneyError, from_decimal_string, to_decimal_string
from payouts_tools.sandbox import assumptions as spec
from payouts_tools.sandbox.callbacks import CallbackMessage
from payouts_tools.sandbox.config import Provider
from payouts_tools.sandbox.signing import (
    parse_pg_authorization,
    pg_authorization,
    pg_signature_ok,
)
from payouts_tools.sandbox.state import (
    NewOrder,
    PayoutState,
    SandboxOrder,
    SandboxState,
    charged_fee,
)
from payouts_tools.sandbox.wire import HttpRequest, HttpResponse, json_bytes, parse_json_object

PREFIX: Final = "/pg/v2"
CREATE_PATH: Final = f"{PREFIX}/payout/create"
QUERY_PATH: Final = f"{PREFIX}/payout/query"
BALANCE_PATH: Final = f"{PREFIX}/balance/query"

_CURRENCIES: Final = tuple(dict.fromkeys(spec.PG_METHOD_CURRENCIES.values()))


@dataclass(frozen=True)
class _Create:
    merchant_no: str
    amount_minor: int
    currency: str
    method: str
    notify_url: str | None
    merchant_attach: str | None


class PgApi:
    """The pg_v2 endpoints over the sandbox's state."""

    provider: Final = Provider.PG_V2

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def merchant_no_of(self, request: HttpRequest) -> str | None:
        """The merchantTradeNo a create or query is for, if readable (fault targeting)."""
        payload = parse_json_object(request.body) or {}
        merchant_no = payload.get("merchantTradeNo")
        if isinstance(merchant_no, str):
            return merchant_no
        payout_no = payload.get("payoutNo")
        if isinstance(payout_no, str):
            order = self._state.order_by_provider_id(self.provider, payout_no)
            return None if order is None else order.merchant_no
        return None

    def create(self, request: HttpRequest) -> HttpResponse:
        """``POST /pg/v2/payout/create``."""
        refused = self._refuse_unsigned(request)
        if refused is not None:
            return refused
        payload = parse_json_object(request.body)
        parsed = _parse_create(payload) if payload is not None else "body must be a JSON object"
        if isinstance(parsed, str):
            return self._answer(request, spec.PG_CODE_INVALID_PARAMETER, parsed)
        new = NewOrder(
            provider=self.provider,
            merchant_no=parsed.merchant_no,
            amount_minor=parsed.amount_minor,
            currency=parsed.currency,
            method=parsed.method,
            notify_url=parsed.notify_url,
            merchant_attach=parsed.merchant_attach,
        )
        order, created = self._state.open_order(new, dedupe=True, make_id=spec.pg_payout_no)
        if not created:
            message = "an order with this merchantTradeNo already exists"
            return self._answer(request, spec.PG_CODE_DUPLICATE, message)
        data = {
            "payoutNo": order.provider_order_id,
            "merchantTradeNo": order.merchant_no,
            "amount": to_decimal_string(order.amount_minor, order.currency),
            "currency": order.currency,
        }
        return self._answer(request, spec.PG_CODE_OK, None, data)

    def query(self, request: HttpRequest) -> HttpResponse:
        """``POST /pg/v2/payout/query`` by merchantTradeNo or payoutNo."""
        refused = self._refuse_unsigned(request)
        if refused is not None:
            return refused
        payload = parse_json_object(request.body) or {}
        if not any(isinstance(payload.get(k), str) for k in ("merchantTradeNo", "payoutNo")):
            message = "merchantTradeNo or payoutNo is required"
            return self._answer(request, spec.PG_CODE_INVALID_PARAMETER, message)
        merchant_no = self.merchant_no_of(request)
        orders = (
            [] if merchant_no is None else self._state.observe_query(self.provider, merchant_no)
        )
        if not orders:
            return self._answer(request, spec.PG_CODE_NOT_FOUND, "payout not found")
        return self._answer(request, spec.PG_CODE_OK, None, query_data(orders[0]))

    def balance(self, request: HttpRequest) -> HttpResponse:
        """``POST /pg/v2/balance/query``."""
        refused = self._refuse_unsigned(request)
        if refused is not None:
            return refused
        payload = parse_json_object(request.body) or {}
        wanted = payload.get("currencies", list(_CURRENCIES))
        if not isinstance(wanted, list) or not all(c in _CURRENCIES for c in wanted):
            message = f"currencies must be a list drawn from {list(_CURRENCIES)}"
            return self._answer(request, spec.PG_CODE_INVALID_PARAMETER, message)
        balances = self._state.balances(self.provider, [str(c) for c in wanted])
        listed = [
            {
                "currency": b.currency,
                # ASSUMPTION: pending payouts are held out of the available amount.
                "availableAmount": to_decimal_string(
                    b.remaining_minor - b.pending_minor, b.currency
                ),
                "frozenAmount": to_decimal_string(b.pending_minor, b.currency),
            }
            for b in balances
        ]
        return self._answer(request, spec.PG_CODE_OK, None, {"balanceList": listed})

    def callback_for(self, order: SandboxOrder) -> CallbackMessage | None:
        """The signed callback reporting ``order``'s new state, or None without a notify URL."""
        if not order.notify_url:
            return None
        config = self._state.config
        url = order.notify_url
        body = json_bytes({"code": spec.PG_CODE_OK, "data": query_data(order)})
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        signed_url = self._signed_url(url, target)

        def headers() -> Mapping[str, str]:
            creds = self._state.config.pg
            auth = pg_authorization(
                app_id=creds.app_id,
                app_secret=creds.app_secret,
                method="POST",
                url=signed_url,
                body=body,
                wall=self._state.clock.wall,
            )
            return {"Content-Type": spec.PG_CONTENT_TYPE, "Authorization": auth.header()}

        return CallbackMessage(
            provider=self.provider,
            merchant_no=order.merchant_no,
            url=url,
            body=body,
            headers_for=headers,
            acknowledged=_acknowledged,
            retry_delays_s=config.callbacks.retry_delays_s,
            timeout_s=config.callbacks.timeout_s,
        )

    def _refuse_unsigned(self, request: HttpRequest) -> HttpResponse | None:
        """A 4xx answer when the request is not validly signed or not JSON; None when fine."""
        if not self._signature_ok(request):
            return _plain_error(
                spec.PG_HTTP_UNAUTHORIZED, spec.PG_CODE_UNAUTHORIZED, "invalid signature"
            )
        if not self._state.config.pg_require_json_headers:
            return None
        if not (request.header("Content-Type") or "").startswith(spec.PG_CONTENT_TYPE):
            return _plain_error(
                spec.PG_HTTP_UNSUPPORTED_MEDIA_TYPE, "Unsupported_Media_Type", "send JSON"
            )
        if spec.PG_CONTENT_TYPE not in (request.header("Accept") or ""):
            return _plain_error(spec.PG_HTTP_NOT_ACCEPTABLE, "Not_Acceptable", "accept JSON")
        return None

    def _signature_ok(self, request: HttpRequest) -> bool:
        auth = parse_pg_authorization(request.header("Authorization"))
        creds = self._state.config.pg
        return auth is not None and pg_signature_ok(
            auth,
            app_id=creds.app_id,
            app_secret=creds.app_secret,
            method=request.method,
            url=self._signed_url(request.url, request.path),
            body=request.body,
        )

    def _signed_url(self, full_url: str, path: str) -> str:
        return full_url if self._state.config.pg_sign_url == "full" else path

    def _answer(
        self,
        request: HttpRequest,
        code: str,
        message: str | None,
        data: Mapping[str, object] | None = None,
    ) -> HttpResponse:
        """A 200 answer signed like the platform signs its answers: the request's method and
        URL, a new timestamp and nonce, and the answer's own bytes."""
        body = json_bytes({"code": code, "errorMessage": message, "data": data})
        creds = self._state.config.pg
        url = self._signed_url(request.url, request.path)
        auth = pg_authorization(
            app_id=creds.app_id,
            app_secret=creds.app_secret,
            method=request.method,
            url=url,
            body=body,
            wall=self._state.clock.wall,
        )
        return HttpResponse(200, body, spec.PG_CONTENT_TYPE, (("Authorization", auth.header()),))


def pg_status(order: SandboxOrder) -> str:
    """``order``'s state in pg_v2's words."""
    match order.state:
        case PayoutState.PENDING:
            return spec.PG_STATUS_PROCESSING
        case PayoutState.PAID:
            return spec.PG_STATUS_PAID
        case PayoutState.FAILED | PayoutState.CANCELLED:
            return spec.PG_STATUS_FAILED
        case PayoutState.REVERSED:
            return spec.PG_STATUS_REVERSED


def query_data(order: SandboxOrder) -> dict[str, object]:
    """The query answer's (and callback's) ``data`` for ``order``."""
    paid = order.state in (PayoutState.PAID, PayoutState.REVERSED)
    error_code, error_info = spec.PG_ERROR_CODES.get(order.state, (None, None))
    return {
        "payoutNo": order.provider_order_id,
        "merchantTradeNo": order.merchant_no,
        "amount": to_decimal_string(order.amount_minor, order.currency),
        "currency": order.currency,
        "totalFee": to_decimal_string(charged_fee(order), order.currency),
        "status": pg_status(order),
        "rrn": f"{order.sequence:012d}" if paid else None,
        "merchantAttach": order.merchant_attach,
        "createdTime": spec.pg_time(order.created_at),
        "paidTime": spec.pg_time(order.settled_at) if paid and order.settled_at else None,
        "errorCode": error_code,
        "errorInfo": error_info,
    }


def _parse_create(payload: Mapping[str, object]) -> _Create | str:
    """The create's fields, or the first thing wrong with them (a definitive failure)."""
    for check in _CREATE_CHECKS:
        problem = check(payload)
        if problem is not None:
            return problem
    method = _method(payload)
    method_type = str(method["type"])
    currency = spec.PG_METHOD_CURRENCIES[method_type]
    notify_url = payload.get("notifyUrl")
    attach = payload.get("merchantAttach")
    return _Create(
        merchant_no=str(payload["merchantTradeNo"]),
        amount_minor=_amount_minor(payload["amount"], currency) or 0,
        currency=currency,
        method=method_type,
        notify_url=notify_url if isinstance(notify_url, str) and notify_url else None,
        merchant_attach=attach if isinstance(attach, str) else None,
    )


def _method(payload: Mapping[str, object]) -> Mapping[str, object]:
    method = payload.get("payoutMethod")
    return method if isinstance(method, dict) else {}


def _check_required(payload: Mapping[str, object]) -> str | None:
    missing = [name for name in spec.PG_REQUIRED_FIELDS if payload.get(name) in (None, "")]
    return f"missing field: {', '.join(missing)}" if missing else None


def _check_method(payload: Mapping[str, object]) -> str | None:
    if not isinstance(payload["payoutMethod"], dict):
        return "payoutMethod must be an object"
    method = _method(payload)
    method_type = method.get("type")
    if not isinstance(method_type, str) or method_type not in spec.PG_METHOD_CURRENCIES:
        return f"payoutMethod.type must be one of {sorted(spec.PG_METHOD_CURRENCIES)}"
    absent = [name for name in spec.PG_METHOD_REQUIRED[method_type] if not method.get(name)]
    if absent:
        return f"{method_type} needs payoutMethod fields: {', '.join(absent)}"
    return _too_long(method)


def _check_currency(payload: Mapping[str, object]) -> str | None:
    method_type = str(_method(payload)["type"])
    expected = spec.PG_METHOD_CURRENCIES[method_type]
    currency = payload["currency"]
    return None if currency == expected else f"{method_type} pays in {expected}, not {currency}"


def _check_amount(payload: Mapping[str, object]) -> str | None:
    currency = str(payload["currency"])
    if _amount_minor(payload["amount"], currency) is not None:
        return None
    return "amount must be a positive decimal string with exactly 2 decimals, e.g. 100.05"


def _too_long(fields: Mapping[str, object]) -> str | None:
    for name, limit in spec.PG_MAX_LENGTHS.items():
        value = fields.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{name} must be a string"
        if len(value) > limit:
            return f"{name} is longer than {limit} characters"
    return None


# In order: each check may rely on the ones before it.
_CREATE_CHECKS: Final[tuple[Callable[[Mapping[str, object]], str | None], ...]] = (
    _check_required,
    _too_long,
    _check_method,
    _check_currency,
    _check_amount,
)


def _amount_minor(value: object, currency: str) -> int | None:
    if not isinstance(value, str) or not spec.PG_AMOUNT_PATTERN.match(value):
        return None
    try:
        minor = from_decimal_string(value, currency)
    except MoneyError:
        return None
    return minor if minor > 0 else None


def _acknowledged(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        payload = response.json()
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("code") == spec.PG_CALLBACK_ACK_CODE


def _plain_error(status: int, code: str, message: str) -> HttpResponse:
    # ASSUMPTION: 4xx answers carry the usual envelope and are not signed.
    body = json_bytes({"code": code, "errorMessage": message, "data": None})
    return HttpResponse(status, body, spec.PG_CONTENT_TYPE)
