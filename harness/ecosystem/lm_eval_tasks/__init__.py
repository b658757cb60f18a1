"""lm-eval task configs for our benchmarks: ``lm_eval --include_path <TASKS_DIR> --tasks int_aime25``."""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
