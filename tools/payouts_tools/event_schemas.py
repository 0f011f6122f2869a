"""Writes the published JSON Schema of the events this system emits, from their pydantic models.

Run ``python -m payouts_tools.event_schemas`` after changing a model; a test fails while a file
is stale. (The payout *request* schema, which this system consumes, is ``payouts_tools.schema``.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from payouts.services.status_events import DETAIL_TYPE, EVENT_SOURCE, PayoutStatusChanged

SCHEMAS_DIR: Final = Path(__file__).resolve().parents[2] / "events" / "schemas"
STATUS_CHANGED_PATH: Final = SCHEMAS_DIR / "payout-status-changed.schema.json"


def payout_status_changed_schema() -> dict[str, Any]:
    """The JSON Schema of a PayoutStatusChanged event's ``detail`` (draft 2020-12)."""
    schema = PayoutStatusChanged.model_json_schema(mode="serialization")
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://payouts.example/schemas/payout-status-changed.schema.json",
        # Replaces the model's docstring: a consumer needs the envelope and delivery semantics.
        "description": (
            f"The `detail` of an EventBridge event with source `{EVENT_SOURCE}` and detail-type "
            f"`{DETAIL_TYPE}`, put on the payouts event bus once per status change of a payout. "
            "Delivered at least once and in no guaranteed order: deduplicate and order by "
            "(payout_id, version). Generated from "
            "payouts.services.status_events.PayoutStatusChanged; do not edit by hand."
        ),
    }


def render_status_changed() -> str:
    """The schema file's exact text."""
    schema = payout_status_changed_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Write every event schema file."""
    STATUS_CHANGED_PATH.write_text(render_status_changed(), encoding="utf-8")
    print(f"wrote {STATUS_CHANGED_PATH}")


if __name__ == "__main__":
    main()
