"""Benchmarks: each ``bench/bench_*.py`` module has ``run() -> dict[str, float]`` and prints its
own figures; ``python -m bench`` (``make bench``) runs them all and merges the figures into
``bench/results.json`` (one flat object). Figures are printed, never asserted."""
