"""The figures of simulation runs, as text for a person (80 columns) or as JSON."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Sequence

from payouts_tools.sim.run import SimResult

_WIDTH = 80  # the report reads well in an 80-column terminal and in a CI log


def as_json(results: Sequence[SimResult]) -> str:
    """Every run's figures, and the totals, as one JSON document."""
    return json.dumps(
        {"runs": [result.as_json() for result in results], "totals": totals(results)},
        indent=2,
        sort_keys=True,
    )


def totals(results: Sequence[SimResult]) -> dict[str, object]:
    """Sums over the runs."""
    faults: Counter[str] = Counter()
    escalations: Counter[str] = Counter()
    for result in results:
        faults.update(result.faults)
        escalations.update(result.escalations)
    payouts = sum(result.payouts for result in results)
    return {
        "runs": len(results),
        "payouts": payouts,
        "violations": sum(len(result.violations) for result in results),
        "faults_injected": sum(faults.values()),
        "escalations_per_1000": round(1000 * sum(escalations.values()) / max(payouts, 1), 3),
        "wall_seconds": round(sum(result.wall_seconds for result in results), 1),
    }


def as_text(results: Sequence[SimResult], wall_seconds: float) -> str:
    """The figures a person reads after a run, failing seeds first with their replay command."""
    lines: list[str] = []
    for result in results:
        lines.extend(_run_lines(result))
    summary = totals(results)
    lines.append(
        f"{summary['runs']} run(s), {summary['payouts']:,} payouts, "
        f"{summary['faults_injected']:,} faults injected, "
        f"{summary['violations']} violation(s), {wall_seconds:.1f} s wall"
    )
    return "\n".join(lines)


def _retention_line(result: SimResult) -> str:
    erased: dict[str, int] = result.extra.get("erased_by", {})
    lateness: dict[str, float] = result.extra.get("erasure_lateness_hours", {})
    runs: dict[str, int] = result.extra.get("retention_runs", {})
    return (
        f"erased {sum(erased.values()):,}: "
        + ", ".join(f"by {path} {count:,}" for path, count in erased.items())
        + f" · after {lateness.get('min', 0):g}-{lateness.get('max', 0):g} h · retention runs "
        + ", ".join(f"{kind} {count}" for kind, count in runs.items())
    )


def _run_lines(result: SimResult) -> list[str]:
    res = result.resolution_seconds
    lines = [
        f"seed {result.seed} · {result.mix} · {result.payouts:,} payouts · "
        f"{result.virtual_hours:g} virtual h · {result.wall_seconds:g} s wall",
        *textwrap.wrap(
            f"digest {result.digest[:16]}  statuses "
            + " ".join(f"{status}={count}" for status, count in result.final_statuses.items()),
            width=_WIDTH,
            initial_indent="  ",
            subsequent_indent="    ",
        ),
        f"  resolution p50/p95/p99 {res['p50']:g} / {res['p95']:g} / {res['p99']:g} s virtual"
        f" · dead-lettered {result.dead_lettered}",
        *textwrap.wrap(
            f"faults injected {sum(result.faults.values()):,}: "
            + ", ".join(f"{kind}={count}" for kind, count in sorted(result.faults.items())),
            width=_WIDTH,
            initial_indent="  ",
            subsequent_indent="    ",
        ),
        *textwrap.wrap(
            _retention_line(result), width=_WIDTH, initial_indent="  ", subsequent_indent="    "
        ),
        f"  escalated {result.escalations_per_1000:.2f} per 1,000:",
    ]
    lines.extend(f"    {count:5d}  {reason}" for reason, count in result.escalations.items())
    if result.violations:
        lines.append(f"  VIOLATIONS ({len(result.violations)}):")
        lines.extend(f"    {text}" for text in result.violations[:20])
        lines.append(f"  replay: {result.replay_command()}")
    return lines
