"""Settings of the status events function (orders table stream -> EventBridge)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from payouts.settings.common import CommonSettings


class StatusEventsSettings(CommonSettings):
    """The status events function's environment. ``EVENT_BUS_NAME`` is required: publishing to
    a guessed bus (or the default one) would hand other services' payouts to the wrong place."""

    # Name or ARN of the custom bus PayoutStatusChanged events are put on.
    event_bus_name: Annotated[str, Field(min_length=1, max_length=1600)]
