"""Run simulations: one seed in one thread on a virtual clock, or many seeds over processes.

``simulate(config)`` returns a ``SimResult`` with the figures every run prints and the digest of
its event log: the same seed gives the same digest, which is how a failing seed is replayed.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from payouts_tools.sim.config import SimConfig
from payouts_tools.sim.faults import mix_named
from payouts_tools.sim.vloop import VirtualTimeLoop
from payouts_tools.sim.world import World, quiet_services

# Escalation reasons are grouped by their first words, so figures stay comparable across runs.
_REASON_WORDS = 6


@dataclass
class SimResult:
    """What one run did and found."""

    seed: int
    mix: str
    payouts: int
    virtual_hours: float
    wall_seconds: float
    digest: str
    violations: list[str]
    faults: dict[str, int]
    escalations: dict[str, int]
    final_statuses: dict[str, int]
    resolution_seconds: dict[str, float]
    dead_lettered: int
    invocations: dict[str, int]
    crashes: dict[str, int]
    dispositions: dict[str, int]
    callbacks: dict[str, int]
    checks: dict[str, int]
    events_published: int
    write_units: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no invariant broke."""
        return not self.violations

    @property
    def escalations_per_1000(self) -> float:
        """Orders left to a person, per 1,000 payouts."""
        return 1000 * sum(self.escalations.values()) / max(self.payouts, 1)

    def replay_command(self) -> str:
        """The one command that replays this run exactly."""
        return f"payouts sim --seed {self.seed} --payouts {self.payouts} --faults {self.mix}"

    def as_json(self) -> dict[str, Any]:
        """Plain data, for ``--json``."""
        return {
            **asdict(self),
            "ok": self.ok,
            "escalations_per_1000": round(self.escalations_per_1000, 3),
            "replay": self.replay_command(),
        }


def simulate(config: SimConfig) -> SimResult:
    """Run one simulation to quiescence and judge it."""
    with quiet_services():
        started = time.perf_counter()
        loop = VirtualTimeLoop()
        try:
            world = loop.run_until_complete(_build_and_run(config))
            virtual_seconds = loop.time()
        finally:
            _close(loop)
        return _result(config, world, virtual_seconds, time.perf_counter() - started)


async def _build_and_run(config: SimConfig) -> World:
    world = World(config)
    await world.run()
    return world


def _close(loop: VirtualTimeLoop) -> None:
    for task in _pending(loop):
        task.cancel()
    loop.close()


def _pending(loop: VirtualTimeLoop) -> Iterable[Any]:
    import asyncio  # noqa: PLC0415 - only needed on the way out

    return [task for task in asyncio.all_tasks(loop) if not task.done()]


def _result(config: SimConfig, world: World, virtual_seconds: float, wall: float) -> SimResult:
    referee = world.referee
    escalations: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for order in referee.orders.values():
        statuses[order.status] += 1
        if order.needs_review:
            reason = " ".join((order.review_reason or "?").split()[:_REASON_WORDS])
            escalations[f"{order.status}: {reason}"] += 1
    durations = [
        referee.resolved_at[pid] - referee.requested[pid].published_at
        for pid in referee.requested
        if pid in referee.resolved_at
    ]
    return SimResult(
        seed=config.seed,
        mix=config.mix_name,
        payouts=config.payouts,
        virtual_hours=round(virtual_seconds / 3600, 2),
        wall_seconds=round(wall, 2),
        digest=world.digest.hexdigest(),
        violations=referee.violations,
        faults=dict(sorted(world.dice.injected.items())),
        escalations=dict(escalations.most_common()),
        final_statuses=dict(sorted(statuses.items())),
        resolution_seconds=_percentiles(durations),
        dead_lettered=len(world.queue.dlq),
        invocations=dict(world.figures.invocations),
        crashes=dict(world.figures.crashes),
        dispositions=dict(sorted(world.figures.dispositions.items())),
        callbacks=dict(sorted(world.figures.callbacks.items())),
        checks=dict(sorted(world.figures.checks.items())),
        events_published=world.figures.events_published,
        write_units=round(world.table.write_units(), 1),
        extra={
            "breaker_trips": world.figures.breaker_trips,
            "provider_resumes": world.figures.resumes,
            "erased_by": referee.erasures_by_path(),
            "erasure_lateness_hours": referee.lateness_hours(),
            "retention_runs": dict(sorted(world.figures.retention.items())),
            "late_changes_scripted": world.figures.late_scripted,
            "quiet_virtual_hours": round(world.figures.quiet_at / 3600, 2),
        },
    )


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else 0.0, "p95": 0.0, "p99": 0.0}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def config_for(seed: int, payouts: int, mix: str) -> SimConfig:
    """The configuration of a run by seed, size and named fault mix."""
    return SimConfig(seed=seed, payouts=payouts, mix=mix_named(mix), mix_name=mix)


def _simulate_args(args: tuple[int, int, str]) -> SimResult:
    seed, payouts, mix = args
    return simulate(config_for(seed, payouts, mix))


def simulate_many(
    seeds: Sequence[int],
    payouts: int,
    mix: str,
    *,
    jobs: int = 1,
    on_result: Callable[[SimResult], None] | None = None,
) -> list[SimResult]:
    """Run several seeds, ``jobs`` processes at a time (each run stays single-threaded), in seed
    order; ``on_result`` hears of each run as it ends (progress for a person)."""
    work = [(seed, payouts, mix) for seed in seeds]
    results: list[SimResult] = []
    if jobs <= 1 or len(work) <= 1:
        finished: Iterable[SimResult] = map(_simulate_args, work)
        return _collect(finished, results, on_result)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return _collect(pool.map(_simulate_args, work), results, on_result)


def _collect(
    finished: Iterable[SimResult],
    results: list[SimResult],
    on_result: Callable[[SimResult], None] | None,
) -> list[SimResult]:
    for result in finished:
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
