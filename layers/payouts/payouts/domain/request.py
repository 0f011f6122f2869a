"""The payout request other services publish: the contract, as a pydantic model.

Unknown fields are rejected, never ignored, so a typo can't turn into a silently different payout.
The JSON Schema in ``events/schemas/payout-request.schema.json`` is generated from these models.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from payouts.domain import strict_json
from payouts.domain.errors import InvalidRequest
from payouts.domain.money import CURRENCY_EXPONENTS

# The stricter of the two providers' merchant order number limits (gateway_v2: String(32)).
PAYOUT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,32}$"
# Requests are small; anything near SQS's 256 KiB is a mistake or an attack.
MAX_REQUEST_BYTES: Final = 16 * 1024
# Largest amount a provider field can carry (pg_v2: 15 integer digits and 2 decimals).
MAX_MINOR_UNITS: Final = 10**17 - 1

_VPA_PATTERN: Final = r"^[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9.-]*$"

PayoutId = Annotated[str, StringConstraints(pattern=PAYOUT_ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]

_STRICT: Final = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Amount(BaseModel):
    """An amount in integer minor units (cents, paise, centavos) of an ISO 4217 currency."""

    model_config = _STRICT

    value: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR_UNITS)]
    currency: Annotated[
        str,
        StringConstraints(pattern=r"^[A-Z]{3}$"),
        Field(json_schema_extra={"enum": sorted(CURRENCY_EXPONENTS)}),
    ]

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        if currency not in CURRENCY_EXPONENTS:
            raise ValueError(f"unsupported currency {currency}")
        return currency


class AlipayBeneficiary(BaseModel):
    """An Alipay account (gateway_v2, CNY)."""

    model_config = _STRICT

    method: Literal["ALIPAY"]
    account_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    # The provider wants only the first character of the holder's surname.
    surname: Annotated[str, StringConstraints(min_length=1, max_length=1)]


class UpiBeneficiary(BaseModel):
    """A UPI virtual payment address (pg_v2, INR)."""

    model_config = _STRICT

    method: Literal["UPI"]
    vpa: Annotated[str, StringConstraints(max_length=128, pattern=_VPA_PATTERN)]
    payee_name: Name


class BankAccountBeneficiary(BaseModel):
    """An Indian bank account (pg_v2, INR): account number and IFSC."""

    model_config = _STRICT

    method: Literal["BANK_ACCOUNT"]
    account_number: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,18}$")]
    ifsc: Annotated[str, StringConstraints(pattern=r"^[A-Z]{4}0[A-Z0-9]{6}$")]
    payee_name: Name


class PixBeneficiary(BaseModel):
    """A PIX key (pg_v2, BRL)."""

    model_config = _STRICT

    method: Literal["PIX"]
    pix_key_type: Literal["CPF", "CNPJ", "EMAIL", "PHONE", "EVP"]
    pix_key: Annotated[str, StringConstraints(min_length=1, max_length=77)]
    payee_name: Name
    tax_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{11}([0-9]{3})?$")] | None = None


Beneficiary = Annotated[
    AlipayBeneficiary | UpiBeneficiary | BankAccountBeneficiary | PixBeneficiary,
    Field(discriminator="method"),
]

Method = Literal["ALIPAY", "UPI", "BANK_ACCOUNT", "PIX"]


class PayoutRequest(BaseModel):
    """One payout, as published by a calling service. ``payout_id`` is the idempotency key and
    the merchant order number sent to the provider, forever."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PayoutRequest")

    payout_id: PayoutId
    amount: Amount
    beneficiary: Beneficiary
    description: Annotated[str, StringConstraints(max_length=80)] = ""
    metadata: Annotated[
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=64)],
            Annotated[str, StringConstraints(max_length=256)],
        ],
        Field(max_length=16),
    ] = Field(default_factory=dict)

    @property
    def method(self) -> Method:
        """The beneficiary's payout method."""
        return self.beneficiary.method


def unwrap_envelope(document: object) -> object:
    """The request inside an EventBridge (``detail``) or SNS (``Message``) envelope, or itself."""
    if isinstance(document, dict):
        if "detail-type" in document and "detail" in document:
            return document["detail"]
        if document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
            return _loads(document["Message"], where="SNS Message")
    return document


def parse_request(body: str) -> PayoutRequest:
    """Parse one message body (raw, EventBridge- or SNS-wrapped) into a valid PayoutRequest.

    Raises InvalidRequest with a precise, human-readable reason; ``payout_id`` is set on the error
    whenever the body carried a well-formed one, so the publisher can see the rejection.
    """
    if len(body.encode("utf-8")) > MAX_REQUEST_BYTES:
        raise InvalidRequest(f"request is larger than {MAX_REQUEST_BYTES} bytes")
    document = unwrap_envelope(_loads(body, where="body"))
    if not isinstance(document, dict):
        raise InvalidRequest("request must be a JSON object")
    try:
        return PayoutRequest.model_validate(document)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_error(error), _readable_id(document)) from None
    except RecursionError:
        # Belt and braces (``_loads`` bounds the depth): a message that cannot be walked is
        # invalid, and must be dead-lettered with a reason, not retried until SQS gives up.
        raise InvalidRequest("request is nested too deeply to be read") from None


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field path: ``amount.value: must be > 0``."""
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "request"
        problems.append(f"{path}: {item['msg']}")
    return "; ".join(problems)


def _loads(text: str, *, where: str) -> Any:
    # Strict: a duplicate key would make the message mean whichever copy a reader keeps, and
    # deep nesting would make a recursive walk of it fail instead of refusing it with a reason.
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"{where} is not valid JSON: {error.msg} at char {error.pos}"
        raise InvalidRequest(reason) from None
    except strict_json.JsonRefused as refused:
        raise InvalidRequest(f"{where} is refused: {refused.reason}") from None


def _readable_id(document: dict[str, Any]) -> str | None:
    candidate = document.get("payout_id")
    if isinstance(candidate, str) and is_valid_payout_id(candidate):
        return candidate
    return None


_PAYOUT_ID = re.compile(PAYOUT_ID_PATTERN)


def is_valid_payout_id(candidate: str) -> bool:
    """True when ``candidate`` meets the payout id contract (charset and length)."""
    return bool(_PAYOUT_ID.fullmatch(candidate))
