"""Orders and evidence to and from DynamoDB items (attribute-value form).

Absent optional values are omitted rather than stored as NULL: the GSI key attributes must be
missing, not NULL, for the sparse indexes to stay sparse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from payouts.domain.erasure import ErasedRequest, swept_by_creation
from payouts.domain.order import Evidence, Order
from payouts.domain.request import PayoutRequest
from payouts.domain.status import OrderStatus, is_terminal
from payouts.store import keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UniversalAttributeValueTypeDef

    Item = dict[str, AttributeValueTypeDef]
    ReadItem = Mapping[str, UniversalAttributeValueTypeDef]
else:
    Item = dict
    ReadItem = Mapping

# While a deployed stack migrates from the "by-status-day" index to "by-day"
# (docs/table-migration.md), orders also carry the old index's attributes, so the old index stays
# complete until it is removed. The template sets it from its LegacyStatusIndex parameter.
LEGACY_STATUS_INDEX_VARIABLE = "LEGACY_STATUS_INDEX"


def legacy_status_index() -> bool:
    """Whether orders are written (and listed) for the legacy by-status-day index too."""
    return os.environ.get(LEGACY_STATUS_INDEX_VARIABLE, "false").lower() == "true"


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# DynamoDB numbers carry 38 significant digits; beyond that boto3 refuses them, and so do we.
_LARGEST_NUMBER = 10**38

_TIME_FIELDS = (
    "created_at",
    "updated_at",
    "next_check_at",
    "first_unresolved_at",
    "last_sent_at",
    "paid_at",
)
# The provider's money figures (domain/figures.py): absent until the provider states them, so an
# order without them costs no bytes.
_FIGURE_FIELDS = ("fee_minor", "fee_currency", "credited_minor", "provider_reference")


def to_attribute_values(values: Mapping[str, Any]) -> Item:
    """Plain Python values (str, int, bool) to attribute values, dropping None."""
    return {name: _to_value(value) for name, value in values.items() if value is not None}


def from_attribute_values(item: ReadItem) -> dict[str, Any]:
    """Attribute values to plain Python values (numbers become int)."""
    return {name: _from_value(value) for name, value in item.items()}


# Every item read or written goes through these two: the three types the table holds take a
# direct path (boto3's TypeSerializer costs several times more); anything else goes to boto3.
def _to_value(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int and -_LARGEST_NUMBER < value < _LARGEST_NUMBER:
        return {"N": str(value)}
    return _serializer.serialize(value)  # and boto3 refuses what DynamoDB cannot hold


def _from_value(value: Any) -> Any:
    if len(value) == 1:
        if "S" in value:
            return value["S"]
        if "N" in value:
            text = value["N"]
            return int(text) if text.lstrip("-").isdigit() else int(Decimal(text))
        if "BOOL" in value:
            return value["BOOL"]
    plain = _deserializer.deserialize(value)
    return int(plain) if _is_number(plain) else plain


def order_to_item(order: Order) -> Item:
    """The full order item, with every index attribute derived from the order's state."""
    values: dict[str, Any] = {
        "PK": keys.order_pk(order.payout_id),
        "SK": keys.ORDER_SK,
        "payout_id": order.payout_id,
        # Optional fields left empty are not stored (they read back as None).
        "request": order.request.model_dump_json(exclude_none=True) if order.request else None,
        "invalid_request": order.invalid_request,
        "fingerprint": order.fingerprint,
        "status": order.status.value,
        "version": order.version,
        "provider": order.provider,
        "provider_order_id": order.provider_order_id,
        "status_reason": order.status_reason,
        # Zero counters and a cleared flag are left out (read back as 0 / False): bytes every
        # write of the order pays for.
        "check_attempts": order.check_attempts or None,
        "submit_attempts": order.submit_attempts or None,
        "needs_review": order.needs_review or None,
        "review_reason": order.review_reason,
        "closed_by": order.closed_by,
        "personal_data_erased_at": _time_or_none(order.personal_data_erased_at),
        "failure_reported_at": _time_or_none(order.failure_reported_at),
        "final_evidence": _kept_evidence_json(order.final_evidence),
        "erasure_evidence": _kept_evidence_json(order.erasure_evidence),
        "sent_at_creation": order.sent_at_creation or None,
        "write_token": order.write_token,
        **{name: getattr(order, name) for name in _FIGURE_FIELDS},
        **{name: _time_or_none(getattr(order, name)) for name in _TIME_FIELDS},
        **(_denormalised_request(order) if legacy_status_index() else {}),
        **_index_attributes(order),
    }
    return to_attribute_values(values)


def order_from_item(item: ReadItem) -> Order:
    """An Order from its stored item."""
    values = from_attribute_values(item)
    request_json = values.get("request")
    erased_at = _parse_or_none(values.get("personal_data_erased_at"))
    return Order(
        payout_id=values["payout_id"],
        request=_request_from_json(request_json, erased=erased_at is not None),
        invalid_request=values.get("invalid_request"),
        fingerprint=values["fingerprint"],
        status=OrderStatus(values["status"]),
        version=values["version"],
        provider=values.get("provider"),
        provider_order_id=values.get("provider_order_id"),
        status_reason=values.get("status_reason"),
        check_attempts=values.get("check_attempts", 0),
        submit_attempts=values.get("submit_attempts", 0),
        needs_review=values.get("needs_review", False),
        review_reason=values.get("review_reason"),
        closed_by=values.get("closed_by"),
        personal_data_erased_at=erased_at,
        created_at=keys.parse_timestamp(values["created_at"]),
        updated_at=keys.parse_timestamp(values["updated_at"]),
        next_check_at=_parse_or_none(values.get("next_check_at")),
        first_unresolved_at=_parse_or_none(values.get("first_unresolved_at")),
        last_sent_at=_parse_or_none(values.get("last_sent_at")),
        failure_reported_at=_parse_or_none(values.get("failure_reported_at")),
        paid_at=_parse_or_none(values.get("paid_at")),
        final_evidence=_kept_evidence_from_json(values.get("final_evidence")),
        erasure_evidence=_kept_evidence_from_json(values.get("erasure_evidence")),
        sent_at_creation=values.get("sent_at_creation", False),
        write_token=values.get("write_token"),
        **{name: values.get(name) for name in _FIGURE_FIELDS},
    )


def _kept_evidence_json(evidence: Evidence | None) -> str | None:
    # Compact JSON in one string attribute: every byte of it is paid by each later write of the
    # order, and none of it is ever queried on.
    if evidence is None:
        return None
    return evidence.model_dump_json(exclude_defaults=True)


def _kept_evidence_from_json(text: str | None) -> Evidence | None:
    return Evidence.model_validate_json(text) if text else None


def evidence_to_item(payout_id: str, evidence: Evidence, unique: str, version: int | None) -> Item:
    """An append-only evidence item in the order's partition."""
    return to_attribute_values(
        {
            "PK": keys.order_pk(payout_id),
            "SK": keys.evidence_sk(evidence.at, unique),
            "kind": evidence.kind.value,
            "summary": evidence.summary,
            "detail": json.dumps(evidence.detail, sort_keys=True, separators=(",", ":")),
            "at": keys.timestamp(evidence.at),
            "from_status": evidence.from_status.value if evidence.from_status else None,
            "to_status": evidence.to_status.value if evidence.to_status else None,
            "actor": evidence.actor,
            "order_version": version,
        }
    )


def evidence_from_item(item: ReadItem) -> Evidence:
    """An Evidence from its stored item."""
    values = from_attribute_values(item)
    return Evidence.model_validate(
        {
            "kind": values["kind"],
            "summary": values["summary"],
            "detail": json.loads(values.get("detail", "{}")),
            "at": keys.parse_timestamp(values["at"]),
            "from_status": values.get("from_status"),
            "to_status": values.get("to_status"),
            "actor": values.get("actor", "system"),
            "order_version": values.get("order_version"),
        }
    )


def _denormalised_request(order: Order) -> dict[str, Any]:
    # Top-level copies for the legacy by-status-day projection (only while migrating).
    if order.request is None:
        return {}
    return {
        "amount_value": order.request.amount.value,
        "currency": order.request.amount.currency,
        "method": order.request.method,
    }


def _request_from_json(text: str | None, *, erased: bool) -> PayoutRequest | ErasedRequest | None:
    if not text:
        return None
    if erased:
        return ErasedRequest.model_validate_json(text)
    return PayoutRequest.model_validate_json(text)


def _index_attributes(order: Order) -> dict[str, Any]:
    # by-day: written with the order's first version and never moved (its range key is the
    # order's own created_at), so no transition writes the index.
    attributes: dict[str, Any] = {"day_pk": keys.day_partition(order.created_at, order.payout_id)}
    if legacy_status_index():
        attributes["status_pk"] = keys.status_partition(order.status.value, order.created_at)
        attributes["status_sk"] = f"{keys.timestamp(order.created_at)}#{order.payout_id}"
    if not is_terminal(order.status) and order.next_check_at is not None:
        attributes["due_pk"] = keys.due_shard(order.payout_id)
        attributes["due_sk"] = keys.due_sort_key(order.next_check_at, order.payout_id)
    if order.provider and order.provider_order_id:
        attributes["provider_ref"] = keys.provider_ref(order.provider, order.provider_order_id)
    if (
        is_terminal(order.status)
        and order.personal_data_erased_at is None
        and not swept_by_creation(order.created_at, order.updated_at)
    ):
        # Sparse, like "due": only the terminal orders still holding personal data that the
        # retention sweep of by-day will not reach (changed long after creation), oldest change
        # first. Most payouts settle within a day of creation and never write it.
        attributes["erase_pk"] = keys.erase_shard(order.payout_id)
        attributes["erase_sk"] = keys.erase_sort_key(order.updated_at, order.payout_id)
    if order.needs_review:
        attributes["review_pk"] = keys.REVIEW_PK
        attributes["review_sk"] = f"{keys.timestamp(order.updated_at)}#{order.payout_id}"
    return attributes


def _time_or_none(moment: datetime | None) -> str | None:
    return keys.timestamp(moment) if moment is not None else None


def _parse_or_none(text: str | None) -> datetime | None:
    return keys.parse_timestamp(text) if text else None


def _is_number(value: object) -> bool:
    return isinstance(value, Decimal)
