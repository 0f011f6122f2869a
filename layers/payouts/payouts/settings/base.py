"""Settings of the functions that call providers: routes, endpoints, credentials, timeouts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Final

from pydantic import AnyHttpUrl, Field, field_validator

from payouts.settings.common import CommonSettings

# Where each (method, currency) is paid out unless PAYOUT_ROUTES says otherwise.
DEFAULT_ROUTES: Final[dict[str, str]] = {
    "ALIPAY:CNY": "gateway_v2",
    "UPI:INR": "pg_v2",
    "BANK_ACCOUNT:INR": "pg_v2",
    "PIX:BRL": "pg_v2",
}

KNOWN_PROVIDERS: Final = frozenset({"gateway_v2", "pg_v2"})

# An assumed failure (a provider status we map to FAILED without its documents saying so) is
# final only when a query this long after the first report still says so: long enough for a
# provider's own retry or correction to show, short enough that a real failure is reported within
# minutes. Documented failures are final at once.
DEFAULT_ASSUMED_FAILURE_SETTLE_SECONDS: Final = 300

RouteTable = dict[str, str]


class ProviderSettings(CommonSettings):
    """Functions that talk to providers: routes, endpoints, credentials' secret ids, timeouts."""

    payout_routes: RouteTable = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    # Our public callback base, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod; the
    # notify URL sent to a provider is <callback_base_url>/callbacks/<provider>.
    callback_base_url: AnyHttpUrl
    gateway_v2_base_url: AnyHttpUrl | None = None
    gateway_v2_secret_id: str | None = None
    gateway_v2_options: dict[str, Any] = Field(default_factory=dict)
    pg_v2_base_url: AnyHttpUrl | None = None
    pg_v2_secret_id: str | None = None
    pg_v2_options: dict[str, Any] = Field(default_factory=dict)
    provider_connect_timeout: Annotated[float, Field(gt=0, le=30)] = 3.0
    provider_read_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    # Secrets are cached per container; a rotated key is picked up within this many seconds.
    secret_max_age_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    # How long an assumed failure is held before a FAILED answer confirms it (see above).
    assumed_failure_settle_seconds: Annotated[int, Field(ge=0, le=86400)] = (
        DEFAULT_ASSUMED_FAILURE_SETTLE_SECONDS
    )

    @field_validator("payout_routes", "gateway_v2_options", "pg_v2_options", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        # Environment variables are strings; mappings arrive as JSON.
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("payout_routes")
    @classmethod
    def _routes_name_known_providers(cls, routes: RouteTable) -> RouteTable:
        for route, provider in routes.items():
            method, _, currency = route.partition(":")
            if not method or len(currency) != 3:
                raise ValueError(f"route {route!r} must look like METHOD:CUR")
            if provider not in KNOWN_PROVIDERS:
                raise ValueError(f"route {route!r} names unknown provider {provider!r}")
        return routes

    def notify_url(self, provider: str) -> str:
        """The callback URL a provider is given for its orders."""
        return f"{str(self.callback_base_url).rstrip('/')}/callbacks/{provider}"

    def configured_providers(self) -> set[str]:
        """Providers that some route uses."""
        return set(self.payout_routes.values())

    @property
    def failure_settle(self) -> timedelta:
        """``assumed_failure_settle_seconds`` as a duration."""
        return timedelta(seconds=self.assumed_failure_settle_seconds)
