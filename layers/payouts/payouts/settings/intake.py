"""Settings of the intake function (SQS payout requests -> orders -> provider create)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from payouts.settings.base import ProviderSettings


class IntakeSettings(ProviderSettings):
    """The intake function's environment. ``PAYOUT_DLQ_URL`` is required: an invalid request is
    sent there explicitly (with its reason), so there is no safe default to guess."""

    # Where invalid requests go, with the reason as a message attribute (the requests queue's DLQ).
    payout_dlq_url: Annotated[str, Field(min_length=1)]
    # How many provider creates of one batch may be in flight at once. SQS hands Lambda at most
    # 10 messages per batch unless a batching window is set, so 10 sends a whole batch at once.
    provider_concurrency: Annotated[int, Field(ge=1, le=100)] = 10
    # A RECEIVED order falls due after this long, so one whose message died in the DLQ is still
    # found by the reconcile loop. It must outlast SQS's own retries of the message
    # (maxReceiveCount x visibility timeout = 5 x 360 s = 30 min with the template's defaults),
    # or the loop would look at orders whose message is still being retried.
    received_grace_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600
    # A SUBMITTING order nobody finished is treated as unknown after this long. It must exceed
    # the intake function's timeout (60 s by default), so the loop never queries a create that
    # is still in flight.
    stale_submitting_after_seconds: Annotated[int, Field(ge=30, le=3600)] = 120
    # An accepted order is first queried this long after the create (callbacks usually settle it
    # sooner; the query is the safety net).
    submitted_first_check_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 60
    # An order whose create had no clear answer is queried within seconds: the sooner we know,
    # the sooner money that did or did not move is accounted for.
    unknown_first_check_seconds: Annotated[int, Field(ge=1, le=3600)] = 5
