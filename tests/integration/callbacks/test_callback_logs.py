"""What the callback function logs: every line about the order names it, and the cold start is
counted once per container."""

from __future__ import annotations

from types import ModuleType

import pytest

from payouts.domain.order import Order
from payouts_tools.apigw_events import (
    GATEWAY_AMOUNT_MINOR,
    GATEWAY_PAYOUT_ID,
    GATEWAY_PROVIDER_ORDER_ID,
    SAMPLE_TIME,
    load_event,
)
from tests.integration.callbacks.callback_support import invoke, submitted_order
from tests.integration.callbacks.conftest import Aws
from tests.support.observed import captured_logs, cold_start_count, new_container


@pytest.fixture
def order(aws: Aws) -> Order:
    """The sample events' order, SUBMITTED at gateway_v2."""
    return submitted_order(
        aws.store,
        GATEWAY_PAYOUT_ID,
        method="ALIPAY",
        value=GATEWAY_AMOUNT_MINOR,
        provider="gateway_v2",
        provider_order_id=GATEWAY_PROVIDER_ORDER_ID,
        now=SAMPLE_TIME,
    )


def test_the_lines_about_the_order_name_it_and_the_cold_start_counts_once(
    handler: ModuleType, aws: Aws, order: Order, capfd: pytest.CaptureFixture[str]
) -> None:
    event = load_event("gateway_v2-valid")
    new_container()
    capfd.readouterr()

    with captured_logs() as logs:
        first = invoke(handler, event)
        again = invoke(handler, event)  # the provider's retry of the same callback

    assert (first.status, again.status) == (200, 200)
    processed = logs.with_message("callback processed")
    # Logged without an explicit id: it comes from the order's log context.
    assert [line["payout_id"] for line in processed] == [order.payout_id] * 2
    # Every line of an invocation also carries API Gateway's request id.
    assert all(line["correlation_id"] for line in processed)
    assert cold_start_count(capfd.readouterr().out) == 1
