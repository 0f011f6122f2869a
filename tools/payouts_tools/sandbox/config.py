"""Sandbox configuration: the fake merchant credentials and every behaviour knob.

Everything here can be changed at runtime through ``Sandbox.configure`` or ``POST
/_sandbox/config`` except the port. What the providers' documents do not state lives in
``assumptions.py``; the options below that model an assumption say so.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from payouts_tools.keep_alive import DEFAULT_IDLE_TIMEOUT_S

# Servers on this machine bind to loopback only.
LOOPBACK: Final = "127.0.0.1"


class SandboxModel(BaseModel):
    """Base for the sandbox's value objects: immutable, and strict about unknown fields so a typo
    in a test or an admin call fails loudly instead of silently meaning something else."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Provider(StrEnum):
    """The two provider API families the sandbox serves (named like our adapters)."""

    GATEWAY_V2 = "gateway_v2"
    PG_V2 = "pg_v2"


class Operation(StrEnum):
    """The provider calls a fault can target."""

    CREATE = "create"
    QUERY = "query"
    BALANCE = "balance"


# The sandbox's merchant credentials: fake, public, and meant to be printed and copied into the
# local stack's local secrets. Never real values.
FAKE_GATEWAY_PLATFORM_ID: Final = "PF0002"
FAKE_GATEWAY_SIGNING_KEY: Final = "sandbox-signing-key-not-secret"
FAKE_GATEWAY_QUERY_CREDENTIAL: Final = "sandbox-query-token-not-secret"
FAKE_PG_APP_ID: Final = "sandbox-app-id-not-secret"
FAKE_PG_APP_CREDENTIAL: Final = "sandbox-app-secret-not-secret"


class GatewayCredentials(SandboxModel):
    """gateway_v2 merchant credentials (obviously fake; the local stack copies them into its
    local secrets)."""

    platform_id: str = FAKE_GATEWAY_PLATFORM_ID
    signing_key: str = FAKE_GATEWAY_SIGNING_KEY
    query_token: str = FAKE_GATEWAY_QUERY_CREDENTIAL


class PgCredentials(SandboxModel):
    """pg_v2 merchant credentials (obviously fake)."""

    app_id: str = FAKE_PG_APP_ID
    app_secret: str = FAKE_PG_APP_CREDENTIAL


class OutcomeMix(SandboxModel):
    """Relative weights of how unscripted payouts end. Drawn with the sandbox's seed."""

    success: float = Field(default=1.0, ge=0)
    failure: float = Field(default=0.0, ge=0)
    cancel: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _some_outcome_possible(self) -> Self:
        if self.success + self.failure + self.cancel <= 0:
            raise ValueError("at least one outcome needs a positive weight")
        return self


# gateway_v2 documents "up to 10 times within an hour"; this spreads 10 attempts over ~59 min.
DOCUMENTED_RETRY_DELAYS_S: Final[tuple[float, ...]] = (
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    300.0,
    600.0,
    900.0,
    1200.0,
)


class CallbackOptions(SandboxModel):
    """How settled payouts are reported to their notify URL.

    ``retry_delays_s`` are the waits before the 2nd, 3rd, ... attempt; an attempt that is not
    acknowledged is retried until the list runs out. The ratios are drawn per callback with the
    sandbox's seed; a per-order script overrides them.
    """

    enabled: bool = True
    retry_delays_s: tuple[float, ...] = DOCUMENTED_RETRY_DELAYS_S
    timeout_s: float = Field(default=5.0, gt=0)
    duplicate_ratio: float = Field(default=0.0, ge=0, le=1)
    reorder_ratio: float = Field(default=0.0, ge=0, le=1)
    reorder_delay_s: float = Field(default=1.0, ge=0)
    drop_ratio: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _delays_not_negative(self) -> Self:
        if any(delay < 0 for delay in self.retry_delays_s):
            raise ValueError("retry delays cannot be negative")
        return self


class SandboxConfig(SandboxModel):
    """Everything a sandbox needs to start. Defaults suit the local demo; tests shorten delays."""

    port: int = Field(default=0, ge=0, le=65535)
    seed: int = 0
    gateway: GatewayCredentials = Field(default_factory=GatewayCredentials)
    pg: PgCredentials = Field(default_factory=PgCredentials)
    # A payout settles when the first of these triggers fires (None disables a trigger).
    settle_after_s: float | None = Field(default=1.0, ge=0)
    settle_after_queries: int | None = Field(default=None, ge=1)
    # How long after paying a payout scripted "reverse" is returned.
    reverse_after_s: float = Field(default=1.0, ge=0)
    mix: OutcomeMix = Field(default_factory=OutcomeMix)
    callbacks: CallbackOptions = Field(default_factory=CallbackOptions)
    # Fee charged per paid payout: a fixed part in minor units plus a share of the amount in
    # basis points (rounded half up), reported as gateway_v2 `fee` / pg_v2 `totalFee` and
    # written in the ledger beside the payment.
    fee_minor: int = Field(default=0, ge=0)
    fee_basis_points: int = Field(default=0, ge=0, le=10_000)
    # Every currency starts with this balance, in minor units.
    opening_balance_minor: int = Field(default=10_000_000_000, ge=0)
    # ASSUMPTION (undocumented): whether gateway_v2 refuses a reused payout_cl_id. False is the
    # pessimistic reading: a second create makes a second payout, so a double create by our
    # system shows up as a double payment in the ledger.
    gateway_dedupe: bool = False
    # ASSUMPTION (integration code only): pg_v2 signs the full URL; "path" signs the path only.
    pg_sign_url: Literal["full", "path"] = "full"
    # ASSUMPTION: where gateway_v2 puts a query answer's sign: inside ``data``, over every field
    # of ``data`` (the adapter's default), or beside ``error_code``, over every top-level field
    # with ``data`` as compact JSON (the adapter's ``query_sign_location: "answer"``).
    gateway_query_sign_location: Literal["data", "answer"] = "data"
    # The pg_v2 document says Content-Type and Accept accept only application/json; refuse
    # others with a 4xx (which pg_v2 documents as "not created").
    pg_require_json_headers: bool = True
    # How long read_timeout and lost_answer faults hold a connection unless a fault says
    # otherwise: longer than any client here waits.
    fault_sleep_s: float = Field(default=10.0, ge=0)
    # How long a kept-alive connection may sit idle before the sandbox closes it, as a provider's
    # load balancer does. Shorter than httpx's keep-alive expiry (5 s) by default, so clients
    # regularly meet a pooled connection the provider has closed (see payouts_tools.keep_alive).
    idle_timeout_s: float = Field(default=DEFAULT_IDLE_TIMEOUT_S, gt=0)

    def fee_for(self, amount_minor: int) -> int:
        """The fee this sandbox charges for paying ``amount_minor``, in the same minor units."""
        share, remainder = divmod(amount_minor * self.fee_basis_points, 10_000)
        return self.fee_minor + share + (1 if 2 * remainder >= 10_000 else 0)
