"""``Sandbox``: both providers on one loopback port, with settlement, callbacks, faults and a
ledger, driven from Python or from the admin API."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

from payouts_tools.sandbox import gateway_v2, pg_v2
from payouts_tools.sandbox.admin import PREFIX as ADMIN_PREFIX
from payouts_tools.sandbox.admin import AdminApi
from payouts_tools.sandbox.callbacks import CallbackAttempt, CallbackMessage, CallbackSender
from payouts_tools.sandbox.config import LOOPBACK, Operation, Provider, SandboxConfig
from payouts_tools.sandbox.faults import ArmedFault, Fault, FaultBook, FaultKind
from payouts_tools.sandbox.gateway_v2 import GatewayApi
from payouts_tools.sandbox.ledger import LedgerEntry
from payouts_tools.sandbox.pg_v2 import PgApi
from payouts_tools.sandbox.server import Listener, ProviderCall, SandboxHttpServer
from payouts_tools.sandbox.state import (
    MAX_IDLE_S,
    CallbackMode,
    OrderView,
    Outcome,
    SandboxClock,
    SandboxOrder,
    SandboxState,
    Script,
)
from payouts_tools.sandbox.wire import HttpRequest, HttpResponse, json_response

# (provider, operation, which merchant number a request is for, what it does)
_ProviderRoute = tuple[
    Provider,
    Operation,
    Callable[[HttpRequest], str | None],
    Callable[[HttpRequest], HttpResponse],
]


def _no_order(_: HttpRequest) -> None:
    """Balance calls concern no order."""


class Sandbox:
    """Both provider APIs on ``127.0.0.1``; ``start()`` it (or use it as a context manager)."""

    def __init__(
        self, config: SandboxConfig | None = None, clock: SandboxClock | None = None
    ) -> None:
        self._state = SandboxState(config or SandboxConfig(), clock)
        self._gateway = GatewayApi(self._state)
        self._pg = PgApi(self._state)
        self._admin = AdminApi(self)
        self._stopping = threading.Event()
        self._callbacks = CallbackSender()
        self._settler = threading.Thread(
            target=self._settle_loop, name="sandbox-settle", daemon=True
        )
        self._server: SandboxHttpServer | None = None
        self._listener: Listener | None = None
        self._refused: socket.socket | None = None
        self._state.subscribe(self._report)
        gw, pg = Provider.GATEWAY_V2, Provider.PG_V2
        create, query, balance = Operation.CREATE, Operation.QUERY, Operation.BALANCE
        self._provider_routes: dict[tuple[str, str], _ProviderRoute] = {
            ("POST", gateway_v2.CREATE_PATH): (
                gw,
                create,
                self._gateway.merchant_no_of_create,
                self._gateway.create,
            ),
            ("GET", gateway_v2.BALANCE_PATH): (gw, balance, _no_order, self._gateway.balance),
            ("POST", pg_v2.CREATE_PATH): (pg, create, self._pg.merchant_no_of, self._pg.create),
            ("POST", pg_v2.QUERY_PATH): (pg, query, self._pg.merchant_no_of, self._pg.query),
            ("POST", pg_v2.BALANCE_PATH): (pg, balance, _no_order, self._pg.balance),
        }

    # ---------------------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Bind (port 0 unless configured), start serving, settling and calling back."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already started")
        config = self._state.config
        self._server = SandboxHttpServer(config.port, self, config.idle_timeout_s)
        self._refused = _reserve_refusing_port()
        self._listener = Listener(self._server, self._stopping)
        self._listener.start()
        self._settler.start()
        self._callbacks.start()
        return self

    def stop(self) -> None:
        """Stop everything and wait for every thread; safe to call twice."""
        if self._server is None or self._stopping.is_set():
            return
        self._stopping.set()
        self._state.changed.set()
        if self._listener is not None:
            self._listener.stop()
        self._server.cut_connections()
        self._server.server_close()  # joins the handler threads
        self._settler.join()
        self._callbacks.stop()
        if self._refused is not None:
            self._refused.close()

    def __enter__(self) -> Self:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --------------------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The port both APIs (and the admin API) listen on."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL of both providers."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def accepted_connections(self) -> int:
        """TCP connections accepted so far (clients reuse kept-alive ones for many requests)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.accepted_connections

    @property
    def refused_base_url(self) -> str:
        """A loopback base URL where nothing listens: every connection is refused."""
        if self._refused is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{LOOPBACK}:{self._refused.getsockname()[1]}"

    @property
    def config(self) -> SandboxConfig:
        """The current configuration (credentials included, for the local stack's secrets)."""
        return self._state.config

    # ---------------------------------------------------------------------------- the books

    def ledger(self) -> list[LedgerEntry]:
        """Money actually sent (and returned), oldest first."""
        return self._state.ledger.entries()

    def double_payouts(self) -> list[str]:
        """Merchant order numbers paid more than once."""
        return self._state.ledger.double_payouts()

    def orders(self) -> list[OrderView]:
        """Every payout at both providers, in creation order."""
        return self._state.views()

    def callbacks(self) -> list[CallbackAttempt]:
        """Every callback attempt so far."""
        return self._callbacks.attempts()

    # ------------------------------------------------------------------------------ control

    def inject(self, fault: Fault) -> str | None:
        """Arm a fault and return its id; a REFUSE fault closes the listener at once instead
        (and returns None)."""
        if fault.kind is FaultKind.REFUSE:
            self.refuse_for(fault.seconds)
            return None
        return self._state.faults.arm(fault)

    def faults(self) -> list[ArmedFault]:
        """The faults still armed."""
        return self._state.faults.armed()

    def disarm(self, fault_id: str) -> bool:
        """Remove one fault; False when it is not armed (any more)."""
        return self._state.faults.disarm(fault_id)

    def clear_faults(self) -> int:
        """Remove every fault; returns how many were armed."""
        return self._state.faults.clear()

    def refuse_for(self, seconds: float) -> None:
        """Refuse every connection for ``seconds``, then listen again on the same port."""
        if self._listener is None:
            raise RuntimeError("the sandbox is not started")
        self._listener.refuse_for(seconds)

    def script(
        self,
        provider: Provider,
        merchant_no: str,
        outcome: Outcome | Script,
        *,
        after_s: float | None = None,
        after_queries: int | None = None,
        reverse_after_s: float | None = None,
        callback: CallbackMode | None = None,
    ) -> Script:
        """Script how payouts under ``merchant_no`` end, e.g. ``script(PG_V2, "PO-3",
        Outcome.SUCCESS, after_queries=3)``; pending ones are re-planned."""
        script = (
            outcome
            if isinstance(outcome, Script)
            else Script(
                outcome=outcome,
                after_s=after_s,
                after_queries=after_queries,
                reverse_after_s=reverse_after_s,
                callback=callback,
            )
        )
        self._state.set_script(provider, merchant_no, script)
        return script

    def configure(self, **changes: object) -> SandboxConfig:
        """Change the configuration (partially, nested too) and return the whole of it."""
        return self._state.configure(changes)

    @property
    def state(self) -> SandboxState:
        """The books themselves, for an in-process driver that keeps its own timers."""
        return self._state

    def callback_for(self, order: SandboxOrder) -> CallbackMessage | None:
        """The callback the provider sends for ``order``'s new state (None: it sends none)."""
        api = self._gateway if order.provider is Provider.GATEWAY_V2 else self._pg
        return api.callback_for(order)

    def reset(self) -> None:
        """Forget payouts, scripts, faults, ledger and pending callbacks; reseed."""
        self._state.reset()
        self._callbacks.clear()

    # ----------------------------------------------------------------- serving (Application)

    @property
    def fault_book(self) -> FaultBook:
        """The armed faults, for the server to consult per call."""
        return self._state.faults

    @property
    def default_fault_sleep_s(self) -> float:
        """How long read_timeout / lost_answer faults hold a connection by default."""
        return self._state.config.fault_sleep_s

    def pause(self, seconds: float) -> None:
        """Sleep in a handler, waking early when the sandbox stops."""
        self._stopping.wait(seconds)

    def route(self, request: HttpRequest) -> ProviderCall | HttpResponse:
        """Map a request to a provider call, or answer it (admin API, unknown routes)."""
        path = urlsplit(request.path).path
        if path.startswith(ADMIN_PREFIX):
            return self._admin.handle(request, path)
        call = self._provider_call(request, path)
        if call is None:
            return json_response({"error": f"no route {request.method} {path}"}, status=404)
        return call

    def _provider_call(self, request: HttpRequest, path: str) -> ProviderCall | None:
        route = self._provider_routes.get((request.method, path))
        if route is not None:
            provider, operation, merchant_no_of, perform = route
            return ProviderCall(
                provider, operation, merchant_no_of(request), lambda: perform(request)
            )
        found = gateway_v2.QUERY_PATH.match(path)
        if request.method != "GET" or found is None:
            return None
        cl_id = found["cl_id"]
        return ProviderCall(
            Provider.GATEWAY_V2,
            Operation.QUERY,
            unquote(cl_id),
            lambda: self._gateway.query(request, cl_id),
        )

    # ---------------------------------------------------------------------- background work

    def _settle_loop(self) -> None:
        changed = self._state.changed
        while not self._stopping.is_set():
            changed.clear()
            wait_s = self._state.settle_due()
            changed.wait(MAX_IDLE_S if wait_s is None else min(max(wait_s, 0.0), MAX_IDLE_S))

    def _report(self, order: SandboxOrder) -> None:
        """Send the callback for a payout that just settled or was reversed."""
        options = self._state.config.callbacks
        if not options.enabled:
            return
        message = self.callback_for(order)
        if message is None:
            return
        mode = self._state.draw_callback_mode(order)
        if mode is CallbackMode.DROP:
            return
        # REORDER holds back the payout's first callback so later ones overtake it.
        first = order.reversed_at is None
        delay_s = options.reorder_delay_s if mode is CallbackMode.REORDER and first else 0.0
        self._callbacks.submit(message, delay_s)
        if mode is CallbackMode.DUPLICATE:
            self._callbacks.submit(message, delay_s)


def _reserve_refusing_port() -> socket.socket:
    """A loopback port that is bound (so nobody else takes it) but never listens: connecting to
    it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    return sock
