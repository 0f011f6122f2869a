"""What importing a handler pulls in: a Lambda cold start pays for every module, so modules the
function never needs must not be imported. Import *time* is measured by ``make bench``
(bench/bench_cold_start.py), never asserted here; these tests check which modules load, in a
fresh interpreter with each function's environment from the template."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys

import httpcore._synchronization as httpcore_sync
import pytest

from bench.bench_cold_start import (
    FLOOR_OF,
    FLOORS,
    REPO_ROOT,
    base_environment,
    template_environments,
)

FUNCTIONS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/app.py"))

# The child imports one handler file as Lambda does and lists the modules now loaded.
_LOADED_MODULES = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


@functools.cache
def loaded_modules(function: str, *, in_lambda: bool) -> frozenset[str]:
    environment = {
        **base_environment(function, in_lambda=in_lambda),
        **template_environments()[function],
    }
    completed = subprocess.run(
        [sys.executable, "-c", _LOADED_MODULES, str(REPO_ROOT / "functions" / function / "app.py")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return frozenset(json.loads(completed.stdout))


def test_every_function_is_measured() -> None:
    assert set(FUNCTIONS) <= set(template_environments())
    assert {"callback", "intake", "reconcile", "find_due", "status_events"} <= set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_outside_lambda_the_x_ray_sdk_is_not_loaded(function: str) -> None:
    # Its recorder builds a botocore X-Ray client at import when it is not in Lambda.
    assert not {"aws_xray_sdk.core"} & loaded_modules(function, in_lambda=False)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_in_lambda_only_the_libraries_called_are_patched_for_tracing(function: str) -> None:
    loaded = loaded_modules(function, in_lambda=True)

    assert "aws_xray_sdk.ext.botocore.patch" in loaded
    # patch_all would import (and patch) every supported library that is installed.
    assert not {"aws_xray_sdk.ext.sqlite3.patch", "sqlite3", "requests"} & loaded


def test_the_callback_does_not_load_the_openapi_machinery() -> None:
    # Only payouts_tools.openapi needs it, to write openapi/callbacks.json.
    loaded = loaded_modules("callback", in_lambda=True)

    assert "aws_lambda_powertools.event_handler" in loaded
    assert not {name for name in loaded if ".openapi.params" in name or ".openapi.models" in name}


def test_httpcore_finds_sniffio_instead_of_failing_to_import_it_on_every_lock() -> None:
    # httpcore imports sniffio inside every async lock it takes; while it is missing, that
    # failing import searches sys.path again each time (6% of the intake's CPU).
    layer = (REPO_ROOT / "layers" / "payouts" / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("sniffio==") for line in layer)
    lock = httpcore_sync.AsyncLock()

    async def take() -> None:
        async with lock:
            pass

    asyncio.run(take())
    assert "sniffio" in sys.modules


def test_find_due_loads_neither_the_providers_nor_the_reconcile_service() -> None:
    # find_due only takes the lease and reads the due index: the providers' HTTP client, their
    # port and the per-order rules are the reconcile function's, never needed here.
    loaded = loaded_modules("find_due", in_lambda=False)

    assert "payouts.services.due" in loaded
    unneeded = {"httpx", "asyncio", "payouts.providers.base", "payouts.services.reconcile"}
    assert not unneeded & loaded
    assert not {name for name in loaded if name.startswith("payouts.settings.reconcile")}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_loads_every_library_of_its_floor(function: str) -> None:
    # A floor is what the function cannot import faster than: it must not name a library the
    # function does not load, or the bench would excuse cost the function could shed.
    floor = FLOORS[FLOOR_OF[function]].split(",")

    assert not set(floor) - loaded_modules(function, in_lambda=False)


@pytest.mark.parametrize("function", ["find_due", "retention", "status_events"])
def test_functions_that_call_no_provider_do_not_build_the_provider_settings(function: str) -> None:
    loaded = loaded_modules(function, in_lambda=False)

    assert "payouts.settings.common" in loaded
    assert not {"payouts.settings.base", "httpx", "payouts.providers.base"} & loaded


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_builds_the_powertools_parser_models(function: str) -> None:
    # Powertools' batch utility builds its parser's pydantic models (SQS, Kinesis, Kafka and
    # stream records) when pydantic is imported before it: a third of import boto3 for models
    # no handler validates. The handlers import Powertools before the payouts package.
    parser = "aws_lambda_powertools.utilities.parser"
    loaded = loaded_modules(function, in_lambda=False)

    assert not {name for name in loaded if name.startswith(parser)}
