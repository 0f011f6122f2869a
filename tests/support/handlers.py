"""Loading a Lambda handler module (``functions/<name>/app.py``) the way Lambda does: by file,
as a top-level module, without putting ``functions/`` on sys.path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load_handler(name: str) -> ModuleType:
    """A fresh import of ``functions/<name>/app.py`` (module-level caches start empty)."""
    path = FUNCTIONS / name / "app.py"
    module_name = f"payouts_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
