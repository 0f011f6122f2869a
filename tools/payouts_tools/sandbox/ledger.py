"""The ledger of money the sandbox's providers actually sent: what "paid exactly once" is
checked against."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

from payouts_tools.sandbox.config import Provider, SandboxModel


class EntryKind(StrEnum):
    """A payment out, or its reversal (a negative entry)."""

    PAYMENT = "payment"
    REVERSAL = "reversal"


class LedgerEntry(SandboxModel):
    """One movement of money. ``amount_minor`` is negative for a reversal."""

    provider: Provider
    merchant_no: str
    provider_order_id: str
    amount_minor: int
    currency: str
    at: float  # unix seconds
    kind: EntryKind
    fee_minor: int = 0  # the provider's fee charged with a payment (none on a reversal)


class Ledger:
    """Append-only, thread-safe list of ledger entries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []
        self._watchers: list[Callable[[LedgerEntry], None]] = []

    def record(self, entry: LedgerEntry) -> None:
        """Append one entry, then tell the watchers."""
        with self._lock:
            self._entries.append(entry)
        for watcher in self._watchers:
            watcher(entry)

    def watch(self, watcher: Callable[[LedgerEntry], None]) -> None:
        """Call ``watcher`` with every entry recorded from now on (e.g. an invariant checker)."""
        self._watchers.append(watcher)

    def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first."""
        with self._lock:
            return list(self._entries)

    def double_payouts(self) -> list[str]:
        """Merchant order numbers paid more than once (reversals do not cancel a double payment:
        the money went out twice)."""
        with self._lock:
            payments = Counter(
                (entry.provider, entry.merchant_no)
                for entry in self._entries
                if entry.kind is EntryKind.PAYMENT
            )
        return sorted({merchant_no for (_, merchant_no), count in payments.items() if count > 1})

    def net_sent_minor(self, provider: Provider, currency: str) -> int:
        """Money that left ``provider``'s merchant balance in ``currency``, net of reversals."""
        with self._lock:
            return sum(
                entry.amount_minor
                for entry in self._entries
                if entry.provider is provider and entry.currency == currency
            )

    def clear(self) -> None:
        """Forget every entry (sandbox reset)."""
        with self._lock:
            self._entries.clear()
