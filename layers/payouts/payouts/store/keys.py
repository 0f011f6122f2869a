"""Key layout of the orders table. Every key string is built here and nowhere else.

- order item:     PK = PAYOUT#<id>, SK = ORDER
- evidence items: PK = PAYOUT#<id>, SK = EVT#<time>#<random>   (append-only, time-ordered)
- callback marks: PK = PAYOUT#<id>, SK = CALLBACK#<body sha256> (a callback body recorded once)
                  PK = PAYOUT#<id>, SK = CALLBACK_QUERY#<report> (when a callback reporting
                  <report> last made us query)
- lease items:    PK = LEASE#<name>, SK = LEASE
- provider state: PK = SETTING#provider#<name>, SK = SETTING   (paused or not, by whom)
- breaker marks:  PK = BREAKER#<name>, SK = <time>#<random>     (one per failed create; TTL)
- GSI "due" (sparse, only while the order is not terminal): due_pk = DUE#<shard>,
  due_sk = <next_check_at>#<id>
- GSI "by-day": day_pk = DAY#<created day>#<shard>, range key the order's own ``created_at``
  (written once at create, never moved: it is keyed on nothing that changes)
- GSI "by-status-day" (legacy, only while a deployed stack migrates to "by-day"; see
  docs/table-migration.md): status_pk = <status>#<created day>, status_sk = <created_at>#<id>
- GSI "by-provider-ref": provider_ref = <provider>#<provider order id>
- GSI "review" (sparse, only while needs_review): review_pk = REVIEW, review_sk = <updated_at>#<id>
- GSI "erasable" (sparse, only while an order is terminal, still holds personal data and last
  changed more than ``SWEPT_CHANGES_WITHIN`` after it was created, see payouts.domain.erasure):
  erase_pk = ERASE#<shard>, erase_sk = <updated_at>#<id>. Every other terminal order is found by
  the retention function's sweep of by-day in creation order (docs/table-design.md), so most
  payouts never write it.
- retention sweep position: PK = SWEEP#retention, SK = POSITION (how far in creation order the
  sweep has looked)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final

ORDER_SK: Final = "ORDER"
EVIDENCE_PREFIX: Final = "EVT#"
LEASE_SK: Final = "LEASE"
SETTING_SK: Final = "SETTING"
# Neither starts with EVIDENCE_PREFIX, so history() never reads them.
CALLBACK_BODY_PREFIX: Final = "CALLBACK#"
CALLBACK_QUERY_PREFIX: Final = "CALLBACK_QUERY#"
REVIEW_PK: Final = "REVIEW"
SWEEP_PK: Final = "SWEEP#retention"
SWEEP_SK: Final = "POSITION"

DUE_INDEX: Final = "due"
STATUS_INDEX: Final = "by-status-day"
DAY_INDEX: Final = "by-day"
PROVIDER_REF_INDEX: Final = "by-provider-ref"
REVIEW_INDEX: Final = "review"
ERASABLE_INDEX: Final = "erasable"

# Due orders are spread over a few partitions so no single one runs hot. Writers and readers must
# agree on this number: changing it needs a re-key of every unresolved order.
DUE_SHARDS: Final = 8

# Orders created on one day are spread over this many by-day partitions, so that at 1,000 payouts
# a second no partition takes more than about 63 writes a second (docs/table-design.md). Readers
# query every shard of a day; changing the number needs a re-key of every order.
DAY_SHARDS: Final = 16

_TIMESTAMP_LENGTH: Final = len("2026-01-01T00:00:00.000000Z")

# Sorts after every character a payout id may contain ([A-Za-z0-9_-]).
_AFTER_ANY_ID: Final = "~"


def order_pk(payout_id: str) -> str:
    """Partition key of an order and its evidence."""
    return f"PAYOUT#{payout_id}"


def payout_id_from_pk(pk: str) -> str:
    """The payout id inside an order partition key."""
    return pk.removeprefix("PAYOUT#")


def lease_pk(name: str) -> str:
    """Partition key of a lease item."""
    return f"LEASE#{name}"


def provider_setting_pk(provider: str) -> str:
    """Partition key of a provider's state item (its pause)."""
    return f"SETTING#provider#{provider}"


def breaker_pk(provider: str) -> str:
    """Partition key of a provider's failed-create marks (the breaker's sliding window)."""
    return f"BREAKER#{provider}"


def breaker_sk(at: datetime, unique: str) -> str:
    """Sort key of one failed-create mark: time-ordered, unique within the partition."""
    return f"{timestamp(at)}#{unique}"


def breaker_after(moment: datetime) -> str:
    """The largest mark sort key at ``moment``: marks after it are the ones later than it."""
    return f"{timestamp(moment)}#{_AFTER_ANY_ID}"


def timestamp(moment: datetime) -> str:
    """Fixed-width UTC ISO time with microseconds, so strings sort as times do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """The inverse of ``timestamp`` (strict: exactly that fixed-width form)."""
    if len(text) != _TIMESTAMP_LENGTH or text[10] != "T" or not text.endswith("Z"):
        raise ValueError(f"not a stored timestamp: {text!r}")
    # fromisoformat is some 20 times faster than strptime, and this runs for every item read.
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def due_shard(payout_id: str) -> str:
    """The due-index partition of an order: a stable hash of its id."""
    digest = hashlib.sha256(payout_id.encode()).digest()
    return f"DUE#{digest[0] % DUE_SHARDS}"


def erase_shard(payout_id: str) -> str:
    """The erasable-index partition of an order (same spread as the due index)."""
    return due_shard(payout_id).replace("DUE#", "ERASE#", 1)


def all_erase_shards() -> list[str]:
    """Every erasable-index partition."""
    return [f"ERASE#{shard}" for shard in range(DUE_SHARDS)]


def erase_sort_key(updated_at: datetime, payout_id: str) -> str:
    """Erasable-index sort key: when the terminal order last changed, then the id."""
    return f"{timestamp(updated_at)}#{payout_id}"


def erase_upper_bound(cutoff: datetime) -> str:
    """The largest erasable sort key of an order unchanged since ``cutoff``."""
    return f"{timestamp(cutoff)}#{_AFTER_ANY_ID}"


def all_due_shards() -> list[str]:
    """Every due-index partition."""
    return [f"DUE#{shard}" for shard in range(DUE_SHARDS)]


def due_sort_key(next_check_at: datetime, payout_id: str) -> str:
    """Due-index sort key: when to check, then the id."""
    return f"{timestamp(next_check_at)}#{payout_id}"


def due_upper_bound(now: datetime) -> str:
    """The largest due sort key that is due at ``now``."""
    return f"{timestamp(now)}#{_AFTER_ANY_ID}"


def status_partition(status: str, created_at: datetime) -> str:
    """by-status-day partition: a status on the day the order was created."""
    return f"{status}#{created_at.astimezone(UTC):%Y-%m-%d}"


def day_partition(created_at: datetime, payout_id: str) -> str:
    """by-day partition of an order: its creation day (UTC) and a stable shard of its id."""
    digest = hashlib.sha256(payout_id.encode()).digest()
    return f"DAY#{created_at.astimezone(UTC):%Y-%m-%d}#{digest[1] % DAY_SHARDS}"


def day_partitions(day: datetime) -> list[str]:
    """Every by-day partition of one creation day (UTC)."""
    return [f"DAY#{day.astimezone(UTC):%Y-%m-%d}#{shard}" for shard in range(DAY_SHARDS)]


def provider_ref(provider: str, provider_order_id: str) -> str:
    """by-provider-ref key."""
    return f"{provider}#{provider_order_id}"


def callback_body_sk(body_sha256: str) -> str:
    """Sort key of the mark that a callback body was recorded for an order."""
    return f"{CALLBACK_BODY_PREFIX}{body_sha256}"


def callback_query_sk(report: str) -> str:
    """Sort key of when a callback reporting ``report`` last made us query the order."""
    return f"{CALLBACK_QUERY_PREFIX}{report}"


def evidence_sk(at: datetime, unique: str) -> str:
    """Evidence sort key: time-ordered, unique within the partition."""
    return f"{EVIDENCE_PREFIX}{timestamp(at)}#{unique}"
