"""pg_v2 request bodies: the create body in the seed's field order, and the query/balance bodies.

Only the UPI ``payoutMethod`` is documented; BANK_ACCOUNT and PIX have one mapping function each,
whose field names come from ``PgV2Options`` because they are assumptions.
"""

from __future__ import annotations

import json
from typing import Any

from payouts.domain.money import to_decimal_string
from payouts.domain.order import Order
from payouts.domain.request import (
    BankAccountBeneficiary,
    PayoutRequest,
    PixBeneficiary,
    UpiBeneficiary,
)
from payouts.providers.base import UnsupportedPayout
from payouts.providers.pg_v2.options import PgV2Options

JsonObject = dict[str, Any]


def upi_method(beneficiary: UpiBeneficiary, _options: PgV2Options) -> JsonObject:
    """Documented (seed 004): ``{"type": "UPI", "vpa", "payeeName"}``."""
    return {"type": "UPI", "vpa": beneficiary.vpa, "payeeName": beneficiary.payee_name}


def bank_account_method(beneficiary: BankAccountBeneficiary, options: PgV2Options) -> JsonObject:
    """Assumed field names (``options.bank_account_fields``); only ``type`` is documented."""
    names = options.bank_account_fields
    return {
        "type": "BANK_ACCOUNT",
        names.account_number: beneficiary.account_number,
        names.ifsc: beneficiary.ifsc,
        names.payee_name: beneficiary.payee_name,
    }


def pix_method(beneficiary: PixBeneficiary, options: PgV2Options) -> JsonObject:
    """Assumed field names (``options.pix_fields``); only ``type`` is documented. The tax id is
    sent only when the request carries one."""
    names = options.pix_fields
    method: JsonObject = {
        "type": "PIX",
        names.pix_key: beneficiary.pix_key,
        names.pix_key_type: beneficiary.pix_key_type,
        names.payee_name: beneficiary.payee_name,
    }
    if beneficiary.tax_id is not None:
        method[names.tax_id] = beneficiary.tax_id
    return method


def payout_method(request: PayoutRequest, options: PgV2Options) -> JsonObject:
    """The ``payoutMethod`` object for the request's beneficiary; raises UnsupportedPayout."""
    match request.beneficiary:
        case UpiBeneficiary() as upi:
            return upi_method(upi, options)
        case BankAccountBeneficiary() as account:
            return bank_account_method(account, options)
        case PixBeneficiary() as pix:
            return pix_method(pix, options)
        case _:
            raise UnsupportedPayout(f"pg_v2 does not carry {request.method} payouts")


def create_body(order: Order, *, notify_url: str, options: PgV2Options) -> JsonObject:
    """The create body, keys in the seed's order. ``merchantTradeNo`` is the payout id, always."""
    request = order.request
    if not isinstance(request, PayoutRequest):  # invalid, or its personal data erased
        raise UnsupportedPayout(f"order {order.payout_id} has no valid request to send")
    body: JsonObject = {
        "merchantTradeNo": order.payout_id,
        "amount": to_decimal_string(request.amount.value, request.amount.currency),
        "currency": request.amount.currency,
        "description": request.description or options.fallback_description,
        "payoutMethod": payout_method(request, options),
    }
    attach = _merchant_attach(request, options)
    if attach is not None:
        body["merchantAttach"] = attach
    body["notifyUrl"] = notify_url
    if options.extend_info is not None:
        body["extendInfo"] = options.extend_info  # the seed's example sends it empty
    return body


def query_body(payout_id: str) -> JsonObject:
    """The query body: by our merchant order number (documented)."""
    return {"merchantTradeNo": payout_id}


def balance_body(options: PgV2Options) -> JsonObject:
    """The balance query body (documented): the currencies to report."""
    return {"currencies": list(options.balance_currencies)}


def serialise(document: JsonObject) -> bytes:
    """Compact UTF-8 JSON. Called once per request: these exact bytes are signed and sent."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _merchant_attach(request: PayoutRequest, options: PgV2Options) -> str | None:
    """The metadata value sent as merchantAttach; raises UnsupportedPayout, before anything is
    sent, when it is longer than the provider takes (documented: 255 characters)."""
    if options.merchant_attach_key is None:
        return None
    attach = request.metadata.get(options.merchant_attach_key)
    if attach is not None and len(attach) > options.merchant_attach_max_length:
        raise UnsupportedPayout(
            f"metadata {options.merchant_attach_key!r} is {len(attach)} characters; pg_v2's "
            f"merchantAttach takes at most {options.merchant_attach_max_length}"
        )
    return attach
