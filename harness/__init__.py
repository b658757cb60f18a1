"""The InT harness library. The command line is `harness.cli`; for notebooks and scripts:

* `load_samples(run_dir)` -- a run directory's graded samples as a typed pandas DataFrame (`harness.results`).

Attributes are imported on first use, so ``import harness`` (and every ``harness`` command) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_samples"]


def __getattr__(name: str) -> Any:
    if name == "load_samples":
        from harness.results import load_samples

        return load_samples
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
