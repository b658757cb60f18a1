"""Our benchmarks inside lm-eval and inspect_ai, graded by our grader, and their runs back in our table.

* ``inspect eval int_harness/<task>`` -- every registered task, plugins included: the top-level package
  ``int_harness`` (entry point ``inspect_ai``) over `harness.ecosystem.inspect_tasks`.
* ``lm_eval --include_path <dir> --tasks int_<task>`` -- the shipped YAMLs in ``lm_eval_tasks/`` (our
  loaders at run time) or a frozen folder from `write_lm_eval_tasks` (jsonl via ``data_files``).
* `import_run` turns an inspect log or an lm-eval sample file into a run directory like ``harness eval``'s.
* ``harness ecosystem lm-eval-path|lm-eval-tasks|import`` -- the same from the command line (`cli.py`).

Nothing here imports inspect_ai or lm-eval until used, so the ``ecosystem`` extra stays optional.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module; imported on first use, so `harness --help` (which mounts `harness ecosystem`) stays fast.
_EXPORTS = {
    "BENCHMARKS": "harness.ecosystem.common",
    "ExportedTask": "harness.ecosystem.common",
    "exported_tasks": "harness.ecosystem.common",
    "problem_rows": "harness.ecosystem.common",
    "import_external": "harness.ecosystem.importers",
    "import_inspect_log": "harness.ecosystem.importers",
    "import_lm_eval_samples": "harness.ecosystem.importers",
    "import_run": "harness.ecosystem.importers",
    "write_run": "harness.ecosystem.importers",
    "write_lm_eval_task": "harness.ecosystem.lm_eval_export",
    "write_lm_eval_tasks": "harness.ecosystem.lm_eval_export",
}


def __getattr__(name: str) -> Any:
    if name == "LM_EVAL_TASKS_DIR":
        from harness.ecosystem.lm_eval_tasks import TASKS_DIR

        return TASKS_DIR
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness.ecosystem' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "BENCHMARKS",
    "LM_EVAL_TASKS_DIR",
    "ExportedTask",
    "exported_tasks",
    "import_external",
    "import_inspect_log",
    "import_lm_eval_samples",
    "import_run",
    "problem_rows",
    "write_lm_eval_task",
    "write_lm_eval_tasks",
    "write_run",
]
