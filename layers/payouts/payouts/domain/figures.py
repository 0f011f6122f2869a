"""Money figures for finance: what a provider says it charged, credited and when it paid.

They never decide a verdict (amount and currency checks do): a figure the provider sends that we
cannot read is kept as None, with a note saying why, so the evidence shows what was lost and the
order still settles as the provider's status says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import JsonValue

# A reference or note longer than this is cut: statement references are short, and the order
# item must stay small.
MAX_REFERENCE_CHARS: Final = 64
MAX_NOTE_CHARS: Final = 120

# The Order fields a MoneyFigures fills (the same names on both).
ORDER_FIELDS: Final = (
    "fee_minor",
    "fee_currency",
    "credited_minor",
    "provider_reference",
    "paid_at",
)


@dataclass(frozen=True)
class MoneyFigures:
    """The figures one provider answer (create, query or callback) carried, already typed.

    ``unreadable`` lists, per figure the provider sent but we could not read, why (the evidence
    log keeps it); such a figure is None here.
    """

    fee_minor: int | None = None
    fee_currency: str | None = None
    credited_minor: int | None = None
    provider_reference: str | None = None
    paid_at: datetime | None = None
    unreadable: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the answer carried nothing readable and nothing unreadable."""
        return not self.order_changes() and not self.unreadable

    def order_changes(self) -> dict[str, Any]:
        """The Order fields these figures set (only the figures that were read)."""
        values: dict[str, Any] = {
            "fee_minor": self.fee_minor,
            "fee_currency": self.fee_currency if self.fee_minor is not None else None,
            "credited_minor": self.credited_minor,
            "provider_reference": self.provider_reference,
            "paid_at": self.paid_at,
        }
        return {name: value for name, value in values.items() if value is not None}

    def evidence(self) -> dict[str, JsonValue]:
        """The figures as evidence detail (JSON), the unreadable notes included."""
        detail: dict[str, JsonValue] = {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in self.order_changes().items()
        }
        if self.unreadable:
            detail["unreadable"] = list(self.unreadable)
        return detail


NO_FIGURES: Final = MoneyFigures()


def note(field: str, value: object, why: str) -> str:
    """One ``unreadable`` note: the field, an excerpt of its value, and why it was not read."""
    return f"{field}={str(value)[:40]!r}: {why}"[:MAX_NOTE_CHARS]


def reference_or_none(value: object) -> str | None:
    """A provider reference as stored: stripped, cut to a bounded length, None when blank."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text[:MAX_REFERENCE_CHARS] or None


def from_unix_seconds(value: int) -> datetime:
    """A unix time in seconds as an aware UTC datetime (ValueError/OverflowError if absurd)."""
    return datetime.fromtimestamp(value, tz=UTC)


def from_iso_with_zone(text: str) -> datetime | None:
    """An ISO 8601 date-time that names its zone, as aware UTC; None for one without a zone
    (guessing the provider's local zone would shift the paid day) or one that is not a time."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
