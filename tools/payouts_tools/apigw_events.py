"""The API Gateway sample events of the callback endpoint (``events/apigw/*.json``).

Signed with the provider sandbox's fake merchant keys and its own signing code (independent of
our adapters), at a fixed time, so the files are reproducible: run
``python -m payouts_tools.apigw_events`` after changing anything here; a test fails while a
committed file is stale. Tests build variants (other statuses, amounts, keys, times) with the
same functions.

Each provider has three events: ``valid``; ``tampered`` (a signed field changed after signing:
401); ``replayed`` (pg_v2: signed an hour before ``SAMPLE_TIME``, outside the replay window:
401; gateway_v2 signs no timestamp we can use, so its replay is the same signed message
delivered again later: acknowledged, and it changes nothing).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from payouts.domain.money import to_decimal_string
from payouts_tools.local.apigw_bridge import proxy_event
from payouts_tools.sandbox.config import GatewayCredentials, PgCredentials
from payouts_tools.sandbox.signing import (
    GatewaySignType,
    PgAuthorization,
    gateway_sign,
    pg_sign,
)

EVENTS_DIR: Final = Path(__file__).resolve().parents[2] / "events" / "apigw"

SAMPLE_TIME: Final = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)
"""When the sample callbacks are sent (and the valid pg_v2 one signed)."""
STAGE: Final = "dev"
DOMAIN_NAME: Final = "abc123defg.execute-api.eu-west-1.amazonaws.com"
SOURCE_IP: Final = "203.0.113.10"  # TEST-NET-3: documentation only
BASE_URL: Final = f"https://{DOMAIN_NAME}/{STAGE}"
"""The callback base URL of the sample stack (its notify URLs are ``<BASE_URL>/callbacks/<p>``)."""

GATEWAY_PAYOUT_ID: Final = "PO-CB-GW-1"
GATEWAY_AMOUNT_MINOR: Final = 50000  # CNY cents
GATEWAY_PROVIDER_ORDER_ID: Final = "POT00000001"
PG_PAYOUT_ID: Final = "PO-CB-PG-1"
PG_AMOUNT_MINOR: Final = 10005  # INR paise
PG_CURRENCY: Final = "INR"
PG_PROVIDER_ORDER_ID: Final = "20261122080000000000000000000001"
PG_NONCE: Final = "0123456789ABCDEF0123456789ABCDEF"

_GATEWAY: Final = GatewayCredentials()
_PG: Final = PgCredentials()


def notify_url(provider: str, base_url: str = BASE_URL) -> str:
    """The notify URL a provider was given for its orders."""
    return f"{base_url}/callbacks/{provider}"


def gateway_callback_body(
    payout_id: str = GATEWAY_PAYOUT_ID,
    *,
    status: int = 3,
    amount_minor: int = GATEWAY_AMOUNT_MINOR,
    provider_order_id: str = GATEWAY_PROVIDER_ORDER_ID,
    key: str = _GATEWAY.signing_key,
    sign_type: GatewaySignType = GatewaySignType.HMAC_SHA256,
    at: datetime = SAMPLE_TIME,
    signed: bool = True,
) -> bytes:
    """A gateway_v2 callback as the provider sends it (3 success, 4 cancelled, 5 failed)."""
    seconds = int(at.timestamp())
    fields: dict[str, object] = {
        "payout_id": provider_order_id,
        "payout_cl_id": payout_id,
        "platform_id": _GATEWAY.platform_id,
        "amount": amount_minor,
        "fee": 0,
        "status": status,
        "real_amount": amount_minor,
        "create_time": seconds - 60,
        "update_time": seconds,
        "sign_type": sign_type.value,
    }
    if signed:
        fields["sign"] = gateway_sign(fields, key, sign_type)
    return _json_bytes(fields)


def pg_callback_body(
    payout_id: str = PG_PAYOUT_ID,
    *,
    status: str = "PAID",
    amount_minor: int = PG_AMOUNT_MINOR,
    currency: str = PG_CURRENCY,
    provider_order_id: str = PG_PROVIDER_ORDER_ID,
    error_code: str | None = None,
) -> bytes:
    """A pg_v2 callback body: the query answer's shape, ``{"code": "OK", "data": {...}}``."""
    data: dict[str, object] = {
        "payoutNo": provider_order_id,
        "merchantTradeNo": payout_id,
        "amount": to_decimal_string(amount_minor, currency),
        "currency": currency,
        "totalFee": to_decimal_string(0, currency),
        "status": status,
        "merchantAttach": None,
        "errorCode": error_code,
        "errorInfo": None,
    }
    return _json_bytes({"code": "OK", "data": data})


def pg_headers(
    body: bytes,
    *,
    signed_at: datetime = SAMPLE_TIME,
    url: str | None = None,
    app_secret: str = _PG.app_secret,
    nonce: str = PG_NONCE,
) -> dict[str, str]:
    """Headers of a pg_v2 callback signed over ``body`` at ``signed_at`` for ``url``."""
    timestamp = str(int(signed_at.timestamp() * 1000))
    signature = pg_sign(
        app_id=_PG.app_id,
        app_secret=app_secret,
        method="POST",
        url=url or notify_url("pg_v2"),
        timestamp=timestamp,
        nonce=nonce,
        body=body,
    )
    auth = PgAuthorization(app_id=_PG.app_id, sign=signature, timestamp=timestamp, nonce=nonce)
    return {"Content-Type": "application/json", "Authorization": auth.header()}


def callback_event(
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    base64_body: bool = True,
    at: datetime = SAMPLE_TIME,
    request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
) -> dict[str, Any]:
    """The proxy event of ``body`` POSTed to the sample stack's ``/callbacks/<provider>``."""
    return proxy_event(
        method="POST",
        path=f"/callbacks/{provider}",
        resource="/callbacks/{provider}",
        path_parameters={"provider": provider},
        headers={"Host": DOMAIN_NAME, "X-Forwarded-Proto": "https", **headers},
        body=body,
        stage=STAGE,
        domain_name=DOMAIN_NAME,
        source_ip=SOURCE_IP,
        base64_body=base64_body,
        request_id=request_id,
        epoch_ms=int(at.timestamp() * 1000),
    )


def sample_events() -> dict[str, dict[str, Any]]:
    """Every sample event, by file stem. gateway_v2 bodies arrive as text, pg_v2 ones base64,
    so both shapes of ``body`` are exercised."""
    gateway_valid = gateway_callback_body()
    pg_valid = pg_callback_body()
    gateway_json = {"Content-Type": "application/json;charset=utf-8"}
    later = SAMPLE_TIME + timedelta(minutes=10)
    return {
        "gateway_v2-valid": callback_event(
            "gateway_v2", gateway_valid, gateway_json, base64_body=False
        ),
        "gateway_v2-tampered": callback_event(
            "gateway_v2",
            _changed(gateway_valid, lambda fields: fields.update(amount=5_000_000)),
            gateway_json,
            base64_body=False,
        ),
        "gateway_v2-replayed": callback_event(
            "gateway_v2",
            gateway_valid,
            gateway_json,
            base64_body=False,
            at=later,
            request_id="0f3c5e6a-7b62-11e6-9a41-93e8deadbeef",
        ),
        "pg_v2-valid": callback_event("pg_v2", pg_valid, pg_headers(pg_valid)),
        "pg_v2-tampered": callback_event(
            "pg_v2",
            _changed(pg_valid, lambda document: document["data"].update(amount="10005.00")),
            pg_headers(pg_valid),
        ),
        "pg_v2-replayed": callback_event(
            "pg_v2", pg_valid, pg_headers(pg_valid, signed_at=SAMPLE_TIME - timedelta(hours=1))
        ),
    }


def load_event(stem: str) -> dict[str, Any]:
    """A committed sample event, by file stem (``pg_v2-valid``)."""
    document: dict[str, Any] = json.loads((EVENTS_DIR / f"{stem}.json").read_text("utf-8"))
    return document


def event_body(event: Mapping[str, Any]) -> bytes:
    """The raw bytes of an event's body."""
    body = str(event["body"])
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


def render(event: Mapping[str, Any]) -> str:
    """An event file's exact text."""
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write every sample event."""
    EVENTS_DIR.mkdir(parents=True, exist_ok=True)
    for stem, event in sample_events().items():
        (EVENTS_DIR / f"{stem}.json").write_text(render(event), encoding="utf-8")
        print(f"wrote {EVENTS_DIR / stem}.json")


def _json_bytes(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _changed(body: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    """``body`` with a field changed after it was signed (the signature is left as it was)."""
    document = json.loads(body)
    change(document)
    return _json_bytes(document)


if __name__ == "__main__":
    main()
