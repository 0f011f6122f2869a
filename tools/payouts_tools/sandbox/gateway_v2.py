"""gateway_v2 as its documents describe it: signed create, token query, balance, signed
callbacks. Every undocumented choice comes from ``assumptions``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

import httpx

from payouts_tools.sandbox import assumptions as spec
from payouts_tools.sandbox.callbacks import CallbackMessage
from payouts_tools.sandbox.config import Provider
from payouts_tools.sandbox.signing import GatewaySignType, gateway_sign, gateway_signature_ok
from payouts_tools.sandbox.state import (
    NewOrder,
    PayoutState,
    SandboxOrder,
    SandboxState,
    charged_fee,
)
from payouts_tools.sandbox.wire import (
    HttpRequest,
    HttpResponse,
    json_bytes,
    json_response,
    parse_json_object,
)

PREFIX: Final = "/gateway/api/v2"
CREATE_PATH: Final = f"{PREFIX}/payouts"
BALANCE_PATH: Final = f"{PREFIX}/platforms/balance"
QUERY_PATH: Final = re.compile(rf"^{PREFIX}/payouts/(?P<cl_id>[^/]+)$")

_DIGITS: Final = re.compile(rf"^[0-9]{{1,{spec.GATEWAY_MAX_INTEGER_DIGITS}}}$")
_ANSWER_SIGN_TYPE: Final = GatewaySignType(spec.GATEWAY_ANSWER_SIGN_TYPE)


@dataclass(frozen=True)
class _Create:
    payout_cl_id: str
    amount_minor: int
    method: str
    notify_url: str | None


class GatewayApi:
    """The gateway_v2 endpoints over the sandbox's state."""

    provider: Final = Provider.GATEWAY_V2

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    @staticmethod
    def merchant_no_of_create(request: HttpRequest) -> str | None:
        """The payout_cl_id a create is for, if readable (fault targeting)."""
        params = parse_json_object(request.body) or {}
        cl_id = params.get("payout_cl_id")
        return cl_id if isinstance(cl_id, str) else None

    def create(self, request: HttpRequest) -> HttpResponse:
        """``POST /gateway/api/v2/payouts``."""
        params = parse_json_object(request.body)
        if params is None:
            return _error(spec.GATEWAY_CODE_BAD_PARAMETER, "request body must be a JSON object")
        config = self._state.config
        if params.get("platform_id") != config.gateway.platform_id:
            return _error(spec.GATEWAY_CODE_UNKNOWN_PLATFORM, "unknown platform_id")
        if not gateway_signature_ok(params, config.gateway.signing_key):
            return _error(spec.GATEWAY_CODE_BAD_SIGNATURE, spec.GATEWAY_MESSAGE_BAD_SIGNATURE)
        parsed = _parse_create(params)
        if isinstance(parsed, str):
            return _error(spec.GATEWAY_CODE_BAD_PARAMETER, parsed)
        new = NewOrder(
            provider=self.provider,
            merchant_no=parsed.payout_cl_id,
            amount_minor=parsed.amount_minor,
            currency=spec.GATEWAY_CURRENCY,
            method=parsed.method,
            notify_url=parsed.notify_url,
        )
        order, _ = self._state.open_order(
            new,
            dedupe=config.gateway_dedupe,
            make_id=lambda sequence, _now: spec.gateway_payout_id(sequence),
        )
        return _ok({"payout_id": order.provider_order_id})

    def query(self, request: HttpRequest, payout_cl_id: str) -> HttpResponse:
        """``GET /gateway/api/v2/payouts/{payout_cl_id}`` with the query token."""
        if not self._token_ok(request):
            return _error(spec.GATEWAY_CODE_BAD_AUTHORIZATION, "invalid Authorization")
        orders = self._state.observe_query(self.provider, unquote(payout_cl_id))
        if not orders:
            return _error(spec.GATEWAY_CODE_NOT_FOUND, "order not found")
        shown = orders[0] if spec.GATEWAY_QUERY_SHOWS_FIRST_ORDER else orders[-1]
        data = self._query_data(shown)
        key = self._state.config.gateway.signing_key
        if self._state.config.gateway_query_sign_location == "answer":
            return _signed_answer(data, key)
        data["sign"] = gateway_sign(data, key, _ANSWER_SIGN_TYPE)
        return _ok(data)

    def balance(self, request: HttpRequest) -> HttpResponse:
        """``GET /gateway/api/v2/platforms/balance`` with the query token."""
        if not self._token_ok(request):
            return _error(spec.GATEWAY_CODE_BAD_AUTHORIZATION, "invalid Authorization")
        (balance,) = self._state.balances(self.provider, [spec.GATEWAY_CURRENCY])
        return _ok(
            {
                "total_balance": balance.remaining_minor,
                "total_frozen_balance": balance.pending_minor,
            }
        )

    def callback_for(self, order: SandboxOrder) -> CallbackMessage | None:
        """The callback reporting ``order``'s new state, or None when there is nowhere to send
        it or it is not reported."""
        if not order.notify_url:
            return None
        if order.state is PayoutState.REVERSED and not spec.GATEWAY_CALLBACK_ON_REVERSAL:
            return None
        config = self._state.config
        fields: dict[str, object] = {
            "payout_id": order.provider_order_id,
            "payout_cl_id": order.merchant_no,
            "platform_id": config.gateway.platform_id,
            "amount": order.amount_minor,
            "fee": charged_fee(order),
            "status": gateway_status(order),
            "error_msg": spec.GATEWAY_ERROR_MESSAGES.get(order.state, ""),
            "real_amount": spec.gateway_real_amount(order.amount_minor, charged_fee(order)),
            "create_time": spec.gateway_time(order.created_at),
            "update_time": spec.gateway_time(order.updated_at),
            "sign_type": spec.GATEWAY_ANSWER_SIGN_TYPE,
        }
        fields["sign"] = gateway_sign(fields, config.gateway.signing_key, _ANSWER_SIGN_TYPE)
        return CallbackMessage(
            provider=self.provider,
            merchant_no=order.merchant_no,
            url=order.notify_url,
            body=json_bytes(fields),
            headers_for=lambda: {"Content-Type": spec.GATEWAY_CONTENT_TYPE},
            acknowledged=_acknowledged,
            retry_delays_s=config.callbacks.retry_delays_s,
            timeout_s=config.callbacks.timeout_s,
        )

    def _token_ok(self, request: HttpRequest) -> bool:
        # DOCUMENTED: the bare token, no "Bearer" prefix.
        given = request.header("Authorization") or ""
        expected = self._state.config.gateway.query_token
        return given.encode() == expected.encode()

    @staticmethod
    def _query_data(order: SandboxOrder) -> dict[str, object]:
        paid = order.state in (PayoutState.PAID, PayoutState.REVERSED)
        return {
            "payout_id": order.provider_order_id,
            "payout_cl_id": order.merchant_no,
            "amount": order.amount_minor,
            "fee": charged_fee(order),
            "status": gateway_status(order),
            "error_msg": spec.GATEWAY_ERROR_MESSAGES.get(order.state, ""),
            "create_time": spec.gateway_time(order.created_at),
            "success_time": spec.gateway_time(order.settled_at)
            if paid and order.settled_at is not None
            else None,
        }


def gateway_status(order: SandboxOrder) -> int:
    """``order``'s state as gateway_v2's numeric status."""
    match order.state:
        case PayoutState.PENDING:
            early = order.queries <= spec.GATEWAY_QUERIES_BEFORE_PROCESSING
            return spec.GATEWAY_STATUS_PENDING if early else spec.GATEWAY_STATUS_PROCESSING
        case PayoutState.PAID:
            return spec.GATEWAY_STATUS_SUCCESS
        case PayoutState.FAILED:
            return spec.GATEWAY_STATUS_FAILED
        case PayoutState.CANCELLED:
            return spec.GATEWAY_STATUS_CANCELLED
        case PayoutState.REVERSED:
            return spec.GATEWAY_STATUS_REVERSED


def _parse_create(params: Mapping[str, object]) -> _Create | str:
    """The create's fields, or the first thing wrong with them."""
    for check in _CREATE_CHECKS:
        problem = check(params)
        if problem is not None:
            return problem
    service_id = str(params["service_id"])
    notify_url = params.get("notify_url")
    return _Create(
        payout_cl_id=str(params["payout_cl_id"]),
        amount_minor=_integer(params["amount"]) or 0,
        method=spec.GATEWAY_SERVICE_METHODS[service_id],
        notify_url=notify_url if isinstance(notify_url, str) and notify_url else None,
    )


def _check_service(params: Mapping[str, object]) -> str | None:
    if params.get("service_id") in spec.GATEWAY_SERVICE_METHODS:
        return None
    return f"service_id must be one of {sorted(spec.GATEWAY_SERVICE_METHODS)}"


def _required_for(params: Mapping[str, object]) -> tuple[str, ...]:
    service_id = str(params["service_id"])
    return spec.GATEWAY_REQUIRED_FIELDS + spec.GATEWAY_REQUIRED_BY_SERVICE[service_id]


def _check_required(params: Mapping[str, object]) -> str | None:
    missing = [name for name in _required_for(params) if params.get(name) in (None, "")]
    return f"missing parameter: {', '.join(missing)}" if missing else None


def _check_cl_id(params: Mapping[str, object]) -> str | None:
    cl_id, limit = params["payout_cl_id"], spec.GATEWAY_MAX_CL_ID_LENGTH
    if isinstance(cl_id, str) and len(cl_id) <= limit:
        return None
    return f"payout_cl_id must be a string of at most {limit} characters"


def _check_amount(params: Mapping[str, object]) -> str | None:
    amount = _integer(params["amount"])
    if amount is not None and amount > 0:
        return None
    return "amount must be a positive integer number of cents"


def _check_request_time(params: Mapping[str, object]) -> str | None:
    return (
        None
        if _integer(params["request_time"]) is not None
        else "request_time must be unix seconds"
    )


def _check_strings(params: Mapping[str, object]) -> str | None:
    limits: dict[str, int | None] = {
        name: None for name in _required_for(params) if name not in _INTEGER_FIELDS
    }
    limits["notify_url"] = spec.GATEWAY_MAX_NOTIFY_URL_LENGTH
    for name, limit in limits.items():
        value = params.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{name} must be a string"
        if limit is not None and len(value) > limit:
            return f"{name} is longer than {limit} characters"
    return None


_INTEGER_FIELDS: Final = frozenset({"amount", "request_time"})
# In order: each check may rely on the ones before it.
_CREATE_CHECKS: Final[tuple[Callable[[Mapping[str, object]], str | None], ...]] = (
    _check_service,
    _check_required,
    _check_strings,
    _check_cl_id,
    _check_amount,
    _check_request_time,
)


def _integer(value: object) -> int | None:
    """An Integer(10) field: a JSON integer, or (as the seed's example sends it) digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if len(str(abs(value))) <= spec.GATEWAY_MAX_INTEGER_DIGITS else None
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return None


def _acknowledged(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        return bool(response.json() == spec.GATEWAY_CALLBACK_ACK)
    except ValueError:
        return False


def _ok(data: Mapping[str, object]) -> HttpResponse:
    return json_response(
        {"error_code": spec.GATEWAY_CODE_OK, "data": dict(data)},
        status=spec.GATEWAY_HTTP_STATUS,
        content_type=spec.GATEWAY_CONTENT_TYPE,
    )


def _signed_answer(data: Mapping[str, object], key: str) -> HttpResponse:
    """An OK answer signed at the top, over ``error_code``, ``data`` (compact JSON) and
    ``sign_type`` being unsigned, as the ``gateway_query_sign_location="answer"`` option says."""
    document: dict[str, object] = {
        "error_code": spec.GATEWAY_CODE_OK,
        "data": dict(data),
        "sign_type": spec.GATEWAY_ANSWER_SIGN_TYPE,
    }
    document["sign"] = gateway_sign(document, key, _ANSWER_SIGN_TYPE)
    return json_response(
        document, status=spec.GATEWAY_HTTP_STATUS, content_type=spec.GATEWAY_CONTENT_TYPE
    )


def _error(code: str, message: str) -> HttpResponse:
    return json_response(
        {"error_code": code, "error_msg": message},
        status=spec.GATEWAY_HTTP_STATUS,
        content_type=spec.GATEWAY_CONTENT_TYPE,
    )
