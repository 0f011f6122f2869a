"""Settings every function has: which table holds the orders.

Apart from ``settings.base`` so that the functions that never call a provider (find_due,
retention, status_events) do not build the provider settings model at every cold start.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class CommonSettings(BaseModel):
    """Every function: which table holds the orders."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    orders_table: Annotated[str, Field(min_length=3)]
