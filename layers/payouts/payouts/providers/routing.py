"""Routing: which provider pays a (method, currency). Configuration, not code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from payouts.domain.erasure import ErasedRequest
from payouts.domain.request import PayoutRequest


@dataclass(frozen=True)
class NoRoute:
    """No provider pays this method in this currency: the request is refused before sending."""

    reason: str


class Router:
    """Looks up the provider for a request from a ``{"METHOD:CUR": provider}`` table."""

    def __init__(self, routes: Mapping[str, str]) -> None:
        self._routes = dict(routes)

    def route(self, request: PayoutRequest | ErasedRequest) -> str | NoRoute:
        """The provider's name, or why there is none (an erased request keeps its method)."""
        key = f"{request.method}:{request.amount.currency}"
        provider = self._routes.get(key)
        if provider is None:
            supported = ", ".join(sorted(self._routes)) or "none"
            return NoRoute(f"no provider pays {key} (supported: {supported})")
        return provider
