"""An embedded AWS: moto in server mode on loopback, configured to execute state machines and to
run Lambda without Docker, with boto3 clients pointed at it.

moto's backends live in this process, so the real handlers the local stack runs in-process and
the state machine interpreter (which calls back over HTTP to ``localhost:$MOTO_PORT``) see the
same tables, queues and functions as every client made here.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self, overload

import boto3
from botocore.config import Config
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from payouts_tools.local.connection_threads import ConnectionThreads, KeepsConnectionThreads
from payouts_tools.local.environment import EnvironmentPatch

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"
REGION: Final = "us-east-1"

# How often the accept loop checks for shutdown: bounds how long stop() waits for it.
_ACCEPT_POLL_S: Final = 0.05
# How long stop() lets requests in flight finish before their connections are cut.
_CONNECTION_GRACE_S: Final = 10.0

# moto accepts any credentials; these say so wherever they show up.
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "local-fake-access-key",
    "AWS_SECRET_ACCESS_KEY": "local-fake-secret-key-not-secret",
}

# Run the real ASL interpreter; never try Docker for Lambda (the local stack runs handlers itself).
EXECUTION_CONFIG: Final = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
# moto's own defaults, put back on stop so later in-process users (tests) start clean.
_MOTO_DEFAULT_CONFIG: Final = {
    "stepfunctions": {"execute_state_machine": False},
    "lambda": {"use_docker": True},
}

# Local calls are cheap and must fail fast; a few retries ride over a busy server thread.
CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60
)


class EmbeddedAws:
    """moto's server application (as ``moto.server.ThreadedMotoServer`` runs it) on
    ``127.0.0.1`` and a free port.

    ``start()`` binds port 0, then sets ``MOTO_PORT`` to the port it got before anything can
    start an execution (moto's interpreter reads ``MOTO_PORT`` when it makes a client, so this is
    as good as setting it before the start, without the race of probing for a free port first),
    and POSTs the execution config to ``/moto-api/config``.

    Not ``ThreadedMotoServer`` itself: its ``stop()`` stops accepting but never waits for the
    server's connection threads (daemons), so the one that answered the last request (stop's own
    POST) could still be ending, and one waiting on a connection a client opened but sent nothing
    on would never end. ``stop()`` here waits for every one of them (``ConnectionThreads``).
    """

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self._server: _MotoServer | None = None
        self._serving: threading.Thread | None = None
        self._port: int | None = None
        self._environment = EnvironmentPatch()
        self._werkzeug_level: int | None = None
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def start(self) -> Self:
        """Start the server and configure it; returns self."""
        if self._server is not None:
            raise RuntimeError("the embedded AWS is already started")
        self._quiet_request_log()
        server = _moto_server()
        self._serving = threading.Thread(
            target=server.serve_forever,
            # Short, so stop() returns promptly: the poll interval is how long shutdown() waits.
            kwargs={"poll_interval": _ACCEPT_POLL_S},
            name="moto-server",
            daemon=True,
        )
        self._serving.start()
        self._server = server
        self._port = int(server.server_port)
        self._environment.set({"MOTO_PORT": str(self._port)})
        self._post_config(EXECUTION_CONFIG)
        return self

    def stop(self) -> None:
        """Forget every resource, stop serving, close the port, wait for every connection
        thread (cutting connections a client left open) and undo ``MOTO_PORT``."""
        if self._server is None:
            return
        server = self._server
        try:
            self._post("/moto-api/reset", {})
            self._post_config(_MOTO_DEFAULT_CONFIG)
        finally:
            server.shutdown()  # werkzeug's serve_forever closes the listening socket on return
            if self._serving is not None:
                self._serving.join()
                self._serving = None
            left = server.connections.close(_CONNECTION_GRACE_S)
            if left:
                log.warning("moto's connection threads %s outlived the embedded AWS", left)
            self._server = None
            self._clients.clear()
            self._environment.restore()
            if self._werkzeug_level is not None:
                logging.getLogger("werkzeug").setLevel(self._werkzeug_level)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The server's port."""
        if self._port is None:
            raise RuntimeError("the embedded AWS is not started")
        return self._port

    @property
    def session(self) -> boto3.session.Session:
        """The boto3 session every client here is made from."""
        return self._session

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``: every AWS service at one endpoint."""
        return f"http://{LOOPBACK}:{self.port}"

    def client_environment(self) -> dict[str, str]:
        """What an in-process handler needs in ``os.environ`` to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **FAKE_CREDENTIALS,
        }

    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["events"]) -> EventBridgeClient: ...
    @overload
    def client(self, service: Literal["secretsmanager"]) -> SecretsManagerClient: ...
    @overload
    def client(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def client(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def client(self, service: Literal["dynamodbstreams", "iam"]) -> Any: ...
    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` at this server, with fake credentials (one per
        service, shared: boto3 clients are thread-safe, and making one costs ~0.5 s)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        return self._session.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=CLIENT_CONFIG,
        )

    def _quiet_request_log(self) -> None:
        # werkzeug logs every request at INFO: thousands of lines during a demo.
        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.WARNING)

    def _post_config(self, config: dict[str, Any]) -> None:
        self._post("/moto-api/config", config)

    def _post(self, path: str, document: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{self.endpoint_url}{path}",
            data=json.dumps(document).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            answer.read()


class _MotoServer(KeepsConnectionThreads, ThreadedWSGIServer):
    """werkzeug's threaded server on loopback (as ``ThreadedMotoServer`` makes it) whose
    connection threads and open connections are kept for ``stop``."""

    def __init__(self, app: WSGIApplication, handler: type[WSGIRequestHandler]) -> None:
        self.connections = ConnectionThreads("moto-request")
        super().__init__(LOOPBACK, 0, app, handler)


def _moto_server() -> _MotoServer:
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto is heavy; load on use
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    return _MotoServer(DomainDispatcherApplication(create_backend_app), MotoRequestHandler)
