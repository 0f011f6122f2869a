"""Settings of ``find_due``, the reconcile loop's lease and due list.

Apart from ``settings.reconcile`` so that find_due, which never calls a provider, does not build
the provider settings and the per-order rules' thresholds at every cold start.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final

from pydantic import Field

from payouts.settings.common import CommonSettings

# The lease item's name (PK LEASE#reconcile). The state machine's release step and its IAM
# condition name the same key; tests/unit/reconcile checks that they agree.
RECONCILE_LEASE: Final = "reconcile"


class FindDueSettings(CommonSettings):
    """``find_due``: how much work one loop iteration hands out, and the lease's safety margin."""

    # Orders per ``reconcile`` invocation. With query_concurrency 10 and a 10 s read timeout a
    # batch of 20 needs at most two rounds of provider calls: well inside the function timeout.
    reconcile_batch_size: Annotated[int, Field(ge=1, le=100)] = 20
    # Batches per loop iteration (the Map's items). With the Map's concurrency at 4, 8 batches
    # take two rounds. Each batch adds 7 history events to its iteration, so this bound (10) is
    # part of the arithmetic that keeps an execution far below 25,000 events (docs/reconcile.md).
    reconcile_batches_per_iteration: Annotated[int, Field(ge=1, le=10)] = 8
    # Added to the execution's time budget for the lease's lifetime: longer than the slowest
    # single step (a Map round of reconcile invocations at their timeout, with retries), so the
    # lease never lapses under a live execution, yet short enough that an execution that died
    # without releasing it blocks the loop only this long.
    lease_margin_seconds: Annotated[int, Field(ge=60, le=3600)] = 600

    @property
    def capacity(self) -> int:
        """Orders one loop iteration can check."""
        return self.reconcile_batch_size * self.reconcile_batches_per_iteration

    @property
    def lease_margin(self) -> timedelta:
        """``lease_margin_seconds`` as a duration."""
        return timedelta(seconds=self.lease_margin_seconds)
