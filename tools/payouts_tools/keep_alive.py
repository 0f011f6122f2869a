"""HTTP/1.1 persistent connections for the local stack's stdlib servers (the provider sandbox and
the API Gateway bridge), closed when idle as a provider's load balancer or API Gateway closes them.

``http.server`` speaks HTTP/1.0 unless told otherwise: one request per connection, so a client's
connection pool is never exercised locally, and neither is the case that matters on AWS, a
pooled connection the server has closed while it sat idle. With ``protocol_version`` HTTP/1.1 a
connection serves requests until the client asks to close it, a fault drops it, or it stays idle
longer than ``idle_timeout_s()``; then the server closes it (FIN) without a word, and the client
meets that closed connection the next time it takes it from its pool.

Every answer must carry ``Content-Length`` (the stdlib's own error pages do; the servers' own
answers set it), or the client cannot tell where one answer ends and would wait for the next.
"""

from __future__ import annotations

import contextlib
import io
from http.server import BaseHTTPRequestHandler
from typing import Final

# Shorter than httpx's default keep-alive expiry (5 s): a client here regularly takes a pooled
# connection the server has already closed, and must open a new one without harm. The deployed
# counterparts keep idle connections far longer; this is about exercising the path, not timing.
DEFAULT_IDLE_TIMEOUT_S: Final = 4.0

# Headers about the connection itself: the server writes its own, never the application's.
HOP_BY_HOP_HEADERS: Final = frozenset(
    {"connection", "content-length", "keep-alive", "transfer-encoding"}
)


class KeepAliveRequestHandler(BaseHTTPRequestHandler):
    """A request handler that keeps its connection for further requests until idle too long.

    The socket timeout (``timeout``) still bounds each request once its first byte arrived; the
    wait for a further request on a kept connection is bounded by ``idle_timeout_s()``.
    """

    protocol_version = "HTTP/1.1"

    def idle_timeout_s(self) -> float:
        """How long a kept connection may wait for its next request (servers override)."""
        return DEFAULT_IDLE_TIMEOUT_S

    def handle(self) -> None:
        """Serve requests on this connection until it is to be closed or left idle too long."""
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            if not self.may_keep_connection() or not self._next_request_arrives():
                self.close_connection = True
                return
            self.handle_one_request()

    def _next_request_arrives(self) -> bool:
        """True once a byte of the next request is readable; False when the client closed the
        connection, or it stayed idle for ``idle_timeout_s()`` (the caller then closes it)."""
        reader = self.rfile
        if not isinstance(reader, io.BufferedReader):  # unbuffered: cannot look ahead
            return True
        request_timeout = self.connection.gettimeout()
        self.connection.settimeout(self.idle_timeout_s())
        self.idle_begins()
        try:
            return bool(reader.peek(1))
        except OSError:  # idle too long (TimeoutError), or reset or cut by the server
            return False
        finally:
            self.idle_ends()
            with contextlib.suppress(OSError):  # the socket may be closed already
                self.connection.settimeout(request_timeout)

    def may_keep_connection(self) -> bool:
        """Whether the connection may wait for a further request (servers may refuse)."""
        return True

    def idle_begins(self) -> None:
        """The connection now waits for a further request (servers may track it to cut it)."""

    def idle_ends(self) -> None:
        """The connection no longer waits: a request arrived, or it is about to be closed."""
