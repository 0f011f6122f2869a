"""gateway_v2 credentials (from Secrets Manager) and options (every assumption, in one place)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from payouts.domain.request import Method
from payouts.providers.decisions import StatusMeaning
from payouts.providers.gateway_v2.signing import CanonicalForm, Md5KeyStyle, SignType

ALIPAY_SERVICE_ID: Final = "SVC0033"  # documented (seed 000)
DEFAULT_SERVICE_IDS: Final[dict[Method, str]] = {"ALIPAY": ALIPAY_SERVICE_ID}

# data.status -> meaning. DOCUMENTED: 1 pending, 2 processing, 3 success, 4 cancelled. SEEN: 5 is
# not in the table but integrations treat it as failed; not being documented, a 5 is confirmed
# by a second query after the settle period before the order becomes FAILED (settlement). A
# status not listed is "unknown, keep polling". Statuses arrive as numbers or strings.
DEFAULT_STATUSES: Final[dict[str, StatusMeaning]] = {
    "1": StatusMeaning(means="PENDING", source="documented"),
    "2": StatusMeaning(means="PENDING", source="documented"),
    "3": StatusMeaning(means="SUCCEEDED", source="documented"),
    "4": StatusMeaning(means="FAILED", source="documented"),
    "5": StatusMeaning(means="FAILED", source="seen"),
}


class GatewayV2Credentials(BaseModel):
    """One merchant account at the provider, parsed from its Secrets Manager JSON secret.

    The secret's JSON keys::

        {
          "platform_id": "PF0002",          # merchant ID (String(7)), sent in every create
          "platform_key": "<signing key>",  # the key that signs creates and verifies answers
          "query_token": "<query token>"    # the Authorization header of queries and balance
        }

    The two secrets are ``SecretStr``: they never print, in reprs, logs or tracebacks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform_id: str = Field(min_length=1)
    platform_key: SecretStr
    query_token: SecretStr

    @field_validator("platform_key", "query_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be blank")
        return value

    @classmethod
    def from_secret_string(cls, secret_string: str) -> GatewayV2Credentials:
        """Parse the secret's ``SecretString`` (the JSON document above)."""
        return cls.model_validate_json(secret_string)


class AnswerSignaturePolicy(StrEnum):
    """What to do with the ``sign`` of a query answer's ``data``."""

    REQUIRE = "require"  # an unsigned answer is not believed
    VERIFY_IF_PRESENT = "verify_if_present"  # verify when signed; believe an unsigned answer
    IGNORE = "ignore"  # never verify (only for a provider that signs with something else)


class GatewayV2Options(BaseModel):
    """Every choice about the provider the docs do not settle, with its safe default.

    Each field says whether it is DOCUMENTED (changing it follows a documented alternative) or an
    ASSUMPTION (changing it is how a merchant with the exact spec corrects us).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # DOCUMENTED: payout method -> service_id. Only Alipay is routed here; bank card (SVC0004) uses
    # the same endpoint but needs beneficiary fields this system does not carry yet.
    service_ids: dict[Method, str] = Field(default_factory=lambda: dict(DEFAULT_SERVICE_IDS))
    # DOCUMENTED: the account's currency (the API is CNY only and carries no currency field).
    currency: str = "CNY"
    # DOCUMENTED: HMAC-SHA256 is recommended (MD5 is retiring); we always send ``sign_type``.
    sign_type: SignType = SignType.HMAC_SHA256
    # DOCUMENTED: current docs append ``&<key>`` for MD5; older mirrors say ``&key=<key>``.
    md5_key_style: Md5KeyStyle = Md5KeyStyle.AMPERSAND
    # DOCUMENTED both ways: the field table says Integer, the seed's request example sends
    # ``amount`` and ``request_time`` as JSON strings. We follow the example; False sends integers.
    numbers_as_strings: bool = True
    # ASSUMPTION: how nested values and non-ASCII text are rendered in the string to sign.
    canonical_form: CanonicalForm = CanonicalForm()
    # DOCUMENTED: a callback without ``sign_type`` is signed with MD5 (the provider's default).
    # Under the HMAC-SHA256 default of ``accepted_callback_sign_types`` such callbacks are refused
    # (401) and the order settles by polling only; the adapter logs that once per container.
    callback_default_sign_type: SignType = SignType.MD5
    # ASSUMPTION (safe default): algorithms we believe in callbacks. None = only ``sign_type``, so
    # a merchant on HMAC-SHA256 never accepts an MD5-signed (weaker) callback unless told to.
    accepted_callback_sign_types: frozenset[SignType] | None = None
    # ASSUMPTION: query answers are documented as signed like callbacks, but not which algorithm
    # an answer without ``sign_type`` uses; None = the merchant's configured ``sign_type``.
    query_default_sign_type: SignType | None = None
    # ASSUMPTION (safe default): algorithms we believe in query answers. None = only ``sign_type``.
    accepted_query_sign_types: frozenset[SignType] | None = None
    # ASSUMPTION: whether a query answer must carry a ``sign``.
    query_signature: AnswerSignaturePolicy = AnswerSignaturePolicy.VERIFY_IF_PRESENT
    # ASSUMPTION: where a query answer's ``sign`` is: inside ``data``, over every field of
    # ``data`` ("data"), or beside ``error_code`` at the top, over every top-level field with
    # ``data`` as compact JSON ("answer"). The docs say answers are signed like callbacks only.
    query_sign_location: Literal["data", "answer"] = "data"
    # The order-status table (see DEFAULT_STATUSES): documented rows are final at once.
    statuses: dict[str, StatusMeaning] = Field(default_factory=lambda: dict(DEFAULT_STATUSES))
    # ASSUMPTION: the callback's ``amount`` is the order amount compared with ours; ``real_amount``
    # (undocumented meaning) is only recorded.
    callback_amount_field: str = "amount"

    def callback_sign_types(self) -> frozenset[SignType]:
        """The algorithms a callback may be signed with for us to believe it."""
        if self.accepted_callback_sign_types is None:
            return frozenset({self.sign_type})
        return self.accepted_callback_sign_types

    def query_sign_types(self) -> frozenset[SignType]:
        """The algorithms a query answer may be signed with for us to believe it."""
        if self.accepted_query_sign_types is None:
            return frozenset({self.sign_type})
        return self.accepted_query_sign_types

    def query_unnamed_sign_type(self) -> SignType:
        """The algorithm assumed for a signed query answer that does not name one."""
        if self.query_default_sign_type is None:
            return self.sign_type
        return self.query_default_sign_type
