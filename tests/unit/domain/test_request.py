"""The payout request contract: good requests parse, each bad one gets a precise reason."""

import json
from typing import Any

import pytest

from payouts.domain.errors import InvalidRequest
from payouts.domain.fingerprint import request_fingerprint
from payouts.domain.request import MAX_REQUEST_BYTES, PayoutRequest, parse_request
from payouts_tools.schema import SCHEMA_PATH, render

ALIPAY: dict[str, Any] = {
    "payout_id": "PO-20261122-000123",
    "amount": {"value": 50000, "currency": "CNY"},
    "beneficiary": {"method": "ALIPAY", "account_name": "test_name", "surname": "t"},
    "description": "weekly settlement",
    "metadata": {"source": "settlements"},
}
UPI = {
    "payout_id": "PO-UPI-1",
    "amount": {"value": 100, "currency": "INR"},
    "beneficiary": {"method": "UPI", "vpa": "someone@okbank", "payee_name": "A Payee"},
}
BANK = {
    "payout_id": "PO_BANK_1",
    "amount": {"value": 250075, "currency": "INR"},
    "beneficiary": {
        "method": "BANK_ACCOUNT",
        "account_number": "001234567890",
        "ifsc": "HDFC0001234",
        "payee_name": "A Payee",
    },
}
PIX = {
    "payout_id": "PIX1",
    "amount": {"value": 1999, "currency": "BRL"},
    "beneficiary": {
        "method": "PIX",
        "pix_key_type": "EMAIL",
        "pix_key": "someone@example.com",
        "payee_name": "Fulano",
        "tax_id": "12345678901",
    },
}


def with_changes(base: dict[str, Any], path: str, value: Any) -> str:
    """``base`` as JSON with the dotted ``path`` set to ``value`` (or removed when value is ...)."""
    document = json.loads(json.dumps(base))
    *parents, leaf = path.split(".")
    node = document
    for part in parents:
        node = node[part]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return json.dumps(document)


@pytest.mark.parametrize("good", [ALIPAY, UPI, BANK, PIX], ids=["alipay", "upi", "bank", "pix"])
def test_each_method_parses(good: dict[str, Any]) -> None:
    request = parse_request(json.dumps(good))
    assert request.payout_id == good["payout_id"]
    assert request.amount.value == good["amount"]["value"]
    assert request.method == good["beneficiary"]["method"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("payout_id", "has space", "payout_id: String should match pattern"),
        ("payout_id", "x" * 33, "payout_id: String should match pattern"),
        ("payout_id", "", "payout_id: String should match pattern"),
        ("payout_id", ..., "payout_id: Field required"),
        ("amount.value", 0, "amount.value: Input should be greater than 0"),
        ("amount.value", -5, "amount.value: Input should be greater than 0"),
        ("amount.value", "50000", "amount.value: Input should be a valid integer"),
        ("amount.value", 500.5, "amount.value: Input should be a valid integer"),
        ("amount.value", True, "amount.value: Input should be a valid integer"),
        ("amount.value", 10**17, "amount.value: Input should be less than or equal to"),
        ("amount.currency", "cny", "amount.currency: String should match pattern"),
        ("amount.currency", "XXX", "amount.currency: Value error, unsupported currency XXX"),
        ("beneficiary.method", "PAYPAL", "beneficiary: Input tag 'PAYPAL' found using 'method'"),
        ("beneficiary.surname", "tt", "beneficiary.ALIPAY.surname: String should have at most 1"),
        ("beneficiary.account_name", ..., "beneficiary.ALIPAY.account_name: Field required"),
        (
            "beneficiary.nickname",
            "x",
            "beneficiary.ALIPAY.nickname: Extra inputs are not permitted",
        ),
        ("description", "d" * 81, "description: String should have at most 80 characters"),
        ("metadata", {"k": 5}, "metadata.k: Input should be a valid string"),
        ("amout", 1, "amout: Extra inputs are not permitted"),
    ],
)
def test_each_bad_field_gets_a_precise_reason(path: str, value: Any, expected: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request(with_changes(ALIPAY, path, value))
    assert expected in refused.value.reason


def test_rejection_carries_the_id_when_it_was_readable() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request(with_changes(ALIPAY, "amount.value", 0))
    assert refused.value.payout_id == "PO-20261122-000123"
    with pytest.raises(InvalidRequest) as unreadable:
        parse_request(with_changes(ALIPAY, "payout_id", "bad id!"))
    assert unreadable.value.payout_id is None


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("beneficiary.vpa", "no-at-sign", "beneficiary.UPI.vpa: String should match pattern"),
        ("beneficiary.payee_name", "", "beneficiary.UPI.payee_name: String should have at least 1"),
    ],
)
def test_upi_fields_are_checked(path: str, value: Any, expected: str) -> None:
    with pytest.raises(InvalidRequest, match=expected):
        parse_request(with_changes(UPI, path, value))


@pytest.mark.parametrize(
    ("path", "value"),
    [("beneficiary.ifsc", "HDFC1001234"), ("beneficiary.account_number", "12ab")],
)
def test_bank_fields_are_checked(path: str, value: str) -> None:
    with pytest.raises(
        InvalidRequest, match=path.replace("beneficiary.", "beneficiary.BANK_ACCOUNT.")
    ):
        parse_request(with_changes(BANK, path, value))


def test_pix_key_type_must_be_known() -> None:
    with pytest.raises(InvalidRequest, match=r"beneficiary\.PIX\.pix_key_type"):
        parse_request(with_changes(PIX, "beneficiary.pix_key_type", "IBAN"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", "body is not valid JSON"),
        ("", "body is not valid JSON"),
        ("[1, 2]", "request must be a JSON object"),
        ('"a string"', "request must be a JSON object"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "SNS Message is not valid JSON"),
    ],
)
def test_unreadable_bodies(body: str, expected: str) -> None:
    with pytest.raises(InvalidRequest, match=expected):
        parse_request(body)


def test_oversized_body_is_refused_before_parsing() -> None:
    padded = json.dumps({**ALIPAY, "description": "x" * MAX_REQUEST_BYTES})
    with pytest.raises(InvalidRequest, match="larger than"):
        parse_request(padded)


def test_eventbridge_and_sns_envelopes_unwrap_to_the_same_request() -> None:
    raw = parse_request(json.dumps(ALIPAY))
    eventbridge = {
        "version": "0",
        "id": "e1",
        "detail-type": "PayoutRequested",
        "source": "settlements",
        "detail": ALIPAY,
    }
    sns = {"Type": "Notification", "MessageId": "m1", "Message": json.dumps(ALIPAY)}
    assert parse_request(json.dumps(eventbridge)) == raw
    assert parse_request(json.dumps(sns)) == raw


def test_fingerprint_ignores_key_order_and_whitespace() -> None:
    shuffled = json.dumps(dict(reversed(list(ALIPAY.items()))), indent=4)
    assert request_fingerprint(parse_request(shuffled)) == request_fingerprint(
        parse_request(json.dumps(ALIPAY))
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("amount.value", 50001),
        ("amount.currency", "INR"),
        ("beneficiary.account_name", "other"),
        ("description", "other"),
        ("metadata", {"source": "other"}),
    ],
)
def test_fingerprint_changes_with_any_field(path: str, value: Any) -> None:
    original = request_fingerprint(parse_request(json.dumps(ALIPAY)))
    assert request_fingerprint(parse_request(with_changes(ALIPAY, path, value))) != original


def test_requests_are_immutable() -> None:
    request = PayoutRequest.model_validate(ALIPAY)
    with pytest.raises(ValueError, match="frozen"):
        request.payout_id = "other"  # type: ignore[misc]


def test_published_json_schema_is_up_to_date() -> None:
    # Regenerate with `python -m payouts_tools.schema` after changing the model.
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render()


# ---- issue 10: bad input found by fuzzing --------------------------------------------------------

_ALIPAY_TEXT = json.dumps(ALIPAY)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        # The last payout_id would win: the message would be taken for another payout.
        (_ALIPAY_TEXT[:-1] + ', "payout_id": "PO-OTHER"}', "payout_id"),
        (_ALIPAY_TEXT.replace('"value": 50000', '"value": 50000, "value": 1'), "value"),
        (
            json.dumps({"detail-type": "PayoutRequested", "detail": ALIPAY})[:-1]
            + ', "detail": {}}',
            "detail",
        ),
        (
            json.dumps({"detail-type": "PayoutRequested", "detail": ALIPAY}).replace(
                '"surname": "t"', '"surname": "t", "surname": "u"'
            ),
            "surname",
        ),
        (
            json.dumps(
                {
                    "Type": "Notification",
                    "Message": _ALIPAY_TEXT[:-1] + ', "payout_id": "PO-OTHER"}',
                }
            ),
            "payout_id",
        ),
        ('{"Type": "Notification", "Type": "Notification", "Message": "{}"}', "Type"),
    ],
    ids=["payout_id", "nested", "eventbridge detail", "inside detail", "inside SNS", "SNS"],
)
def test_a_request_with_duplicate_keys_is_refused_whoever_would_win(body: str, key: str) -> None:
    with pytest.raises(InvalidRequest, match=f'duplicate key "{key}"') as refused:
        parse_request(body)
    # No payout id is read from an ambiguous document: none is "the" id.
    assert refused.value.payout_id is None


_DEEP = 1100  # deeper than Python's recursion limit, for any recursive walk of the document


@pytest.mark.parametrize(
    "body",
    [
        "[" * _DEEP + "1" + "]" * _DEEP,
        '{"a":' * _DEEP + "1" + "}" * _DEEP,
        '{"payout_id":"PO-1","beneficiary":' + "[" * _DEEP + "]" * _DEEP + "}",
    ],
    ids=["arrays", "objects", "with a readable id"],
)
def test_deeply_nested_json_is_refused_at_once_not_a_recursion_error(body: str) -> None:
    assert len(body) < MAX_REQUEST_BYTES
    with pytest.raises(InvalidRequest, match="nested deeper than") as refused:
        parse_request(body)
    # Nothing is stored for it: an excerpt of it would have to be walked to be masked.
    assert refused.value.payout_id is None
    with pytest.raises(InvalidRequest, match="nested deeper than"):
        parse_request(json.dumps({"Type": "Notification", "Message": body}))


def test_nesting_inside_strings_does_not_count() -> None:
    document = {**ALIPAY, "description": "[[[[{{{{" * 8}
    assert parse_request(json.dumps(document)).description == "[[[[{{{{" * 8


def test_a_recursion_error_while_validating_is_an_invalid_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def too_deep(document: object) -> PayoutRequest:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(PayoutRequest, "model_validate", too_deep)
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        parse_request(_ALIPAY_TEXT)
