"""Orders and evidence as plain, JSON-ready data for the CLI: beneficiary details masked.

Evidence ``detail`` is redacted when it is written (the store's contract), and an invalid
request's excerpt is redacted by intake; the beneficiary of a valid request is the one place
details are held in clear, so it is masked here, field by field, before anything is printed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from payouts.domain.erasure import ErasedRequest
from payouts.domain.money import MoneyError, to_decimal_string
from payouts.domain.order import Evidence, Order
from payouts.domain.redaction import mask
from payouts.domain.request import PayoutRequest
from payouts.store import OrderSummary

# Beneficiary fields that say how, not who: shown as they are.
_NOT_PERSONAL: Final = frozenset({"method", "pix_key_type"})


def money(value: int | None, currency: str | None) -> str | None:
    """``50000, "CNY"`` -> ``"500.00 CNY"``; None when either is unknown (JSON says null, and
    tables show their own mark for unknown: a "?" in JSON would read as a value)."""
    if value is None or currency is None:
        return None
    try:
        return f"{to_decimal_string(value, currency)} {currency}"
    except MoneyError:
        return f"{value} (minor units) {currency}"


def masked_beneficiary(request: PayoutRequest | ErasedRequest) -> dict[str, str]:
    """The beneficiary with every personal field masked (``"**********10"``)."""
    if isinstance(request, ErasedRequest):  # masked when it was erased
        return {"method": request.method, **request.beneficiary.fields}
    fields = request.beneficiary.model_dump(mode="json", exclude_none=True)
    return {
        name: str(value) if name in _NOT_PERSONAL else mask(str(value))
        for name, value in fields.items()
    }


def order_view(order: Order) -> dict[str, Any]:
    """Everything an operator needs about one order, safe to print."""
    view: dict[str, Any] = {
        "payout_id": order.payout_id,
        "status": order.status.value,
        "version": order.version,
        "provider": order.provider,
        "provider_order_id": order.provider_order_id,
        "status_reason": order.status_reason,
        "needs_review": order.needs_review,
        "review_reason": order.review_reason,
        "created_at": _time(order.created_at),
        "updated_at": _time(order.updated_at),
        "next_check_at": _time(order.next_check_at),
        "check_attempts": order.check_attempts,
        "submit_attempts": order.submit_attempts,
        "figures": figures_view(order),
    }
    if order.request is not None:
        amount = order.request.amount
        view["amount"] = {
            "value": amount.value,
            "currency": amount.currency,
            "display": money(amount.value, amount.currency),
        }
        view["beneficiary"] = masked_beneficiary(order.request)
        view["description"] = order.request.description
        view["metadata"] = dict(order.request.metadata)
    else:
        view["invalid_request_excerpt"] = order.invalid_request
    return view


def figures_view(order: Order) -> dict[str, Any]:
    """What the provider reported about the money (each None until it does): its fee, what it
    says it credited, its reference for the payment and when it paid."""
    currency = order.request.amount.currency if order.request is not None else None
    return {
        "fee": money(order.fee_minor, order.fee_currency),
        "fee_minor": order.fee_minor,
        "fee_currency": order.fee_currency,
        "credited": money(order.credited_minor, currency),
        "credited_minor": order.credited_minor,
        "provider_reference": order.provider_reference,
        "paid_at": _time(order.paid_at),
    }


def evidence_view(evidence: Evidence) -> dict[str, Any]:
    """One evidence item (its detail was redacted when it was written)."""
    return {
        "at": _time(evidence.at),
        "kind": evidence.kind.value,
        "actor": evidence.actor,
        "from_status": evidence.from_status.value if evidence.from_status else None,
        "to_status": evidence.to_status.value if evidence.to_status else None,
        "summary": evidence.summary,
        "detail": dict(evidence.detail),
    }


def summary_view(summary: OrderSummary) -> dict[str, Any]:
    """One row of an order listing."""
    return {
        "payout_id": summary.payout_id,
        "status": summary.status.value,
        "provider": summary.provider,
        "provider_order_id": summary.provider_order_id,
        "method": summary.method,
        "amount": money(summary.amount_value, summary.currency),
        "needs_review": summary.needs_review,
        "updated_at": _time(summary.updated_at),
    }


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
