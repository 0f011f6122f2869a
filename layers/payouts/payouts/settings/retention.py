"""Settings of the retention function (personal data erased after the retention period)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from payouts.settings.common import CommonSettings


class RetentionSettings(CommonSettings):
    """The retention function's environment. The period has no default here: the template's
    ``PersonalDataRetentionDays`` (default 180) is the one place that decides it."""

    # Days after an order turned terminal (and last changed) before its personal data is erased.
    personal_data_retention_days: Annotated[int, Field(ge=1, le=3650)]
    # Orders read per pass from the erasable index and from the sweep of by-day each; an
    # invocation runs passes while time lasts.
    erasure_batch_size: Annotated[int, Field(ge=1, le=1000)] = 100
    # An invocation starts no new pass with less than this many seconds left.
    erasure_stop_margin_seconds: Annotated[int, Field(ge=1, le=300)] = 20

    @property
    def retention(self) -> timedelta:
        """The retention period."""
        return timedelta(days=self.personal_data_retention_days)
