"""User errors on the real console entry point (`harness.cli.main`, what the `harness` script runs):
one line naming the field or file, a non-zero exit, no traceback, and no run folder left behind.

Issue 11 listed each case below as a 135-324 line traceback, a raw pydantic dump, or a folder left
behind. `typer.testing.CliRunner` would bypass `main()`'s error handling, so the tests call `main()`
with a patched ``sys.argv`` (and one case runs the installed script in a subprocess). Output is read at
80 columns, as in a CI log: a message rich wraps onto two lines is not one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import output_lines, run_main

pytestmark = pytest.mark.usefixtures("data_dir")

BAD_YAML = "model: [a\n  b: :\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory: the default run folder (runs/...) would appear here."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "bad.yaml").write_text(BAD_YAML)
    return work


# (case id, argv with {model} for the tiny model, text the one error line must contain)
FAILING = [
    ("missing-abs-path", ["eval", "--model", "/nonexistent/model", "--task", "aime25", "--limit", "1"], "/nonexistent/model"),
    ("missing-rel-path", ["eval", "--model", "./my-model", "--task", "aime25", "--limit", "1"], "./my-model"),
    ("offline-hub-id", ["eval", "--model", "no-such-org/no-such-model", "--task", "aime25", "--limit", "1"], "no-such-org/no-such-model"),
    ("eval-invalid-yaml", ["eval", "--config", "bad.yaml"], "bad.yaml"),
    ("compare-invalid-yaml", ["compare", "int", "rl-baseline", "--config", "bad.yaml"], "bad.yaml"),
    ("samples-0", ["eval", "--model", "{model}", "--task", "aime25", "--samples", "0"], "samples"),
    ("temperature-negative", ["eval", "--model", "{model}", "--task", "aime25", "--temperature", "-1"], "temperature"),
    ("unknown-task", ["eval", "--model", "{model}", "--task", "aime2025"], "aime2025"),
    ("unknown-backend", ["eval", "--model", "{model}", "--task", "aime25", "--backend", "vlm"], "vlm"),
    ("unknown-version", ["eval", "--model", "{model}", "--task", "aime25@v3"], "v3"),
]


@pytest.mark.parametrize(("args", "names"), [pytest.param(a, n, id=i) for i, a, n in FAILING])
def test_user_error_is_one_line_and_leaves_no_folder(args, names, workdir, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, output = run_main([a.format(model=tiny_model_dir) for a in args], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert names in lines[0], output
    assert sorted(p.name for p in workdir.iterdir()) == ["bad.yaml"]  # no runs/ folder, nothing else


@pytest.mark.parametrize("case", ["no-out", "tasks-as-a-string"])
def test_config_shorthands_work(case, workdir, tiny_model_dir, monkeypatch, capsys):
    """A config without ``out:`` runs into the default folder; ``tasks: aime25`` means ``[aime25]``."""
    tasks = "tasks: aime25" if case == "tasks-as-a-string" else "tasks: [aime25]"
    (workdir / "c.yaml").write_text(
        f"model: {tiny_model_dir}\n{tasks}\nsamples: 1\nlimit: 1\ngrader_workers: 0\nsampling:\n  max_tokens: 4\n"
    )
    code, output = run_main(["eval", "--config", "c.yaml", "--no-progress"], monkeypatch, capsys)
    assert code == 0, output
    (folder,) = (workdir / "runs").iterdir()
    assert folder.name.startswith("eval-") and folder.name.endswith("-aime25") and ":" not in folder.name
    assert (folder / "results.json").exists()


def test_installed_script_prints_one_line(workdir):
    """The `harness` console script itself (entry point -> main), offline, an unknown hub id."""
    exe = Path(sys.executable).parent / "harness"
    assert exe.exists(), "the harness console script is not installed (pip install -e .)"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "80", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [str(exe), "eval", "--model", "no-such-org/no-such-model", "--task", "aime25", "--limit", "1"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    lines = output_lines(proc.stdout + proc.stderr)
    assert proc.returncode == 1 and len(lines) == 1 and "no-such-org/no-such-model" in lines[0], proc.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["bad.yaml"]


def test_interrupt_says_how_to_resume(workdir, tiny_model_dir, monkeypatch, capsys):
    """Ctrl-C: exit 130 with one line saying that finished work is kept (typer would exit silently)."""
    import harness.evaluate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.evaluate, "sample_and_grade", interrupted)
    # a budget that fits the tiny model's context: the budget is checked before sampling starts
    code, output = run_main(["eval", "--model", tiny_model_dir, "--task", "aime25", "--limit", "1", "--out", "r",
                             "--max-tokens", "16"], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 130 and len(lines) == 1 and "interrupted" in lines[0] and "resume" in lines[0], output


def test_int_stage_before_its_input_is_one_line(workdir, world_model, monkeypatch, capsys):
    """`harness int propose` before `rollout` (StageNotReady) says which command to run, in one line."""
    from harness.intervention.config import preset

    preset("world", "r", {"policy.model": str(world_model)}).save()
    for stage, first in (("propose", "rollout"), ("continue", "propose"), ("build-sft", "propose")):
        code, output = run_main(["int", stage, "--run-dir", "r"], monkeypatch, capsys)
        lines = output_lines(output)
        assert code == 1 and len(lines) == 1 and f"harness int {first}" in lines[0], output


def test_missing_data_prints_where_it_looked_and_how_to_fix(workdir, tiny_model_dir, monkeypatch, capsys):
    """A missing benchmark file: the error names the task, then every place tried and how to provide it (README's
    promise) -- not only the first line. Still no traceback and no run folder."""
    empty = workdir / "empty-data"
    empty.mkdir()
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(workdir / "empty-cache"))
    code, output = run_main(["eval", "--model", tiny_model_dir, "--task", "aime25", "--data-dir", empty], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and lines[0].startswith("error: Could not find data for task 'aime25'"), output
    assert "Tried:" in lines and "To fix:" in lines, output
    tried = lines[lines.index("Tried:") + 1 : lines.index("To fix:")]
    assert [t.split(".")[0].strip() for t in tried] == ["1", "2", "3"], tried
    assert str(empty) in tried[0] and "empty-cache" in tried[1] and "HARNESS_OFFLINE" in tried[2]
    assert any("--data-dir DATA_DIR" in line for line in lines[lines.index("To fix:") + 1 :]), output
    assert "Traceback" not in output
    assert sorted(p.name for p in workdir.iterdir()) == ["bad.yaml", "empty-data"]


def test_model_args_parse_typed_like_lm_eval():
    """`-M` takes lm-eval's key=value,... (repeatable), typed; an unknown key fails in one line, naming the options."""
    from harness.cli import parse_model_args

    assert parse_model_args(["dtype=bfloat16,batch_size=32", "trust_remote_code=true", "device=none, x=0.5"]) == {
        "dtype": "bfloat16", "batch_size": 32, "trust_remote_code": True, "device": None, "x": 0.5}


def test_model_args_on_the_command_line(workdir, tiny_model_dir, monkeypatch, capsys):
    args = ["eval", "--model", tiny_model_dir, "--task", "aime25", "--limit", "1", "--samples", "1", "--max-tokens", "4",
            "--no-progress", "--out", "r"]  # fmt: skip
    code, output = run_main([*args, "-M", "batch_size=2,dtype=float32", "-M", "device=cpu"], monkeypatch, capsys)
    assert code == 0, output
    import json

    manifest = json.loads((workdir / "r" / "manifest.json").read_text())
    assert manifest["config"]["backend_options"] == {"batch_size": 2, "dtype": "float32", "device": "cpu"}, manifest["config"]
    code, output = run_main([*args[:-2], "--out", "r2", "-M", "batch_sise=2"], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1 and "batch_sise" in lines[0] and "batch_size" in lines[0], output
    code, output = run_main([*args[:-2], "--out", "r3", "-M", "batch_size"], monkeypatch, capsys)
    assert code == 2 and "is not key=value" in output, output
    assert not (workdir / "r2").exists() and not (workdir / "r3").exists()
