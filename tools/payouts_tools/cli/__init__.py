"""The ``payouts`` command: the ops CLI (orders, stats, publish, dlq) and the local stack
(``up``, ``demo``). ``main`` is the console script declared in pyproject.toml."""

from payouts_tools.cli.app import app, main

__all__ = ["app", "main"]
