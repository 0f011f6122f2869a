"""Resolve a template's intrinsic functions as one stack would, every resource made up.

The local stack's ``Resolver`` evaluates Ref, GetAtt, Sub, If and conditions; here every
resource's ``Ref`` and attributes are invented from the stack and logical id, so names, policies
and bodies can be compared between stacks and parameter values without deploying anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from payouts_tools.local.template import LocalResource, Resolver, parameter_defaults

# The parameters without a default, as a deployer gives them (obviously fake).
REQUIRED_PARAMETERS: Final = {
    "GatewayV2BaseUrl": "https://gateway.example.test",
    "GatewayV2SecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:gw-AbCdEf",
    "PgV2BaseUrl": "https://pg.example.test",
    "PgV2SecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:pg-AbCdEf",
}
REGION: Final = "eu-west-1"
ACCOUNT_ID: Final = "111122223333"


class _AnyAttribute(Mapping[str, str]):
    """A made-up resource's attributes: every GetAtt names the stack, resource and attribute."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def __getitem__(self, name: str) -> str:
        return f"{self._prefix}.{name}"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def stack_resolver(template: dict[str, Any], stack_name: str, **overrides: str) -> Resolver:
    """Resolves ``template`` as stack ``stack_name`` would see it: parameters at their defaults
    (``overrides`` win), every resource made up."""
    parameters = parameter_defaults(template, {**REQUIRED_PARAMETERS, **overrides})
    resources = {
        logical_id: LocalResource(
            ref=f"{stack_name}-{logical_id}-generated",
            attributes=_AnyAttribute(f"{stack_name}-{logical_id}"),
        )
        for logical_id in template["Resources"]
    }
    pseudo = {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/1",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": "",
    }
    return Resolver(template, parameters, resources, pseudo)
