"""Builders for requests and orders used across the suite."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.order import Order
from payouts.domain.request import PayoutRequest, parse_request
from payouts.domain.status import OrderStatus

T0 = datetime(2026, 11, 22, 8, 0, 0, tzinfo=UTC)

BENEFICIARIES: dict[str, dict[str, Any]] = {
    "ALIPAY": {"method": "ALIPAY", "account_name": "test_name", "surname": "t"},
    "UPI": {"method": "UPI", "vpa": "payee@okbank", "payee_name": "Test Payee"},
    "BANK_ACCOUNT": {
        "method": "BANK_ACCOUNT",
        "account_number": "001234567890",
        "ifsc": "HDFC0001234",
        "payee_name": "Test Payee",
    },
    "PIX": {
        "method": "PIX",
        "pix_key_type": "EMAIL",
        "pix_key": "payee@example.com",
        "payee_name": "Test Payee",
    },
}
CURRENCIES = {"ALIPAY": "CNY", "UPI": "INR", "BANK_ACCOUNT": "INR", "PIX": "BRL"}


def request_document(
    payout_id: str = "PO-1", method: str = "ALIPAY", value: int = 50000, **extra: Any
) -> dict[str, Any]:
    """A valid request as the JSON document a publisher sends."""
    return {
        "payout_id": payout_id,
        "amount": {"value": value, "currency": CURRENCIES[method]},
        "beneficiary": copy.deepcopy(BENEFICIARIES[method]),  # callers may mutate it
        "description": "test payout",
        **extra,
    }


def make_request(
    payout_id: str = "PO-1", method: str = "ALIPAY", value: int = 50000, **extra: Any
) -> PayoutRequest:
    """A valid PayoutRequest."""
    return parse_request(json.dumps(request_document(payout_id, method, value, **extra)))


def make_order(
    payout_id: str = "PO-1",
    method: str = "ALIPAY",
    value: int = 50000,
    status: OrderStatus = OrderStatus.RECEIVED,
    **fields: Any,
) -> Order:
    """An Order as the store would hold it."""
    request = make_request(payout_id, method, value)
    return Order(
        payout_id=payout_id,
        request=request,
        fingerprint=request_fingerprint(request),
        status=status,
        version=fields.pop("version", 1),
        created_at=fields.pop("created_at", T0),
        updated_at=fields.pop("updated_at", T0),
        **fields,
    )
