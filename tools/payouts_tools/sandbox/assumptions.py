"""What the sandbox says where the providers' documents are silent: one place, each marked.

Documented facts are labelled DOCUMENTED (with where); everything else is an ASSUMPTION a
merchant with the provider's exact specification would change here, and only here. Options a
test may want to flip at runtime (gateway dedupe, pg_v2 URL signing) live in ``SandboxConfig``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

# ---------------------------------------------------------------------------------- gateway_v2

# DOCUMENTED (providers.md): SVC0033 is Alipay; bank card is the same endpoint with SVC0004.
GATEWAY_SERVICE_METHODS: Final[dict[str, str]] = {"SVC0033": "ALIPAY", "SVC0004": "BANK_CARD"}
# DOCUMENTED (seed 000): CNY only.
GATEWAY_CURRENCY: Final = "CNY"
# DOCUMENTED (seed 000): required for every create.
GATEWAY_REQUIRED_FIELDS: Final[tuple[str, ...]] = (
    "platform_id",
    "service_id",
    "payout_cl_id",
    "amount",
    "request_time",
    "sign",
)
# DOCUMENTED for SVC0033 (seed 000). ASSUMPTION for SVC0004: its beneficiary fields are not
# documented, so the sandbox requires none beyond the common ones.
GATEWAY_REQUIRED_BY_SERVICE: Final[dict[str, tuple[str, ...]]] = {
    "SVC0033": ("alipay_account_name", "alipay_surname"),
    "SVC0004": (),
}
# DOCUMENTED (seed 000): String(32), Integer(10), String(256).
GATEWAY_MAX_CL_ID_LENGTH: Final = 32
GATEWAY_MAX_INTEGER_DIGITS: Final = 10
GATEWAY_MAX_NOTIFY_URL_LENGTH: Final = 256

# DOCUMENTED (seed 000, providers.md).
GATEWAY_CODE_OK: Final = "0000"
GATEWAY_CODE_BAD_SIGNATURE: Final = "0004"
GATEWAY_MESSAGE_BAD_SIGNATURE: Final = "验签错误!"
GATEWAY_CODE_BAD_AUTHORIZATION: Final = "0006"
GATEWAY_CODE_NOT_FOUND: Final = "0050"
# ASSUMPTION: the global error table is not public. These codes are deliberately outside the
# documented ones, so an adapter must treat them as it treats any unknown code (ambiguous).
GATEWAY_CODE_BAD_PARAMETER: Final = "0001"
GATEWAY_CODE_UNKNOWN_PLATFORM: Final = "0002"
# ASSUMPTION: every gateway_v2 answer, success or error, is HTTP 200 carrying error_code.
GATEWAY_HTTP_STATUS: Final = 200
GATEWAY_CONTENT_TYPE: Final = "application/json;charset=utf-8"

# DOCUMENTED (providers.md): 1 pending, 2 processing, 3 success, 4 cancelled.
GATEWAY_STATUS_PENDING: Final = 1
GATEWAY_STATUS_PROCESSING: Final = 2
GATEWAY_STATUS_SUCCESS: Final = 3
GATEWAY_STATUS_CANCELLED: Final = 4
# SEEN IN INTEGRATIONS ONLY: 5 is treated as failed; the sandbox reports failures with it so an
# adapter that only knows the documented table gets exercised on it.
GATEWAY_STATUS_FAILED: Final = 5
# ASSUMPTION: gateway_v2 documents no reversal. A payout returned after paying is reported as
# cancelled (4), which our system must never apply to a SUCCEEDED order as a plain failure.
GATEWAY_STATUS_REVERSED: Final = GATEWAY_STATUS_CANCELLED
# ASSUMPTION: the order is "pending" (1) until it has been queried once, then "processing" (2).
GATEWAY_QUERIES_BEFORE_PROCESSING: Final = 1
# ASSUMPTION: query answers and callbacks are signed with HMAC-SHA256 (the recommended type).
GATEWAY_ANSWER_SIGN_TYPE: Final = "HMAC-SHA256"
# ASSUMPTION: a reversal is also sent as a callback (documented: success, cancel, failure).
GATEWAY_CALLBACK_ON_REVERSAL: Final = True
# DOCUMENTED (providers.md): the acknowledgement, exactly.
GATEWAY_CALLBACK_ACK: Final[dict[str, str]] = {"error_code": "0000"}
# ASSUMPTION: with gateway_dedupe on, a reused payout_cl_id answers 0000 with the existing
# payout_id (idempotent create); with it off, a second payout is made (see SandboxConfig).
# ASSUMPTION: when one payout_cl_id has several payouts, the query shows the first one.
GATEWAY_QUERY_SHOWS_FIRST_ORDER: Final = True
GATEWAY_ERROR_MESSAGES: Final[dict[str, str]] = {
    "FAILED": "beneficiary account rejected the payout",
    "CANCELLED": "payout cancelled",
    "REVERSED": "payout returned after payment",
}


def gateway_time(epoch_seconds: float) -> int:
    """ASSUMPTION: create_time / update_time / success_time are unix seconds, like
    request_time."""
    return int(epoch_seconds)


def gateway_real_amount(amount_minor: int, fee_minor: int) -> int:
    """ASSUMPTION: ``real_amount`` is what the beneficiary received: the whole amount, the fee
    being charged to the merchant on top."""
    del fee_minor  # charged on top, so it does not reduce what the beneficiary gets
    return amount_minor


# --------------------------------------------------------------------------------------- pg_v2

# DOCUMENTED (seed 004).
PG_CODE_OK: Final = "OK"
PG_CODE_DUPLICATE: Final = "Payout.Duplicate_TradeNo"
# ASSUMPTION: the query's "not found" code is not public.
PG_CODE_NOT_FOUND: Final = "Payout.Not_Found"
# ASSUMPTION: documented only as "code != OK with a non-empty errorMessage: creation failed".
PG_CODE_INVALID_PARAMETER: Final = "Payout.Invalid_Parameter"
# DOCUMENTED as "HTTP 4xx: permission or signature problem"; the exact status and body are
# ASSUMPTIONS.
PG_HTTP_UNAUTHORIZED: Final = 401
PG_CODE_UNAUTHORIZED: Final = "Unauthorized"
PG_HTTP_UNSUPPORTED_MEDIA_TYPE: Final = 415
PG_HTTP_NOT_ACCEPTABLE: Final = 406
PG_CONTENT_TYPE: Final = "application/json"
# DOCUMENTED (providers.md): the Authorization scheme.
PG_AUTH_SCHEME: Final = "V2_SHA256"
# DOCUMENTED: timestamp is unix milliseconds. Anything below this is seconds, a likely mistake.
PG_MIN_TIMESTAMP_MS: Final = 10**12

# DOCUMENTED (providers.md): which currency each payout method pays in.
PG_METHOD_CURRENCIES: Final[dict[str, str]] = {"UPI": "INR", "BANK_ACCOUNT": "INR", "PIX": "BRL"}
# DOCUMENTED (seed 004): UPI needs vpa and payeeName. ASSUMPTION: BANK_ACCOUNT and PIX fields are
# not documented, so the sandbox requires only `type` for them.
PG_METHOD_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "UPI": ("vpa", "payeeName"),
    "BANK_ACCOUNT": (),
    "PIX": (),
}
# DOCUMENTED (seed 004): length limits.
PG_MAX_LENGTHS: Final[dict[str, int]] = {
    "merchantTradeNo": 50,
    "description": 80,
    "merchantAttach": 255,
    "notifyUrl": 255,
    "vpa": 128,
    "payeeName": 80,
}
# DOCUMENTED (seed 004): "integer 1-15 digits, exactly 2 decimals, e.g. 100.05".
PG_AMOUNT_PATTERN: Final = re.compile(r"^(0|[1-9][0-9]{0,14})\.[0-9]{2}$")
# ASSUMPTION: description, merchantAttach, notifyUrl and extendInfo are optional.
PG_REQUIRED_FIELDS: Final[tuple[str, ...]] = (
    "merchantTradeNo",
    "amount",
    "currency",
    "payoutMethod",
)

# DOCUMENTED (brief/providers.md): the statuses integrations see; the table is not public.
PG_STATUS_PROCESSING: Final = "PROCESSING"
PG_STATUS_PAID: Final = "PAID"
PG_STATUS_FAILED: Final = "FAILED"
PG_STATUS_REVERSED: Final = "REVERSED"
# DOCUMENTED as an example (providers.md); the cancelled one is an ASSUMPTION.
PG_ERROR_CODES: Final[dict[str, tuple[str, str]]] = {
    "FAILED": ("Payout.Common.Rejected", "beneficiary bank rejected the payout"),
    "CANCELLED": ("Payout.Common.Cancelled", "payout cancelled by the platform"),
}
# SEEN IN INTEGRATION CODE: the callback acknowledgement.
PG_CALLBACK_ACK_CODE: Final = "OK"


def pg_time(epoch_seconds: float) -> str:
    """ASSUMPTION: createdTime / paidTime are ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pg_payout_no(sequence: int, epoch_seconds: float) -> str:
    """A payout number shaped like the seed's (32 digits: a timestamp, then a serial)."""
    stamp = datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y%m%d%H%M%S")
    return f"{stamp}{sequence:018d}"


def gateway_payout_id(sequence: int) -> str:
    """A payout id shaped like the seed's ``POT00000001``."""
    return f"POT{sequence:08d}"
