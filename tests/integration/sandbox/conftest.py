"""Fixtures for the sandbox tests: the test side's *own* signing (written from providers.md, not
imported from the sandbox), raw httpx clients for both providers, and a loopback receiver for
callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from payouts_tools.sandbox import CallbackOptions, Sandbox, SandboxConfig

FAST = SandboxConfig(
    seed=11,
    settle_after_s=0.2,
    reverse_after_s=0.2,
    callbacks=CallbackOptions(retry_delays_s=(0.1, 0.2, 0.3), timeout_s=1.0, reorder_delay_s=0.5),
    fault_sleep_s=1.0,
)
GATEWAY_ACK = b'{"error_code":"0000"}'
PG_ACK = b'{"code":"OK"}'


# ------------------------------------------------------------------------ test-side signing


def gw_sign(params: Mapping[str, object], key: str, sign_type: str = "HMAC-SHA256") -> str:
    """gateway_v2's signature per providers.md: non-empty params but sign/sign_type, key-sorted,
    ``k=v`` joined by ``&``, scalars as JSON writes them; HMAC-SHA256, or MD5 of ``s&key``."""
    pairs = []
    for name in sorted(params):
        value = params[name]
        if name in {"sign", "sign_type"} or value in (None, ""):
            continue
        pairs.append(f"{name}={value if isinstance(value, str) else json.dumps(value)}")
    plain = "&".join(pairs)
    if sign_type == "MD5":
        return hashlib.md5(f"{plain}&{key}".encode(), usedforsecurity=False).hexdigest()
    return hmac.new(key.encode(), plain.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PgSigning:
    """The seven inputs of a pg_v2 signature."""

    app_id: str
    secret: str
    method: str
    url: str
    timestamp: str
    nonce: str
    body: bytes

    def sign(self) -> str:
        """pg_v2's signature per providers.md: SHA-256 of seven newline-terminated lines."""
        lines = [self.app_id, self.secret, self.method, self.url, self.timestamp, self.nonce]
        return hashlib.sha256("\n".join(lines).encode() + b"\n" + self.body + b"\n").hexdigest()

    def header(self) -> str:
        """The Authorization header carrying this signature."""
        return (
            f"V2_SHA256 appId={self.app_id},sign={self.sign()},"
            f"timestamp={self.timestamp},nonce={self.nonce}"
        )


def pg_auth_parts(header: str) -> dict[str, str]:
    """The ``k=v`` parts of a ``V2_SHA256 ...`` header."""
    scheme, _, rest = header.partition(" ")
    assert scheme == "V2_SHA256"
    return dict(part.split("=", 1) for part in rest.split(","))


# ---------------------------------------------------------------------------------- clients


@dataclass
class GatewayClient:
    """Raw gateway_v2 calls against a sandbox."""

    sandbox: Sandbox
    http: httpx.Client

    @property
    def key(self) -> str:
        """The sandbox's (fake) signing key."""
        return self.sandbox.config.gateway.signing_key

    def params(
        self,
        cl_id: str,
        amount: int | str = 50000,
        *,
        notify_url: str | None = None,
        sign_type: str | None = "HMAC-SHA256",
        **extra: object,
    ) -> dict[str, object]:
        """A signed create body (``sign_type=None`` leaves it out: MD5 by default)."""
        params: dict[str, object] = {
            "platform_id": self.sandbox.config.gateway.platform_id,
            "service_id": "SVC0033",
            "payout_cl_id": cl_id,
            "amount": amount,
            "alipay_account_name": "test_name",
            "alipay_surname": "t",
            "request_time": int(time.time()),
        }
        if notify_url is not None:
            params["notify_url"] = notify_url
        if sign_type is not None:
            params["sign_type"] = sign_type
        params.update(extra)
        params["sign"] = gw_sign(params, self.key, sign_type or "MD5")
        return params

    def post_create(self, params: Mapping[str, object], timeout: float = 3.0) -> httpx.Response:
        """POST a create body as given."""
        return self.http.post(
            f"{self.sandbox.base_url}/gateway/api/v2/payouts", json=dict(params), timeout=timeout
        )

    def create(
        self, cl_id: str, amount: int | str = 50000, *, timeout: float = 3.0, **kw: Any
    ) -> httpx.Response:
        """A correctly signed create."""
        return self.post_create(self.params(cl_id, amount, **kw), timeout)

    def query(self, cl_id: str, token: str | None = None, timeout: float = 3.0) -> httpx.Response:
        """GET the payout with the right token (or ``token``)."""
        token = self.sandbox.config.gateway.query_token if token is None else token
        return self.http.get(
            f"{self.sandbox.base_url}/gateway/api/v2/payouts/{cl_id}",
            headers={"Authorization": token},
            timeout=timeout,
        )

    def status(self, cl_id: str) -> int:
        """The payout's numeric status per a query."""
        data: dict[str, Any] = self.query(cl_id).json()["data"]
        return int(data["status"])


@dataclass
class PgClient:
    """Raw, signed pg_v2 calls against a sandbox."""

    sandbox: Sandbox
    http: httpx.Client

    def post(
        self,
        path: str,
        payload: Mapping[str, object] | bytes,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 3.0,
        sign_with: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """POST ``payload`` signed over the exact bytes sent. ``sign_with`` replaces signing
        inputs (see ``PgSigning``) to sign it wrongly on purpose."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        url = f"{self.sandbox.base_url}{path}"
        creds = self.sandbox.config.pg
        signing = PgSigning(
            app_id=creds.app_id,
            secret=creds.app_secret,
            method="POST",
            url=url,
            timestamp=str(time.time_ns() // 1_000_000),
            nonce=secrets.token_hex(16),
            body=body,
        )
        signing = replace(signing, **(sign_with or {}))
        sent = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": signing.header(),
        }
        sent.update(headers or {})
        return self.http.post(url, content=body, headers=sent, timeout=timeout)

    def create_payload(
        self,
        trade_no: str,
        amount: str = "100.05",
        *,
        currency: str = "INR",
        method: Mapping[str, object] | None = None,
        notify_url: str | None = None,
        **extra: object,
    ) -> dict[str, object]:
        """A create body (UPI by default)."""
        payload: dict[str, object] = {
            "merchantTradeNo": trade_no,
            "amount": amount,
            "currency": currency,
            "description": "sandbox test",
            "payoutMethod": dict(method or {"type": "UPI", "vpa": "x@upi", "payeeName": "Test"}),
            "merchantAttach": "attach-1",
            "extendInfo": {},
        }
        if notify_url is not None:
            payload["notifyUrl"] = notify_url
        payload.update(extra)
        return payload

    def create(self, trade_no: str, amount: str = "100.05", **kw: Any) -> httpx.Response:
        """A correctly signed create."""
        timeout = kw.pop("timeout", 3.0)
        payload = self.create_payload(trade_no, amount, **kw)
        return self.post("/pg/v2/payout/create", payload, timeout=timeout)

    def query(self, **by: str) -> httpx.Response:
        """Query by merchantTradeNo=... or payoutNo=..."""
        return self.post("/pg/v2/payout/query", dict(by))

    def status(self, trade_no: str) -> str:
        """The payout's status per a query."""
        data: dict[str, Any] = self.query(merchantTradeNo=trade_no).json()["data"]
        return str(data["status"])

    def answer_signed(self, response: httpx.Response, path: str) -> bool:
        """True when the answer's own Authorization verifies over its body (same seven lines,
        the request's method and URL)."""
        header = response.headers.get("Authorization")
        if header is None:
            return False
        return pg_signed(header, self.sandbox, f"{self.sandbox.base_url}{path}", response.content)


def pg_signed(header: str, sandbox: Sandbox, url: str, body: bytes) -> bool:
    """True when ``header`` is the sandbox's valid pg_v2 signature of a POST to ``url`` with
    ``body`` (answers: the request's URL; callbacks: the notify URL)."""
    parts = pg_auth_parts(header)
    creds = sandbox.config.pg
    expected = PgSigning(
        app_id=creds.app_id,
        secret=creds.app_secret,
        method="POST",
        url=url,
        timestamp=parts["timestamp"],
        nonce=parts["nonce"],
        body=body,
    ).sign()
    return parts["appId"] == creds.app_id and hmac.compare_digest(parts["sign"], expected)


# --------------------------------------------------------------------------------- receiver


@dataclass(frozen=True)
class Received:
    """One callback as the receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as JSON."""
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class CallbackReceiver:
    """A loopback HTTP endpoint that records callbacks. It answers from ``answers`` first (FIFO),
    then with the right acknowledgement for the provider named in the path."""

    answers: list[tuple[int, bytes]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> CallbackReceiver:
        """Listen on a free loopback port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
                status, body = receiver._record(got)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()

    def url(self, provider: str) -> str:
        """The notify URL for ``provider``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/callbacks/{provider}"

    def _record(self, got: Received) -> tuple[int, bytes]:
        with self._lock:
            self.received.append(got)
            if self.answers:
                return self.answers.pop(0)
        return 200, GATEWAY_ACK if "gateway" in got.path else PG_ACK

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` callbacks, waiting for them to arrive."""
        eventually(lambda: len(self.received) >= count, timeout, f"{count} callbacks")
        with self._lock:
            return list(self.received)


def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait until ``check()`` holds; fail the test if it never does within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox with short delays, stopped afterwards."""
    with Sandbox(FAST) as running:
        yield running


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """A plain client that ignores proxy settings from the environment. Shared: it holds no
    state between tests (the sandbox closes every connection after its answer)."""
    with httpx.Client(timeout=3.0, trust_env=False) as client:
        yield client


@pytest.fixture
def gateway(sandbox: Sandbox, http: httpx.Client) -> GatewayClient:
    """gateway_v2 calls against ``sandbox``."""
    return GatewayClient(sandbox, http)


@pytest.fixture
def pg(sandbox: Sandbox, http: httpx.Client) -> PgClient:
    """pg_v2 calls against ``sandbox``."""
    return PgClient(sandbox, http)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    """A callback receiver, stopped afterwards."""
    running = CallbackReceiver().start()
    yield running
    running.stop()
