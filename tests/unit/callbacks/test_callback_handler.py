"""The handler's own parts: raw bytes out of the proxy event, the public base URL a callback
arrived under, errors mapped to HTTP in one table, and a request refused before any AWS call."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest

from payouts.providers.base import CallbackMalformed, CallbackRejected
from payouts.services.callbacks import (
    BodyTooLarge,
    CallbackRefused,
    ConfirmationUnavailable,
    ReplayRejected,
    UnknownOrder,
    UnknownProvider,
    UnsupportedContentType,
)
from payouts_tools.apigw_events import BASE_URL, callback_event, load_event
from tests.support.handlers import load_handler


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("ORDERS_TABLE", "orders-unit")
    monkeypatch.delenv("CALLBACK_BASE_URL", raising=False)
    return load_handler("callback")


class Context:
    function_name = "payouts-callback"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:payouts-callback"
    aws_request_id = "4f1c9a5e-0000-4000-8000-00000000cb02"


def test_a_text_body_is_its_utf8_bytes(handler: ModuleType) -> None:
    assert handler.raw_body({"body": '{"name":"李"}', "isBase64Encoded": False}) == (
        '{"name":"李"}'.encode()
    )


def test_a_base64_body_is_decoded_to_the_exact_bytes(handler: ModuleType) -> None:
    raw = b'{"a":1}\xff\xfe'

    event = {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}

    assert handler.raw_body(event) == raw


@pytest.mark.parametrize("event", [{"body": None}, {}])
def test_no_body_is_empty_bytes(handler: ModuleType, event: dict[str, Any]) -> None:
    assert handler.raw_body(event) == b""


def test_invalid_base64_is_malformed(handler: ModuleType) -> None:
    with pytest.raises(CallbackMalformed, match="base64"):
        handler.raw_body({"body": "%%%", "isBase64Encoded": True})


@pytest.mark.parametrize(
    ("context", "headers", "expected"),
    [
        (
            {
                "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
                "path": "/dev/callbacks/pg_v2",
            },
            {"X-Forwarded-Proto": "https"},
            "https://abc.execute-api.eu-west-1.amazonaws.com/dev",
        ),
        (
            # A custom domain with a base path mapping, no stage in the path.
            {"domainName": "pay.example.com", "path": "/hooks/callbacks/pg_v2"},
            {},
            "https://pay.example.com/hooks",
        ),
        (
            {"domainName": "127.0.0.1:8080", "path": "/local/callbacks/pg_v2/"},
            {"x-forwarded-proto": "http"},
            "http://127.0.0.1:8080/local",
        ),
    ],
)
def test_the_base_url_is_where_the_callback_arrived(
    handler: ModuleType, context: dict[str, str], headers: dict[str, str], expected: str
) -> None:
    event = {"requestContext": context, "headers": headers}

    assert handler.base_url_of(event, "pg_v2") == expected


def test_the_sample_events_arrive_under_the_sample_stacks_base_url(handler: ModuleType) -> None:
    assert handler.base_url_of(load_event("pg_v2-valid"), "pg_v2") == BASE_URL


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnknownProvider("x"), 404),
        (UnknownOrder("x"), 404),
        (BodyTooLarge("x"), 413),
        (UnsupportedContentType("x"), 415),
        (CallbackMalformed("x"), 400),
        (CallbackRejected("x"), 401),
        (ReplayRejected("x"), 401),
        (ConfirmationUnavailable("x"), 503),
    ],
)
def test_each_refusal_has_one_status(handler: ModuleType, error: Exception, status: int) -> None:
    answer = handler.refused(error)

    assert answer.status_code == status
    message = json.loads(answer.body)["message"]
    assert message == ("callback signature rejected" if status == 401 else "x")


def test_every_refusal_the_service_defines_is_mapped(handler: ModuleType) -> None:
    refusals = {UnknownProvider, UnknownOrder, BodyTooLarge, UnsupportedContentType}

    assert set(CallbackRefused.__subclasses__()) == refusals
    assert refusals <= set(handler.HTTP_STATUS_OF)


def test_an_unknown_provider_is_refused_before_any_aws_call(handler: ModuleType) -> None:
    # No moto here: reading a secret or the table would fail loudly.
    event = callback_event("acme_pay", b"{}", {"Content-Type": "application/json"})

    result = handler.lambda_handler(event, Context())

    assert result["statusCode"] == 404


def test_another_method_or_path_is_not_routed(handler: ModuleType) -> None:
    event = callback_event("pg_v2", b"{}", {"Content-Type": "application/json"})
    event["httpMethod"] = "GET"

    result = handler.lambda_handler(event, Context())

    assert result["statusCode"] == 404
