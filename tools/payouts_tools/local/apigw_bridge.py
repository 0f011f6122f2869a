"""API Gateway (REST API, Lambda proxy integration) in front of a real handler, on loopback.

``ApiGatewayBridge(handler)`` listens on ``127.0.0.1`` (port 0 unless given) and turns each HTTP
request under ``/<stage>/`` into the proxy event API Gateway would send, calls the handler, and
writes its proxy answer back. Bodies are passed base64-encoded, as the deployed API does with
``BinaryMediaTypes: ["*/*"]``, so the handler sees the exact bytes. ``proxy_event`` builds the same
events for sample files and tests.

Deliberately small: one resource template per route, no authorizers, no throttling, no stage
variables. Unknown paths get API Gateway's own 403 ``Missing Authentication Token``. Connections
are kept alive between requests (HTTP/1.1) and closed when idle, as API Gateway does, so a
client's pool meets reuse and connections closed under it (``payouts_tools.keep_alive``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from payouts_tools.keep_alive import (
    DEFAULT_IDLE_TIMEOUT_S,
    HOP_BY_HOP_HEADERS,
    KeepAliveRequestHandler,
)
from payouts_tools.local.connection_threads import ConnectionThreads, KeepsConnectionThreads
from payouts_tools.local.lambda_runtime import Handler, LocalLambdaContext

_log = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"
DEFAULT_RESOURCES: Final = ("/callbacks/{provider}",)
_PARAMETER: Final = re.compile(r"\{([A-Za-z0-9_]+)\}")
_ACCOUNT_ID: Final = "123456789012"
_API_ID: Final = "localapi01"
# How long stop() lets requests in flight (a handler still running) finish before their
# connections are cut.
_CONNECTION_GRACE_S: Final = 30.0

type ContextFactory = Callable[[], Any]
"""Makes the Lambda context object for one invocation."""


def proxy_event(
    *,
    method: str,
    path: str,
    resource: str,
    path_parameters: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    stage: str,
    domain_name: str,
    source_ip: str,
    query: str = "",
    base64_body: bool = True,
    request_id: str | None = None,
    epoch_ms: int | None = None,
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for one request to ``path``.

    ``path`` is the resource path without the stage (``/callbacks/pg_v2``), as API Gateway puts
    it in ``path``; ``requestContext.path`` carries the stage, as on the execute-api domain.
    """
    request_id = request_id or str(uuid.uuid4())
    epoch_ms = time.time_ns() // 1_000_000 if epoch_ms is None else epoch_ms
    pairs = parse_qsl(query, keep_blank_values=True)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(pairs) or None,
        "multiValueQueryStringParameters": _multi(pairs) or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": _ACCOUNT_ID,
            "apiId": domain_name.split(".", 1)[0] if "." in domain_name else _API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": epoch_ms,
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def match_resource(path: str, resources: Sequence[str]) -> tuple[str, dict[str, str]] | None:
    """The resource template ``path`` falls under and its (decoded) path parameters, or None."""
    segments = path.strip("/").split("/")
    for resource in resources:
        parameters = _match_segments(resource.strip("/").split("/"), segments)
        if parameters is not None:
            return resource, parameters
    return None


def _match_segments(template: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    parameters: dict[str, str] = {}
    for expected, given in zip(template, segments, strict=True):
        name = _PARAMETER.fullmatch(expected)
        if name is not None and given:
            parameters[name[1]] = unquote(given)
        elif expected != given:
            return None
    return parameters


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


class ApiGatewayBridge:
    """A loopback HTTP server playing API Gateway for one Lambda handler.

    ``base_url`` is ``http://127.0.0.1:<port>/<stage>``: what the stack's ``CallbackBaseUrl``
    output is on AWS.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        stage: str = "local",
        resources: Sequence[str] = DEFAULT_RESOURCES,
        port: int = 0,
        context_factory: ContextFactory | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self._handler = handler
        self._idle_timeout_s = idle_timeout_s
        self._stage = stage
        self._resources = tuple(resources)
        self._context_factory = context_factory or (lambda: LocalLambdaContext("callback"))
        self._server = _BridgeServer(port, self._request_handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # Short, so stop() returns promptly: the poll interval is how long shutdown() waits.
            kwargs={"poll_interval": 0.05},
            name="apigw-bridge",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/<stage>``."""
        return f"http://{LOOPBACK}:{self._server.server_port}/{self._stage}"

    @property
    def accepted_connections(self) -> int:
        """TCP connections accepted so far (a client reuses a kept-alive one for many calls)."""
        return self._server.connections.accepted

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release the port and wait for every connection thread (a handler still
        running finishes first; connections a client left open are cut)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        left = self._server.connections.close(_CONNECTION_GRACE_S)
        if left:
            _log.warning("the bridge's connection threads %s outlived it", left)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def invoke(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        """One request through the bridge: status, headers and body of the handler's answer."""
        parts = urlsplit(target)
        prefix = f"/{self._stage}"
        path = parts.path[len(prefix) :] if parts.path.startswith(prefix + "/") else None
        matched = match_resource(path, self._resources) if path is not None else None
        if path is None or matched is None:
            return _missing_token()
        resource, parameters = matched
        host = headers.get("Host") or f"{LOOPBACK}:{self._server.server_port}"
        event = proxy_event(
            method=method,
            path=path,
            resource=resource,
            path_parameters=parameters,
            headers={**headers, "X-Forwarded-Proto": "http", "X-Forwarded-For": source_ip},
            body=body,
            stage=self._stage,
            domain_name=host,
            source_ip=source_ip,
            query=parts.query,
        )
        try:
            answer = self._handler(event, self._context_factory())
        except Exception:  # noqa: BLE001 - a crashed function is API Gateway's 502, as on AWS
            _log.exception("the handler behind the bridge failed")
            return _bad_gateway()
        return _proxy_answer(answer)

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        bridge = self

        class _Handler(KeepAliveRequestHandler):
            def idle_timeout_s(self) -> float:
                return bridge._idle_timeout_s

            def do_POST(self) -> None:
                self._forward()

            def do_GET(self) -> None:
                self._forward()

            def do_PUT(self) -> None:
                self._forward()

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = bridge.invoke(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    body,
                    self.client_address[0],
                )
                self.send_response(status)
                for name, value in headers.items():
                    # The connection's own headers are the server's to write, exactly once.
                    if name.lower() not in HOP_BY_HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                # Quiet: tests and the local stack log what matters themselves.
                del format, args

        return _Handler


class _BridgeServer(KeepsConnectionThreads, ThreadingHTTPServer):
    """``ThreadingHTTPServer`` on loopback whose connection threads and open connections are
    kept for ``stop`` (a plain one never joins its daemon threads: they outlived the bridge)."""

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections = ConnectionThreads("apigw-bridge-request")
        super().__init__((LOOPBACK, port), handler)


def _proxy_answer(answer: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """A Lambda proxy answer as HTTP: single and multi-value headers merged, body decoded."""
    headers = {str(name): str(value) for name, value in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(value) for value in values)
    raw = answer.get("body") or ""
    body = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode("utf-8")
    return int(answer.get("statusCode", 502)), headers, body


def _bad_gateway() -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": "Internal server error"}).encode()
    return HTTPStatus.BAD_GATEWAY, {"Content-Type": "application/json"}, body


def _missing_token() -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": "Missing Authentication Token"}).encode()
    return HTTPStatus.FORBIDDEN, {"Content-Type": "application/json"}, body
