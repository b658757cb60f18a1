"""Lazy package exports: ``import harness.compare`` costs nothing; a name imports its module on first use.

WHY: `harness --help`, the task registry and the recipe loader must not pay for torch, pandas or
matplotlib, and lazy packages let modules import a sibling's submodule without pulling in (and cycling
through) the package's heavy parts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, modules: dict[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """``(__all__, __getattr__)`` for a package whose names live in submodules: ``modules`` maps a
    submodule to the space-separated names it exports, e.g. ``{"config": "CompareConfig EvalOnlyModel"}``."""
    where = {name: module for module, names in modules.items() for name in names.split()}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return sorted(where), __getattr__
