"""The ops commands that talk to providers: requery and the operator-confirmed resubmit.

Both reuse the system's own use cases, so an operator's action obeys exactly the rules the
functions obey: ``requery`` is the reconcile loop's per-order check (``Reconciler.check``,
forced), ``resubmit`` is the one send path (``submission.claim_and_send``: claim SUBMITTING
first, same merchant order number, outcome recorded with evidence). Providers are built from the
deployment's own reconcile settings and secrets (``Target.provider_settings``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from payouts.domain.order import Evidence, EvidenceKind, Order, utc_now
from payouts.domain.status import OrderStatus
from payouts.providers.registry import ProviderFactory, SecretSource
from payouts.providers.routing import NoRoute, Router
from payouts.services.provider_gate import ProviderGate
from payouts.services.reconcile import CheckReport, ReconcilePolicy, Reconciler
from payouts.services.submission import SendPlan, Submission, claim_and_send
from payouts.settings.reconcile import ReconcileSettings
from payouts.store import OrderStore
from payouts.store.provider_state import ProviderStateStore
from payouts_tools.cli.operations import get_order
from payouts_tools.cli.target import CliError

S = OrderStatus

# A resend is safe only where no create is in flight and none can be mistaken for settled:
# RECEIVED (never sent, or provably never left) and UNKNOWN (nobody knows; a person decided).
RESUBMITTABLE: Final = frozenset({S.RECEIVED, S.UNKNOWN})

# Providers documented to refuse a second create under the same merchant number (providers.md):
# resending there cannot pay twice. Elsewhere the operator must have checked with the provider.
DUPLICATE_SAFE: Final = frozenset({"pg_v2"})


async def requery(
    store: OrderStore,
    states: ProviderStateStore,
    settings: ReconcileSettings,
    secrets: SecretSource,
    reference: str,
) -> tuple[CheckReport, Order]:
    """Query the order's provider now and apply the answer, as the reconcile loop would (a
    never-sent order is sent, unless its provider is paused)."""
    order = get_order(store, reference)
    async with httpx.AsyncClient(follow_redirects=False) as client:
        reconciler = Reconciler(
            store=store,
            providers=ProviderFactory(settings, secrets).build_all(client),
            router=Router(settings.payout_routes),
            policy=ReconcilePolicy.from_settings(settings),
            gate=ProviderGate.from_settings(states, settings, utc_now),
            clock=utc_now,
            random=random.random,
        )
        report = await reconciler.check(order.payout_id, force=True)
    return report, store.get(order.payout_id) or order


@dataclass(frozen=True)
class Resubmitted:
    """What an operator's resubmit did, and what to tell them."""

    submission: Submission
    provider: str
    warning: str | None


async def resubmit(
    store: OrderStore,
    settings: ReconcileSettings,
    secrets: SecretSource,
    reference: str,
    *,
    reason: str,
    operator: str,
    confirm_risk: Callable[[str], None],
) -> Resubmitted:
    """Send the order's create again under its own merchant number, on an operator's word.

    Only from RECEIVED or UNKNOWN; the operator's reason is evidence before anything is sent.
    Where a resend may pay twice, ``confirm_risk`` gets the warning first, before anything is
    written or sent, and raises (CliError) unless the operator accepts it.
    """
    if not reason.strip():
        raise CliError("--reason is required: it is recorded as evidence")
    order = get_order(store, reference)
    if order.status not in RESUBMITTABLE:
        raise CliError(
            f"order {order.payout_id} is {order.status}: resubmit is allowed only from "
            f"{' or '.join(sorted(RESUBMITTABLE))}"
        )
    provider_name = _provider_of(order, settings)
    warning = duplicate_risk(order, provider_name)
    if warning is not None:
        confirm_risk(warning)
    note = Evidence(
        kind=EvidenceKind.OPERATOR,
        summary=f"resubmit confirmed by {operator}: {reason.strip()}",
        detail={"reason": reason.strip(), "status_before": order.status.value},
        actor=f"operator:{operator}",
    )
    store.append_evidence(order.payout_id, note)
    plan = SendPlan(
        reason=f"operator {operator} confirmed: {reason.strip()}",
        in_flight_for=settings.stale_submitting_after,
        first_check_after=settings.first_check_after,
        previously_sent=order.status is S.UNKNOWN,
        actor=f"operator:{operator}",
    )
    async with httpx.AsyncClient(follow_redirects=False) as client:
        provider = ProviderFactory(settings, secrets).build(provider_name, client)
        submission = await claim_and_send(store, provider, order, plan, utc_now)
    return Resubmitted(submission, provider_name, warning)


def duplicate_risk(order: Order, provider_name: str) -> str | None:
    """Why resending this order may pay twice, or None: an UNKNOWN create may have arrived, and
    only a provider documented to refuse a reused merchant number makes a resend harmless."""
    if order.status is not S.UNKNOWN or provider_name in DUPLICATE_SAFE:
        return None
    return (
        f"{provider_name} does not document refusing a reused merchant number: if the first "
        f"create of {order.payout_id} did arrive, resubmitting may pay twice"
    )


def _provider_of(order: Order, settings: ReconcileSettings) -> str:
    if order.provider is not None:
        return order.provider
    if order.request is None:
        raise CliError(f"order {order.payout_id} has no valid request to send")
    route = Router(settings.payout_routes).route(order.request)
    if isinstance(route, NoRoute):
        raise CliError(route.reason)
    return route
