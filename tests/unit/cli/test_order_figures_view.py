"""``payouts orders show`` carries the provider's money figures: in major units with their
currency, null (never "?") until the provider reports them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from payouts.domain.status import OrderStatus
from payouts_tools.cli import render
from payouts_tools.cli.views import order_view
from tests.support.orders import make_order
from tests.unit.cli.test_render_widths import WIDTHS, assert_fits, printed

PAID = make_order(
    "PO-PAID",
    method="ALIPAY",
    value=50000,
    status=OrderStatus.SUCCEEDED,
    provider="gateway_v2",
    provider_order_id="POT00000001",
    fee_minor=300,
    fee_currency="CNY",
    credited_minor=49700,
    paid_at=datetime(2026, 11, 22, 8, 0, 3, tzinfo=UTC),
)


def test_the_view_gives_each_figure_in_major_and_minor_units() -> None:
    figures = order_view(PAID)["figures"]

    assert figures == {
        "fee": "3.00 CNY",
        "fee_minor": 300,
        "fee_currency": "CNY",
        "credited": "497.00 CNY",
        "credited_minor": 49700,
        "provider_reference": None,
        "paid_at": "2026-11-22T08:00:03+00:00",
    }


def test_an_order_the_provider_has_not_settled_has_null_figures() -> None:
    view = order_view(make_order(status=OrderStatus.SUBMITTED))

    assert set(view["figures"].values()) == {None}
    assert "?" not in json.dumps(view["figures"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_panel_shows_the_figures_and_fits(width: int) -> None:
    lines = printed(render.order_panel(order_view(PAID)), width)

    assert_fits(lines, width)
    text = "\n".join(lines)
    assert "provider fee" in text
    assert "3.00 CNY" in text
    assert "497.00 CNY" in text
    assert "2026-11-22T08:00:03+00:00" in text
