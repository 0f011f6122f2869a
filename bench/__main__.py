"""Run every benchmark module and merge its figures into bench/results.json."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

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
