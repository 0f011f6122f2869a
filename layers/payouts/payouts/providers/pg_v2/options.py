"""pg_v2 credentials and options: the one place that holds every assumption about the provider.

Each option says whether it is **documented** (the seed / the provider's public pages),
**seen** (third-party integration code only) or **assumed** (ours). A merchant who obtains the
provider's exact spec changes a value here, not the adapter.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from payouts.providers.pg_v2.signing import UrlMode

AnswerSignaturePolicy = Literal["require", "verify_if_present", "ignore"]
CallbackSignaturePolicy = Literal["require", "verify_if_present"]

# Assumed: the provider's not-found codes are not public. Both spellings seen in the wild.
DEFAULT_NOT_FOUND_CODES: Final = frozenset({"Payout.Not_Found", "Payout.Order_Not_Exist"})

_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")


class PgV2Credentials(BaseModel):
    """The merchant's pg_v2 credentials, parsed from its Secrets Manager JSON secret.

    The secret's JSON keys::

        {"app_id": "<the merchant's appId>", "app_secret": "<the signing secret>"}

    ``app_secret`` is a ``SecretStr``: it never appears in ``repr``, logs or evidence.
    """

    model_config = _FROZEN

    # No spaces, commas or "=": the appId travels inside the Authorization header's parameters.
    app_id: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\s,=]+$")]
    app_secret: SecretStr = Field(min_length=1)


class BankAccountFields(BaseModel):
    """Assumed: the field names of a BANK_ACCOUNT ``payoutMethod`` (not documented; only the
    ``type`` value ``BANK_ACCOUNT`` is)."""

    model_config = _FROZEN

    account_number: str = "accountNo"
    ifsc: str = "ifsc"
    payee_name: str = "payeeName"


class PixFields(BaseModel):
    """Assumed: the field names of a PIX ``payoutMethod`` (not documented; only the ``type``
    value ``PIX`` is). The key type is sent as our own value (CPF, CNPJ, EMAIL, PHONE, EVP)."""

    model_config = _FROZEN

    pix_key: str = "pixKey"
    pix_key_type: str = "pixKeyType"
    payee_name: str = "payeeName"
    tax_id: str = "taxId"  # sent only when the request carries one


class PgV2Options(BaseModel):
    """Every pg_v2 assumption, with safe defaults. Status values are compared upper-cased."""

    model_config = _FROZEN

    # Seen: integration code signs the full URL (scheme, host, path); "path" is the alternative.
    signed_url: UrlMode = "full"
    # Assumed: answers are signed like requests, over their own timestamp/nonce and body (the
    # seed documents that an answer carries an Authorization header, not how it is computed).
    # "verify_if_present": a present but wrong signature makes the answer unbelievable.
    answer_signature: AnswerSignaturePolicy = "verify_if_present"
    # Assumed: callbacks are signed like answers, with method POST and our notify URL. Absent
    # signatures are tolerated by default because every callback only triggers a query.
    callback_signature: CallbackSignaturePolicy = "verify_if_present"
    # Assumed: callback signing is undocumented, so even a verified callback is not applied as
    # is unless a merchant who has the spec says so (providers.md: a callback triggers a query).
    trust_signed_callbacks: bool = False
    # Assumed: the codes of a query answer meaning "no order with this merchant number".
    not_found_codes: frozenset[str] = DEFAULT_NOT_FOUND_CODES
    # Seen: PAID is success in every integration.
    paid_statuses: frozenset[str] = frozenset({"PAID"})
    # Assumed: the names of a paid-then-returned payout.
    reversed_statuses: frozenset[str] = frozenset({"REVERSED", "REFUNDED"})
    # Assumed (providers.md): a status containing one of these words is a failure.
    failed_status_markers: tuple[str, ...] = ("FAIL", "REJECT", "CANCEL")
    # Assumed (providers.md): a non-empty errorCode on a status that is not paid is a failure.
    error_code_means_failed: bool = True
    # Documented body shape; which currencies to ask for is ours.
    balance_currencies: tuple[str, ...] = ("INR", "BRL")
    # Ours: the request metadata key whose value is sent as merchantAttach (documented, optional,
    # echoed back by the provider). None: never send merchantAttach.
    merchant_attach_key: str | None = "merchant_attach"
    # Assumed: whether description may be empty is not documented, so an empty one is replaced.
    fallback_description: Annotated[str, StringConstraints(min_length=1, max_length=80)] = "payout"
    # Assumed: BANK_ACCOUNT and PIX payoutMethod field names (only UPI's are documented).
    bank_account_fields: BankAccountFields = Field(default_factory=BankAccountFields)
    pix_fields: PixFields = Field(default_factory=PixFields)

    @field_validator("paid_statuses", "reversed_statuses", "failed_status_markers")
    @classmethod
    def _upper_case(cls, words: Collection[str]) -> Collection[str]:
        """Statuses are compared upper-cased, so the vocabulary is stored upper-cased too."""
        upper = [word.strip().upper() for word in words]
        return tuple(upper) if isinstance(words, tuple) else frozenset(upper)
