"""The provider sandbox: gateway_v2 and pg_v2 as documented, on loopback, for tests and the
local demo.

It settles payouts asynchronously, sends signed callbacks with retries, injects faults, and
keeps a ledger of money actually sent, which is what "paid exactly once" is checked against::

    with Sandbox(SandboxConfig(settle_after_s=0.2)) as sandbox:
        sandbox.script(Provider.PG_V2, "PO-7", Outcome.FAILURE)
        ...  # point the adapters at sandbox.base_url
        assert sandbox.double_payouts() == []

It is written from the providers' documents only and shares no code with our adapters.
"""

from payouts_tools.sandbox.callbacks import CallbackAttempt
from payouts_tools.sandbox.config import (
    CallbackOptions,
    GatewayCredentials,
    Operation,
    OutcomeMix,
    PgCredentials,
    Provider,
    SandboxConfig,
)
from payouts_tools.sandbox.faults import ArmedFault, Fault, FaultKind
from payouts_tools.sandbox.ledger import EntryKind, LedgerEntry
from payouts_tools.sandbox.sandbox import Sandbox
from payouts_tools.sandbox.state import CallbackMode, OrderView, Outcome, PayoutState, Script

__all__ = [
    "ArmedFault",
    "CallbackAttempt",
    "CallbackMode",
    "CallbackOptions",
    "EntryKind",
    "Fault",
    "FaultKind",
    "GatewayCredentials",
    "LedgerEntry",
    "Operation",
    "OrderView",
    "Outcome",
    "OutcomeMix",
    "PayoutState",
    "PgCredentials",
    "Provider",
    "Sandbox",
    "SandboxConfig",
    "Script",
]
