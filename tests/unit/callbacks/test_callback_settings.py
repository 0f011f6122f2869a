"""The callback function's settings: safe defaults, JSON lists from the environment, limits."""

from __future__ import annotations

import pytest

from payouts.settings import SettingsError, load
from payouts.settings.callbacks import CallbackSettings

REQUIRED = {"ORDERS_TABLE": "orders", "CALLBACK_BASE_URL": "https://api.example.invalid/dev"}


def test_the_defaults_are_the_safe_ones() -> None:
    settings = load(CallbackSettings, REQUIRED)

    assert settings.max_callback_body_bytes == 64 * 1024
    assert settings.replay_tolerance_seconds == 300
    assert settings.callback_content_types == {"application/json"}
    assert settings.callback_confirm_by_query == frozenset()
    assert settings.callback_query_window_seconds == 30
    assert settings.notify_url("pg_v2") == "https://api.example.invalid/dev/callbacks/pg_v2"


def test_lists_arrive_as_json_and_media_types_are_lower_cased() -> None:
    settings = load(
        CallbackSettings,
        {
            **REQUIRED,
            "CALLBACK_CONTENT_TYPES": '["Application/JSON", "text/json"]',
            "CALLBACK_CONFIRM_BY_QUERY": '["gateway_v2"]',
            "REPLAY_TOLERANCE_SECONDS": "60",
        },
    )

    assert settings.callback_content_types == {"application/json", "text/json"}
    assert settings.callback_confirm_by_query == {"gateway_v2"}
    assert settings.replay_tolerance_seconds == 60


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REPLAY_TOLERANCE_SECONDS", "0"),
        ("REPLAY_TOLERANCE_SECONDS", "86400"),
        ("MAX_CALLBACK_BODY_BYTES", "10"),
        ("CONFIRM_QUERY_TIMEOUT_SECONDS", "60"),
        ("CALLBACK_QUERY_WINDOW_SECONDS", "-1"),
        ("CALLBACK_QUERY_WINDOW_SECONDS", "86400"),
    ],
)
def test_values_outside_their_bounds_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(CallbackSettings, {**REQUIRED, name: value})


def test_the_table_is_required() -> None:
    with pytest.raises(SettingsError, match="ORDERS_TABLE"):
        load(CallbackSettings, {"CALLBACK_BASE_URL": REQUIRED["CALLBACK_BASE_URL"]})
