"""Settings of the callback function (``functions/callback``): what it accepts and how it checks.

Provider endpoints, secrets and per-provider options (``PG_V2_OPTIONS``...) come from
``ProviderSettings``. Whether a provider's callback payload may be applied as it stands is the
adapter's decision (``CallbackEvent.trusted``; for pg_v2 ``trust_signed_callbacks`` in
``PG_V2_OPTIONS``, off by default); ``callback_confirm_by_query`` can only make that stricter.
"""

from __future__ import annotations

import json
from typing import Annotated, Final

from pydantic import Field, field_validator

from payouts.settings.base import ProviderSettings

DEFAULT_CALLBACK_QUERY_WINDOW_SECONDS: Final = 30


class CallbackSettings(ProviderSettings):
    """The callback endpoint's settings. Every tunable has a safe default.

    ``callback_base_url`` (inherited) is what the notify URL was built from; the callback handler
    derives it from the request when the variable is not set (the API cannot pass its own URL to
    the function it invokes without a circular dependency in the template).
    """

    # Callbacks are a few hundred bytes; 64 KiB leaves room for providers adding fields while
    # refusing, before any hashing or parsing, bodies that can only be mistakes or attacks (413).
    max_callback_body_bytes: Annotated[int, Field(ge=1024, le=6 * 1024 * 1024)] = 64 * 1024
    # Where a provider signs a timestamp (pg_v2's Authorization header), a callback signed longer
    # ago than this, or this far in the future (clock skew), is refused with 401.
    replay_tolerance_seconds: Annotated[int, Field(ge=1, le=3600)] = 300
    # ASSUMPTION: both providers POST JSON (gateway_v2 documents a "JSON POST"; pg_v2's callback
    # is seen in integration code only). Media types accepted, compared without parameters
    # (charset) and case-insensitively; anything else, or no Content-Type at all, is a 415.
    callback_content_types: frozenset[str] = frozenset({"application/json"})
    # Providers whose callbacks only trigger a query even when the adapter trusts the payload
    # (an operator's switch, e.g. while a provider's signing key may be compromised). Callbacks
    # the adapter does not trust are always confirmed by query, whatever this says.
    callback_confirm_by_query: frozenset[str] = frozenset()
    # How long the confirm-by-query may take in total (on top of the provider read timeout's own
    # bound): the function must answer before API Gateway's 29 s integration timeout.
    confirm_query_timeout_seconds: Annotated[float, Field(gt=0, le=25)] = 15.0
    # At most one confirming query per order and reported status within this many seconds,
    # however many callbacks arrive (a provider's retries, a flood of unsigned pg_v2 bodies). A
    # callback that finds the window taken is acknowledged when the order is unresolved (the
    # reconcile loop polls it anyway); for a settled order it contradicts, it is answered 503 to
    # come back later. 0 queries for every callback.
    callback_query_window_seconds: Annotated[int, Field(ge=0, le=3600)] = (
        DEFAULT_CALLBACK_QUERY_WINDOW_SECONDS
    )

    @field_validator("callback_content_types", "callback_confirm_by_query", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # Environment variables are strings; sets arrive as JSON arrays.
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("callback_content_types")
    @classmethod
    def _lower_case(cls, media_types: frozenset[str]) -> frozenset[str]:
        return frozenset(media_type.strip().lower() for media_type in media_types)
