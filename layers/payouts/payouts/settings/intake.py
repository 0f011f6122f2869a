"""Settings of the intake function (SQS payout requests -> orders -> provider create)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from payouts.settings.base import ProviderSettings
from payouts.settings.provider_gate import ProviderGateSettings


class IntakeSettings(ProviderSettings, ProviderGateSettings):
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
    # The longest intake waits for a create's answer before recording it as unknown (queried,
    # never failed). With a clock margin of 10 s it must leave room inside the stale threshold:
    # a create starts at most (stale - budget - 10 s) after its claim.
    create_budget_seconds: Annotated[int, Field(ge=5, le=600)] = 30

    @model_validator(mode="after")
    def _creates_fit_inside_the_stale_threshold(self) -> Self:
        if self.stale_submitting_after_seconds <= self.create_budget_seconds + 10:
            raise ValueError(
                "stale_submitting_after_seconds must exceed create_budget_seconds + 10 (the "
                "clock margin): a create still in flight would be queried as abandoned"
            )
        return self

    # An accepted order is first queried this long after the create (callbacks usually settle it
    # sooner; the query is the safety net).
    submitted_first_check_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 60
    # An order whose create had no clear answer is queried within seconds: the sooner we know,
    # the sooner money that did or did not move is accounted for.
    unknown_first_check_seconds: Annotated[int, Field(ge=1, le=3600)] = 5
