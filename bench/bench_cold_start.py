"""Cold start benchmark: what importing each handler costs, against ``import boto3``.

A Lambda cold start imports the handler module before the first invocation; everything a module
does at import is paid there, on every new container. The figure that matters is the import time
relative to ``import boto3`` (which every handler needs anyway), so a slower or busier machine
moves both sides alike.

Setup: every sample is a fresh interpreter (``sys.executable``, bytecode already compiled), with
``functions/<name>`` first on ``sys.path`` as Lambda puts the function's code, and an environment
made of the template's own variables for that function (Globals merged, intrinsic functions
resolved with placeholder names, ARNs and URLs) plus what Lambda sets for every function. Only
the ``import`` statement is timed, inside the child, so interpreter start-up is left out.
Samples are taken round-robin (boto3, then each handler, ``SAMPLES`` times) so a burst of load
from other processes on the machine falls on all of them alike.

Two environments, because the X-Ray SDK and Powertools' Tracer behave differently in each:

- ``cold_start_<function>_import_ratio``: the template's variables only (as the issue measured:
  outside Lambda, tracing switches itself off).
- ``cold_start_<function>_lambda_import_ratio``: the template's variables plus Lambda's own
  runtime variables (``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``...), so the Tracer is on
  and patches what it traces, as it does in a deployed function.

Each ratio is median(handler import) / median(``import boto3``) over ``SAMPLES`` samples;
``..._import_ms_spread`` is the handler's max - min in milliseconds. Printed, never asserted.

For scale, ``cold_start_floor_<name>_import_ratio`` is the same ratio for the third-party
libraries alone that a handler cannot run without (``FLOORS``, and ``FLOOR_OF`` for which is
whose): no handler can import faster than its floor unless it defers a library it uses on every
invocation to that invocation, which only moves the time from Lambda's init phase into the first
request. A handler's ratio minus its floor's is what the project's own code costs.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from payouts_tools.local.template import (
    LOCAL_ACCOUNT_ID,
    LocalResource,
    Resolver,
    function_properties,
    load_template,
    parameter_defaults,
    resources_of_type,
)

SAMPLES: Final = 9
REPO_ROOT: Final = Path(__file__).resolve().parents[1]
LAYER_REQUIREMENTS: Final = REPO_ROOT / "layers" / "payouts" / "requirements.txt"
REGION: Final = "us-east-1"

# The child refuses every third-party module the layer does not ship (the development venv has
# more: rich and click make httpx import its command line, requests is patched by the X-Ray SDK),
# imports ``module`` (or each of a comma-separated list) and prints the seconds that took.
_TIMED_IMPORT: Final = """
import sys, time
not_shipped = frozenset(sys.argv[2].split(","))
class LayerOnly:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in not_shipped:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the layer)", name=name)
        return None
sys.meta_path.insert(0, LayerOnly)
started = time.perf_counter()
for name in sys.argv[1].split(","):
    __import__(name)
print(time.perf_counter() - started)
"""

# What Lambda itself sets in every function's environment (a subset: the variables that
# Powertools, the X-Ray SDK and botocore read). The trace header is set per invocation, not here.
_LAMBDA_RUNTIME: Final = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


# The libraries a handler uses on every invocation, imported alone (comma-separated), in the
# order the handlers import them: Powertools before pydantic, because Powertools' batch utility
# also builds its parser's pydantic models (SQS, Kinesis, Kafka, DynamoDB stream records) when
# pydantic is already imported, which the handlers never use. pydantic is imported as
# ``pydantic.main`` (BaseModel): ``import pydantic`` alone defers most of it, and every handler
# validates its settings and its input with models.
_POWERTOOLS: Final = "aws_lambda_powertools.logging,aws_lambda_powertools.metrics"
_BATCH: Final = "aws_lambda_powertools.utilities.batch"
_COMMON: Final = f"boto3,{_POWERTOOLS},pydantic.main"
# Functions that call providers: httpx on an event loop, credentials through Powertools
# parameters (read on the first invocation of every container).
_CALLS_PROVIDERS: Final = "asyncio,ssl,httpx,aws_lambda_powertools.utilities.parameters"
_PROVIDER: Final = f"{_COMMON},{_CALLS_PROVIDERS}"
FLOORS: Final = {
    # boto3, pydantic models, Powertools' logger and metrics: every handler.
    "common": _COMMON,
    # status_events takes stream batches with Powertools' batch processor.
    "stream": f"boto3,{_POWERTOOLS},{_BATCH},pydantic.main",
    # reconcile and balance_check.
    "provider": _PROVIDER,
    # The intake also takes SQS batches with the batch processor.
    "intake": f"boto3,{_POWERTOOLS},{_BATCH},pydantic.main,{_CALLS_PROVIDERS}",
    # The callback answers API Gateway through Powertools' event handler.
    "callback": (
        f"boto3,{_POWERTOOLS},aws_lambda_powertools.event_handler,pydantic.main,{_CALLS_PROVIDERS}"
    ),
}
# Each function's floor: it loads every module of it (tests/unit/test_handler_imports.py).
FLOOR_OF: Final = {
    "balance_check": "provider",
    "callback": "callback",
    "find_due": "common",
    "intake": "intake",
    "reconcile": "provider",
    "retention": "common",
    "status_events": "stream",
}


class _AnyAttributes(Mapping[str, str]):
    """A placeholder resource's attributes: every ``GetAtt`` gets a recognisable fake value."""

    def __init__(self, logical_id: str) -> None:
        self._logical_id = logical_id

    def __getitem__(self, attribute: str) -> str:
        return f"arn:aws:bench:{REGION}:{LOCAL_ACCOUNT_ID}:{self._logical_id}/{attribute}"

    def __contains__(self, attribute: object) -> bool:
        return isinstance(attribute, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def template_environments() -> dict[str, dict[str, str]]:
    """Each function's directory name -> its environment variables as the template sets them."""
    template = load_template()
    declared = template.get("Parameters", {})
    parameters = parameter_defaults(template, {}, strict=False)
    # Parameters without a default (secret ARNs, provider URLs): fake values of the right shape.
    for name in declared:
        parameters.setdefault(name, _placeholder_parameter(name))
    resources = {
        logical_id: LocalResource(ref=f"bench-{logical_id}", attributes=_AnyAttributes(logical_id))
        for logical_id in template.get("Resources", {})
    }
    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": LOCAL_ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": "payouts-bench",
        "AWS::NoValue": "",
    }
    resolver = Resolver(template, parameters, resources, pseudo)
    environments: dict[str, dict[str, str]] = {}
    for logical_id in resources_of_type(template, "AWS::Serverless::Function"):
        properties = function_properties(template, logical_id)
        variables = resolver.resolve(properties["Environment"]["Variables"])
        function_dir = Path(str(properties["CodeUri"])).name
        environments[function_dir] = {name: str(value) for name, value in variables.items()}
    return environments


def _placeholder_parameter(name: str) -> str:
    if name.endswith("Arn"):
        return f"arn:aws:secretsmanager:{REGION}:{LOCAL_ACCOUNT_ID}:secret:bench-{name}-AbCdEf"
    if name.endswith("Url"):
        return f"https://{name.lower()}.example.com"
    return f"bench-{name}"


def base_environment(function: str, *, in_lambda: bool) -> dict[str, str]:
    """What every child gets besides the template's variables: a PATH, a region, fake
    credentials (Lambda's are in the environment too), and Lambda's runtime variables."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "AKIDBENCHFAKE",
        "AWS_SECRET_ACCESS_KEY": "bench-fake-secret",
        "AWS_SESSION_TOKEN": "bench-fake-token",
    }
    if in_lambda:
        base |= _LAMBDA_RUNTIME | {
            "AWS_LAMBDA_FUNCTION_NAME": f"payouts-bench-{function}",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/payouts-bench-{function}",
        }
    return base


@functools.cache
def not_shipped_modules() -> frozenset[str]:
    """Top-level modules installed here by a distribution the layer does not ship (its
    requirements.txt lists what it ships; the project's own package is the layer itself)."""
    shipped = {
        _normalized(line.split("==", 1)[0])
        for line in LAYER_REQUIREMENTS.read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    return frozenset(
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if module != "payouts"
        and not any(_normalized(distribution) in shipped for distribution in distributions)
    )


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower().strip()


def timed_import(module: str, search_path: Path, environment: Mapping[str, str]) -> float:
    """Seconds a fresh interpreter spends on ``import module``, with ``search_path`` first on
    ``sys.path``, only the given environment variables, and only the layer's modules."""
    completed = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _TIMED_IMPORT, module, ",".join(sorted(not_shipped_modules()))],
        cwd=search_path,
        env={**environment, "PYTHONPATH": str(search_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing {module} from {search_path} failed:\n{completed.stderr}")
    return float(completed.stdout.strip().splitlines()[-1])


def _measure(environments: Mapping[str, Mapping[str, str]], *, in_lambda: bool) -> dict[str, Any]:
    functions = sorted(environments)
    floors = [f"floor_{name}" for name in FLOORS]
    samples: dict[str, list[float]] = {name: [] for name in ["boto3", *functions, *floors]}
    for _ in range(SAMPLES):
        library_environment = base_environment("boto3", in_lambda=in_lambda)
        samples["boto3"].append(timed_import("boto3", REPO_ROOT, library_environment))
        for name, modules in FLOORS.items():
            samples[f"floor_{name}"].append(timed_import(modules, REPO_ROOT, library_environment))
        for function in functions:
            environment = {
                **base_environment(function, in_lambda=in_lambda),
                **environments[function],
            }
            samples[function].append(
                timed_import("app", REPO_ROOT / "functions" / function, environment)
            )
    return samples


def _figures(samples: Mapping[str, list[float]], suffix: str) -> dict[str, float]:
    boto3_ms = statistics.median(samples["boto3"]) * 1000
    figures = {
        f"cold_start_boto3{suffix}_import_ms": boto3_ms,
        f"cold_start_boto3{suffix}_import_ms_spread": (
            (max(samples["boto3"]) - min(samples["boto3"])) * 1000
        ),
    }
    for function, times in samples.items():
        if function == "boto3":
            continue
        median_ms = statistics.median(times) * 1000
        figures[f"cold_start_{function}{suffix}_import_ms"] = median_ms
        figures[f"cold_start_{function}{suffix}_import_ms_spread"] = (
            max(times) - min(times)
        ) * 1000
        figures[f"cold_start_{function}{suffix}_import_ratio"] = median_ms / boto3_ms
    return figures


def run() -> dict[str, float]:
    """Import ratios of every handler, outside and inside a Lambda-like environment."""
    environments = template_environments()
    figures = _figures(_measure(environments, in_lambda=False), "")
    figures |= _figures(_measure(environments, in_lambda=True), "_lambda")
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, sort_keys=True))
