"""The admin API under ``/_sandbox/``: the Python API of ``Sandbox`` over JSON, call for call,
so the two cannot disagree."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

from payouts_tools.sandbox.config import Provider
from payouts_tools.sandbox.faults import Fault, FaultKind
from payouts_tools.sandbox.state import Script
from payouts_tools.sandbox.wire import HttpRequest, HttpResponse, json_response, parse_json_object

if TYPE_CHECKING:
    from payouts_tools.sandbox.sandbox import Sandbox

PREFIX: Final = "/_sandbox/"
_SCRIPT_PATH: Final = re.compile(r"^orders/(?P<provider>[^/]+)/(?P<merchant_no>[^/]+)/script$")
_FAULT_PATH: Final = re.compile(r"^faults/(?P<fault_id>[^/]+)$")

_Handler = Callable[[HttpRequest], HttpResponse]


class AdminApi:
    """Routes ``/_sandbox/...`` requests to the sandbox's Python API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._routes: dict[tuple[str, str], _Handler] = {
            ("GET", "ledger"): self._ledger,
            ("GET", "orders"): self._orders,
            ("GET", "callbacks"): self._callbacks,
            ("GET", "faults"): self._faults,
            ("POST", "faults"): self._inject,
            ("DELETE", "faults"): self._clear_faults,
            ("GET", "config"): self._config,
            ("POST", "config"): self._configure,
            ("POST", "reset"): self._reset,
        }

    def handle(self, request: HttpRequest, path: str) -> HttpResponse:
        """Answer one admin request; ``path`` is the URL path without its query."""
        name = path.removeprefix(PREFIX)
        handler = self._routes.get((request.method, name))
        try:
            if handler is not None:
                return handler(request)
            script = _SCRIPT_PATH.match(name)
            if request.method == "POST" and script:
                return self._script(request, script["provider"], unquote(script["merchant_no"]))
            fault = _FAULT_PATH.match(name)
            if request.method == "DELETE" and fault:
                return self._disarm(unquote(fault["fault_id"]))
        except ValueError as exc:  # pydantic's ValidationError included
            return _bad_request(str(exc))
        except RuntimeError as exc:
            return json_response({"error": str(exc)}, status=409)
        return json_response({"error": f"no admin route {request.method} {path}"}, status=404)

    def _ledger(self, _: HttpRequest) -> HttpResponse:
        entries = [entry.model_dump(mode="json") for entry in self._sandbox.ledger()]
        return json_response({"entries": entries, "double_payouts": self._sandbox.double_payouts()})

    def _orders(self, _: HttpRequest) -> HttpResponse:
        orders = [order.model_dump(mode="json") for order in self._sandbox.orders()]
        return json_response({"orders": orders})

    def _callbacks(self, _: HttpRequest) -> HttpResponse:
        attempts = [attempt.model_dump(mode="json") for attempt in self._sandbox.callbacks()]
        return json_response({"attempts": attempts})

    def _faults(self, _: HttpRequest) -> HttpResponse:
        armed = [fault.model_dump(mode="json") for fault in self._sandbox.faults()]
        return json_response({"faults": armed})

    def _inject(self, request: HttpRequest) -> HttpResponse:
        fault = Fault.model_validate(_body(request))
        fault_id = self._sandbox.inject(fault)
        refusing = fault.kind is FaultKind.REFUSE
        return json_response(
            {"id": fault_id, "refusing_for_s": fault.seconds if refusing else None}
        )

    def _clear_faults(self, _: HttpRequest) -> HttpResponse:
        return json_response({"cleared": self._sandbox.clear_faults()})

    def _disarm(self, fault_id: str) -> HttpResponse:
        if not self._sandbox.disarm(fault_id):
            return json_response({"error": f"no fault {fault_id}"}, status=404)
        return json_response({"cleared": 1})

    def _config(self, _: HttpRequest) -> HttpResponse:
        return json_response(self._sandbox.config.model_dump(mode="json"))

    def _configure(self, request: HttpRequest) -> HttpResponse:
        updated = self._sandbox.configure(**_body(request))
        return json_response(updated.model_dump(mode="json"))

    def _script(self, request: HttpRequest, provider: str, merchant_no: str) -> HttpResponse:
        script = Script.model_validate(_body(request))
        applied = self._sandbox.script(Provider(provider), merchant_no, script)
        return json_response(applied.model_dump(mode="json"))

    def _reset(self, _: HttpRequest) -> HttpResponse:
        self._sandbox.reset()
        return json_response({"reset": True})


def _body(request: HttpRequest) -> dict[str, object]:
    payload = parse_json_object(request.body or b"{}")
    if payload is None:
        raise ValueError("the body must be a JSON object")
    return payload


def _bad_request(message: str) -> HttpResponse:
    return json_response({"error": message}, status=400)
