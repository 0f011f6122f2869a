"""Writes the published JSON Schema of the events this system emits, from their pydantic models.

Run ``python -m payouts_tools.event_schemas`` after changing a model; a test fails while a file
is stale. (The payout *request* schema, which this system consumes, is ``payouts_tools.schema``.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from payouts.services.provider_events import (
    PAUSED_DETAIL_TYPE,
    RESUMED_DETAIL_TYPE,
    ProviderPaused,
    ProviderResumed,
)
from payouts.services.status_events import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    NEEDS_REVIEW_DETAIL_TYPE,
    REVIEW_RESOLVED_DETAIL_TYPE,
    PayoutNeedsReview,
    PayoutReviewResolved,
    PayoutStatusChanged,
)

SCHEMAS_DIR: Final = Path(__file__).resolve().parents[2] / "events" / "schemas"
STATUS_CHANGED_PATH: Final = SCHEMAS_DIR / "payout-status-changed.schema.json"
NEEDS_REVIEW_PATH: Final = SCHEMAS_DIR / "payout-needs-review.schema.json"
REVIEW_RESOLVED_PATH: Final = SCHEMAS_DIR / "payout-review-resolved.schema.json"
PROVIDER_PAUSED_PATH: Final = SCHEMAS_DIR / "provider-paused.schema.json"
PROVIDER_RESUMED_PATH: Final = SCHEMAS_DIR / "provider-resumed.schema.json"
_PROVIDER_DELIVERY: Final = (
    "Delivered at least once and in no guaranteed order: deduplicate and order by "
    "(provider, version)."
)
_DELIVERY: Final = (
    "Delivered at least once and in no guaranteed order: deduplicate and order by "
    "(payout_id, version)."
)


def payout_status_changed_schema() -> dict[str, Any]:
    """The JSON Schema of a PayoutStatusChanged event's ``detail`` (draft 2020-12)."""
    return _schema(
        PayoutStatusChanged,
        STATUS_CHANGED_PATH,
        f"`{DETAIL_TYPE}`, put on the payouts event bus once per status change of a payout.",
    )


def payout_needs_review_schema() -> dict[str, Any]:
    """The JSON Schema of a PayoutNeedsReview event's ``detail`` (draft 2020-12)."""
    return _schema(
        PayoutNeedsReview,
        NEEDS_REVIEW_PATH,
        f"`{NEEDS_REVIEW_DETAIL_TYPE}`, put on the payouts event bus each time a payout is "
        "escalated to a person (its review flag raised; its status unchanged).",
    )


def payout_review_resolved_schema() -> dict[str, Any]:
    """The JSON Schema of a PayoutReviewResolved event's ``detail`` (draft 2020-12)."""
    return _schema(
        PayoutReviewResolved,
        REVIEW_RESOLVED_PATH,
        f"`{REVIEW_RESOLVED_DETAIL_TYPE}`, put on the payouts event bus each time a person "
        "clears a payout's review flag (resolved, or closed).",
    )


def provider_paused_schema() -> dict[str, Any]:
    """The JSON Schema of a ProviderPaused event's ``detail`` (draft 2020-12)."""
    return _schema(
        ProviderPaused,
        PROVIDER_PAUSED_PATH,
        f"`{PAUSED_DETAIL_TYPE}`, put on the payouts event bus when a person or the breaker "
        "pauses a provider (its new payouts are held, not sent).",
        delivery=_PROVIDER_DELIVERY,
        module="provider_events",
    )


def provider_resumed_schema() -> dict[str, Any]:
    """The JSON Schema of a ProviderResumed event's ``detail`` (draft 2020-12)."""
    return _schema(
        ProviderResumed,
        PROVIDER_RESUMED_PATH,
        f"`{RESUMED_DETAIL_TYPE}`, put on the payouts event bus when a person resumes a "
        "provider (its held payouts are sent at a bounded rate).",
        delivery=_PROVIDER_DELIVERY,
        module="provider_events",
    )


def _schema(
    model: type[BaseModel],
    path: Path,
    what: str,
    *,
    delivery: str = _DELIVERY,
    module: str = "status_events",
) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://payouts.example/schemas/{path.name}",
        # Replaces the model's docstring: a consumer needs the envelope and delivery semantics.
        "description": (
            f"The `detail` of an EventBridge event with source `{EVENT_SOURCE}` and detail-type "
            f"{what} {delivery} Generated from payouts.services.{module}.{model.__name__}; "
            "do not edit by hand."
        ),
    }


def _render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_status_changed() -> str:
    """The PayoutStatusChanged schema file's exact text."""
    return _render(payout_status_changed_schema())


def render_needs_review() -> str:
    """The PayoutNeedsReview schema file's exact text."""
    return _render(payout_needs_review_schema())


def render_review_resolved() -> str:
    """The PayoutReviewResolved schema file's exact text."""
    return _render(payout_review_resolved_schema())


def render_provider_paused() -> str:
    """The ProviderPaused schema file's exact text."""
    return _render(provider_paused_schema())


def render_provider_resumed() -> str:
    """The ProviderResumed schema file's exact text."""
    return _render(provider_resumed_schema())


# Every published event schema: its file and how its exact text is made.
SCHEMA_FILES: Final = (
    (STATUS_CHANGED_PATH, render_status_changed),
    (NEEDS_REVIEW_PATH, render_needs_review),
    (REVIEW_RESOLVED_PATH, render_review_resolved),
    (PROVIDER_PAUSED_PATH, render_provider_paused),
    (PROVIDER_RESUMED_PATH, render_provider_resumed),
)


def main() -> None:
    """Write every event schema file."""
    for path, render in SCHEMA_FILES:
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
