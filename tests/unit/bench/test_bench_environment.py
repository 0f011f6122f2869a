"""The benchmarks run the handlers as Lambda would, so Powertools' module-level singletons must
be built under the Lambda-like environment, whatever a bench module imports first."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_without_powertools_settings(script: str) -> str:
    """``script``'s output, run by a fresh interpreter whose environment has no Powertools
    setting (as in a fresh shell); the test fails with its stderr if it fails."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("POWERTOOLS_")
    }
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


FLUSH_AFTER_IMPORTING_THE_INTAKE_BENCH = """
import bench.__main__  # what `python -m bench` runs first (its main() is not called here)
import bench.bench_intake
from payouts.observability import logger, metrics
print(logger.log_level)
metrics.add_metric(name="Probe", unit="Count", value=1)
print(metrics.serialize_metric_set()["_aws"]["CloudWatchMetrics"][0]["Namespace"])
"""


def test_logger_and_metrics_are_configured_though_a_bench_imports_the_package_early() -> None:
    flushed = run_without_powertools_settings(FLUSH_AFTER_IMPORTING_THE_INTAKE_BENCH)

    log_level, namespace = flushed.split()
    assert namespace == "Payouts"
    assert log_level == str(logging.WARNING)  # the figures are not buried in INFO lines


IMPORT_EVERY_BENCH_MODULE = """
import os
import bench, bench.bench_cost, bench.bench_intake, bench.bench_cold_start, bench.cost_erasure
print(sorted(name for name in os.environ if name.startswith("POWERTOOLS_")))
"""


def test_importing_bench_modules_changes_no_setting_of_the_process() -> None:
    # The test suite imports bench modules; a Powertools setting made at import leaked into
    # every later test of the same worker (metrics disabled: 20 handler tests failed in CI).
    printed = run_without_powertools_settings(IMPORT_EVERY_BENCH_MODULE)

    assert printed.strip() == "[]"
