"""Creating ``template.yaml``'s resources in the embedded AWS, from the template's own properties.

Nothing here is a hand-written copy of the template: the table comes from
``table_create_kwargs`` (the same translation tests use), the queues' attributes, the event bus,
the alarms and every function's environment are the template's properties with their intrinsic
functions resolved (parameters at their defaults unless overridden) against what was made.

Resources are made in dependency order: a resource whose properties refer to one not made yet is
retried after the others. Types the local stack replaces with a local stand-in (API Gateway, the
schedule, log groups, IAM, the layer) are listed in ``LocalResources.skipped`` with the reason.
Functions and the state machine are handed to a ``ComputeFactory`` (the local stack's bridge to
the in-process Lambda runtime), because making them means running code, not just calling AWS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from payouts_tools.local.template import (
    LOCAL_ACCOUNT_ID,
    LocalResource,
    Resolver,
    Template,
    TemplateError,
    Unresolved,
    function_properties,
    parameter_defaults,
    table_create_kwargs,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    from payouts_tools.local.embedded_aws import EmbeddedAws

log = logging.getLogger(__name__)

# Queue properties that CloudFormation and the SetQueueAttributes API spell alike.
_QUEUE_ATTRIBUTES: Final[tuple[QueueAttributeNameType, ...]] = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)

# The function properties the local runtime uses; the rest (Layers, Policies...) do not apply.
_FUNCTION_RUN_PROPERTIES: Final = (
    "CodeUri",
    "FunctionName",
    "Handler",
    "MemorySize",
    "Runtime",
    "Timeout",
)

# Why a type is not made in moto: the local stack provides the same behaviour another way.
LOCAL_STAND_INS: Final[Mapping[str, str]] = {
    "AWS::Serverless::LayerVersion": "the layer's package is installed in this environment",
    "AWS::Lambda::LayerVersion": "the layer's package is installed in this environment",
    "AWS::Logs::LogGroup": "handlers log to the local stack's log file",
    "AWS::IAM::Role": "moto does not enforce IAM",
    "AWS::IAM::Policy": "moto does not enforce IAM",
    "AWS::IAM::ManagedPolicy": "moto does not enforce IAM",
    "AWS::Serverless::Api": "the local API Gateway bridge serves the routes",
    "AWS::Serverless::HttpApi": "the local API Gateway bridge serves the routes",
    "AWS::ApiGateway::RestApi": "the local API Gateway bridge serves the routes",
    "AWS::ApiGateway::Account": "the local API Gateway bridge serves the routes",
    "AWS::Scheduler::Schedule": "schedules never fire in moto: a local timer starts executions",
    "AWS::Scheduler::ScheduleGroup": "schedules never fire in moto: a local timer starts them",
    "AWS::Lambda::Permission": "moto does not enforce resource policies",
    "AWS::SQS::QueuePolicy": "moto does not enforce resource policies",
    "AWS::Events::Rule": "local event sources and consumers are wired by the local stack",
    "AWS::WAFv2::WebACL": "no WAF in front of the local bridge",
    "AWS::WAFv2::WebACLAssociation": "no WAF in front of the local bridge",
    "AWS::WAFv2::IPSet": "no WAF in front of the local bridge",
    "AWS::SNS::Topic": "alarm notifications are not sent locally",
    "AWS::CloudWatch::Dashboard": "dashboards are not needed locally",
}


class ComputeFactory(Protocol):
    """Makes functions and state machines (the local stack implements it over moto Lambda)."""

    def create_function(
        self, logical_id: str, name: str, properties: Mapping[str, Any], environment: dict[str, str]
    ) -> LocalResource:
        """Make the function; its ``Ref`` is its name and it has an ``Arn`` attribute."""
        ...

    def create_state_machine(
        self, logical_id: str, name: str, properties: Mapping[str, Any], resolver: Resolver
    ) -> LocalResource:
        """Make the state machine; its ``Ref`` is its ARN and it has ``Arn``/``Name``."""
        ...


@dataclass
class LocalResources:
    """What the local stack made, by logical id, and how to resolve the template against it."""

    template: Template
    stack_name: str
    region: str
    parameters: dict[str, str]
    made: dict[str, LocalResource] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)

    def resolver(self) -> Resolver:
        """A resolver over everything made so far."""
        return Resolver(
            self.template, self.parameters, self.made, _pseudo(self.stack_name, self.region)
        )

    def ref(self, logical_id: str) -> str:
        """The ``Ref`` value of a made resource."""
        if logical_id not in self.made:
            raise TemplateError(f"{logical_id} was not made locally")
        return self.made[logical_id].ref

    def attribute(self, logical_id: str, name: str) -> str:
        """A ``GetAtt`` value of a made resource."""
        return str(self.resolver().resolve({"Fn::GetAtt": [logical_id, name]}))

    def outputs(self) -> dict[str, str]:
        """The template's ``Outputs`` resolved against the local resources (those that can be)."""
        resolver = self.resolver()
        values: dict[str, str] = {}
        for name, output in self.template.get("Outputs", {}).items():
            try:
                values[name] = str(resolver.resolve(output["Value"]))
            except Unresolved as missing:
                log.info("output %s is not available locally: %s", name, missing)
        return values


class ResourceBuilder:
    """Makes every supported resource of the template in the embedded AWS."""

    def __init__(
        self,
        aws: EmbeddedAws,
        template: Template,
        stack_name: str,
        parameter_overrides: Mapping[str, str],
        compute: ComputeFactory | None,
    ) -> None:
        self._aws = aws
        self._compute = compute
        self._resources = LocalResources(
            template=template,
            stack_name=stack_name,
            region=aws.region,
            parameters=parameter_defaults(template, parameter_overrides),
        )
        self._makers: dict[str, Callable[[str, dict[str, Any]], LocalResource]] = {
            "AWS::SQS::Queue": self._queue,
            "AWS::DynamoDB::Table": self._table,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
        }

    def build(self, environment_overrides: Mapping[str, str]) -> LocalResources:
        """Make everything, in dependency order; raise naming what could not be made."""
        self._environment_overrides = dict(environment_overrides)
        pending = self._classify()
        while pending:
            progress = False
            for logical_id in list(pending):
                try:
                    self._make(logical_id)
                except Unresolved as missing:
                    if missing.logical_id in self._resources.skipped:
                        raise TemplateError(
                            f"{logical_id} needs {missing.logical_id}, which the local stack "
                            f"does not make ({self._resources.skipped[missing.logical_id]})"
                        ) from None
                    continue
                pending.remove(logical_id)
                progress = True
            if not progress:
                raise TemplateError(f"cannot order these resources (a cycle?): {sorted(pending)}")
        return self._resources

    def _classify(self) -> list[str]:
        pending = []
        for logical_id, body in self._resources.template["Resources"].items():
            resource_type = body.get("Type", "")
            if "Condition" in body and not self._resources.resolver().condition(body["Condition"]):
                self._resources.skipped[logical_id] = f"condition {body['Condition']} is false"
            elif resource_type in self._makers:
                if resource_type.startswith("AWS::Serverless::") and self._compute is None:
                    self._resources.skipped[logical_id] = "no compute factory given"
                else:
                    pending.append(logical_id)
            else:
                reason = LOCAL_STAND_INS.get(resource_type, f"{resource_type} is not made locally")
                self._resources.skipped[logical_id] = reason
        return pending

    def _make(self, logical_id: str) -> None:
        body = self._resources.template["Resources"][logical_id]
        maker = self._makers[body["Type"]]
        if body["Type"] == "AWS::Serverless::Function":
            properties = self._function_properties(logical_id)
        elif body["Type"] == "AWS::Serverless::StateMachine":
            properties = dict(body.get("Properties", {}))  # resolved by the compute factory
        else:
            properties = self._resources.resolver().resolve(body.get("Properties", {}))
        self._resources.made[logical_id] = maker(logical_id, properties)

    def _name(self, logical_id: str) -> str:
        return f"{self._resources.stack_name}-{logical_id}"

    # ---- makers ---------------------------------------------------------------------------------

    def _queue(self, logical_id: str, properties: dict[str, Any]) -> LocalResource:
        sqs = self._aws.client("sqs")
        name = str(properties.get("QueueName") or self._name(logical_id))
        attributes = {
            key: _attribute_string(properties[key])
            for key in _QUEUE_ATTRIBUTES
            if key in properties
        }
        tags = {tag["Key"]: str(tag["Value"]) for tag in properties.get("Tags", [])}
        url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return LocalResource(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _table(self, logical_id: str, properties: dict[str, Any]) -> LocalResource:
        dynamodb = self._aws.client("dynamodb")
        name = str(properties.get("TableName") or self._name(logical_id))
        kwargs = table_create_kwargs(
            self._resources.template, logical_id, name, self._resources.parameters
        )
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        attributes = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attributes["StreamArn"] = description["LatestStreamArn"]
        return LocalResource(ref=name, attributes=attributes)

    def _event_bus(self, logical_id: str, properties: dict[str, Any]) -> LocalResource:
        events = self._aws.client("events")
        name = str(properties.get("Name") or self._name(logical_id))
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        return LocalResource(ref=name, attributes={"Arn": arn, "Name": name})

    def _alarm(self, logical_id: str, properties: dict[str, Any]) -> LocalResource:
        cloudwatch = self._aws.client("cloudwatch")
        name = str(properties.pop("AlarmName", None) or self._name(logical_id))
        # A threshold from a Number parameter resolves to a string (CloudFormation converts it).
        if isinstance(properties.get("Threshold"), str):
            properties["Threshold"] = float(properties["Threshold"])
        cloudwatch.put_metric_alarm(AlarmName=name, **properties)
        arn = f"arn:aws:cloudwatch:{self._aws.region}:{LOCAL_ACCOUNT_ID}:alarm:{name}"
        return LocalResource(ref=name, attributes={"Arn": arn})

    def _function(self, logical_id: str, properties: dict[str, Any]) -> LocalResource:
        assert self._compute is not None  # noqa: S101 - _classify guarantees it
        name = str(properties.get("FunctionName") or self._name(logical_id))
        environment = self._environment(logical_id)
        self._resources.environments[logical_id] = environment
        return self._compute.create_function(logical_id, name, properties, environment)

    def _state_machine(self, logical_id: str, properties: dict[str, Any]) -> LocalResource:
        assert self._compute is not None  # noqa: S101 - _classify guarantees it
        resolver = self._resources.resolver()
        name = str(resolver.resolve(properties.get("Name")) or self._name(logical_id))
        return self._compute.create_state_machine(logical_id, name, properties, resolver)

    def _function_properties(self, logical_id: str) -> dict[str, Any]:
        """What running the code needs, resolved (Globals merged). ``Events`` stay as written:
        the local stack wires each event source itself, and some name local stand-ins (the API);
        ``Layers``, ``Policies`` and the like do not matter to in-process handlers."""
        merged = function_properties(self._resources.template, logical_id)
        resolver = self._resources.resolver()
        properties: dict[str, Any] = {
            key: resolver.resolve(merged[key]) for key in _FUNCTION_RUN_PROPERTIES if key in merged
        }
        properties["Events"] = merged.get("Events", {})
        return properties

    def _environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment variables, resolved; a local override wins, and is the
        only way to give a variable whose value names a resource made by a local stand-in."""
        variables = function_properties(self._resources.template, logical_id)["Environment"][
            "Variables"
        ]
        resolver = self._resources.resolver()
        environment: dict[str, str] = {}
        for name, value in variables.items():
            if name in self._environment_overrides:
                environment[name] = self._environment_overrides[name]
                continue
            try:
                resolved = resolver.resolve(value)
            except Unresolved as missing:
                if missing.logical_id in self._resources.skipped:
                    raise TemplateError(
                        f"{logical_id}'s {name} refers to {missing.logical_id}, which the local "
                        "stack does not make: it needs a local override"
                    ) from None
                raise
            environment[name] = _attribute_string(resolved)
        return environment


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _pseudo(stack_name: str, region: str) -> dict[str, str]:
    return {
        "AWS::AccountId": LOCAL_ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": (
            f"arn:aws:cloudformation:{region}:{LOCAL_ACCOUNT_ID}:stack/{stack_name}/local"
        ),
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": "",
    }
