"""DefinitionSubstitutions as the local helpers apply them."""

from __future__ import annotations

import pytest

from payouts_tools.local.moto_lambda import placeholders, substitute


def test_every_placeholder_is_replaced_by_its_value() -> None:
    text = '{"A": "${FnArn}", "B": "States.StringToJson(\'${Limit}\')", "C": "${FnArn}"}'

    result = substitute(text, {"FnArn": "arn:x", "Limit": "5", "Unused": "y"})

    assert result == '{"A": "arn:x", "B": "States.StringToJson(\'5\')", "C": "arn:x"}'


def test_a_placeholder_without_a_value_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"\['Limit'\]"):
        substitute('{"A": "${FnArn}", "B": "${Limit}"}', {"FnArn": "arn:x"})


def test_placeholders_are_found_wherever_they_are() -> None:
    assert placeholders("x ${One} y ${Two.Arn} ${One} $Three {Four}") == {"One", "Two.Arn"}
