"""Benchmarks: each ``bench/bench_*.py`` module has ``run() -> dict[str, float]`` and prints its
own figures; ``python -m bench`` (``make bench``) runs them all and merges the figures into
``bench/results.json`` (one flat object). Figures are printed, never asserted."""

import os

# Powertools builds its module-level singletons (the shared ``Metrics``) from the environment when
# first imported, and bench modules import the package (the simulator's executor, the store)
# before they set a handler's environment: the Lambda-wide settings are set here, first.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "payouts")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Payouts")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
# A benchmark's output is its figures: warnings only (the intake CPU pass logs at INFO, as in
# Lambda, into /dev/null).
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
# The handlers flush Powertools metrics to stdout (CloudWatch EMF); a benchmark prints figures.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
