"""Which deployment the CLI talks to, and its clients, built lazily.

A deployment is a CloudFormation stack: the table and queue names come from its ``Outputs``
(``describe_stacks``), the providers' settings from its reconcile function's environment. The
same code serves the local stack (``--endpoint-url`` of ``payouts up``, which registers itself
as a stack with the template's outputs) and a deployed one (``--profile``/``--region``).
Explicit ``--table``/``--queue-url``/``--dlq-url`` win over the stack's outputs.
"""

from __future__ import annotations

import functools
import getpass
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from payouts.settings import SettingsError, load
from payouts.settings.reconcile import ReconcileSettings
from payouts.store import OrderStore
from payouts.store.codec import LEGACY_STATUS_INDEX_VARIABLE
from payouts.store.orders import CLIENT_CONFIG
from payouts.store.provider_state import ProviderStateStore

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient

# The template's Outputs the CLI reads (template.yaml, "OUTPUTS").
TABLE_OUTPUT: Final = "OrdersTableName"
QUEUE_OUTPUT: Final = "PayoutRequestsQueueUrl"
DLQ_OUTPUT: Final = "PayoutRequestsDLQUrl"
# The template's parameter that keeps the legacy by-status-day index during a migration.
LEGACY_INDEX_PARAMETER: Final = "LegacyStatusIndex"

# The function whose environment holds the provider settings (routes, base URLs, secret ids):
# the reconcile function queries providers exactly as the CLI's requery and resubmit do.
PROVIDER_SETTINGS_FUNCTION: Final = "ReconcileFunction"

# samconfig.toml's default stack (dev); prod is --stack-name payouts-prod.
DEFAULT_STACK_NAME: Final = "payouts-dev"

# Local endpoints (moto) take any credentials; these are used only when none are configured.
_LOCAL_FAKE_CREDENTIALS: Final = {
    "aws_access_key_id": "local-fake-access-key",
    "aws_secret_access_key": "local-fake-secret-key-not-secret",
}


class CliError(Exception):
    """Something the operator must fix or know; printed as one line, exit code 1."""


@dataclass(frozen=True)
class TargetOptions:
    """The global options that choose the deployment."""

    endpoint_url: str | None = None
    stack_name: str = DEFAULT_STACK_NAME
    profile: str | None = None
    region: str | None = None
    table: str | None = None
    queue_url: str | None = None
    dlq_url: str | None = None


class Target:
    """One deployment: its clients, its names, its order store."""

    def __init__(self, options: TargetOptions) -> None:
        self.options = options

    @functools.cached_property
    def session(self) -> boto3.session.Session:
        """The boto3 session (profile and region as given, else the usual AWS resolution)."""
        session = boto3.session.Session(
            profile_name=self.options.profile, region_name=self.options.region
        )
        region: str | None = session.region_name  # None when nothing configures one
        if region is None:
            if not self._is_local:
                raise CliError("no AWS region: pass --region or set AWS_REGION")
            session = boto3.session.Session(region_name="us-east-1")
        return session

    @property
    def _is_local(self) -> bool:
        host = urlsplit(self.options.endpoint_url or "").hostname or ""
        return host in {"127.0.0.1", "localhost", "::1"}

    def client(self, service: str, **kwargs: Any) -> Any:
        """A client for ``service`` at the endpoint (fake credentials for a local one)."""
        extra: dict[str, Any] = {"endpoint_url": self.options.endpoint_url, **kwargs}
        if self._is_local and self.session.get_credentials() is None:
            extra |= _LOCAL_FAKE_CREDENTIALS
        return self.session.client(service, **extra)  # type: ignore[call-overload]

    @functools.cached_property
    def dynamodb(self) -> DynamoDBClient:
        """DynamoDB, with the store's retry configuration."""
        client: DynamoDBClient = self.client("dynamodb", config=CLIENT_CONFIG)
        return client

    @functools.cached_property
    def sqs(self) -> SQSClient:
        """SQS."""
        client: SQSClient = self.client("sqs")
        return client

    @functools.cached_property
    def _stack(self) -> StackTypeDef:
        cloudformation: CloudFormationClient = self.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=self.options.stack_name)["Stacks"]
        except ClientError as error:
            raise CliError(
                f"cannot read stack {self.options.stack_name!r}: {_message(error)} "
                "(pass --stack-name, or --table/--queue-url)"
            ) from None
        return stacks[0]

    @functools.cached_property
    def outputs(self) -> dict[str, str]:
        """The stack's outputs by key."""
        return {
            output["OutputKey"]: output["OutputValue"]
            for output in self._stack.get("Outputs", [])
            if "OutputKey" in output and "OutputValue" in output
        }

    def _follow_the_stacks_index_mode(self) -> None:
        """Mid-migration (docs/table-migration.md) the CLI must read and write orders exactly as
        the stack's functions do: with the legacy by-status-day attributes while the stack's
        ``LegacyStatusIndex`` is true. An order the CLI writes without them (a close, a review)
        would drop out of the legacy index the listings still read. With an explicit --table
        there is no stack to ask: LEGACY_STATUS_INDEX in the CLI's environment decides."""
        if self.options.table:
            return
        for parameter in self._stack.get("Parameters", []):
            if parameter.get("ParameterKey") == LEGACY_INDEX_PARAMETER:
                legacy = str(parameter.get("ParameterValue", "false")).lower() == "true"
                os.environ[LEGACY_STATUS_INDEX_VARIABLE] = "true" if legacy else "false"

    def _output(self, explicit: str | None, key: str) -> str:
        if explicit:
            return explicit
        value = self.outputs.get(key)
        if not value:
            raise CliError(f"stack {self.options.stack_name!r} has no output {key}")
        return value

    @property
    def table_name(self) -> str:
        """The orders table."""
        return self._output(self.options.table, TABLE_OUTPUT)

    @property
    def queue_url(self) -> str:
        """The payout requests queue."""
        return self._output(self.options.queue_url, QUEUE_OUTPUT)

    @property
    def dlq_url(self) -> str:
        """The payout requests' dead-letter queue."""
        return self._output(self.options.dlq_url, DLQ_OUTPUT)

    @functools.cached_property
    def store(self) -> OrderStore:
        """The order store over the stack's table, in the stack's index mode."""
        table = self.table_name
        self._follow_the_stacks_index_mode()
        return OrderStore(self.dynamodb, table)

    @functools.cached_property
    def provider_states(self) -> ProviderStateStore:
        """The providers' pause items over the stack's table."""
        return ProviderStateStore(self.dynamodb, self.table_name)

    def provider_settings(self) -> ReconcileSettings:
        """How the deployment reaches its providers: the reconcile function's own environment,
        so the CLI queries with exactly the routes, endpoints and secrets the system uses."""
        cloudformation: CloudFormationClient = self.client("cloudformation")
        try:
            function = cloudformation.describe_stack_resource(
                StackName=self.options.stack_name, LogicalResourceId=PROVIDER_SETTINGS_FUNCTION
            )["StackResourceDetail"]["PhysicalResourceId"]
            lambda_client: LambdaClient = self.client("lambda")
            configuration = lambda_client.get_function_configuration(FunctionName=function)
        except ClientError as error:
            raise CliError(
                f"cannot read the provider settings of stack {self.options.stack_name!r}: "
                f"{_message(error)}"
            ) from None
        variables = configuration.get("Environment", {}).get("Variables", {})
        try:
            return load(ReconcileSettings, variables)
        except SettingsError as error:
            raise CliError(f"the reconcile function's settings are not usable: {error}") from None

    def operator(self, name: str | None) -> str:
        """Who is acting, for the evidence item: locally the login (or ``--operator``); against
        a deployment the caller's IAM principal, which CloudTrail also records for the table
        write, with ``--operator`` naming the person when several share one role."""
        if self._is_local:
            return name or getpass.getuser()
        try:
            principal = self.client("sts").get_caller_identity()["Arn"]
        except (ClientError, BotoCoreError) as error:
            raise CliError(
                f"cannot tell who is acting (sts get-caller-identity): {error}"
            ) from None
        return f"{name} ({principal})" if name else str(principal)

    def secret_source(self, secret_id: str, max_age: int) -> str:
        """A provider secret's value, read with this target's credentials and endpoint."""
        answer = self.client("secretsmanager").get_secret_value(SecretId=secret_id)
        value = answer.get("SecretString")
        if not isinstance(value, str):
            raise CliError(f"secret {secret_id} has no string value")
        return value


def _message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return str(details.get("Message") or details.get("Code") or error)
