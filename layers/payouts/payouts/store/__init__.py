"""The DynamoDB order store: the only code that knows the table's keys."""

from payouts.store.orders import (
    AlreadyExists,
    Applied,
    Created,
    CreateResult,
    DueOrder,
    DuePage,
    OrderStore,
    OrderSummary,
    Stale,
    WriteResult,
)

__all__ = [
    "AlreadyExists",
    "Applied",
    "CreateResult",
    "Created",
    "DueOrder",
    "DuePage",
    "OrderStore",
    "OrderSummary",
    "Stale",
    "WriteResult",
]
