"""Requests from this process to the embedded AWS, handed to moto's server application directly.

The in-process handlers, event sources and the state machine interpreter make thousands of AWS
calls during a demo. Over the loopback socket each one costs a TCP connection, a server thread
and HTTP parsing on both sides: about three quarters of a simple call's time. This transport
hooks botocore's ``before-send`` event (as moto's own mock does) and passes each request aimed
at the embedded AWS's endpoint to the **same** WSGI application the server runs, in the calling
thread: same routing, same backends, same answers; only the socket is skipped. Clients in other
processes (``payouts`` in another terminal) still go through the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS

_EVENT: Final = "before-send"
_LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost")


class InProcessTransport:
    """While active, botocore requests to ``http://127.0.0.1:<port>`` (or ``localhost``) are
    answered by moto's server application in-process."""

    def __init__(self, port: int, sessions: Iterable[Any] = ()) -> None:
        self._hosts = frozenset(f"{name}:{port}" for name in _LOOPBACK_NAMES)
        self._sessions = list(sessions)
        self._app: Any = None
        self._entry = (_EVENT, self)

    def __enter__(self) -> Self:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto loads on use
            DomainDispatcherApplication,
            create_backend_app,
        )

        self._app = DomainDispatcherApplication(create_backend_app)
        # Sessions made from now on get the hook from botocore's built-in handlers; the ones
        # that already exist (boto3's default session among them) are registered one by one.
        BUILTIN_HANDLERS.append(self._entry)
        for session in self._botocore_sessions():
            session.register(_EVENT, self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Clients made meanwhile keep a copy of the hook: it answers nothing from now on.
        self._app = None
        if self._entry in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(self._entry)
        for session in self._botocore_sessions():
            session.unregister(_EVENT, self)

    def _botocore_sessions(self) -> list[Any]:
        sessions = [getattr(session, "_session", session) for session in self._sessions]
        default = boto3.DEFAULT_SESSION
        if default is not None:
            sessions.append(default._session)
        return sessions

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        """botocore's before-send hook: an answer for our endpoint, None for anything else."""
        parts = urlsplit(request.url)
        if self._app is None or parts.netloc not in self._hosts:
            return None
        from werkzeug.test import EnvironBuilder, run_wsgi_app  # noqa: PLC0415

        body: Any = request.body
        if body is not None and hasattr(body, "read"):
            body = body.read()
        environ = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            headers=[(str(name), _text(value)) for name, value in request.headers.items()],
            data=body or b"",
        ).get_environ()
        chunks, status, headers = run_wsgi_app(self._app, environ)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        from moto.core.botocore_stubber import MockRawResponse  # noqa: PLC0415

        return AWSResponse(
            request.url,
            int(status.split(" ", 1)[0]),
            _http_headers(headers.items()),
            MockRawResponse(content),
        )


def _text(value: object) -> str:
    # botocore keeps some header values as bytes (X-Amz-Target, Content-Type...).
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _http_headers(pairs: Iterable[tuple[str, str]]) -> HTTPHeaders:
    # What botocore's HTTP layer hands to AWSResponse: a case-insensitive HTTPMessage.
    headers = HTTPHeaders()
    for name, value in pairs:
        headers[name] = value
    return headers
