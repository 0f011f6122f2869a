"""Process environment changes that are undone exactly: the local stack runs the real handlers
in this process, and they read their settings from ``os.environ`` as they do in Lambda."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Final

_MISSING: Final = object()


class EnvironmentPatch:
    """Sets variables now and puts every one back (or removes it) on ``restore()``.

    Only one local stack runs per process: two would fight over these variables.
    """

    _lock: Final = threading.Lock()

    def __init__(self) -> None:
        self._saved: dict[str, str | object] = {}

    def set(self, values: Mapping[str, str]) -> None:
        """Set ``values``, remembering what each name held before the first change."""
        with self._lock:
            for name, value in values.items():
                self._saved.setdefault(name, os.environ.get(name, _MISSING))
                os.environ[name] = value

    def restore(self) -> None:
        """Undo every change; safe to call twice."""
        with self._lock:
            for name, previous in self._saved.items():
                if isinstance(previous, str):
                    os.environ[name] = previous
                else:
                    os.environ.pop(name, None)
            self._saved.clear()
