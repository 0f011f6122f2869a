"""``template.yaml`` for the local stack: loading it, and resolving its intrinsic functions against
the resources the local stack made, so every name, ARN and setting comes from the template.

The YAML reading itself is ``tests/support/cfn.py`` (``load_template``, ``table_create_kwargs``),
the one loader tests use too; it is loaded here by file path because the ``payouts`` console
script does not run with the repository root on ``sys.path``. The local stack therefore runs from
a checkout (it needs ``template.yaml``, ``functions/`` and ``statemachine/`` anyway).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, cast

type Template = dict[str, Any]

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
"""The checkout the tools run from (an editable install: ``tools/payouts_tools/local/...``)."""

TEMPLATE_PATH: Final = REPO_ROOT / "template.yaml"

_CFN_SUPPORT: Final = REPO_ROOT / "tests" / "support" / "cfn.py"

# Pseudo parameters as moto reports them (its default account) and as a local stack names itself.
LOCAL_ACCOUNT_ID: Final = "123456789012"

# ${Name} or ${Resource.Attribute} inside Fn::Sub; ${!Literal} is an escaped "${Literal}".
_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]+)\}")


class TemplateError(RuntimeError):
    """The template says something the local stack cannot build or resolve."""


class Unresolved(TemplateError):
    """A reference to a resource the local stack has not made (yet, or ever)."""

    def __init__(self, logical_id: str) -> None:
        super().__init__(f"{logical_id} is not (yet) created locally")
        self.logical_id = logical_id


@functools.cache
def _cfn_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("payouts_local_cfn_support", _CFN_SUPPORT)
    if spec is None or spec.loader is None:
        raise TemplateError(f"cannot load {_CFN_SUPPORT}: the local stack runs from a checkout")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_template(path: Path | None = None) -> Template:
    """The template as plain data, short tags in their long forms (``{"Ref": ...}``)."""
    return cast(Template, _cfn_module().load_template(path or TEMPLATE_PATH))


def table_create_kwargs(
    template: Template,
    logical_id: str,
    table_name: str,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``create_table`` arguments from the table resource's own properties, its parameters and
    conditions at ``parameters`` else their defaults (see tests/support)."""
    kwargs = _cfn_module().table_create_kwargs(template, logical_id, table_name, parameters)
    return cast(dict[str, Any], kwargs)


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Every resource of ``resource_type``, by logical id, in template order."""
    resources: dict[str, dict[str, Any]] = template.get("Resources", {})
    return {name: body for name, body in resources.items() if body.get("Type") == resource_type}


def function_properties(template: Template, logical_id: str) -> dict[str, Any]:
    """A function's properties with the template's ``Globals.Function`` underneath, as SAM merges
    them (maps merge, scalars and lists are replaced; environment variables merge by name)."""
    globals_ = dict(template.get("Globals", {}).get("Function", {}))
    own = dict(template["Resources"][logical_id].get("Properties", {}))
    merged = {**globals_, **own}
    global_env = globals_.get("Environment", {}).get("Variables", {})
    own_env = own.get("Environment", {}).get("Variables", {})
    merged["Environment"] = {"Variables": {**global_env, **own_env}}
    return merged


@dataclass(frozen=True)
class LocalResource:
    """What the local stack made for one logical id: its ``Ref`` value and its attributes."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class _NoValue:
    """``AWS::NoValue``: the property is removed."""


NO_VALUE: Final = _NoValue()


class Resolver:
    """Evaluates CloudFormation intrinsic functions against local resources and parameters.

    Supports what a SAM template uses: Ref (parameters, resources, pseudo parameters), GetAtt,
    Sub, Join, If (with the template's Conditions: Equals, Not, And, Or), Select, Split,
    FindInMap. A reference to a resource that is not in ``resources`` raises ``Unresolved``.
    """

    def __init__(
        self,
        template: Template,
        parameters: Mapping[str, str],
        resources: Mapping[str, LocalResource],
        pseudo: Mapping[str, str],
    ) -> None:
        self._template = template
        self._parameters = parameters
        self._resources = resources
        self._pseudo = pseudo
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::If": self._if,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Equals": self._equals,
            "Fn::Not": lambda args: not self._truth(args[0]),
            "Fn::And": lambda args: all(self._truth(arg) for arg in args),
            "Fn::Or": lambda args: any(self._truth(arg) for arg in args),
        }

    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic function evaluated and ``AWS::NoValue`` removed."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            key, value = next(iter(node.items()))
            if key == "Ref":
                return self.ref(value)
            if key == "Condition":
                return self.condition(value)
            if key in self._functions:
                return self._functions[key](value)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local stack")
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def ref(self, name: str) -> Any:
        """The value of ``Ref: name``."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameter(name)
        if name in self._resources:
            return self._resources[name].ref
        if name in self._template.get("Resources", {}):
            raise Unresolved(name)
        raise TemplateError(f"Ref {name!r} names no parameter, resource or pseudo parameter")

    def _parameter(self, name: str) -> str | list[str]:
        # List parameters are lists to Fn::Join/Fn::Select, as in CloudFormation.
        declared = str(self._template.get("Parameters", {}).get(name, {}).get("Type", "String"))
        value = self._parameters[name]
        if declared == "CommaDelimitedList" or declared.startswith("List<"):
            return value.split(",")
        return value

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        conditions = self._template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"no condition {name!r} in the template")
        return self._truth(conditions[name])

    def _truth(self, node: Any) -> bool:
        value = self.resolve(node)
        if not isinstance(value, bool):
            raise TemplateError(f"condition expression {node!r} is not a boolean")
        return value

    def _get_att(self, args: Any) -> Any:
        logical_id, attribute = args if isinstance(args, list) else str(args).split(".", 1)
        if logical_id not in self._resources:
            raise Unresolved(logical_id)
        attributes = self._resources[logical_id].attributes
        if attribute not in attributes:
            raise TemplateError(f"the local {logical_id} has no attribute {attribute!r}")
        return attributes[attribute]

    def _sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
        values = {name: self.resolve(value) for name, value in variables.items()}

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] in self._template.get("Resources", {}):
                return str(self._get_att(name))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _join(self, args: Any) -> str:
        delimiter, items = args
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _if(self, args: Any) -> Any:
        name, when_true, when_false = args
        return self.resolve(when_true if self.condition(name) else when_false)

    def _select(self, args: Any) -> Any:
        index, items = args
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, args: Any) -> list[str]:
        delimiter, text = args
        return str(self.resolve(text)).split(delimiter)

    def _find_in_map(self, args: Any) -> Any:
        name, first, second = (self.resolve(arg) for arg in args)
        return self._template["Mappings"][name][first][second]

    def _equals(self, args: Any) -> bool:
        left, right = (self.resolve(arg) for arg in args)
        return str(left) == str(right)


def parameter_defaults(
    template: Template, overrides: Mapping[str, str], *, strict: bool = True
) -> dict[str, str]:
    """Every parameter's value: its override, else its default (as a string, as CloudFormation
    passes parameters). A parameter with neither is an error naming it (left out if not
    ``strict``)."""
    values: dict[str, str] = {}
    unknown = set(overrides) - set(template.get("Parameters", {}))
    if unknown:
        raise TemplateError(f"no such parameters in the template: {sorted(unknown)}")
    for name, declaration in template.get("Parameters", {}).items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in declaration:
            values[name] = _as_parameter_string(declaration["Default"])
        elif strict:
            raise TemplateError(f"parameter {name} has no default: give it a local value")
    return values


def _as_parameter_string(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def parameters_behind_variables(template: Template) -> dict[str, str]:
    """Environment variable -> the parameter it is set from (``NAME: !Ref Parameter``), over
    every function. A local value for the variable is then the parameter's local value too."""
    parameters = template.get("Parameters", {})
    mapping: dict[str, str] = {}
    for logical_id in resources_of_type(template, "AWS::Serverless::Function"):
        variables = function_properties(template, logical_id)["Environment"]["Variables"]
        for name, value in variables.items():
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
                mapping[name] = value["Ref"]
    return mapping
