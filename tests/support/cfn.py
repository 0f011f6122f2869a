"""Read ``template.yaml`` as plain data, so tests and the local stack build what it declares.

CloudFormation's short tags (``!Ref``, ``!GetAtt``, ``!Sub``...) become their long forms
(``{"Ref": ...}``, ``{"Fn::GetAtt": [...]}``...), exactly as CloudFormation reads them. Depends on
PyYAML only, so the local stack can import it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

type CfnNode = Any
"""Any value inside a template: a mapping, a list, a scalar or an intrinsic function."""

type Template = dict[str, Any]
"""A whole template: AWSTemplateFormatVersion, Parameters, Conditions, Resources, Outputs..."""

TEMPLATE_PATH: Final = Path(__file__).resolve().parents[2] / "template.yaml"
"""The project's SAM template (the repository root's ``template.yaml``)."""

# Short tags whose long form is "Fn::<name>" holding the tag's value as written. !GetAtt is
# "Fn::" too but splits its "Resource.Attribute" scalar; !Ref and !Condition have no prefix.
_FN_TAGS: Final = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
)

# create_table keyword arguments that CloudFormation spells exactly like the DynamoDB API.
_SAME_AS_API: Final = frozenset(
    {
        "AttributeDefinitions",
        "BillingMode",
        "GlobalSecondaryIndexes",
        "KeySchema",
        "LocalSecondaryIndexes",
        "OnDemandThroughput",
        "ProvisionedThroughput",
        "TableClass",
        "Tags",
    }
)

# Table properties not passed to create_table. The name is the caller's; most of the rest are
# separate API calls (UpdateContinuousBackups, UpdateTimeToLive...) or AWS-only features that moto
# and DynamoDB Local lack. Deletion protection both could take, but it only guards the deployed
# table against operators; in tests it would just stop fixtures from deleting their throwaway
# tables (tests/unit/test_template.py checks it on the template instead). Anything not listed here
# or above is an error, so a property added to the template is a decision made here, not ignored.
_NOT_CREATE_TABLE_ARGS: Final = frozenset(
    {
        "ContributorInsightsSpecification",
        "DeletionProtectionEnabled",
        "ImportSourceSpecification",
        "KinesisStreamSpecification",
        "PointInTimeRecoverySpecification",
        "ResourcePolicy",
        "TableName",
        "TimeToLiveSpecification",
        "WarmThroughput",
    }
)

# Properties passed on after translation to the API's shape (_stream_specification,
# _sse_specification).
_API_SHAPE_DIFFERS: Final = frozenset({"SSESpecification", "StreamSpecification"})

# Per-index CloudFormation properties that the CreateTable API does not have.
_GSI_CFN_ONLY: Final = frozenset({"ContributorInsightsSpecification"})

type _TagConstructor = Callable[[yaml.SafeLoader, yaml.Node], dict[str, CfnNode]]


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation's short tags as their long forms."""


def _construct_value(loader: yaml.SafeLoader, node: yaml.Node) -> CfnNode:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node!r}", node.start_mark
    )


def _construct_ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, CfnNode]:
    return {"Ref": _construct_value(loader, node)}


def _construct_condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, CfnNode]:
    return {"Condition": _construct_value(loader, node)}


def _construct_get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, CfnNode]:
    value = _construct_value(loader, node)
    if isinstance(value, str):
        # "Resource.Attribute": the attribute itself may contain dots (Endpoint.Address), so only
        # the first dot separates, as in CloudFormation.
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {"Fn::GetAtt": value}


def _fn_constructor(name: str) -> _TagConstructor:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, CfnNode]:
        return {f"Fn::{name}": _construct_value(loader, node)}

    return construct


def _register_short_tags() -> None:
    constructors: dict[str, _TagConstructor] = {
        f"!{name}": _fn_constructor(name) for name in _FN_TAGS
    }
    constructors |= {
        "!Ref": _construct_ref,
        "!Condition": _construct_condition,
        "!GetAtt": _construct_get_att,
    }
    for tag, constructor in constructors.items():
        CloudFormationLoader.add_constructor(tag, constructor)


_register_short_tags()


def load_template(path: Path | None = None) -> Template:
    """Load a CloudFormation/SAM template (``template.yaml`` at the repository root by default).

    Raises ``ValueError`` when the file is not a template with a ``Resources`` mapping.
    """
    source = TEMPLATE_PATH if path is None else path
    # The same steps as yaml.load(), with a SafeLoader subclass: only plain data and the
    # CloudFormation tags above can be built, never arbitrary Python objects.
    loader = CloudFormationLoader(source.read_text(encoding="utf-8"))
    try:
        document: object = loader.get_single_data()
    finally:
        loader.dispose()
    if isinstance(document, dict) and isinstance(document.get("Resources"), dict):
        return document
    raise ValueError(f"{source} is not a CloudFormation template with a Resources mapping")


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    """Return the resource ``logical_id`` (its ``Type``, ``Properties``...) from ``template``.

    Raises ``KeyError`` naming the resources that do exist when it is missing.
    """
    resources: dict[str, Any] = template["Resources"]
    if logical_id not in resources:
        raise KeyError(f"no resource {logical_id!r} in the template; have {sorted(resources)}")
    found: dict[str, Any] = resources[logical_id]
    return found


def table_create_kwargs(
    template: Template,
    logical_id: str,
    table_name: str,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Turn the ``AWS::DynamoDB::Table`` ``logical_id``'s own properties into create_table kwargs.

    Keys, indexes, billing mode and tags are passed as declared; the stream and SSE
    specifications are translated to the API's shapes. Properties create_table has no argument
    for (PITR, TTL...) and deletion protection (so tests can delete their tables) are dropped.
    ``Ref``s to parameters resolve to ``parameters`` (given as CloudFormation passes them:
    strings), else to their defaults; ``Fn::If`` on the template's conditions (``Fn::Equals``,
    ``Fn::Not``, ``Fn::And``, ``Fn::Or`` over parameters) picks its branch, and
    ``AWS::NoValue`` removes what it stands for, so a conditional index is there or not.

    Raises ``ValueError`` for a resource of another type, a property this function has not been
    taught, a parameter the template does not declare, or an intrinsic function it cannot
    resolve.
    """
    table = resource(template, logical_id)
    if table.get("Type") != "AWS::DynamoDB::Table":
        raise ValueError(f"{logical_id} is a {table.get('Type')}, not an AWS::DynamoDB::Table")
    properties: dict[str, Any] = table.get("Properties", {})
    unknown = set(properties) - _SAME_AS_API - _NOT_CREATE_TABLE_ARGS - _API_SHAPE_DIFFERS
    if unknown:
        raise ValueError(
            f"{logical_id} has properties table_create_kwargs does not know: {unknown}"
        )
    kwargs: dict[str, Any] = {"TableName": table_name}
    kwargs.update({key: value for key, value in properties.items() if key in _SAME_AS_API})
    if "GlobalSecondaryIndexes" in kwargs:
        kwargs["GlobalSecondaryIndexes"] = [
            {key: value for key, value in index.items() if key not in _GSI_CFN_ONLY}
            for index in kwargs["GlobalSecondaryIndexes"]
        ]
    if "StreamSpecification" in properties:
        kwargs["StreamSpecification"] = _stream_specification(properties["StreamSpecification"])
    if "SSESpecification" in properties:
        kwargs["SSESpecification"] = _sse_specification(properties["SSESpecification"])
    given = dict(parameters or {})
    unknown_parameters = set(given) - set(template.get("Parameters", {}))
    if unknown_parameters:
        raise ValueError(f"no such parameters in the template: {sorted(unknown_parameters)}")
    resolved: dict[str, Any] = _resolve_parameter_refs(kwargs, template, given)
    return resolved


def _stream_specification(cfn_spec: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation enables the stream by the view type's presence; the API wants it said.
    return {"StreamEnabled": True, "StreamViewType": cfn_spec["StreamViewType"]}


def _sse_specification(cfn_spec: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation says SSEEnabled where the API says Enabled; the other two keys match.
    api_spec: dict[str, Any] = {"Enabled": cfn_spec["SSEEnabled"]}
    api_spec.update(
        {key: cfn_spec[key] for key in ("SSEType", "KMSMasterKeyId") if key in cfn_spec}
    )
    return api_spec


class _NoValue:
    """``AWS::NoValue``: what it stands for is removed from its list or mapping."""


_NO_VALUE: Final = _NoValue()


def _resolve_parameter_refs(
    node: CfnNode, template: Template, parameters: Mapping[str, str]
) -> CfnNode:
    """Replace ``{"Ref": <parameter>}`` by its value and ``Fn::If`` by its branch (see
    ``table_create_kwargs``); refuse other intrinsics."""
    if isinstance(node, list):
        items = [_resolve_parameter_refs(item, template, parameters) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        if node["Ref"] == "AWS::NoValue":
            return _NO_VALUE
        return _parameter_value(template, node["Ref"], parameters)
    if set(node) == {"Fn::If"}:
        condition, when_true, when_false = node["Fn::If"]
        chosen = when_true if _condition(template, condition, parameters) else when_false
        return _resolve_parameter_refs(chosen, template, parameters)
    if any(key.startswith("Fn::") or key == "Condition" for key in node):
        raise ValueError(f"cannot resolve {node} outside CloudFormation")
    resolved = {
        key: _resolve_parameter_refs(value, template, parameters) for key, value in node.items()
    }
    return {key: value for key, value in resolved.items() if value is not _NO_VALUE}


def _condition(template: Template, name: str, parameters: Mapping[str, str]) -> bool:
    conditions = template.get("Conditions", {})
    if name not in conditions:
        raise ValueError(f"cannot resolve condition {name!r}: the template has none by that name")
    return _truth(template, conditions[name], parameters)


def _truth(template: Template, node: CfnNode, parameters: Mapping[str, str]) -> bool:
    """A condition's value: Fn::Equals (compared as strings, as CloudFormation passes
    parameters), Fn::Not, Fn::And, Fn::Or, or another condition by name."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, args),) = node.items()
        if key == "Condition":
            return _condition(template, args, parameters)
        if key == "Fn::Equals":
            left, right = (_condition_operand(template, arg, parameters) for arg in args)
            return left == right
        if key == "Fn::Not":
            return not _truth(template, args[0], parameters)
        if key == "Fn::And":
            return all(_truth(template, arg, parameters) for arg in args)
        if key == "Fn::Or":
            return any(_truth(template, arg, parameters) for arg in args)
    raise ValueError(f"cannot resolve condition {node} outside CloudFormation")


def _condition_operand(template: Template, node: CfnNode, parameters: Mapping[str, str]) -> str:
    value = _resolve_parameter_refs(node, template, parameters)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _parameter_value(template: Template, name: str, parameters: Mapping[str, str]) -> CfnNode:
    if name in parameters:
        return parameters[name]
    parameter = template.get("Parameters", {}).get(name)
    if parameter is None or "Default" not in parameter:
        raise ValueError(f"cannot resolve Ref {name!r}: not a parameter with a Default")
    return parameter["Default"]
