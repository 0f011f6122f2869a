"""The local stack's HTTP servers (moto's, the API Gateway bridge) leave no connection thread
behind when they stop: one slow to end after its answer or still answering is waited for, one
waiting on a connection that sends nothing is cut loose, one that will not end is named after a
bounded wait."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from payouts_tools.local.apigw_bridge import ApiGatewayBridge
from payouts_tools.local.connection_threads import ConnectionThreads
from payouts_tools.local.embedded_aws import EmbeddedAws

pytestmark = pytest.mark.e2e


@pytest.fixture
def no_new_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert [thread.name for thread in set(threading.enumerate()) - before] == []


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.port is not None
    return socket.create_connection(("127.0.0.1", parts.port), timeout=10)


def _read_to_eof(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


@pytest.mark.usefixtures("no_new_threads")
def test_the_embedded_aws_waits_for_the_thread_that_answered_its_last_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As a starved thread on a busy machine: the answer is out, the thread not yet ended (the
    # last request is stop()'s own POST to /moto-api/config).
    close = socketserver.TCPServer.shutdown_request

    def slow_close(server: socketserver.TCPServer, request: Any) -> None:
        time.sleep(0.5)
        close(server, request)

    aws = EmbeddedAws().start()
    monkeypatch.setattr(socketserver.TCPServer, "shutdown_request", slow_close)

    aws.stop()


@pytest.mark.usefixtures("no_new_threads")
def test_the_embedded_aws_cuts_a_connection_that_never_sends_a_request() -> None:
    aws = EmbeddedAws().start()
    connection = _connect(aws.endpoint_url)
    try:
        # Answered, so the server has surely accepted the idle connection by now.
        with _connect(aws.endpoint_url) as other:
            other.sendall(b"GET /moto-api/data.json HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_to_eof(other).startswith(b"HTTP/1.1 200")
        started = time.monotonic()

        aws.stop()

        assert time.monotonic() - started < 5
        assert _read_to_eof(connection) == b""
    finally:
        connection.close()
        aws.stop()


def _echo(event: dict[str, Any], context: object) -> dict[str, Any]:
    del context
    return {"statusCode": 200, "body": json.dumps({"path": event["path"]})}


@pytest.mark.usefixtures("no_new_threads")
def test_the_bridge_waits_for_a_request_in_flight_and_answers_it() -> None:
    entered = threading.Event()
    release = threading.Event()

    def slow(event: dict[str, Any], context: object) -> dict[str, Any]:
        entered.set()
        assert release.wait(10)
        return _echo(event, context)

    bridge = ApiGatewayBridge(slow).start()
    connection = _connect(bridge.base_url)
    stopper = threading.Thread(target=bridge.stop)
    try:
        connection.sendall(
            b"POST /local/callbacks/pg_v2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        )
        assert entered.wait(10)
        stopper.start()
        stopper.join(0.3)
        assert stopper.is_alive()  # still waiting for the handler

        release.set()
        answer = _read_to_eof(connection)
        stopper.join(10)

        assert not stopper.is_alive()
        assert answer.startswith(b"HTTP/1.1 200")  # the bridge keeps connections alive
        assert answer.endswith(b'{"path": "/callbacks/pg_v2"}')
    finally:
        release.set()
        connection.close()
        if stopper.is_alive():
            stopper.join()


@pytest.mark.usefixtures("no_new_threads")
def test_the_bridge_cuts_a_connection_that_never_sends_a_request() -> None:
    bridge = ApiGatewayBridge(_echo).start()
    connection = _connect(bridge.base_url)
    try:
        # Answered, so the bridge has surely accepted the idle connection by now.
        with _connect(bridge.base_url) as other:
            other.sendall(b"GET /local/nothing HTTP/1.0\r\n\r\n")
            assert _read_to_eof(other).startswith(b"HTTP/1.1 403")
        started = time.monotonic()

        bridge.stop()

        assert time.monotonic() - started < 5
        assert _read_to_eof(connection) == b""
    finally:
        connection.close()


def test_a_thread_that_will_not_end_is_named_after_the_grace_period() -> None:
    stuck = threading.Event()
    threads = ConnectionThreads("stuck")

    def serve() -> None:
        stuck.wait(10)

    threads.spawn(object(), serve)
    try:
        started = time.monotonic()

        left = threads.close(0.2)

        assert left == ["stuck-1"]
        assert time.monotonic() - started < 5
    finally:
        stuck.set()
    assert threads.close(5) == []
