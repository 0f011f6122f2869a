"""The provider port: what every payout provider adapter offers, and its closed outcome types.

Adapters translate a provider's HTTP API into these outcomes through a decision table kept as data
beside the adapter. The golden rule: when the outcome of a create is not known for certain it is
AMBIGUOUS, never REJECTED; only REJECTED means "no money moved, and none will".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

import httpx

from payouts.domain.figures import NO_FIGURES, MoneyFigures
from payouts.domain.order import Order
from payouts.domain.redaction import mask_shapes, mask_text


class CreateKind(StrEnum):
    """What a create call established."""

    ACCEPTED = "ACCEPTED"  # the provider has the order (its id is known); money not moved yet
    REJECTED = "REJECTED"  # refused definitively; no order exists at the provider
    DUPLICATE = "DUPLICATE"  # the provider already has an order with this merchant number
    AMBIGUOUS = "AMBIGUOUS"  # the bytes may have arrived; only a query can tell
    NOT_SENT = "NOT_SENT"  # provably never left (connect refused, DNS, connect timeout)


class QueryKind(StrEnum):
    """What a query (or a callback) says of the order at the provider."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REVERSED = "REVERSED"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN = "UNKNOWN"  # the answer could not be read or is not in our table: keep polling


@dataclass(frozen=True)
class RawExchange:
    """What the provider actually said, for the evidence log. Never holds keys or signatures,
    and never personal data in clear: whatever an adapter passes in, the message and the body
    excerpt are masked here (an answer may echo the beneficiary under any field name)."""

    transport: str  # "ok", "connect_error", "connect_timeout", "read_timeout", "reset", ...
    http_status: int | None = None
    code: str | None = None
    message: str | None = None
    body_excerpt: str | None = None  # at most a few hundred characters, redacted

    def __post_init__(self) -> None:
        # Masking is idempotent, so an adapter that already masked loses nothing. The message's
        # words say what went wrong and are kept; the excerpt keeps only the values of safe keys.
        if self.message is not None:
            object.__setattr__(self, "message", mask_shapes(self.message))
        if self.body_excerpt is not None:
            object.__setattr__(self, "body_excerpt", mask_text(self.body_excerpt))


@dataclass(frozen=True)
class CreateOutcome:
    """The result of one create call."""

    kind: CreateKind
    reason: str
    raw: RawExchange
    provider_order_id: str | None = None
    # Fee, credited amount, reference, paid time, when the answer carries any (never a verdict).
    figures: MoneyFigures = NO_FIGURES


@dataclass(frozen=True)
class QueryOutcome:
    """The result of one query. Amount and currency are as the provider reported them (minor
    units), so the caller can refuse to apply an answer that does not match the order."""

    kind: QueryKind
    reason: str
    raw: RawExchange
    provider_order_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    # True when the verdict comes from a documented status or code. An assumed FAILED (the
    # default, safe side) is held by settlement until a query after the settle period repeats it.
    documented: bool = False
    # Fee, credited amount, reference, paid time, when the answer carries any (never a verdict).
    figures: MoneyFigures = NO_FIGURES


@dataclass(frozen=True)
class CallbackEvent:
    """A callback whose signature was verified (or, for providers whose callback signing is not
    documented, a callback that must only trigger a query: ``trusted`` is False)."""

    provider: str
    merchant_order_id: str
    kind: QueryKind
    trusted: bool
    fields: Mapping[str, object]  # every field received, for the evidence log
    provider_order_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    signed_at: datetime | None = None  # when the provider signs a timestamp (replay window)
    # True when ``kind`` comes from a documented status (see ``QueryOutcome.documented``).
    documented: bool = False
    # Fee, credited amount, reference, paid time, as the callback states them (never a verdict;
    # applied only when the callback itself is trusted).
    figures: MoneyFigures = NO_FIGURES


@dataclass(frozen=True)
class Ack:
    """The exact acknowledgement a provider expects back from our callback endpoint."""

    status_code: int
    body: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class BalanceEntry:
    """One currency's balance at the provider, in minor units."""

    currency: str
    available_minor: int
    frozen_minor: int = 0


class UnsupportedPayout(ValueError):
    """The adapter cannot carry this order (method, currency or amount outside what its API
    takes). Raised by ``create`` before anything is sent, so the order can be refused safely."""


class CallbackRejected(Exception):
    """The callback's signature is missing or wrong: answer 401, change nothing."""


class CallbackMalformed(Exception):
    """The callback cannot be read (not JSON, missing fields): answer 400, change nothing."""


class ProviderUnavailable(Exception):
    """A query or balance call could not get an answer (timeout, 5xx, unreadable)."""


@runtime_checkable
class PayoutProvider(Protocol):
    """The port. One adapter per provider API family; ``name`` is its routing key."""

    name: str

    async def create(self, order: Order) -> CreateOutcome:
        """Send the create for ``order`` under its own merchant order number (its payout id)."""
        ...

    async def query(self, order: Order) -> QueryOutcome:
        """Ask the provider where ``order`` stands. Never raises for provider trouble: UNKNOWN."""
        ...

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        """Verify and parse a callback. Raises CallbackRejected or CallbackMalformed."""
        ...

    def ack(self) -> Ack:
        """The acknowledgement body and status the provider expects."""
        ...

    async def balance(self) -> list[BalanceEntry]:
        """The merchant's balances. Raises ProviderUnavailable when no answer can be read."""
        ...


@dataclass(frozen=True)
class ProviderTimeouts:
    """httpx timeouts, seconds. A connect failure is provably NOT_SENT; a read one is not."""

    connect: float = 3.0
    read: float = 10.0
    write: float = 5.0
    pool: float = 2.0

    def as_httpx(self) -> httpx.Timeout:
        """The same limits as httpx wants them on each request."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class AdapterContext:
    """What every adapter gets besides its credentials: where to reach the provider and where the
    provider should call us back."""

    base_url: str
    notify_url: str
    timeouts: ProviderTimeouts = field(default_factory=ProviderTimeouts)
