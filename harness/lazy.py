"""Lazy package exports: ``import harness.compare`` costs nothing; a name imports its module on first use.

WHY: `harness --help`, the task registry and the recipe loader must not pay for torch, pandas or
matplotlib, and lazy packages let modules import a sibling's submodule without pulling in (and cycling
through) the package's heavy parts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``name`` from ``<package>.<exports[name]>`` on first access."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
