"""Masking of beneficiary details for logs, evidence and the ops CLI."""

from __future__ import annotations


def mask(value: str, keep: int = 2) -> str:
    """Keep the last ``keep`` characters ("9876543210" -> "********10"); mask short values whole."""
    if len(value) <= keep * 2:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]
