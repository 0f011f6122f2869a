"""The benchmarks run the handlers as Lambda would, so Powertools' module-level singletons must
be built under the Lambda-like environment, whatever a bench module imports first."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

FLUSH_AFTER_IMPORTING_THE_INTAKE_BENCH = """
import bench.bench_intake
from payouts.observability import logger, metrics
print(logger.log_level)
metrics.add_metric(name="Probe", unit="Count", value=1)
print(metrics.serialize_metric_set()["_aws"]["CloudWatchMetrics"][0]["Namespace"])
"""


def test_logger_and_metrics_are_configured_though_a_bench_imports_the_package_early() -> None:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("POWERTOOLS_")
    }

    finished = subprocess.run(
        [sys.executable, "-c", FLUSH_AFTER_IMPORTING_THE_INTAKE_BENCH],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    log_level, namespace = finished.stdout.split()
    assert namespace == "Payouts"
    assert log_level == str(logging.WARNING)  # the figures are not buried in INFO lines
