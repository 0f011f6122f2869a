"""Starting and stopping: nothing is left behind (threads, ports), even mid-fault; the command
line runs in the foreground and stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from payouts_tools.sandbox import (
    CallbackOptions,
    Fault,
    FaultKind,
    Operation,
    Sandbox,
    SandboxConfig,
)
from tests.integration.sandbox.conftest import FAST, GatewayClient, eventually


def _port_is_free(port: int) -> bool:
    """True when a new server could listen on ``port``. SO_REUSEADDR, as servers set it: the
    connections the sandbox closed may linger in TIME_WAIT, which is the kernel's, not ours."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stop_without_waiting_out_the_hold(sandbox: Sandbox) -> None:
    """Stop, failing if stop() sat out a 30-60 s hold instead of cutting it short (the bound is
    generous: this checks "interrupted", not a speed)."""
    stopper = threading.Thread(target=sandbox.stop)
    stopper.start()
    stopper.join(timeout=15.0)
    assert not stopper.is_alive(), "stop() waited for a held connection or a pending reopen"


def test_stop_leaves_no_thread_or_port_behind_even_mid_fault(http: httpx.Client) -> None:
    before = set(threading.enumerate())
    # A callback to nowhere keeps retrying; a read_timeout fault holds a connection for 30 s.
    config = FAST.model_copy(
        update={"fault_sleep_s": 30.0, "callbacks": CallbackOptions(retry_delays_s=(30.0,))}
    )
    sandbox = Sandbox(config).start()
    port, refused_port = sandbox.port, int(sandbox.refused_base_url.rsplit(":", 1)[1])
    gateway = GatewayClient(sandbox, http)
    gateway.create("PO-CB", notify_url=f"{sandbox.refused_base_url}/callbacks/gateway_v2")
    eventually(lambda: bool(sandbox.callbacks()), what="the first callback attempt")
    sandbox.inject(Fault(kind=FaultKind.READ_TIMEOUT, operation=Operation.QUERY, times=1))
    stuck: list[BaseException] = []

    def held_query() -> None:
        try:
            gateway.query("PO-CB", timeout=60.0)
        except httpx.HTTPError as exc:
            stuck.append(exc)

    client = threading.Thread(target=held_query)
    client.start()
    eventually(lambda: sandbox.faults() == [], what="the query to be held")

    _stop_without_waiting_out_the_hold(sandbox)
    client.join()

    assert set(threading.enumerate()) == before
    assert stuck  # the held connection was cut, not answered
    with pytest.raises(httpx.ConnectError):
        http.get(f"http://127.0.0.1:{port}/_sandbox/orders")
    assert _port_is_free(port)
    assert _port_is_free(refused_port)


def test_stop_while_refusing_does_not_wait_for_the_reopen() -> None:
    before = set(threading.enumerate())
    sandbox = Sandbox(FAST).start()
    port = sandbox.port
    sandbox.refuse_for(60.0)

    _stop_without_waiting_out_the_hold(sandbox)

    assert set(threading.enumerate()) == before
    assert _port_is_free(port)


def test_a_context_manager_starts_and_stops_and_stop_is_idempotent(http: httpx.Client) -> None:
    with Sandbox(FAST) as sandbox:
        assert http.get(f"{sandbox.base_url}/_sandbox/orders").json() == {"orders": []}
    sandbox.stop()

    with pytest.raises(httpx.ConnectError):
        http.get(f"{sandbox.base_url}/_sandbox/orders")


def test_a_sandbox_starts_once(http: httpx.Client) -> None:
    with Sandbox(FAST) as sandbox, pytest.raises(RuntimeError):
        sandbox.start()


def test_a_given_port_is_used(http: httpx.Client) -> None:
    with socket.socket() as probe:  # ask the OS for a free port, then hand it over
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])

    with Sandbox(SandboxConfig(port=port)) as sandbox:
        assert sandbox.base_url == f"http://127.0.0.1:{port}"
        assert http.get(f"{sandbox.base_url}/_sandbox/orders").status_code == 200


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_line_prints_its_url_and_credentials_and_stops_on_a_signal(
    http: httpx.Client, stop_signal: signal.Signals
) -> None:
    command = [sys.executable, "-m", "payouts_tools.sandbox", "--port", "0", "--seed", "3"]
    command += ["--settle-after", "0.1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
        base_url = lines[0].split()[-1]
        config = http.get(f"{base_url}/_sandbox/config").json()

        process.send_signal(stop_signal)
        remaining, _ = process.communicate(timeout=30)

    assert process.returncode == 0
    assert lines[0].startswith("payouts sandbox listening on http://127.0.0.1:")
    assert (config["seed"], config["settle_after_s"]) == (3, 0.1)
    printed = "".join(lines)
    for credential in (
        config["gateway"]["platform_id"],
        config["gateway"]["signing_key"],
        config["gateway"]["query_token"],
        config["pg"]["app_id"],
        config["pg"]["app_secret"],
    ):
        assert credential in printed
    assert "stopped" in remaining
