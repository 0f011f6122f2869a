"""pg_v2: the payout API of seed 004 (UPI and BANK_ACCOUNT in INR, PIX in BRL).

``PgV2Adapter`` implements the provider port; ``PgV2Credentials`` is parsed from the merchant's
Secrets Manager secret; ``PgV2Options`` holds every assumption about the provider.
"""

from payouts.providers.base import UnsupportedPayout
from payouts.providers.pg_v2.adapter import PgV2Adapter
from payouts.providers.pg_v2.options import PgV2Credentials, PgV2Options

__all__ = ["PgV2Adapter", "PgV2Credentials", "PgV2Options", "UnsupportedPayout"]
