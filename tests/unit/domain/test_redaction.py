"""Masking by key and by value shape: nothing personal survives under any key name or spelling,
inside strings that hold JSON, or in free text; what is known to be safe stays readable."""

from __future__ import annotations

import json
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payouts.domain.redaction import (
    MIN_IDENTIFYING_DIGITS,
    SAFE_KEYS,
    mask,
    mask_shapes,
    mask_text,
    normalised_key,
    redact_document,
)

ACCOUNT = "001234567890"
CPF = "12345678901"
VPA = "ravi.kumar@okhdfc"
EMAIL = "payee@example.com"
EVP = "123e4567-e89b-42d3-a456-426614174000"
NAME = "Ravi Kumar"


def dumped(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# ---- the masked form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ab", "****"),
        ("abcd", "****"),
        ("abcde", "******de"),
        (ACCOUNT, "**********90"),
        (NAME, "**********ar"),
        ("x" * 70_000, "*" * 62 + "xx"),
    ],
)
def test_mask_keeps_a_length_class_and_the_last_two_characters(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_masking_twice_changes_nothing_more() -> None:
    for value in (ACCOUNT, NAME, VPA, "ab", "x" * 100):
        assert mask(mask(value)) == mask(value)
        assert mask_text(mask_text(dumped({"vpa": value}))) == mask_text(dumped({"vpa": value}))


# ---- documents: by key, never by one key name ---------------------------------------------------


BANK = {
    "method": "BANK_ACCOUNT",
    "account_number": ACCOUNT,
    "ifsc": "HDFC0001234",
    "payee_name": NAME,
}


@pytest.mark.parametrize(
    "key", ["beneficiary", "Beneficiary", "BENEFICIARY", "beneficiary ", "payee"]
)
def test_a_beneficiary_under_any_spelling_of_any_key_is_masked(key: str) -> None:
    document = {"payout_id": "PO-1", key: dict(BANK)}

    shown = redact_document(document)

    text = dumped(shown)
    for secret in (ACCOUNT, "HDFC0001234", NAME):
        assert secret not in text
    assert isinstance(shown, dict)
    assert shown[key] == {
        "method": "BANK_ACCOUNT",
        "account_number": "**********90",
        "ifsc": "**********34",
        "payee_name": "**********ar",
    }
    assert shown["payout_id"] == "PO-1"


def test_beneficiary_fields_renamed_or_nested_deeper_are_masked() -> None:
    document = {
        "payload": {"to": [{"acct": ACCOUNT, "holder": NAME}, {"upi": VPA}]},
        "Account_Number": int(ACCOUNT),
        "pix": {"key": CPF, "keyType": "CPF"},
    }

    text = dumped(redact_document(document))

    for secret in (ACCOUNT, str(int(ACCOUNT)), NAME, VPA, CPF):
        assert secret not in text


def test_safe_keys_keep_their_values_in_every_spelling_when_shaped_right() -> None:
    document = {
        "Payout_Id": "PO-20261122-000123",
        "amount": {"value": 5_000_000, "currency": "INR"},
        "STATUS": "PAID",
        "errorCode": "Payout.Common.Rejected",
        "created-at": "2026-11-22T08:00:00Z",
        "paidTime": 1_795_000_000,
        "body_sha256": "a" * 64,
        "trusted": True,
    }

    assert redact_document(document) == document


def test_a_safe_key_holding_something_of_another_shape_is_masked() -> None:
    document = {"status": NAME, "currency": "Indian rupee", "code": CPF, "amount": VPA}

    shown = redact_document(document)

    assert shown == {key: mask(str(value)) for key, value in document.items()}


def test_json_inside_a_string_is_walked_and_masked() -> None:
    inner = {"payout_id": "PO-1", "beneficiary": {"method": "UPI", "vpa": VPA, "payee_name": NAME}}
    document = {"Message": json.dumps(inner), "note": f"[{json.dumps(inner)}]"}

    shown = redact_document(document)

    text = dumped(shown)
    assert VPA not in text
    assert NAME not in text
    assert isinstance(shown, dict)
    assert json.loads(str(shown["Message"]))["payout_id"] == "PO-1"


def test_keys_that_are_themselves_identifying_are_masked() -> None:
    shown = redact_document({CPF: 1, EMAIL: {"x": 1}})

    assert CPF not in dumped(shown)
    assert EMAIL not in dumped(shown)


def test_numbers_long_enough_to_identify_are_masked_short_ones_kept() -> None:
    shown = redact_document({"phone": 5_511_912_345_678, "count": 12, "ratio": 0.5})

    assert shown == {"phone": mask("5511912345678"), "count": 12, "ratio": 0.5}


def test_every_safe_key_is_normalised() -> None:
    assert all(key == normalised_key(key) for key in SAFE_KEYS)


# ---- free text and cut-off JSON -----------------------------------------------------------------


def test_free_text_loses_account_numbers_cpf_phones_vpas_emails_and_random_pix_keys() -> None:
    text = (
        f"payee {VPA} acct {ACCOUNT} cpf 123.456.789-01 cnpj 12.345.678/0001-90 "
        f"phone +55 11 91234-5678 key {EVP} mail {EMAIL}"
    )

    masked = mask_text(text)

    for secret in (VPA, ACCOUNT, "123.456.789-01", "12.345.678/0001-90", "91234-5678", EVP, EMAIL):
        assert secret not in masked
    assert masked.startswith("payee ")


def test_free_text_keeps_dates_times_and_small_numbers() -> None:
    text = "failed at 2026-11-22T08:00:00Z after 3 tries, amount 100.05"

    assert mask_text(text) == text
    assert mask_shapes(text) == text


def test_cut_off_json_keeps_safe_members_and_masks_the_rest() -> None:
    document = {
        "code": "OK",
        "data": {
            "payoutNo": "P123456789",
            "amount": "100.05",
            "payoutMethod": {"type": "UPI", "vpa": VPA, "payeeName": NAME},
            "names": [NAME],
            "accountNo": int(ACCOUNT),
        },
    }
    text = dumped(document)

    for cut in range(len(text) + 1):
        masked = mask_text(text[:cut])
        for secret in (VPA, NAME, str(int(ACCOUNT))):
            assert secret not in masked, (cut, masked)
    whole = mask_text(text)
    assert '"payoutNo": "P123456789"' in whole
    assert '"type": "UPI"' in whole
    assert '"amount": "100.05"' in whole


def test_a_provider_message_keeps_its_words() -> None:
    assert mask_shapes(f"account {ACCOUNT} is closed") == "account **********90 is closed"


def test_long_text_is_masked_in_linear_time() -> None:
    # Pathological inputs for a careless pattern: long runs with no match at their end.
    for text in ("x" * 100_000, "9" * 100_000, "a." * 50_000, '"' + "a" * 100_000):
        assert len(mask_text(text)) <= len(text) + 64


# ---- property: no digit run of a beneficiary survives --------------------------------------------

_DIGIT_RUN = re.compile(rf"[0-9]{{{MIN_IDENTIFYING_DIGITS},}}")
_UNSAFE_KEYS = st.text(alphabet=string.ascii_letters + "_- ", min_size=1, max_size=12).filter(
    lambda key: normalised_key(key) not in SAFE_KEYS
)
_IDENTIFYING = st.one_of(
    st.from_regex(r"[0-9]{6,18}", fullmatch=True),
    st.from_regex(r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}", fullmatch=True),
    st.from_regex(r"\+[0-9]{2} [0-9]{2} [0-9]{5}-[0-9]{4}", fullmatch=True),
    st.from_regex(r"[a-z0-9.]{2,12}[0-9]{6}@[a-z]{3,8}", fullmatch=True),
)


def _documents(secrets: list[str]) -> st.SearchStrategy[Any]:
    secret = st.sampled_from(secrets)
    leaf = st.one_of(secret, secret.map(lambda value: f"paid to {value} today"))
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(_UNSAFE_KEYS, children, max_size=3),
            st.dictionaries(_UNSAFE_KEYS, children, max_size=3).map(dumped),
        ),
        max_leaves=8,
    )


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_digit_run_of_six_from_a_beneficiary_survives_any_masking(data: st.DataObject) -> None:
    secrets = data.draw(st.lists(_IDENTIFYING, min_size=1, max_size=4, unique=True))
    document = data.draw(_documents(secrets))
    text = dumped(document)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))

    for shown in (dumped(redact_document(document)), mask_text(text), mask_text(text[:cut])):
        assert not _DIGIT_RUN.search(shown), shown
        for secret in secrets:
            # Separators do not save a value: its six last digits never appear together.
            assert (
                _digits(secret)[-MIN_IDENTIFYING_DIGITS:] not in _digits(shown)
                or len(_digits(shown)) < MIN_IDENTIFYING_DIGITS
            ), (secret, shown)
