"""The loopback API Gateway stand-in: the proxy events it makes and the answers it writes."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from payouts_tools.local.apigw_bridge import ApiGatewayBridge, match_resource

BINARY_BODY = b'{"name":"\xe6\x9d\x8e"}\xff'  # the exact bytes must survive, valid UTF-8 or not


class Recorder:
    """A Lambda handler that remembers its events and answers as told."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.aws_request_id
        self.events.append(event)
        return self.answer


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(
        {
            "statusCode": 202,
            "multiValueHeaders": {"Content-Type": ["application/json"]},
            "body": '{"code":"OK"}',
            "isBase64Encoded": False,
        }
    )


@pytest.fixture
def bridge(recorder: Recorder) -> Iterator[ApiGatewayBridge]:
    with ApiGatewayBridge(recorder, stage="dev") as running:
        yield running


def test_a_request_becomes_a_rest_proxy_event_with_the_exact_body(
    bridge: ApiGatewayBridge, recorder: Recorder
) -> None:
    response = httpx.post(
        f"{bridge.base_url}/callbacks/pg_v2?retry=2",
        content=BINARY_BODY,
        headers={"Content-Type": "application/json", "Authorization": "V2_SHA256 x"},
        trust_env=False,
    )

    [event] = recorder.events
    assert (response.status_code, response.content) == (202, b'{"code":"OK"}')
    assert response.headers["content-type"] == "application/json"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == BINARY_BODY
    assert (event["httpMethod"], event["path"], event["resource"]) == (
        "POST",
        "/callbacks/pg_v2",
        "/callbacks/{provider}",
    )
    assert event["pathParameters"] == {"provider": "pg_v2"}
    assert event["queryStringParameters"] == {"retry": "2"}
    assert event["headers"]["Authorization"] == "V2_SHA256 x"
    context = event["requestContext"]
    assert (context["stage"], context["path"]) == ("dev", "/dev/callbacks/pg_v2")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["domainName"] == bridge.base_url.removeprefix("http://").removesuffix("/dev")


def test_a_path_outside_the_stage_or_the_resources_never_reaches_the_handler(
    bridge: ApiGatewayBridge, recorder: Recorder
) -> None:
    root = bridge.base_url.removesuffix("/dev")
    for url in [
        f"{root}/callbacks/pg_v2",
        f"{bridge.base_url}/elsewhere",
        f"{bridge.base_url}/callbacks/",
    ]:
        response = httpx.post(url, content=b"{}", trust_env=False)

        assert response.status_code == 403, url
        assert response.json() == {"message": "Missing Authentication Token"}
    assert recorder.events == []


def test_a_base64_answer_is_decoded(bridge: ApiGatewayBridge, recorder: Recorder) -> None:
    recorder.answer = {
        "statusCode": 200,
        "headers": {"Content-Type": "application/octet-stream"},
        "body": base64.b64encode(BINARY_BODY).decode(),
        "isBase64Encoded": True,
    }

    response = httpx.post(f"{bridge.base_url}/callbacks/gateway_v2", content=b"{}", trust_env=False)

    assert response.content == BINARY_BODY


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/callbacks/gateway_v2", ("/callbacks/{provider}", {"provider": "gateway_v2"})),
        ("/callbacks/pg%5Fv2/", ("/callbacks/{provider}", {"provider": "pg_v2"})),
        ("/callbacks", None),
        ("/callbacks/a/b", None),
        ("/other/pg_v2", None),
    ],
)
def test_resources_match_whole_segments(
    path: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert match_resource(path, ["/callbacks/{provider}"]) == expected


def test_a_handler_that_crashes_is_a_502_like_api_gateways() -> None:
    def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("function error")

    with ApiGatewayBridge(crash, stage="dev") as crashing:
        response = httpx.post(
            f"{crashing.base_url}/callbacks/pg_v2", content=b"{}", trust_env=False
        )

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_calls_over_one_client_share_one_kept_alive_connection(
    bridge: ApiGatewayBridge, recorder: Recorder
) -> None:
    with httpx.Client(trust_env=False) as client:
        answers = [
            client.post(f"{bridge.base_url}/callbacks/pg_v2", content=b"{}") for _ in range(3)
        ]

    assert [(answer.status_code, answer.content) for answer in answers] == [
        (202, b'{"code":"OK"}')
    ] * 3
    assert len(recorder.events) == 3
    assert bridge.accepted_connections == 1


def test_an_idle_connection_is_closed_and_the_next_call_opens_a_new_one(
    recorder: Recorder,
) -> None:
    with (
        ApiGatewayBridge(recorder, stage="dev", idle_timeout_s=0.2) as bridge,
        httpx.Client(trust_env=False) as client,
    ):
        first = client.post(f"{bridge.base_url}/callbacks/pg_v2", content=b"{}")
        time.sleep(0.8)  # the bridge closes the pooled connection meanwhile
        second = client.post(f"{bridge.base_url}/callbacks/pg_v2", content=b"{}")

        assert (first.status_code, second.status_code) == (202, 202)
        assert bridge.accepted_connections == 2


def test_the_handlers_connection_headers_never_reach_the_wire(bridge: ApiGatewayBridge) -> None:
    # A handler that sets its own Content-Length or Connection must not break the framing.
    bridge_answer = {
        "statusCode": 200,
        "headers": {"Content-Length": "999", "Connection": "close", "X-Kept": "yes"},
        "body": "ok",
    }
    with ApiGatewayBridge(lambda event, context: bridge_answer, stage="dev") as own:
        with httpx.Client(trust_env=False) as client:
            answers = [client.post(f"{own.base_url}/callbacks/pg_v2") for _ in range(2)]

        assert [(answer.content, answer.headers["x-kept"]) for answer in answers] == [
            (b"ok", "yes")
        ] * 2
        assert [answer.headers["content-length"] for answer in answers] == ["2", "2"]
        assert own.accepted_connections == 1
