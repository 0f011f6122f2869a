"""Settings of the reconcile function (``find_due``'s are in ``settings.find_due``).

Every tunable has a safe default and says why it has that value. The loop's own limits (time
budget, longest Wait, iterations) are not here: they belong to the state machine definition
(``DefinitionSubstitutions``) and reach ``find_due`` in its input.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from payouts.services.backoff import DEFAULT_JITTER, DEFAULT_STEPS_SECONDS, BackoffSchedule
from payouts.settings.base import ProviderSettings
from payouts.settings.provider_gate import ProviderGateSettings

type NotFoundPolicy = Literal["resend", "escalate"]
"""What to do with an order a provider keeps calling "not found" after an unknown create:
re-send it under the same merchant order number, or hand it to a person."""

# ASSUMPTION about the providers (providers.md, "Rules that follow"): pg_v2 documents that it
# refuses a second create under an existing merchant number (Payout.Duplicate_TradeNo), so a
# re-send cannot pay twice; gateway_v2 does not document what it does with a reused
# payout_cl_id, so a person decides. A provider missing from the table is escalated.
DEFAULT_NOT_FOUND_POLICY: Final[dict[str, NotFoundPolicy]] = {
    "pg_v2": "resend",
    "gateway_v2": "escalate",
}


class BackoffSettings(BaseModel):
    """The per-order check schedule (shared by whoever schedules an order's first check)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Seconds to wait after the 1st, 2nd, ... check; the last is the cap polling stays at.
    # Short first steps catch the usual settlement within a minute; the 1 h cap keeps a stuck
    # order cheap to follow for days.
    backoff_seconds: tuple[Annotated[int, Field(gt=0)], ...] = DEFAULT_STEPS_SECONDS
    # +/- this fraction of every wait, so orders sent together spread out over time.
    backoff_jitter: Annotated[float, Field(ge=0, lt=1)] = DEFAULT_JITTER

    @field_validator("backoff_seconds", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # Environment variables are strings; the list arrives as JSON ("[15, 30, 60]").
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("backoff_seconds", mode="after")
    @classmethod
    def _steps_make_a_schedule(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        BackoffSchedule.of_seconds(steps)  # raises ValueError for no steps or shrinking ones
        return steps

    def schedule(self) -> BackoffSchedule:
        """The schedule these settings describe."""
        return BackoffSchedule.of_seconds(self.backoff_seconds, self.backoff_jitter)


class ReconcileSettings(ProviderSettings, BackoffSettings, ProviderGateSettings):
    """``reconcile``: the per-order rules' thresholds, and provider call concurrency."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # After this long unresolved (since first_unresolved_at) an order is escalated to a person,
    # once, and then polled at the backoff cap. Never failed.
    reconcile_deadline_seconds: Annotated[int, Field(ge=60)] = 24 * 3600
    # A SUBMITTING order not updated for this long was abandoned by a crashed or timed-out
    # sender (intake's timeout is 60 s): it is treated as UNKNOWN and queried.
    stale_submitting_seconds: Annotated[int, Field(ge=30)] = 120
    # A "not found" answer after an unknown create is believed only after this long (since
    # first_unresolved_at): a create still travelling inside the provider must not be re-sent.
    not_found_grace_seconds: Annotated[int, Field(ge=0)] = 600
    # Per provider: "resend" (same merchant number) or "escalate" (see DEFAULT_NOT_FOUND_POLICY).
    not_found_policy: dict[str, NotFoundPolicy] = Field(
        default_factory=lambda: dict(DEFAULT_NOT_FOUND_POLICY)
    )
    # Creates per order in total (the first send included): a re-send that keeps ending "not
    # found" is escalated instead of being sent for ever.
    max_submit_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    # Provider calls in flight at once inside one reconcile invocation.
    query_concurrency: Annotated[int, Field(ge=1, le=50)] = 10
    # After a re-send, the first query of the create's outcome (an ambiguous answer included).
    first_check_seconds: Annotated[int, Field(ge=1)] = 15
    # Never-sent (held, or RECEIVED past their grace) orders one reconcile invocation sends per
    # provider; the rest wait held_recheck_seconds. With 8 batches per loop iteration that is at
    # most 40 creates per provider per iteration: a resume after a long pause drains its backlog
    # at a pace the provider (just back from trouble) can take.
    held_sends_per_batch: Annotated[int, Field(ge=1, le=100)] = 5

    @field_validator("not_found_policy", mode="before")
    @classmethod
    def _json_object_policy(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @property
    def deadline(self) -> timedelta:
        """``reconcile_deadline_seconds`` as a duration."""
        return timedelta(seconds=self.reconcile_deadline_seconds)

    @property
    def stale_submitting_after(self) -> timedelta:
        """``stale_submitting_seconds`` as a duration."""
        return timedelta(seconds=self.stale_submitting_seconds)

    @property
    def not_found_grace(self) -> timedelta:
        """``not_found_grace_seconds`` as a duration."""
        return timedelta(seconds=self.not_found_grace_seconds)

    @property
    def first_check_after(self) -> timedelta:
        """``first_check_seconds`` as a duration."""
        return timedelta(seconds=self.first_check_seconds)
