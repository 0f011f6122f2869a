"""The codec's direct path for str, int and bool agrees with boto3's serializer both ways."""

from __future__ import annotations

from decimal import Decimal, Inexact

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from payouts.store.codec import from_attribute_values, to_attribute_values

# Up to DynamoDB's 38 significant digits (boto3 refuses more, see below).
SCALARS = st.one_of(st.text(), st.integers(-(10**38) + 1, 10**38 - 1), st.booleans())


@given(st.dictionaries(st.text(min_size=1), SCALARS))
def test_plain_values_round_trip_exactly_as_boto3_writes_them(values: dict[str, object]) -> None:
    item = to_attribute_values(values)
    assert item == {name: TypeSerializer().serialize(value) for name, value in values.items()}
    assert from_attribute_values(item) == values


def test_none_is_left_out_so_sparse_index_keys_stay_missing() -> None:
    assert to_attribute_values({"due_pk": None, "status": "RECEIVED"}) == {
        "status": {"S": "RECEIVED"}
    }


def test_other_types_are_read_as_boto3_reads_them_numbers_as_int() -> None:
    item = {"n": {"N": "7.9"}, "l": {"L": [{"S": "a"}, {"N": "2"}]}, "z": {"NULL": True}}
    assert from_attribute_values(item) == {"n": 7, "l": ["a", Decimal(2)], "z": None}
    assert TypeDeserializer().deserialize(item["z"]) is None


def test_a_number_dynamodb_cannot_hold_is_refused_as_boto3_refuses_it() -> None:
    with pytest.raises(Inexact):
        to_attribute_values({"n": 10**38 + 1})
