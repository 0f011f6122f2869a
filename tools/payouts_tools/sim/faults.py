"""The simulator's fault model: every kind of fault with its own rate, and the named mixes.

Each rate is a probability per opportunity (per table call, per provider call, per crash point,
per delivery...). Every draw comes from the run's seed, so a run replays exactly.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, fields, replace
from typing import Final


@dataclass(frozen=True)
class FaultMix:
    """Rates of every fault kind (0 disables it)."""

    # DynamoDB, per call (a fault shown to the caller means botocore's retries all failed too).
    ddb_throttle: float = 0.0
    ddb_internal_before: float = 0.0
    ddb_timeout_before: float = 0.0
    ddb_internal_after: float = 0.0  # the write took effect, the caller sees a 500
    ddb_timeout_after: float = 0.0  # the write took effect, the caller sees a timeout
    ddb_retry_sees_own_write: float = 0.0  # a put retried by botocore meets its own item
    ddb_cancel_throttling: float = 0.0  # TransactionCanceledException: ThrottlingError
    ddb_cancel_conflict: float = 0.0  # TransactionCanceledException: TransactionConflict
    # Lambda.
    lambda_crash: float = 0.0  # per crash point (before/after each write, call, send, ack)
    lambda_timeout: float = 0.0  # per invocation: killed at a random moment mid-call
    lambda_cold_start: float = 0.0  # per invocation: a fresh container (new adapters, clients)
    # SQS.
    sqs_ack_lost: float = 0.0  # the delete did not happen: redelivered after the visibility
    sqs_copies: float = 0.0  # a receive hands the message to several consumers at once
    sqs_reorder: float = 0.0  # a receive takes messages out of order
    sqs_visibility_expires: float = 0.0  # visible again while its handler still runs
    # Step Functions.
    sfn_kill: float = 0.0  # per state: the execution is stopped there (lease left to expire)
    sfn_overlap: float = 0.0  # per tick: a second execution is started at once
    # The table's stream and the status events function.
    stream_retry: float = 0.0  # the batch's invocation fails; Lambda retries (bisecting)
    stream_duplicate: float = 0.0  # the batch is delivered again later
    events_put_fails: float = 0.0  # per PutEvents entry
    # Providers, per call.
    provider_latency: float = 0.0  # slow answer; sometimes beyond the client's read timeout
    provider_read_timeout: float = 0.0  # nothing done, no answer
    provider_lost_answer: float = 0.0  # done, no answer
    provider_reset: float = 0.0  # connection reset before anything was done
    provider_refused: float = 0.0  # connection refused: provably nothing sent
    provider_http_500: float = 0.0
    provider_html_502: float = 0.0
    provider_blank_200: float = 0.0
    provider_malformed_200: float = 0.0
    provider_duplicate: float = 0.0  # pg_v2 create done twice: the answer is its duplicate code
    provider_lands_late: float = 0.0  # the provider processes it up to minutes after we gave up
    # Settlement at the providers, per payout.
    settle_failure: float = 0.02
    settle_cancel: float = 0.01
    settle_never: float = 0.0
    settle_reverse: float = 0.0
    settle_slow: float = 0.0  # settles hours later: slower than every stale threshold
    # Settles more than a day after creation (after the reconcile deadline's escalation): a
    # late change, which lists the order in the erasable index instead of the sweep's care.
    settle_late: float = 0.0
    # A reversal more than a day after the payment (of a reversed payout): the order changes
    # again after the retention sweep may have erased it, or so late the index must list it.
    reverse_late: float = 0.0
    # Callbacks, per callback.
    callback_duplicate: float = 0.0
    callback_reorder: float = 0.0
    callback_drop: float = 0.0
    callback_delay_hours: float = 0.0
    callback_forged: float = 0.0
    callback_replayed: float = 0.0
    callback_tampered: float = 0.0
    # Clocks: each invocation's clock is off by up to this many seconds either way.
    clock_skew_seconds: float = 0.0
    # Publishers.
    request_invalid: float = 0.0
    request_duplicate_publish: float = 0.0
    request_conflict: float = 0.0

    def active(self) -> dict[str, float]:
        """The kinds switched on, with their rates."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


NONE: Final = FaultMix()

REALISTIC: Final = FaultMix(
    ddb_throttle=0.002,
    ddb_internal_before=0.0005,
    ddb_timeout_after=0.0005,
    ddb_cancel_conflict=0.001,
    lambda_crash=0.0005,
    lambda_timeout=0.002,
    lambda_cold_start=0.05,
    sqs_ack_lost=0.002,
    sqs_copies=0.002,
    sqs_reorder=0.05,
    sfn_kill=0.001,
    stream_retry=0.01,
    stream_duplicate=0.005,
    events_put_fails=0.002,
    provider_latency=0.05,
    provider_read_timeout=0.005,
    provider_lost_answer=0.005,
    provider_reset=0.002,
    provider_refused=0.002,
    provider_http_500=0.005,
    provider_html_502=0.002,
    provider_blank_200=0.002,
    provider_malformed_200=0.001,
    provider_duplicate=0.001,
    provider_lands_late=0.001,
    settle_never=0.0005,
    settle_reverse=0.002,
    settle_slow=0.01,
    settle_late=0.001,
    reverse_late=0.3,
    callback_duplicate=0.05,
    callback_reorder=0.02,
    callback_drop=0.02,
    callback_delay_hours=0.005,
    callback_forged=0.002,
    callback_replayed=0.002,
    callback_tampered=0.002,
    clock_skew_seconds=2.0,
    request_invalid=0.01,
    request_duplicate_publish=0.02,
    request_conflict=0.001,
)

STORM: Final = FaultMix(
    ddb_throttle=0.01,
    ddb_internal_before=0.004,
    ddb_timeout_before=0.004,
    ddb_internal_after=0.004,
    ddb_timeout_after=0.004,
    ddb_retry_sees_own_write=0.004,
    ddb_cancel_throttling=0.01,
    ddb_cancel_conflict=0.01,
    lambda_crash=0.004,
    lambda_timeout=0.01,
    lambda_cold_start=0.1,
    sqs_ack_lost=0.02,
    sqs_copies=0.02,
    sqs_reorder=0.2,
    sqs_visibility_expires=0.01,
    sfn_kill=0.01,
    sfn_overlap=0.05,
    stream_retry=0.05,
    stream_duplicate=0.02,
    events_put_fails=0.02,
    provider_latency=0.1,
    provider_read_timeout=0.02,
    provider_lost_answer=0.02,
    provider_reset=0.01,
    provider_refused=0.01,
    provider_http_500=0.02,
    provider_html_502=0.01,
    provider_blank_200=0.01,
    provider_malformed_200=0.01,
    provider_duplicate=0.01,
    provider_lands_late=0.005,
    settle_failure=0.04,
    settle_cancel=0.02,
    settle_never=0.002,
    settle_reverse=0.01,
    settle_slow=0.03,
    settle_late=0.005,
    reverse_late=0.5,
    callback_duplicate=0.1,
    callback_reorder=0.05,
    callback_drop=0.05,
    callback_delay_hours=0.02,
    callback_forged=0.01,
    callback_replayed=0.01,
    callback_tampered=0.01,
    clock_skew_seconds=5.0,
    request_invalid=0.03,
    request_duplicate_publish=0.05,
    request_conflict=0.005,
)

MIXES: Final[dict[str, FaultMix]] = {"none": NONE, "realistic": REALISTIC, "storm": STORM}


def mix_named(name: str, **overrides: float) -> FaultMix:
    """A named mix, with some rates changed."""
    try:
        base = MIXES[name]
    except KeyError:
        raise ValueError(f"no fault mix {name!r}; choose from {', '.join(MIXES)}") from None
    return replace(base, **overrides)


class Dice:
    """Draws whether each fault fires, and counts what was injected."""

    def __init__(self, mix: FaultMix, rng: random.Random) -> None:
        self.mix = mix
        self.rng = rng
        self.injected: Counter[str] = Counter()

    def roll(self, kind: str) -> bool:
        """True (and counted) when fault ``kind`` fires this time."""
        rate: float = getattr(self.mix, kind)
        if rate <= 0 or self.rng.random() >= rate:
            return False
        self.injected[kind] += 1
        return True

    def first(self, *kinds: str) -> str | None:
        """The first of ``kinds`` that fires (each rolled in turn), or None."""
        for kind in kinds:
            if self.roll(kind):
                return kind
        return None
