"""A canonical hash of a payout request, to tell "the same request again" from "a different one"."""

from __future__ import annotations

import hashlib
import json

from payouts.domain.request import PayoutRequest


def request_fingerprint(request: PayoutRequest) -> str:
    """SHA-256 (hex) of the request's canonical JSON: sorted keys, no spaces, UTF-8.

    Two deliveries of one request always agree; any change to amount, beneficiary, description or
    metadata changes it. Field order and whitespace in the original message do not matter.
    """
    canonical = json.dumps(
        request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
