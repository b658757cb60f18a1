"""Our benchmarks inside lm-eval and inspect_ai, graded by our grader, and their runs back in our table.

* ``inspect eval int_harness/<task>`` -- `harness.ecosystem.inspect_tasks` (entry point ``inspect_ai``).
* ``lm_eval --include_path <dir> --tasks int_<task>`` -- the shipped YAMLs in ``lm_eval_tasks/`` (our
  loaders at run time) or a frozen folder from `write_lm_eval_tasks` (jsonl via ``data_files``).
* `import_run` turns an inspect log or an lm-eval sample file into a run directory like ``harness eval``'s.

Nothing here imports inspect_ai or lm-eval until used, so the ``ecosystem`` extra stays optional.
"""

from harness.ecosystem.common import BENCHMARKS, ExportedTask, exported_tasks, problem_rows
from harness.ecosystem.importers import (
    import_external,
    import_inspect_log,
    import_lm_eval_samples,
    import_run,
    write_run,
)
from harness.ecosystem.lm_eval_export import write_lm_eval_task, write_lm_eval_tasks
from harness.ecosystem.lm_eval_tasks import TASKS_DIR as LM_EVAL_TASKS_DIR

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
