"""pg_v2 credentials and options: the one place that holds every assumption about the provider.

Each option says whether it is **documented** (the seed / the provider's public pages),
**seen** (third-party integration code only) or **assumed** (ours). A merchant who obtains the
provider's exact spec changes a value here, not the adapter.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    StringConstraints,
    field_validator,
)

from payouts.providers.decisions import StatusMeaning
from payouts.providers.pg_v2.signing import UrlMode

AnswerSignaturePolicy = Literal["require", "verify_if_present", "ignore"]
CallbackSignaturePolicy = Literal["require", "verify_if_present"]

# Assumed: the provider's not-found codes are not public. Both spellings seen in the wild.
DEFAULT_NOT_FOUND_CODES: Final = frozenset({"Payout.Not_Found", "Payout.Order_Not_Exist"})

# The order-status table, matched whole (upper-cased): the provider's table is not public. PAID is
# success in every integration seen; the rest are assumptions. A status not listed here (say
# CANCELLING or FAILED_RETRYING) is "unknown, keep polling", never a failure. No FAILED row is
# documented, so every failure is confirmed by a second query after the settle period before
# the order becomes FAILED (settlement); a merchant with the provider's table marks rows
# "documented" to make them final at once.
DEFAULT_STATUS_WORDS: Final[dict[str, StatusMeaning]] = {
    "PAID": StatusMeaning(means="SUCCEEDED", source="seen"),
    "PROCESSING": StatusMeaning(means="PENDING", source="seen"),
    "PENDING": StatusMeaning(means="PENDING", source="assumed"),
    "FAILED": StatusMeaning(means="FAILED", source="assumed"),
    "REJECTED": StatusMeaning(means="FAILED", source="assumed"),
    "CANCELLED": StatusMeaning(means="FAILED", source="assumed"),
    "REVERSED": StatusMeaning(means="REVERSED", source="assumed"),
    "REFUNDED": StatusMeaning(means="REVERSED", source="assumed"),
}

# Assumed: HTTP 4xx is documented as "permission or signature problem, not created", but a
# throttled, conflicting or timed-out request is not that problem: it may have created the order
# (or may still), so a create answered with one of these is ambiguous (query), never rejected.
DEFAULT_AMBIGUOUS_CLIENT_STATUSES: Final = frozenset({408, 409, 425, 429})

# Documented (seed 004): merchantAttach is at most 255 characters.
MERCHANT_ATTACH_MAX_LENGTH: Final = 255

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
    """Every pg_v2 assumption, in one place, each marked documented, seen or assumed, with its
    safest default. Set per deployment as JSON in ``PG_V2_OPTIONS``. Status words are compared
    upper-cased."""

    model_config = _FROZEN

    # Seen: integration code signs the full URL (scheme, host, path); "path" is the alternative.
    signed_url: UrlMode = "full"
    # Assumed: answers are signed like requests, over their own timestamp/nonce and body (the
    # seed documents that an answer carries an Authorization header, not how it is computed).
    # "verify_if_present": a present but wrong signature makes the answer unbelievable (counted
    # as ProviderAnswerSignatureInvalid, alarmed: the provider then silently stops settling).
    answer_signature: AnswerSignaturePolicy = "verify_if_present"
    # Assumed: the method and URL lines an answer's signature covers: the request's own method
    # (POST) and URL ("request", in the ``signed_url`` form), or an empty URL line ("empty").
    answer_signed_method: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3,7}$")] = "POST"
    answer_signed_url: Literal["request", "empty"] = "request"
    # Assumed: callbacks are signed like answers, with method POST and our notify URL. Absent
    # signatures are tolerated by default because every callback only triggers a query.
    callback_signature: CallbackSignaturePolicy = "verify_if_present"
    # Assumed: the method and URL lines a callback's signature covers: POST and the notify URL we
    # sent ("notify_url", in the ``signed_url`` form), or an empty URL line ("empty").
    callback_signed_method: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3,7}$")] = "POST"
    callback_signed_url: Literal["notify_url", "empty"] = "notify_url"
    # Assumed: callback signing is undocumented, so even a verified callback is not applied as
    # is unless a merchant who has the spec says so (providers.md: a callback triggers a query).
    trust_signed_callbacks: bool = False
    # Assumed: the codes of a query answer meaning "no order with this merchant number".
    not_found_codes: frozenset[str] = DEFAULT_NOT_FOUND_CODES
    # The order-status table (see DEFAULT_STATUS_WORDS): each row seen or assumed. An errorCode
    # beside a status is evidence (recorded), never a verdict of its own.
    status_words: dict[str, StatusMeaning] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_WORDS)
    )
    # Assumed: HTTP statuses of a create answer that are ambiguous, not the documented 4xx refusal.
    ambiguous_client_statuses: frozenset[Annotated[int, Field(ge=400, le=499)]] = (
        DEFAULT_AMBIGUOUS_CLIENT_STATUSES
    )
    # Documented body shape; which currencies to ask for is ours.
    balance_currencies: tuple[str, ...] = ("INR", "BRL")
    # Ours: the request metadata key whose value is sent as merchantAttach (documented, optional,
    # echoed back by the provider). None: never send merchantAttach.
    merchant_attach_key: str | None = "merchant_attach"
    # Documented (seed 004): at most 255 characters; a longer one refuses the payout before
    # anything is sent.
    merchant_attach_max_length: Annotated[int, Field(ge=1, le=4096)] = MERCHANT_ATTACH_MAX_LENGTH
    # Documented by example: the seed's create sends ``"extendInfo": {}``; None leaves it out.
    extend_info: dict[str, JsonValue] | None = Field(default_factory=dict)
    # Assumed: whether description may be empty is not documented, so an empty one is replaced.
    fallback_description: Annotated[str, StringConstraints(min_length=1, max_length=80)] = "payout"
    # Assumed: BANK_ACCOUNT and PIX payoutMethod field names (only UPI's are documented).
    bank_account_fields: BankAccountFields = Field(default_factory=BankAccountFields)
    pix_fields: PixFields = Field(default_factory=PixFields)

    @field_validator("status_words")
    @classmethod
    def _upper_case(cls, words: dict[str, StatusMeaning]) -> dict[str, StatusMeaning]:
        """Statuses are compared whole and upper-cased, so the table is stored upper-cased."""
        table = {word.strip().upper(): meaning for word, meaning in words.items()}
        if "" in table or len(table) != len(words):
            raise ValueError("status words must be non-blank and distinct ignoring case")
        return table
