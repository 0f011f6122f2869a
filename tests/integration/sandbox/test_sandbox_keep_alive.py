"""The sandbox keeps connections alive (HTTP/1.1) and closes idle ones, as a provider's load
balancer does, so clients' connection pools are exercised locally."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from payouts_tools.sandbox import Sandbox, SandboxConfig

IDLE_S = 0.2


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=5, idle_timeout_s=IDLE_S)).start() as running:
        yield running


def _orders(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return client.get(f"{sandbox.base_url}/_sandbox/orders")


def test_requests_over_one_client_share_one_connection(sandbox: Sandbox) -> None:
    with httpx.Client(trust_env=False) as client:
        answers = [_orders(client, sandbox) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all(answer.http_version == "HTTP/1.1" for answer in answers)
    assert sandbox.accepted_connections == 1


def test_an_idle_connection_is_closed_and_the_client_opens_a_new_one(sandbox: Sandbox) -> None:
    with httpx.Client(trust_env=False) as client:
        first = _orders(client, sandbox)
        time.sleep(IDLE_S * 4)  # the sandbox closes the pooled connection meanwhile
        second = _orders(client, sandbox)

    assert (first.status_code, second.status_code) == (200, 200)
    assert sandbox.accepted_connections == 2


def test_a_client_that_asks_to_close_gets_a_new_connection_each_time(sandbox: Sandbox) -> None:
    with httpx.Client(trust_env=False, headers={"Connection": "close"}) as client:
        answers = [_orders(client, sandbox) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert sandbox.accepted_connections == 2


def test_refusing_closes_pooled_connections_too(sandbox: Sandbox) -> None:
    with httpx.Client(trust_env=False) as client:
        assert _orders(client, sandbox).status_code == 200
        sandbox.refuse_for(1.0)

        # The pooled connection is gone with the provider: the next request needs a new one,
        # which is refused (httpx's ConnectError: provably nothing was sent).
        with pytest.raises(httpx.ConnectError):
            _orders(client, sandbox)
