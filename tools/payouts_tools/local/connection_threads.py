"""The per-connection threads of the local stack's HTTP servers, so that stopping a server waits
for them.

``socketserver.ThreadingMixIn`` serves each connection on a thread of its own. With
``daemon_threads`` (werkzeug's server under moto and ``http.server.ThreadingHTTPServer`` both set
it) nothing ever joins those threads: ``shutdown()`` only stops the accept loop, so a thread that
has sent its answer but not yet closed its socket and ended (a starved thread on a busy machine)
outlives the server, and a thread waiting for a request on a connection its client opened but
sends nothing on (or keeps alive between requests) outlives it indefinitely. Without
``daemon_threads``, ``server_close()`` joins them with no bound, which hangs on such a connection.

``ConnectionThreads`` keeps both the threads and their open connections. A server hands
``process_request`` and ``shutdown_request`` to it; after ``shutdown()``, ``close()`` ends what is
left: it shuts the reading side of every open connection (a handler waiting for a request reads
end-of-file and returns; one still answering can finish its answer), joins every thread within a
grace period, then shuts the remaining connections completely and joins once more, briefly. The
threads stay daemons, so one that cannot be ended (stuck in the application) never
holds up the interpreter's exit; ``close()`` names it instead.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final

# After the grace period, connections are cut; threads then get this long to notice.
_AFTER_CUT_S: Final = 1.0


class ConnectionThreads:
    """The connection threads and open connections of one threading server."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._accepted = 0

    @property
    def accepted(self) -> int:
        """Connections handed to a thread so far (kept-alive ones serve many requests each)."""
        with self._lock:
            return self._accepted

    def spawn(self, request: object, serve: Callable[[], None]) -> None:
        """Serve one accepted connection on a new thread (the server's ``process_request``)."""
        thread = threading.Thread(
            target=serve, name=f"{self._name}-{next(self._numbers)}", daemon=True
        )
        with self._lock:
            # Finished threads are forgotten here, so a long-running server keeps no list of
            # thousands of them.
            self._threads = [known for known in self._threads if known.is_alive()]
            self._threads.append(thread)
            self._accepted += 1
            if isinstance(request, socket.socket):
                self._connections.add(request)
            thread.start()

    def forget(self, request: object) -> None:
        """The server is about to close this connection (its ``shutdown_request``). Under the
        lock, so ``close()`` never shuts a socket down while (or after) it is being closed."""
        if isinstance(request, socket.socket):
            with self._lock:
                self._connections.discard(request)

    def close(self, grace_s: float) -> list[str]:
        """End every connection thread (after the server's ``shutdown()``): returns the names of
        those still running after ``grace_s`` plus a short wait after cutting their connections
        (none, normally)."""
        self._cut(socket.SHUT_RD)
        left = self._join(grace_s)
        if left:
            self._cut(socket.SHUT_RDWR)
            left = self._join(_AFTER_CUT_S)
        return [thread.name for thread in left]

    def _cut(self, how: int) -> None:
        with self._lock:
            for connection in self._connections:
                _shut(connection, how)

    def _join(self, timeout_s: float) -> list[threading.Thread]:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            return list(self._threads)


def _shut(connection: socket.socket, how: int) -> None:
    with contextlib.suppress(OSError):  # the peer already went away
        connection.shutdown(how)


class KeepsConnectionThreads:
    """Mixin for a socketserver server (put it first among the bases): every connection is
    served on a thread its ``connections`` keeps, and forgotten when the server closes it."""

    connections: ConnectionThreads

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Serve the connection on a thread ``connections`` keeps."""
        serve = functools.partial(
            self.process_request_thread,  # type: ignore[attr-defined]
            request,
            client_address,
        )
        self.connections.spawn(request, serve)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        """Forget the connection, then close it."""
        self.connections.forget(request)
        super().shutdown_request(request)  # type: ignore[misc]
