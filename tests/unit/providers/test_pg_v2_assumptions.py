"""pg_v2's assumptions as options, each at both values: the ambiguous 4xx statuses, extendInfo,
merchantAttach's length, the method and URL lines of answer and callback signatures, and the
count and log of an answer whose signature does not verify."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from payouts.observability import logger, metrics
from payouts.providers.base import CallbackRejected, CreateKind, CreateOutcome, UnsupportedPayout
from payouts.providers.pg_v2 import PgV2Adapter, PgV2Options
from payouts.providers.pg_v2.options import DEFAULT_AMBIGUOUS_CLIENT_STATUSES
from payouts.providers.unverified import METRIC_ANSWER_SIGNATURE_INVALID
from tests.unit.providers.test_pg_v2_support import (
    ANSWER_NONCE,
    ANSWER_TIMESTAMP_MS,
    CREATE_URL,
    NOTIFY_URL,
    Handler,
    Recorder,
    answer,
    authorization,
    independent_sign,
    make_order,
    make_request,
    offline_adapter,
    run_adapter,
)

PAYOUT_NO = "20240426192048100800062197000010"
ACCEPTED = {"code": "OK", "errorMessage": None, "data": {"payoutNo": PAYOUT_NO}}


@pytest.fixture(autouse=True)
def _no_metrics_left() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _create(
    handler: Handler, options: PgV2Options | None = None, attach: str = "x"
) -> CreateOutcome:
    order = make_order(make_request(metadata={"merchant_attach": attach}))

    async def action(adapter: PgV2Adapter) -> CreateOutcome:
        return await adapter.create(order)

    return run_adapter(handler, action, options)


def _signed_over(method: str, url: str, document: object) -> Handler:
    """An answer signed over ``method`` and ``url`` lines (not necessarily the request's)."""
    body = json.dumps(document).encode()
    signature = independent_sign(method, url, ANSWER_TIMESTAMP_MS, ANSWER_NONCE, body)
    return lambda _request: httpx.Response(
        200, headers={"Authorization": authorization(signature)}, content=body
    )


def _counted() -> float:
    entry = metrics.metric_set.get(METRIC_ANSWER_SIGNATURE_INVALID)
    return sum(entry["Value"]) if entry else 0


# --- ambiguous 4xx statuses --------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(DEFAULT_AMBIGUOUS_CLIENT_STATUSES))
def test_a_throttled_or_conflicting_create_is_ambiguous_by_default(status: int) -> None:
    outcome = _create(answer({"code": "Throttled"}, status=status))

    assert outcome.kind is CreateKind.AMBIGUOUS
    assert "(assumed)" in outcome.reason


def test_with_no_ambiguous_statuses_every_4xx_is_the_documented_refusal() -> None:
    options = PgV2Options(ambiguous_client_statuses=frozenset())

    outcome = _create(answer({"code": "Throttled"}, status=429), options)

    assert outcome.kind is CreateKind.REJECTED


def test_another_4xx_can_be_made_ambiguous() -> None:
    options = PgV2Options(ambiguous_client_statuses=frozenset({403}))

    assert _create(answer({}, status=403), options).kind is CreateKind.AMBIGUOUS
    assert _create(answer({}, status=429), options).kind is CreateKind.REJECTED


def test_an_ambiguous_status_must_be_a_4xx() -> None:
    with pytest.raises(ValueError, match="less than or equal to 499"):
        PgV2Options.model_validate({"ambiguous_client_statuses": [503]})


# --- extendInfo and merchantAttach -------------------------------------------------------------


@pytest.mark.parametrize(
    ("extend_info", "sent"),
    [({}, {}), (None, None), ({"channel": "web"}, {"channel": "web"})],
)
def test_extend_info_is_sent_as_configured(
    extend_info: dict[str, str] | None, sent: dict[str, str] | None
) -> None:
    recorder = Recorder(answer(ACCEPTED))

    _create(recorder, PgV2Options.model_validate({"extend_info": extend_info}))

    body = json.loads(recorder.requests[0].content)
    assert body.get("extendInfo", None) == sent
    assert ("extendInfo" in body) is (sent is not None)


def test_merchant_attach_of_255_characters_is_sent() -> None:
    recorder = Recorder(answer(ACCEPTED))

    outcome = _create(recorder, attach="a" * 255)

    assert outcome.kind is CreateKind.ACCEPTED
    assert json.loads(recorder.requests[0].content)["merchantAttach"] == "a" * 255


def test_merchant_attach_of_256_characters_is_refused_before_sending() -> None:
    recorder = Recorder(answer(ACCEPTED))

    with pytest.raises(UnsupportedPayout, match="at most 255"):
        _create(recorder, attach="a" * 256)

    assert recorder.requests == []


def test_merchant_attach_length_is_an_option() -> None:
    recorder = Recorder(answer(ACCEPTED))

    outcome = _create(recorder, PgV2Options(merchant_attach_max_length=256), attach="a" * 256)

    assert outcome.kind is CreateKind.ACCEPTED


# --- the lines an answer's and a callback's signature cover -------------------------------------


def test_an_answer_signed_over_the_request_line_is_believed_by_default() -> None:
    outcome = _create(_signed_over("POST", CREATE_URL, ACCEPTED))

    assert outcome.kind is CreateKind.ACCEPTED
    assert _counted() == 0


def test_an_answer_signed_over_other_lines_is_not_believed_counted_and_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(
        logger, "warning", lambda message, **fields: warnings.append((message, fields))
    )

    outcome = _create(_signed_over("POST", "", ACCEPTED))

    assert outcome.kind is CreateKind.AMBIGUOUS
    assert _counted() == 1
    [(message, fields)] = warnings
    assert "signature not verified" in message
    assert fields["provider"] == "pg_v2"
    assert "PG_V2_OPTIONS answer_signature" in str(fields["settings"])


@pytest.mark.parametrize(("method", "url_line"), [("POST", "empty"), ("GET", "request")])
def test_the_answer_signature_lines_are_options(method: str, url_line: str) -> None:
    options = PgV2Options.model_validate(
        {"answer_signed_method": method, "answer_signed_url": url_line}
    )
    signed_url = CREATE_URL if url_line == "request" else ""

    believed = _create(_signed_over(method, signed_url, ACCEPTED), options)
    default_lines = _create(_signed_over("POST", CREATE_URL, ACCEPTED), options)

    assert believed.kind is CreateKind.ACCEPTED
    assert default_lines.kind is CreateKind.AMBIGUOUS


def _callback(method: str, url: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"code": "OK", "data": {"merchantTradeNo": "MTOU-0211", "status": "PAID"}})
    raw = body.encode()
    signature = independent_sign(method, url, ANSWER_TIMESTAMP_MS, ANSWER_NONCE, raw)
    return {"Authorization": authorization(signature)}, raw


def test_a_callback_signed_over_post_and_the_notify_url_verifies_by_default() -> None:
    headers, body = _callback("POST", NOTIFY_URL)

    assert offline_adapter().verify_callback(headers, body).merchant_order_id == "MTOU-0211"
    with pytest.raises(CallbackRejected):
        offline_adapter().verify_callback(*_callback("POST", ""))


def test_the_callback_signature_lines_are_options() -> None:
    options = PgV2Options.model_validate(
        {"callback_signed_method": "PUT", "callback_signed_url": "empty"}
    )
    headers, body = _callback("PUT", "")

    assert offline_adapter(options).verify_callback(headers, body).merchant_order_id == "MTOU-0211"
    with pytest.raises(CallbackRejected):
        offline_adapter(options).verify_callback(*_callback("POST", NOTIFY_URL))
