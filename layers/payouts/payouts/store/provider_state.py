"""Provider state in the orders table: each provider's pause item, and the breaker's marks.

- The pause item (``SETTING#provider#<name>``) changes only by conditional writes on the version
  read (absent for the first one). Its writes go on the table's stream,
  where the status events function turns them into ``ProviderPaused`` / ``ProviderResumed``.
  The breaker's pause is conditioned on the version it read as not paused, so it never
  overwrites a pause (or a resume) that a person wrote meanwhile.
- A breaker mark (``BREAKER#<name>``, one item per failed create, expiring by TTL) is one
  unconditional put: concurrent containers never contend on a counter, no count is lost, and
  counting the marks newer than a moment is one key-only query of at most ``limit`` items, so the
  window slides instead of jumping at bucket edges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from payouts.domain.provider_state import PausedBy, ProviderState
from payouts.store import keys
from payouts.store.codec import from_attribute_values, to_attribute_values
from payouts.store.orders import UniqueIds, random_hex

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Marks outlive their window by this much before DynamoDB's TTL removes them (TTL deletes lag,
# and the count query bounds itself by time anyway).
_MARK_RETENTION_MARGIN: Final = timedelta(hours=1)

# The stream's marker that an item is a provider's state (status events filter on it).
ITEM_TYPE: Final = "PROVIDER_STATE"


class ProviderStateStore:
    """Reads and conditionally writes provider pause items; records and counts breaker marks."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        unique: UniqueIds = random_hex,
    ) -> None:
        self._client = client
        self._table = table_name
        self._unique = unique

    # ---- the pause item -------------------------------------------------------------------------

    def get(self, provider: str) -> ProviderState | None:
        """The provider's state, read strongly consistently; None when it was never paused."""
        answer = self._client.get_item(
            TableName=self._table,
            Key=to_attribute_values(
                {"PK": keys.provider_setting_pk(provider), "SK": keys.SETTING_SK}
            ),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return state_from_item(item) if item else None

    def put_if_unchanged(self, state: ProviderState, previous: ProviderState | None) -> bool:
        """Write ``state`` if the item is still ``previous`` (absent when None); False when
        someone else changed it first."""
        if previous is None:
            return self._put(state, "attribute_not_exists(PK)", {})
        return self._put(state, "#version = :version", {":version": previous.version})

    def _put(self, state: ProviderState, condition: str, values: Mapping[str, Any]) -> bool:
        try:
            if values:
                self._client.put_item(
                    TableName=self._table,
                    Item=state_to_item(state),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues=to_attribute_values(values),
                )
            else:
                self._client.put_item(
                    TableName=self._table,
                    Item=state_to_item(state),
                    ConditionExpression=condition,
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---- breaker marks --------------------------------------------------------------------------

    def record_failure(self, provider: str, at: datetime, window: timedelta, kind: str) -> None:
        """Record one failed create (``kind``: AMBIGUOUS, NOT_SENT...) at ``at``."""
        expires = math.floor((at + window + _MARK_RETENTION_MARGIN).timestamp())
        self._client.put_item(
            TableName=self._table,
            Item=to_attribute_values(
                {
                    "PK": keys.breaker_pk(provider),
                    "SK": keys.breaker_sk(at, self._unique()[:12]),
                    "kind": kind,
                    "expires_at": expires,
                }
            ),
        )

    def count_failures(self, provider: str, since: datetime, limit: int) -> int:
        """Failed creates recorded after ``since``, counted up to ``limit`` (enough to decide)."""
        answer = self._client.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND SK > :since",
            ExpressionAttributeValues=to_attribute_values(
                {":pk": keys.breaker_pk(provider), ":since": keys.breaker_after(since)}
            ),
            Select="COUNT",
            Limit=limit,
            ConsistentRead=True,
        )
        return int(answer.get("Count", 0))


def state_to_item(state: ProviderState) -> dict[str, Any]:
    """The item of a provider's state."""
    return to_attribute_values(
        {
            "PK": keys.provider_setting_pk(state.provider),
            "SK": keys.SETTING_SK,
            "item_type": ITEM_TYPE,
            "provider": state.provider,
            "paused": state.paused,
            "reason": state.reason,
            "changed_by": state.changed_by,
            "set_by": state.set_by.value,
            "since": keys.timestamp(state.since),
            "version": state.version,
        }
    )


def state_from_item(item: Mapping[str, Any]) -> ProviderState:
    """A provider's state from its item (raises KeyError or ValueError for a malformed one)."""
    values = from_attribute_values(item)
    return ProviderState(
        provider=values["provider"],
        paused=bool(values["paused"]),
        reason=values["reason"],
        changed_by=values["changed_by"],
        set_by=PausedBy(values["set_by"]),
        since=keys.parse_timestamp(values["since"]),
        version=int(values["version"]),
    )
