"""Callback: POST /callbacks/{provider} -> verify, apply, acknowledge (REST API, proxy events)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Final

import boto3
import httpx
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts.domain.order import utc_now
from payouts.observability import MetricUnit, logger, metrics, tracer
from payouts.providers.base import Ack, CallbackMalformed, CallbackRejected, PayoutProvider
from payouts.providers.registry import ProviderFactory
from payouts.services.callbacks import (
    BodyTooLarge,
    CallbackPolicy,
    CallbackRequest,
    ConfirmationUnavailable,
    UnknownOrder,
    UnknownProvider,
    UnsupportedContentType,
    handle_callback,
)
from payouts.settings import CommonSettings, load
from payouts.settings.callbacks import CallbackSettings
from payouts.store import OrderStore
from payouts.store.orders import CLIENT_CONFIG

if TYPE_CHECKING:
    # Powertools' OpenAPI machinery (pydantic models of the whole OpenAPI document) costs about a
    # tenth of a second of every cold start and is used only to generate openapi/callbacks.json:
    # with validation off the resolver never reads these annotations, and payouts_tools.openapi
    # supplies ``Path`` when it renders the document.
    from aws_lambda_powertools.event_handler.openapi.params import Path
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from mypy_boto3_dynamodb import DynamoDBClient

ROUTE: Final = "/callbacks/<provider>"
JSON: Final = "application/json"

# Every refusal and failure, mapped to HTTP here and nowhere else. 5xx makes the provider retry.
HTTP_STATUS_OF: Final[Mapping[type[Exception], HTTPStatus]] = {
    UnknownProvider: HTTPStatus.NOT_FOUND,
    UnknownOrder: HTTPStatus.NOT_FOUND,
    BodyTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedContentType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    CallbackMalformed: HTTPStatus.BAD_REQUEST,
    CallbackRejected: HTTPStatus.UNAUTHORIZED,
    ConfirmationUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}
# Why a signature failed is logged, never told to the caller: it would help a forger.
_UNAUTHORIZED_MESSAGE: Final = "callback signature rejected"
_FAILED_MESSAGE: Final = "callback not processed; retry later"

# No request validation: the only parameter is the provider's name (a plain string, checked by
# the service: 404), and the body must reach the adapter as raw bytes, unparsed, to be verified.
# Enabling it would also document a 422 this endpoint never sends.
app = APIGatewayRestResolver(enable_validation=False)

# ---- the OpenAPI description (openapi/callbacks.json is generated from it) ----------------------

# The providers send some numbers as JSON numbers or as digit strings (gateway_v2's own example).
_INT_OR_TEXT: Final = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_TEXT_OR_NULL: Final = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_MESSAGE: Final = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
_ACK: Final = {
    "oneOf": [
        {
            "title": "GatewayV2Ack",
            "type": "object",
            "properties": {"error_code": {"const": "0000"}},
            "required": ["error_code"],
            "additionalProperties": False,
        },
        {
            "title": "PgV2Ack",
            "type": "object",
            "properties": {"code": {"const": "OK"}},
            "required": ["code"],
            "additionalProperties": False,
        },
    ]
}
ACK_EXAMPLES: Final = {
    "gateway_v2": {"value": {"error_code": "0000"}},
    "pg_v2": {"value": {"code": "OK"}},
}


def _refusal(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {JSON: {"schema": _MESSAGE}}}


RESPONSES: Final[dict[int, OpenAPIResponse]] = {
    200: {
        "description": "Acknowledged with the provider's own exact body, once written.",
        "content": {JSON: {"schema": _ACK, "examples": ACK_EXAMPLES}},
    },
    400: _refusal("Empty or malformed body; `message` says precisely why. Nothing written."),
    401: _refusal("Missing or wrong signature, or signed outside the replay window."),
    404: _refusal("Unknown provider, or no order of ours at this provider. Nothing written."),
    413: _refusal("Body larger than the configured limit. Nothing written."),
    415: _refusal("Content-Type missing or not application/json. Nothing written."),
    500: _refusal("Not processed (store or configuration trouble); the provider retries."),
    503: _refusal(
        "The query confirming an untrusted callback got no answer, or one was just made for "
        "this settled order and status; the provider retries later."
    ),
}
REQUEST_BODY: Final = {
    "required": True,
    "description": (
        "The provider's own callback, verified over its exact bytes before it is read. "
        "gateway_v2 signs the body's fields (`sign`, `sign_type`); pg_v2 may sign with an "
        "`Authorization: V2_SHA256 appId=..,sign=..,timestamp=..,nonce=..` header, whose "
        "timestamp must be within the replay window. Providers may add fields."
    ),
    "content": {
        JSON: {
            "schema": {
                "oneOf": [
                    {
                        "title": "GatewayV2Callback",
                        "type": "object",
                        "required": ["payout_cl_id", "sign"],
                        "properties": {
                            "payout_id": {"type": "string"},
                            "payout_cl_id": {"type": "string", "maxLength": 32},
                            "platform_id": {"type": "string"},
                            "amount": {**_INT_OR_TEXT, "description": "cents"},
                            "fee": _INT_OR_TEXT,
                            "real_amount": _INT_OR_TEXT,
                            "status": {
                                **_INT_OR_TEXT,
                                "description": "1 pending, 2 processing, 3 success, 4 cancelled",
                            },
                            "error_msg": {"type": "string"},
                            "create_time": _INT_OR_TEXT,
                            "update_time": _INT_OR_TEXT,
                            "sign_type": {"enum": ["HMAC-SHA256", "MD5"]},
                            "sign": {"type": "string"},
                        },
                    },
                    {
                        "title": "PgV2Callback",
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "code": {"type": "string"},
                            "data": {
                                "type": "object",
                                "required": ["merchantTradeNo"],
                                "properties": {
                                    "merchantTradeNo": {"type": "string"},
                                    "payoutNo": {"type": "string"},
                                    "status": {"type": "string"},
                                    "amount": {"type": "string", "description": 'e.g. "100.05"'},
                                    "currency": {"type": "string"},
                                    "errorCode": _TEXT_OR_NULL,
                                    "errorInfo": _TEXT_OR_NULL,
                                },
                            },
                        },
                    },
                ]
            }
        }
    },
}


@dataclass(frozen=True)
class Runtime:
    """What one public base URL needs: settings, the adapters' factory and the checks."""

    settings: CallbackSettings
    providers: ProviderFactory
    policy: CallbackPolicy


@functools.lru_cache(maxsize=8)
def runtime(derived_base_url: str) -> Runtime:
    """Settings for callbacks that arrived under ``derived_base_url``, validated once each.

    ``CALLBACK_BASE_URL`` from the environment wins when it is set; otherwise the URL the
    callback arrived at is the notify URL the provider was given (pg_v2 signs it). One entry per
    public base URL, so a request through another domain can never change what others verify.
    """
    settings = load(CallbackSettings, {"CALLBACK_BASE_URL": derived_base_url, **os.environ})
    return Runtime(settings, ProviderFactory(settings), CallbackPolicy.from_settings(settings))


@functools.cache
def store() -> OrderStore:
    """The order store (standard retries for throttling)."""
    client: DynamoDBClient = boto3.client("dynamodb", config=CLIENT_CONFIG)
    return OrderStore(client, load(CommonSettings).orders_table)


@app.post(
    ROUTE,
    summary="A provider reports the result of a payout",
    description=(
        "Verified over the raw body with the provider's own signature scheme before anything "
        "is parsed; applied with conditional writes (duplicates and late callbacks change "
        "nothing); acknowledged with the provider's exact acknowledgement once written. "
        "Callbacks whose signing is not documented (pg_v2) only trigger a query of the order."
    ),
    tags=["callbacks"],
    operation_id="postCallback",
    responses=RESPONSES,
    # Documentation only: the body is never parsed by the resolver (it must be verified raw).
    openapi_extensions={"requestBody": REQUEST_BODY},
)
def post_callback(
    provider: Annotated[str, Path(description="The provider's name: gateway_v2 or pg_v2.")],
) -> Response[str]:
    """Process one provider callback and answer with its acknowledgement."""
    event = app.current_event
    request = CallbackRequest(
        provider=provider,
        raw_body=raw_body(event.raw_event),
        headers=dict(event.headers or {}),
        source_ip=event.request_context.identity.source_ip,
    )
    ack = asyncio.run(process(request, base_url_of(event.raw_event, provider)))
    return Response(status_code=ack.status_code, content_type=ack.content_type, body=ack.body)


async def process(request: CallbackRequest, base_url: str) -> Ack:
    """The use case, with this invocation's HTTP client (for the confirm-by-query path)."""
    current = runtime(base_url)
    async with httpx.AsyncClient(follow_redirects=False) as client:

        def adapter(name: str) -> PayoutProvider | None:
            factory = current.providers
            return factory.build(name, client) if name in factory.names() else None

        return await handle_callback(
            request, providers=adapter, store=store(), policy=current.policy, now=utc_now()
        )


def refused(error: Exception) -> Response[str]:
    """A refusal or a retryable failure, as its HTTP status with a short JSON reason."""
    status = next(HTTP_STATUS_OF[kind] for kind in type(error).__mro__ if kind in HTTP_STATUS_OF)
    message = _UNAUTHORIZED_MESSAGE if status is HTTPStatus.UNAUTHORIZED else str(error)
    return Response(status_code=status, content_type=JSON, body=json.dumps({"message": message}))


def not_routed(error: ServiceError) -> Response[str]:
    """Powertools' own HTTP errors (no such route or method: 404), kept as they are rather than
    caught by ``failed``."""
    metrics.add_metric(name="CallbackNotRouted", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=error.status_code,
        content_type=JSON,
        body=json.dumps({"message": str(error.msg)}),
    )


def failed(error: Exception) -> Response[str]:
    """Anything else (the store, Secrets Manager, a bug): 500, so the provider retries. Nothing
    was acknowledged, and every write made so far was conditional and complete on its own."""
    logger.exception("callback failed", error_type=type(error).__name__)
    metrics.add_metric(name="CallbackFailed", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=HTTPStatus.INTERNAL_SERVER_ERROR,
        content_type=JSON,
        body=json.dumps({"message": _FAILED_MESSAGE}),
    )


# Registered by call, not as decorators: Powertools' decorator is untyped, and mypy (strict) would
# lose the handlers' own signatures.
app.exception_handler(list(HTTP_STATUS_OF))(refused)
app.exception_handler(ServiceError)(not_routed)
app.exception_handler(Exception)(failed)


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The exact bytes the provider sent: ``body``, base64-decoded when API Gateway encoded it."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        metrics.add_metric(name="CallbackMalformed", unit=MetricUnit.Count, value=1)
        raise CallbackMalformed("the body is not valid base64") from None


def base_url_of(event: Mapping[str, Any], provider: str) -> str:
    """The public base URL this callback arrived under: scheme, host and any stage or base
    path before ``/callbacks/<provider>`` (the notify URL given to the provider, minus that)."""
    context = event.get("requestContext") or {}
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    scheme = headers.get("x-forwarded-proto", "https")
    path = str(context.get("path") or event.get("path") or "").rstrip("/")
    route = f"/callbacks/{provider}"
    prefix = path.removesuffix(route) if path.endswith(route) else ""
    return f"{scheme}://{context.get('domainName', 'localhost')}{prefix}"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway proxy event."""
    return app.resolve(event, context)
