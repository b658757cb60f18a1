"""README's test command passes in a plain shell: the suite finds the benchmark data beside the clone and
stays offline by itself, with nothing exported by the caller (CI's `.ci/run` exports nothing either)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT_VARS = ("HARNESS_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def plain_env() -> dict[str, str]:
    """What a login shell has: no project or Hugging Face variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_VARS)}


@pytest.mark.skipif(not (REPO.parent / "shared" / "data").is_dir(), reason="needs ../shared/data beside the clone")
def test_data_needing_module_passes_without_exports():
    """A module whose *module-scoped* fixture loads benchmark data (before any function fixture could set
    the data dir) -- the case that failed in a plain shell -- run in a child with no project variables."""
    env = plain_env()
    assert "HARNESS_DATA_DIR" not in env
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "tests/test_fuzz_resume.py::test_eval_malformed_flags", "tests/test_tasks.py::test_offline_error_for_a_file_task"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.split("\n")[-2], proc.stdout[-1000:]


def test_ci_script_exports_nothing():
    """`.ci/run` runs README's two commands verbatim in a clean environment and sets no variable itself."""
    text = (REPO / ".ci" / "run").read_text()
    code = [line.split("#", 1)[0] for line in text.splitlines()]
    assert not any(line.strip().startswith("export ") or " export " in line for line in code), "CI must not export"
    assert "env -i" in text  # the commands run with only what a login shell has
