"""Typed settings, one model per function, validated once per cold start from the environment.

Required names (the table, the queues) have no defaults: a function deployed without them fails at
start-up with a clear message instead of writing to a guessed table. Domain code never reads
``os.environ``; handlers call ``load(SettingsClass)`` once, behind a cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from payouts.settings.common import CommonSettings


class SettingsError(RuntimeError):
    """The environment does not describe a valid configuration."""


def load[T: BaseModel](model: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build ``model`` from environment variables named after its fields in upper case."""
    source = os.environ if environ is None else environ
    values = {name: source[name.upper()] for name in model.model_fields if name.upper() in source}
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']).upper()}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise SettingsError(f"invalid {model.__name__}: {problems}") from None


__all__ = [
    "CommonSettings",
    "SettingsError",
    "load",
]
