"""Who a person's action is recorded as: the IAM principal when deployed, the login locally."""

from __future__ import annotations

import getpass
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from payouts_tools.cli.target import CliError, Target, TargetOptions

# moto's answer to sts get-caller-identity for its default account.
MOTO_PRINCIPAL = "arn:aws:sts::123456789012:user/moto"


@pytest.fixture
def deployed() -> Iterator[Target]:
    with mock_aws():
        yield Target(TargetOptions(region="eu-west-1"))


def test_a_deployed_action_is_recorded_as_the_callers_principal(deployed: Target) -> None:
    assert deployed.operator(None) == MOTO_PRINCIPAL


def test_a_name_given_deployed_is_added_to_the_principal_never_replaces_it(
    deployed: Target,
) -> None:
    assert deployed.operator("alice") == f"alice ({MOTO_PRINCIPAL})"


def test_locally_the_login_is_recorded_or_the_name_given() -> None:
    local = Target(TargetOptions(endpoint_url="http://127.0.0.1:5999"))

    assert local.operator(None) == getpass.getuser()
    assert local.operator("alice") == "alice"


def test_a_deployment_that_cannot_say_who_is_acting_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The action must not go unattributed when STS refuses (expired credentials, say).
    target = Target(TargetOptions(region="eu-west-1"))
    sts = boto3.client("sts", region_name="eu-west-1")
    stubber = Stubber(sts)
    stubber.add_client_error("get_caller_identity", "ExpiredToken", "token expired")
    stubber.activate()
    monkeypatch.setattr(target, "client", lambda service, **_: sts)

    with pytest.raises(CliError, match=r"cannot tell who is acting.*token expired"):
        target.operator(None)
