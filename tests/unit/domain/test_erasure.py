"""Erasing a request keeps what money and idempotency need and nothing personal; the erased
order round-trips through the store's codec and leaves the erasable index."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Final

import pytest

from payouts.domain.erasure import (
    SWEPT_CHANGES_WITHIN,
    ErasedRequest,
    erase_excerpt,
    erase_request,
    swept_by_creation,
)
from payouts.domain.request import PixBeneficiary
from payouts.domain.status import TERMINAL, OrderStatus
from payouts.store import keys
from payouts.store.codec import order_from_item, order_to_item
from tests.support.orders import BENEFICIARIES, T0, make_order, make_request

PIX_CPF = {"pix_key_type": "CPF", "pix_key": "12345678901", "tax_id": "12345678901"}


@pytest.mark.parametrize("method", sorted(BENEFICIARIES))
def test_an_erased_request_keeps_ids_amount_and_method_and_nothing_personal(method: str) -> None:
    request = make_request("PO-1", method, 12_345, metadata={"payee": "payee@okbank"})

    erased = erase_request(request)

    assert (erased.payout_id, erased.amount, erased.method) == ("PO-1", request.amount, method)
    text = erased.model_dump_json()
    for name, value in BENEFICIARIES[method].items():
        if name not in {"method", "pix_key_type"} and len(str(value)) > 2:
            assert str(value) not in text, name
    assert "payee@okbank" not in text
    assert set(erased.beneficiary.fields) == set(BENEFICIARIES[method]) - {"method"}


def test_a_pix_cpf_key_and_tax_id_are_masked_and_the_key_type_kept() -> None:
    beneficiary = PixBeneficiary.model_validate({**BENEFICIARIES["PIX"], **PIX_CPF})
    request = make_request("PO-1", "PIX").model_copy(update={"beneficiary": beneficiary})

    fields = erase_request(request).beneficiary.fields

    assert fields["pix_key_type"] == "CPF"
    assert fields["pix_key"] == fields["tax_id"] == "**********01"


def test_erasing_twice_changes_nothing() -> None:
    erased = erase_request(make_request("PO-1", "BANK_ACCOUNT"))

    assert erase_request(erased) is erased
    assert erase_excerpt(erase_excerpt('{"vpa": "a@b"}')) == erase_excerpt('{"vpa": "a@b"}')


# A terminal order changed later than a day after its creation: listed in the erasable index.
LATE: Final = T0 + SWEPT_CHANGES_WITHIN + timedelta(microseconds=1)


def test_an_erased_order_round_trips_through_the_codec_and_leaves_the_erasable_index() -> None:
    order = make_order("PO-1", "UPI", status=OrderStatus.SUCCEEDED, updated_at=LATE)
    assert "erase_pk" in order_to_item(order)
    assert order.request is not None
    erased = order.model_copy(
        update={"request": erase_request(order.request), "personal_data_erased_at": LATE}
    )

    item = order_to_item(erased)
    back = order_from_item(item)

    assert back == erased
    assert isinstance(back.request, ErasedRequest)
    assert back.fingerprint == order.fingerprint
    assert "erase_pk" not in item
    assert "erase_sk" not in item
    assert "payee@okbank" not in json.dumps(item)
    assert back.request.amount.value == 50000


def test_only_terminal_orders_changed_late_are_listed_erasable() -> None:
    for status in OrderStatus:
        item = order_to_item(make_order("PO-1", status=status, updated_at=LATE))
        assert ("erase_pk" in item) is (status in TERMINAL)


@pytest.mark.parametrize("last_change", [T0, T0 + timedelta(hours=23), T0 + SWEPT_CHANGES_WITHIN])
def test_a_terminal_order_settled_within_a_day_of_creation_is_left_to_the_sweep(
    last_change: datetime,
) -> None:
    # The write that settles nearly every payout pays no erasable-index entry: the retention
    # sweep of by-day reaches it (the item still carries its by-day key).
    order = make_order("PO-1", "UPI", status=OrderStatus.SUCCEEDED, updated_at=last_change)

    item = order_to_item(order)

    assert swept_by_creation(order.created_at, order.updated_at)
    assert "erase_pk" not in item
    assert "erase_sk" not in item
    assert "day_pk" in item


def test_a_change_after_the_sweeps_margin_lists_the_order_erasable() -> None:
    # A review, a reversal or a late settlement: the sweep may already have passed the order's
    # creation time, so the change itself lists it.
    order = make_order("PO-1", "UPI", status=OrderStatus.REVERSED, updated_at=LATE)

    assert not swept_by_creation(order.created_at, order.updated_at)
    assert order_to_item(order)["erase_sk"] == {"S": f"{keys.timestamp(LATE)}#PO-1"}
