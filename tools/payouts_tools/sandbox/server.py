"""The sandbox's HTTP server: stdlib, HTTP/1.1 keep-alive, one thread per connection, faults
applied per call.

The handler does the connection-level misbehaviour (sleeping, dropping, resetting); what a call
means is decided by the application behind the ``Application`` protocol. The ``Listener`` runs
the accept loop and can close the listening socket for a while (connection refusal) and reopen
it on the same port.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any, Final, Protocol

from payouts_tools.keep_alive import DEFAULT_IDLE_TIMEOUT_S, KeepAliveRequestHandler
from payouts_tools.sandbox.config import LOOPBACK, Operation, Provider
from payouts_tools.sandbox.faults import ANSWER_FAULTS, CallSite, Fault, FaultBook, FaultKind
from payouts_tools.sandbox.wire import HttpRequest, HttpResponse

_log = logging.getLogger(__name__)

# A client that connects and then says nothing (or stops half-way through a request) is given up
# on after this long. Between requests on a kept connection, the idle timeout applies instead.
_IDLE_CONNECTION_S: Final = 30.0
# How often the accept loop checks for shutdown: bounds how long stop() and refusal take.
_ACCEPT_POLL_S: Final = 0.02

# What the answer faults send. The 502 is what a reverse proxy in front of a provider sends.
_FAULT_ANSWERS: Final[dict[FaultKind, HttpResponse]] = {
    FaultKind.HTTP_500: HttpResponse(
        500, b'{"message":"Internal Server Error"}', "application/json"
    ),
    FaultKind.HTML_502: HttpResponse(
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body><center>"
        b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        "text/html",
    ),
    FaultKind.BLANK_200: HttpResponse(200, b"", "application/json"),
    FaultKind.MALFORMED_200: HttpResponse(200, b'{"code":"OK","data":{"payout', "application/json"),
}


@dataclass(frozen=True)
class ProviderCall:
    """A provider API call: where it goes (for fault targeting) and how to do it."""

    provider: Provider
    operation: Operation
    merchant_no: str | None
    perform: Callable[[], HttpResponse]


class Application(Protocol):
    """What the server serves."""

    @property
    def fault_book(self) -> FaultBook:
        """The armed faults."""
        ...

    @property
    def default_fault_sleep_s(self) -> float:
        """How long read_timeout / lost_answer hold a connection unless the fault says."""
        ...

    def route(self, request: HttpRequest) -> ProviderCall | HttpResponse:
        """A provider call to perform (faults apply) or a finished answer (admin, 404)."""
        ...

    def pause(self, seconds: float) -> None:
        """Sleep, waking early if the sandbox stops."""
        ...


class SandboxHttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer on loopback whose handler threads are joined on close, and whose open
    connections can be cut so no thread outlives ``stop``."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self, port: int, app: Application, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    ) -> None:
        self.app = app
        self.idle_timeout_s = idle_timeout_s
        # While refusing connections, kept-alive ones are closed after their answer too.
        self.refusing = False
        self._connections: set[socket.socket] = set()
        self._idle: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._accepted = 0
        super().__init__((LOOPBACK, port), SandboxRequestHandler)

    @property
    def accepted_connections(self) -> int:
        """Connections accepted so far: fewer than requests served when clients reuse them."""
        with self._connections_lock:
            return self._accepted

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host name."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def rebind(self) -> None:
        """Open a new listening socket on the same port (after ``socket.close()``)."""
        self.server_address = (LOOPBACK, self.server_port)
        self.socket = socket.socket(self.address_family, self.socket_type)
        self.server_bind()
        self.server_activate()

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Remember the connection, then hand it to a new thread."""
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
                self._accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        """Forget the connection, then close it."""
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """Shut every open connection down so blocked handler threads return."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)

    def mark_idle(self, connection: socket.socket, idle: bool) -> None:
        """Note whether ``connection`` is kept alive waiting for a further request; while
        refusing, one that starts waiting is closed at once."""
        with self._connections_lock:
            if not idle:
                self._idle.discard(connection)
            elif self.refusing:
                _shut(connection)
            else:
                self._idle.add(connection)

    def set_refusing(self, refusing: bool) -> None:
        """Start or stop refusing. Starting closes every kept-alive connection waiting between
        requests (a provider gone away: clients' pooled connections fail too, and new ones are
        refused); connections in the middle of a request finish it, then close."""
        with self._connections_lock:
            self.refusing = refusing
            idle = list(self._idle) if refusing else []
        for connection in idle:
            _shut(connection)


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its handler
        connection.shutdown(socket.SHUT_RDWR)


class SandboxRequestHandler(KeepAliveRequestHandler):
    """Reads each request, lets the application route it, applies faults, answers. A fault that
    drops or resets the connection ends it; otherwise the client may send the next request."""

    server: SandboxHttpServer
    server_version = "payouts-sandbox"
    sys_version = ""
    timeout = _IDLE_CONNECTION_S

    def idle_timeout_s(self) -> float:
        """The server's idle timeout (SandboxConfig.idle_timeout_s)."""
        return self.server.idle_timeout_s

    def may_keep_connection(self) -> bool:
        """Not while refusing connections: the next request must find the provider gone."""
        return not self.server.refusing

    def idle_begins(self) -> None:
        """Kept alive between requests: cut when the sandbox starts refusing connections."""
        self.server.mark_idle(self.connection, idle=True)

    def idle_ends(self) -> None:
        """Serving a request again, or closing."""
        self.server.mark_idle(self.connection, idle=False)

    def do_GET(self) -> None:
        """Serve a GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Request lines go to debug logging, not stderr (they carry no secrets)."""
        _log.debug(format, *args)

    def _dispatch(self) -> None:
        request = self._read_request()
        if request is None:
            return
        app = self.server.app
        routed = app.route(request)
        if isinstance(routed, HttpResponse):
            self._send(routed)
        else:
            self._serve_call(app, routed)

    def _serve_call(self, app: Application, call: ProviderCall) -> None:
        plan = app.fault_book.plan(CallSite(call.provider, call.operation, call.merchant_no))
        if plan.latency_s:
            app.pause(plan.latency_s)
        fault = plan.fault
        if fault is None:
            self._send(call.perform())
            return
        kind = fault.kind
        if kind is FaultKind.READ_TIMEOUT:
            app.pause(self._hold_s(app, fault))
            self._drop()
        elif kind is FaultKind.RESET:
            self._reset()
        elif kind in ANSWER_FAULTS and not fault.applied:
            self._send(_FAULT_ANSWERS[kind])
        else:
            answer = call.perform()
            if kind is FaultKind.LOST_ANSWER:
                app.pause(self._hold_s(app, fault))
                self._drop()
            else:
                self._send(_FAULT_ANSWERS.get(kind, answer))

    @staticmethod
    def _hold_s(app: Application, fault: Fault) -> float:
        return app.default_fault_sleep_s if fault.sleep_s is None else fault.sleep_s

    def _read_request(self) -> HttpRequest | None:
        length_header = self.headers.get("Content-Length") or "0"
        if not length_header.isdigit():
            self.send_error(400, "bad Content-Length")
            return None
        length = int(length_header)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{LOOPBACK}:{self.server.server_port}"
        return HttpRequest(
            method=self.command,
            path=self.path,
            url=f"http://{host}{self.path}",
            body=body,
            headers={name.lower(): value for name, value in self.headers.items()},
        )

    def _send(self, response: HttpResponse) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting; there is nobody left to answer.
            self.close_connection = True

    def _drop(self) -> None:
        """Close without a word (FIN): the client sees the server disconnect."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client already went away
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reset(self) -> None:
        """Close with a TCP reset: linger on, zero timeout."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class Listener:
    """Runs the accept loop on its own thread; can refuse connections for a while."""

    def __init__(self, server: SandboxHttpServer, stopping: threading.Event) -> None:
        self._server = server
        self._stopping = stopping
        self._lock = threading.Lock()
        self._serving: threading.Thread | None = None
        self._reopener: threading.Thread | None = None
        self._refusing = False

    @property
    def refusing(self) -> bool:
        """True while the listening socket is closed."""
        with self._lock:
            return self._refusing

    def start(self) -> None:
        """Start accepting."""
        with self._lock:
            self._serve()

    def refuse_for(self, seconds: float) -> None:
        """Close the listening socket now (connections are refused) and reopen it on the same
        port after ``seconds``. Kept-alive connections waiting between requests are closed (a
        client's pool must not bypass the refusal); those in the middle of a request are not."""
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("the sandbox is stopping")
            if self._refusing:
                raise RuntimeError("already refusing connections")
            self._halt()
            self._server.socket.close()
            self._server.set_refusing(True)
            self._refusing = True
            self._reopener = threading.Thread(
                target=self._reopen_after, args=(seconds,), name="sandbox-reopen", daemon=True
            )
            self._reopener.start()

    def stop(self) -> None:
        """Stop accepting for good (the caller has set ``stopping``)."""
        with self._lock:
            self._halt()
            reopener = self._reopener
        if reopener is not None:
            reopener.join()

    def _serve(self) -> None:
        thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _ACCEPT_POLL_S},
            name="sandbox-http",
            daemon=True,
        )
        thread.start()
        self._serving = thread

    def _halt(self) -> None:
        if self._serving is None:
            return
        self._server.shutdown()
        self._serving.join()
        self._serving = None

    def _reopen_after(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            return
        with self._lock:
            if self._stopping.is_set():
                return
            self._server.rebind()
            self._server.set_refusing(False)
            self._serve()
            self._refusing = False
