"""Every command README shows is executed: the cheap ones here, verbatim; the others by the test named for
them (or by CI, which runs README's setup command). A new command in README without a test fails here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# `harness <sub> [<sub2>]` -> where it is executed (cheap ones are run below).
COVERED = {
    "harness -h": "run here",
    "harness CMD -h": "tests/test_cli_markup.py and the typer apps' own help (every command has -h)",
    "harness --version": "run here",
    "harness --threads": "tests/test_cpu_threads.py (the global option, a bad value)",
    "harness tasks list": "run here",
    "harness tasks show": "run here",
    "harness recipes": "run here",
    "harness trainers list": "run here",
    "harness ecosystem lm-eval-path": "run here",
    "harness compare": "run here (--dry-run); tests/test_compare.py; CI runs the setup command's main job",
    "harness eval": "tests/test_eval.py, tests/test_eval_judge.py, tests/test_backends_openai.py",
    "harness serve": "tests/test_serve.py, tests/test_serve_limits.py",
    "harness world build": "CI (the setup command); tests/test_world.py (test preset)",
    "harness world abilities": "tests/test_world.py",
    "harness world path": "tests/test_world_path.py",
    "harness int": "tests/test_intervention_pipeline.py",
    "harness report": "tests/test_reports.py",
    "harness plot": "tests/test_reports_figures.py",
    "harness ecosystem import": "tests/test_ecosystem_cli.py",
    "harness ecosystem lm-eval-tasks": "tests/test_ecosystem_cli.py",
    "harness ecosystem lm-eval-path|lm-eval-tasks|import": "the three above",
    "harness ablate": "tests/test_ablate.py (every study end to end on the test world, and --dry-run on configs/paper.yaml)",
}
CHEAP = [
    "harness -h",
    "harness --version",
    "harness tasks list",
    "harness tasks show imo-answerbench --version v1",
    "harness recipes",
    "harness trainers list",
    "harness ecosystem lm-eval-path",
    "harness compare int rl-baseline --config configs/paper.yaml --dry-run",
]


def readme_commands() -> list[str]:
    """Every `harness ...` command line README shows (code blocks and inline code)."""
    found = re.findall(r"(?m)^(?:\.venv/bin/)?(harness [^#\n]*?)\s*(?:#.*)?$", README)
    found += re.findall(r"`(harness [^`]+)`", README)
    for chain in re.findall(r"(?m)^python3 -m venv.*$", README):
        found += [c.strip().removeprefix(".venv/bin/") for c in chain.split("&&") if "harness " in c]
    return sorted({c.strip() for c in found})


def _key(command: str) -> str | None:
    for key in sorted(COVERED, key=len, reverse=True):
        if command == key or command.startswith(key + " "):
            return key
    return None


def test_every_readme_command_is_executed_somewhere():
    commands = readme_commands()
    assert "harness compare int rl-baseline --match-compute" in commands  # the setup command's main job is found
    missing = [c for c in commands if _key(c) is None]
    assert not missing, f"README shows commands no test runs: {missing}"


@pytest.mark.usefixtures("data_dir")
@pytest.mark.parametrize("command", CHEAP)
def test_cheap_readme_commands_run_verbatim(command):
    assert command in README, f"{command!r} is no longer in README; update CHEAP"
    args = shlex.split(command)[1:]
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (proc.stdout + proc.stderr).strip()
