"""gateway_v2's assumptions as options, each at both values: the status table (5 is seen, not
documented), where a query answer's sign is, and what an unnamed callback sign_type costs (one
log line per container, so an operator notices that such callbacks are refused)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from payouts.observability import logger, metrics
from payouts.providers.base import CallbackRejected, QueryKind, QueryOutcome
from payouts.providers.decisions import StatusMeaning
from payouts.providers.gateway_v2 import AnswerSignaturePolicy, GatewayV2Options, SignType
from payouts.providers.gateway_v2 import adapter as gateway_adapter
from payouts.providers.gateway_v2.config import DEFAULT_STATUSES
from payouts.providers.gateway_v2.signing import sign
from payouts.providers.unverified import METRIC_ANSWER_SIGNATURE_INVALID
from tests.unit.providers.test_gateway_v2_support import (
    EXAMPLE_PAYOUT_ID,
    PLATFORM_ID,
    SIGNING_KEY,
    Handler,
    answer,
    make_order,
    offline_adapter,
    signed,
    with_provider,
)


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    metrics.clear_metrics()
    gateway_adapter._UNNAMED_SIGN_TYPE_LOGGED.clear()
    yield
    metrics.clear_metrics()
    gateway_adapter._UNNAMED_SIGN_TYPE_LOGGED.clear()


def _data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "payout_id": "POT00000001",
        "payout_cl_id": EXAMPLE_PAYOUT_ID,
        "amount": 50000,
        "fee": 300,
        "status": 3,
        "create_time": 1595504997,
    }
    data.update(overrides)
    return data


def _query(handler: Handler, options: GatewayV2Options | None = None) -> QueryOutcome:
    return with_provider(handler, lambda adapter: adapter.query(make_order()), options=options)


def _signed_at_the_top(data: dict[str, object], key: str = SIGNING_KEY) -> dict[str, object]:
    """An answer whose sign sits beside error_code, over every top-level field."""
    document: dict[str, object] = {"error_code": "0000", "data": data, "sign_type": "HMAC-SHA256"}
    document["sign"] = sign(document, key, SignType.HMAC_SHA256)
    return document


def _counted() -> float:
    entry = metrics.metric_set.get(METRIC_ANSWER_SIGNATURE_INVALID)
    return sum(entry["Value"]) if entry else 0


# --- the status table --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "documented"),
    [
        (1, QueryKind.PENDING, True),
        (2, QueryKind.PENDING, True),
        (3, QueryKind.SUCCEEDED, True),
        (4, QueryKind.FAILED, True),
        (5, QueryKind.FAILED, False),
        (6, QueryKind.UNKNOWN, False),
    ],
)
def test_each_status_row_says_whether_it_is_documented(
    status: int, kind: QueryKind, documented: bool
) -> None:
    outcome = _query(answer({"error_code": "0000", "data": signed(_data(status=status))}))

    assert (outcome.kind, outcome.documented) == (kind, documented)
    assert set(DEFAULT_STATUSES) == {"1", "2", "3", "4", "5"}


def test_status_5_can_be_left_out_to_keep_polling_or_declared_documented() -> None:
    without_5 = {key: row for key, row in DEFAULT_STATUSES.items() if key != "5"}
    documented_5 = {**DEFAULT_STATUSES, "5": StatusMeaning(means="FAILED", source="documented")}
    five = {"error_code": "0000", "data": signed(_data(status=5))}

    polled = _query(answer(five), GatewayV2Options(statuses=without_5))
    final = _query(answer(five), GatewayV2Options(statuses=documented_5))

    assert polled.kind is QueryKind.UNKNOWN
    assert (final.kind, final.documented) == (QueryKind.FAILED, True)


def test_a_callback_says_whether_its_status_is_documented() -> None:
    fields = signed(
        {
            "payout_id": "POT00000001",
            "payout_cl_id": EXAMPLE_PAYOUT_ID,
            "platform_id": PLATFORM_ID,
            "amount": 50000,
            "status": 5,
        }
    )
    event = offline_adapter().verify_callback({}, json.dumps(fields).encode())

    assert (event.kind, event.documented) == (QueryKind.FAILED, False)


# --- where a query answer's sign is -------------------------------------------------------------


def test_by_default_the_sign_inside_data_is_verified() -> None:
    good = _query(answer({"error_code": "0000", "data": signed(_data())}))
    forged = _query(answer({"error_code": "0000", "data": signed(_data(), key="another-key")}))

    assert good.kind is QueryKind.SUCCEEDED
    assert forged.kind is QueryKind.UNKNOWN
    assert _counted() == 1


def test_a_sign_at_the_top_is_verified_when_the_option_says_so() -> None:
    options = GatewayV2Options(query_sign_location="answer")

    good = _query(answer(_signed_at_the_top(_data())), options)
    forged = _query(answer(_signed_at_the_top(_data(), key="another-key")), options)
    tampered = _signed_at_the_top(_data())
    tampered["data"] = _data(amount=1)
    changed = _query(answer(tampered), options)

    assert good.kind is QueryKind.SUCCEEDED
    assert (forged.kind, changed.kind) == (QueryKind.UNKNOWN, QueryKind.UNKNOWN)
    assert "sign does not verify" in forged.reason
    assert _counted() == 2


def test_a_required_sign_looked_for_in_the_wrong_place_is_missing() -> None:
    require = {"query_signature": AnswerSignaturePolicy.REQUIRE}
    at_top = answer(_signed_at_the_top(_data()))

    in_data = _query(at_top, GatewayV2Options.model_validate(require))
    in_answer = _query(
        at_top, GatewayV2Options.model_validate({**require, "query_sign_location": "answer"})
    )

    assert (in_data.kind, in_answer.kind) == (QueryKind.UNKNOWN, QueryKind.SUCCEEDED)
    assert "no sign" in in_data.reason


# --- callbacks without sign_type -----------------------------------------------------------------


def _unnamed_md5_callback() -> bytes:
    fields = signed(
        {
            "payout_id": "POT00000001",
            "payout_cl_id": EXAMPLE_PAYOUT_ID,
            "platform_id": PLATFORM_ID,
            "amount": 50000,
            "status": 3,
        },
        sign_type=None,
    )
    return json.dumps(fields).encode()


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The messages of the warnings logged during the test."""
    logged: list[str] = []
    monkeypatch.setattr(logger, "warning", lambda message, **_fields: logged.append(message))
    return logged


def _refused_unnamed(warnings: list[str]) -> list[str]:
    return [message for message in warnings if "without sign_type" in message]


def test_unnamed_sign_type_callbacks_are_refused_and_logged_once_per_container(
    warnings: list[str],
) -> None:
    for _ in range(3):
        with pytest.raises(CallbackRejected, match="MD5 is not accepted"):
            offline_adapter().verify_callback({}, _unnamed_md5_callback())

    [warning] = _refused_unnamed(warnings)
    assert "callback_default_sign_type" in warning
    assert "accepted_callback_sign_types" in warning


def test_unnamed_sign_type_callbacks_verify_and_log_nothing_when_md5_is_accepted(
    warnings: list[str],
) -> None:
    options = GatewayV2Options(
        accepted_callback_sign_types=frozenset({SignType.MD5, SignType.HMAC_SHA256})
    )

    event = offline_adapter(options=options).verify_callback({}, _unnamed_md5_callback())

    assert event.kind is QueryKind.SUCCEEDED
    assert _refused_unnamed(warnings) == []


def test_callbacks_naming_their_sign_type_log_nothing(warnings: list[str]) -> None:
    fields = signed({"payout_cl_id": EXAMPLE_PAYOUT_ID, "amount": 50000, "status": 3})

    offline_adapter().verify_callback({}, json.dumps(fields).encode())

    assert _refused_unnamed(warnings) == []
