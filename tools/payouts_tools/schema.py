"""Writes the published JSON Schema of the payout request from the pydantic model.

Run ``python -m payouts_tools.schema`` after changing the model; a test fails while it is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from payouts.domain.request import PayoutRequest

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "events" / "schemas" / "payout-request.schema.json"
)


def payout_request_schema() -> dict[str, Any]:
    """The JSON Schema consumers validate against (draft 2020-12)."""
    schema = PayoutRequest.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://payouts.example/schemas/payout-request.schema.json",
        "description": (
            "A payout request published to the payout-requests queue (raw, or as the `detail` of "
            "an EventBridge event, or the `Message` of an SNS notification). Generated from "
            "payouts.domain.request.PayoutRequest; do not edit by hand."
        ),
        **schema,
    }


def render() -> str:
    """The schema file's exact text."""
    return json.dumps(payout_request_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the schema file."""
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
