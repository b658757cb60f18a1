"""`harness world path PRESET` prints a built preset's folder for inspect's or lm-eval's ``model_path``
(issue 19): it builds nothing, and a preset that is not built (or does not exist) is one error line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "world", "path", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "80", **(env or {})})


def test_world_path_prints_the_built_folder(world_model):
    proc = _run("test")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(world_model)
    assert (Path(proc.stdout.strip()) / "config.json").is_file()


def test_world_path_builds_nothing(tmp_path):
    cache = tmp_path / "cache"
    proc = _run("test", env={"HARNESS_CACHE_DIR": str(cache)})
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, lines
    assert "not built" in lines[0] and "harness world build --preset test" in lines[0]
    assert not any(cache.rglob("*.safetensors"))
    proc = _run("no-such-preset")
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "no-such-preset" in lines[0], lines
