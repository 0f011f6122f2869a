"""Building provider adapters from settings and their Secrets Manager credentials.

Credentials are read through Powertools parameters, cached per container for
``secret_max_age_seconds`` so a rotated key is picked up without a redeploy. Adapters themselves
are cheap and are built per invocation around that invocation's httpx client (an AsyncClient is
bound to the event loop that first uses it, and each invocation runs its own loop).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from aws_lambda_powertools.utilities import parameters

from payouts.providers.base import AdapterContext, PayoutProvider, ProviderTimeouts
from payouts.settings.base import ProviderSettings

SecretSource = Callable[[str, int], str]


class ProviderConfigError(RuntimeError):
    """A routed provider is missing its base URL or secret, or its secret is malformed."""


def powertools_secret(secret_id: str, max_age: int) -> str:
    """The secret's string value, cached by Powertools for ``max_age`` seconds."""
    value = parameters.get_secret(secret_id, max_age=max_age)
    if not isinstance(value, str):
        raise ProviderConfigError(f"secret {secret_id} is not a JSON string")
    return value


type AdapterBuilder = Callable[
    [AdapterContext, dict[str, Any], dict[str, Any], httpx.AsyncClient], PayoutProvider
]


class ProviderFactory:
    """Builds the adapters named by the routes, with their credentials and options."""

    def __init__(
        self, settings: ProviderSettings, secret_source: SecretSource = powertools_secret
    ) -> None:
        self._settings = settings
        self._secret_source = secret_source

    def names(self) -> set[str]:
        """Every provider some route uses."""
        return self._settings.configured_providers()

    def build(self, name: str, client: httpx.AsyncClient) -> PayoutProvider:
        """The adapter for provider ``name`` around ``client``."""
        builder = _BUILDERS.get(name)
        if builder is None:
            raise ProviderConfigError(f"unknown provider {name!r}")
        base_url, secret_id = self._endpoint(name)
        context = AdapterContext(
            base_url=base_url,
            notify_url=self._settings.notify_url(name),
            timeouts=ProviderTimeouts(
                connect=self._settings.provider_connect_timeout,
                read=self._settings.provider_read_timeout,
            ),
        )
        options = dict(getattr(self._settings, f"{name}_options"))
        return builder(context, self._secret(secret_id), options, client)

    def build_all(self, client: httpx.AsyncClient) -> dict[str, PayoutProvider]:
        """Every routed provider's adapter, by name."""
        return {name: self.build(name, client) for name in sorted(self.names())}

    def _endpoint(self, name: str) -> tuple[str, str]:
        base_url = getattr(self._settings, f"{name}_base_url")
        secret_id = getattr(self._settings, f"{name}_secret_id")
        if base_url is None or not secret_id:
            variable = name.upper()
            raise ProviderConfigError(
                f"{name} is routed but {variable}_BASE_URL or {variable}_SECRET_ID is unset"
            )
        return str(base_url).rstrip("/"), str(secret_id)

    def _secret(self, secret_id: str) -> dict[str, Any]:
        raw = self._secret_source(secret_id, self._settings.secret_max_age_seconds)
        try:
            document = json.loads(raw)
        except json.JSONDecodeError:
            raise ProviderConfigError(f"secret {secret_id} is not valid JSON") from None
        if not isinstance(document, dict):
            raise ProviderConfigError(f"secret {secret_id} must be a JSON object")
        return document


# Adapters are imported only when routed, so a function pays only for the providers it uses.
def _gateway_v2(
    context: AdapterContext,
    secret: dict[str, Any],
    options: dict[str, Any],
    client: httpx.AsyncClient,
) -> PayoutProvider:
    from payouts.providers import gateway_v2  # noqa: PLC0415

    return gateway_v2.GatewayV2Adapter(
        credentials=gateway_v2.GatewayV2Credentials.model_validate(secret),
        context=context,
        client=client,
        options=gateway_v2.GatewayV2Options.model_validate(options),
    )


def _pg_v2(
    context: AdapterContext,
    secret: dict[str, Any],
    options: dict[str, Any],
    client: httpx.AsyncClient,
) -> PayoutProvider:
    from payouts.providers import pg_v2  # noqa: PLC0415

    return pg_v2.PgV2Adapter(
        credentials=pg_v2.PgV2Credentials.model_validate(secret),
        context=context,
        client=client,
        options=pg_v2.PgV2Options.model_validate(options),
    )


_BUILDERS: dict[str, AdapterBuilder] = {"gateway_v2": _gateway_v2, "pg_v2": _pg_v2}
