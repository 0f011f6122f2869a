"""Run every benchmark module and merge its figures into bench/results.json."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

# Powertools builds its module-level singletons (the shared ``Metrics``) from the environment when
# first imported, and bench modules import the package (the simulator's executor, the store)
# before they set a handler's environment: the Lambda-wide settings are set here, before any
# bench module is imported. Only here, by the harness: the test suite imports bench modules too,
# and a setting made at import would leak into every later test of the same worker (metrics
# disabled: the handlers' tests read the metrics they print).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "payouts")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Payouts")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
# A benchmark's output is its figures: warnings only (the intake CPU pass logs at INFO, as in
# Lambda, into /dev/null).
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
# The handlers flush Powertools metrics to stdout (CloudWatch EMF); a benchmark prints figures.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def main(selected: list[str]) -> None:
    """Run the benchmarks named in ``selected`` (all when empty) and merge their figures."""
    modules = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if selected:
        modules = [name for name in modules if any(word in name for word in selected)]
    merged: dict[str, float] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in modules:
        print(f"== {name}")
        figures = importlib.import_module(f"bench.{name}").run()
        for key, value in sorted(figures.items()):
            print(f"   {key:<45} {value:>12.4g}")
        merged.update(figures)
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(f"figures merged into {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
