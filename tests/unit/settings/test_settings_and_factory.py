"""Settings load from the environment with clear errors; the factory builds routed adapters."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from payouts.providers.base import PayoutProvider
from payouts.providers.registry import ProviderConfigError, ProviderFactory
from payouts.providers.routing import NoRoute, Router
from payouts.settings import SettingsError, load
from payouts.settings.base import ProviderSettings
from tests.support.orders import make_request

ENV = {
    "ORDERS_TABLE": "payouts-orders",
    "CALLBACK_BASE_URL": "https://api.example.test/prod",
    "GATEWAY_V2_BASE_URL": "https://gateway.example.test",
    "GATEWAY_V2_SECRET_ID": "payouts/gateway_v2",
    "PG_V2_BASE_URL": "https://pg.example.test",
    "PG_V2_SECRET_ID": "payouts/pg_v2",
}
SECRETS = {
    "payouts/gateway_v2": json.dumps(
        {
            "platform_id": "PF0002",
            "platform_key": "fake-key-not-secret",
            "query_token": "fake-token",
        }
    ),
    "payouts/pg_v2": json.dumps({"app_id": "fake-app", "app_secret": "fake-secret-not-secret"}),
}


def fake_secrets(secret_id: str, max_age: int) -> str:
    assert max_age == 300
    return SECRETS[secret_id]


def test_required_settings_have_no_defaults() -> None:
    with pytest.raises(SettingsError, match="ORDERS_TABLE: Field required"):
        load(ProviderSettings, {"CALLBACK_BASE_URL": "https://x.test"})


def test_routes_must_name_known_providers() -> None:
    with pytest.raises(SettingsError, match="names unknown provider 'paypal'"):
        load(ProviderSettings, {**ENV, "PAYOUT_ROUTES": json.dumps({"UPI:INR": "paypal"})})
    with pytest.raises(SettingsError, match="must look like METHOD:CUR"):
        load(ProviderSettings, {**ENV, "PAYOUT_ROUTES": json.dumps({"UPI": "pg_v2"})})


def test_notify_url_comes_from_the_callback_base() -> None:
    settings = load(ProviderSettings, ENV)
    assert settings.notify_url("pg_v2") == "https://api.example.test/prod/callbacks/pg_v2"


def test_router_refuses_an_unrouted_pair_with_a_clear_reason() -> None:
    router = Router(load(ProviderSettings, ENV).payout_routes)
    assert router.route(make_request(method="UPI")) == "pg_v2"
    assert router.route(make_request(method="ALIPAY")) == "gateway_v2"
    refused = Router({"UPI:INR": "pg_v2"}).route(make_request(method="PIX"))
    assert isinstance(refused, NoRoute)
    assert "no provider pays PIX:BRL" in refused.reason


def test_factory_builds_every_routed_adapter() -> None:
    factory = ProviderFactory(load(ProviderSettings, ENV), fake_secrets)

    async def build() -> dict[str, PayoutProvider]:
        async with httpx.AsyncClient() as client:
            return factory.build_all(client)

    adapters = asyncio.run(build())
    assert sorted(adapters) == ["gateway_v2", "pg_v2"]
    assert all(isinstance(adapter, PayoutProvider) for adapter in adapters.values())
    assert adapters["pg_v2"].ack().body == '{"code":"OK"}'


def test_factory_explains_a_missing_endpoint_or_a_bad_secret() -> None:
    no_url = load(ProviderSettings, {k: v for k, v in ENV.items() if k != "PG_V2_BASE_URL"})
    with pytest.raises(ProviderConfigError, match="PG_V2_BASE_URL"):
        asyncio.run(_build(ProviderFactory(no_url, fake_secrets), "pg_v2"))
    bad = ProviderFactory(load(ProviderSettings, ENV), lambda _id, _age: "not json")
    with pytest.raises(ProviderConfigError, match="not valid JSON"):
        asyncio.run(_build(bad, "gateway_v2"))


async def _build(factory: ProviderFactory, name: str) -> PayoutProvider:
    async with httpx.AsyncClient() as client:
        return factory.build(name, client)
