"""The local stack goes down leaving nothing behind: no thread, no open port, no environment
change, no process-wide setting."""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.handlers import BUILTIN_HANDLERS

from payouts_tools.local.in_process_transport import InProcessTransport
from payouts_tools.local.stack import LocalStack, StackOptions

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


def test_the_stack_goes_down_leaving_nothing_behind(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    environment_before = dict(os.environ)
    interval_before = sys.getswitchinterval()
    default_session_before = boto3.DEFAULT_SESSION
    stack = LocalStack(StackOptions(log_path=tmp_path / "handlers.log")).start()
    ports = [urlsplit(url).port for url in (stack.endpoints.aws, stack.endpoints.sandbox)] + [
        urlsplit(stack.endpoints.callbacks or "").port
    ]
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoints.aws

    stack.stop()

    assert not LocalStack.running()
    leftover = [thread.name for thread in set(threading.enumerate()) - threads_before]
    assert leftover == []
    assert dict(os.environ) == environment_before
    assert sys.getswitchinterval() == interval_before
    assert boto3.DEFAULT_SESSION is default_session_before
    assert not any(isinstance(entry[1], InProcessTransport) for entry in BUILTIN_HANDLERS)
    for port in ports:
        assert port is not None
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", port), timeout=1),
        ):
            pass
