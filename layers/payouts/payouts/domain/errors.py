"""Domain errors: each one says precisely what was wrong, for the caller and the evidence log."""

from __future__ import annotations


class PayoutError(Exception):
    """Base class for the domain's own errors."""


class InvalidRequest(PayoutError):
    """A payout request that cannot be accepted; ``payout_id`` is set when it could be read."""

    def __init__(self, reason: str, payout_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payout_id = payout_id


class IllegalTransition(PayoutError):
    """A status change the transition table refuses. A bug in the caller, never a race."""
