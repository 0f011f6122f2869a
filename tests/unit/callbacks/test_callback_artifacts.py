"""What is generated from code stays in step with it: the OpenAPI document and the API Gateway
sample events. Regenerate with ``python -m payouts_tools.openapi`` and
``python -m payouts_tools.apigw_events``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from payouts.providers.base import AdapterContext, CallbackMalformed, CallbackRejected, QueryKind
from payouts.providers.gateway_v2 import GatewayV2Adapter, GatewayV2Credentials
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Credentials
from payouts_tools import apigw_events, openapi
from payouts_tools.apigw_events import event_body, load_event, notify_url
from payouts_tools.sandbox import SandboxConfig
from tests.support.cfn import load_template

SANDBOX = SandboxConfig()
# Verification makes no request: the adapters' client is never used here.
OFFLINE = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(599)))


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi.OPENAPI_PATH.read_text("utf-8"))
    return document


def test_the_committed_openapi_document_is_what_the_handler_generates() -> None:
    assert openapi.OPENAPI_PATH.read_text("utf-8") == openapi.render(), (
        "openapi/callbacks.json is stale: run python -m payouts_tools.openapi"
    )


def test_the_document_describes_the_one_route_and_every_answer() -> None:
    operation = _document()["paths"]["/callbacks/{provider}"]["post"]

    assert set(_document()["paths"]) == {"/callbacks/{provider}"}
    assert set(operation["responses"]) == {"200", "400", "401", "404", "413", "415", "500", "503"}
    assert [p["name"] for p in operation["parameters"]] == ["provider"]
    assert "requestBody" in operation


def test_the_documented_acks_are_the_adapters_own() -> None:
    # The providers stop retrying only on these exact bodies.
    examples = _document()["paths"]["/callbacks/{provider}"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]

    assert json.loads(_gateway().ack().body) == examples["gateway_v2"]["value"]
    assert json.loads(_pg().ack().body) == examples["pg_v2"]["value"]


def test_the_documented_stages_are_the_templates() -> None:
    stages = _document()["servers"][0]["variables"]["stage"]["enum"]

    assert stages == load_template()["Parameters"]["Stage"]["AllowedValues"]


@pytest.mark.parametrize("stem", sorted(apigw_events.sample_events()))
def test_each_committed_sample_event_is_what_the_generator_writes(stem: str) -> None:
    committed = (apigw_events.EVENTS_DIR / f"{stem}.json").read_text("utf-8")

    assert committed == apigw_events.render(apigw_events.sample_events()[stem]), (
        f"events/apigw/{stem}.json is stale: run python -m payouts_tools.apigw_events"
    )


def test_the_valid_samples_verify_with_the_adapters_and_report_success() -> None:
    gateway = load_event("gateway_v2-valid")
    pg = load_event("pg_v2-valid")

    gateway_event = _gateway().verify_callback(gateway["headers"], event_body(gateway))
    pg_event = _pg().verify_callback(pg["headers"], event_body(pg))

    assert (gateway_event.kind, gateway_event.trusted) == (QueryKind.SUCCEEDED, True)
    assert gateway_event.amount_minor == apigw_events.GATEWAY_AMOUNT_MINOR
    assert (pg_event.kind, pg_event.signed_at) == (QueryKind.SUCCEEDED, apigw_events.SAMPLE_TIME)
    assert pg_event.amount_minor == apigw_events.PG_AMOUNT_MINOR


@pytest.mark.parametrize("provider", ["gateway_v2", "pg_v2"])
def test_the_tampered_samples_do_not_verify(provider: str) -> None:
    event = load_event(f"{provider}-tampered")
    adapter = _gateway() if provider == "gateway_v2" else _pg()

    with pytest.raises(CallbackRejected):
        adapter.verify_callback(event["headers"], event_body(event))


def test_the_replayed_pg_sample_is_signed_an_hour_early() -> None:
    event = load_event("pg_v2-replayed")

    verified = _pg().verify_callback(event["headers"], event_body(event))

    assert verified.signed_at is not None
    assert apigw_events.SAMPLE_TIME - verified.signed_at == timedelta(hours=1)


def test_the_replayed_gateway_sample_is_the_valid_message_again() -> None:
    valid, replayed = load_event("gateway_v2-valid"), load_event("gateway_v2-replayed")

    assert event_body(replayed) == event_body(valid)
    assert replayed["requestContext"]["requestId"] != valid["requestContext"]["requestId"]


def test_a_malformed_body_is_refused_as_such() -> None:
    with pytest.raises(CallbackMalformed):
        _gateway().verify_callback({}, b"not json")


def _gateway() -> GatewayV2Adapter:
    return GatewayV2Adapter(
        credentials=GatewayV2Credentials(
            platform_id=SANDBOX.gateway.platform_id,
            platform_key=SecretStr(SANDBOX.gateway.signing_key),
            query_token=SecretStr(SANDBOX.gateway.query_token),
        ),
        context=AdapterContext(
            base_url="https://gateway.invalid", notify_url=notify_url("gateway_v2")
        ),
        client=OFFLINE,
    )


def _pg() -> PgV2Adapter:
    return PgV2Adapter(
        credentials=PgV2Credentials(
            app_id=SANDBOX.pg.app_id,
            app_secret=SecretStr(SANDBOX.pg.app_secret),
        ),
        context=AdapterContext(base_url="https://pg.invalid", notify_url=notify_url("pg_v2")),
        client=OFFLINE,
    )
