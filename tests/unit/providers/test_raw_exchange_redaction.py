"""What a provider said is kept as evidence without the personal data it may echo back, under
whatever field name it echoes it (RawExchange masks its message and body excerpt itself)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Final

from payouts.providers.base import CreateKind, CreateOutcome, RawExchange
from payouts.providers.transport import EXCERPT_CHARS
from payouts.services.submission import create_answer_evidence

VPA: Final = "ravi.kumar@okhdfc"
NAME: Final = "Ravi Kumar"
ACCOUNT: Final = "001234567890"
ANSWER: Final = {
    "code": "OK",
    "data": {
        "payoutNo": "P20261122000123",
        "merchantTradeNo": "PO-20261122-000123",
        "status": "PAID",
        "amount": "100.05",
        "payoutMethod": {"type": "UPI", "vpa": VPA, "payeeName": NAME},
        "beneficiaryAccount": int(ACCOUNT),
        "remark": f"paid to {NAME}",
    },
}
SECRETS: Final = (VPA, NAME, ACCOUNT, str(int(ACCOUNT)))


def test_a_body_excerpt_echoing_the_beneficiary_keeps_only_safe_fields() -> None:
    raw = RawExchange("ok", 200, "OK", body_excerpt=json.dumps(ANSWER))

    assert raw.body_excerpt is not None
    for secret in SECRETS:
        assert secret not in raw.body_excerpt
    for kept in ('"payoutNo": "P20261122000123"', '"status": "PAID"', '"amount": "100.05"'):
        assert kept in raw.body_excerpt


def test_an_excerpt_cut_anywhere_holds_no_personal_value() -> None:
    text = json.dumps(ANSWER)

    for cut in range(min(len(text), EXCERPT_CHARS) + 1):
        excerpt = RawExchange("ok", 200, body_excerpt=text[:cut]).body_excerpt
        assert excerpt is not None
        for secret in SECRETS:
            assert secret not in excerpt, (cut, excerpt)


def test_a_message_keeps_its_words_and_loses_identifying_shapes() -> None:
    raw = RawExchange("ok", 200, "E42", message=f"account {ACCOUNT} ({VPA}) is closed")

    assert raw.message == "account **********90 (**********************fc) is closed"


def test_create_answer_evidence_holds_no_personal_value() -> None:
    raw = RawExchange("ok", 200, "OK", message=f"vpa {VPA}", body_excerpt=json.dumps(ANSWER))
    outcome = CreateOutcome(CreateKind.ACCEPTED, "accepted", raw, "P20261122000123")

    evidence = create_answer_evidence(
        "pg_v2", outcome, "system", datetime(2026, 11, 22, tzinfo=UTC)
    )

    text = json.dumps(evidence.detail)
    for secret in SECRETS:
        assert secret not in text
