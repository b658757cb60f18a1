"""One writer per run folder (issue 22 item 1): a second process is refused in one line naming the first; a
lock left by a killed process is taken over; the killed invocation's generations still count; a cached
comparison step is verified before it is reused. Real processes throughout (``harness eval`` subprocesses,
a lock holder killed with SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.dirlock import LOCK_NAME, FolderBusy, acquire, folder_lock, holder_of

pytestmark = pytest.mark.usefixtures("data_dir")

ROOT = Path(__file__).resolve().parents[1]
HARNESS = [sys.executable, "-m", "harness.cli"]


def _hold(folder: Path) -> subprocess.Popen:
    """A separate process that locks ``folder`` and sleeps; returns once the lock is held."""
    code = textwrap.dedent(f"""
        import sys, time
        from harness.dirlock import acquire
        acquire({str(folder)!r}, what="test folder")
        print("held", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.stdout.close()
    return proc


def _wait(predicate, what: str, timeout: float = 300.0, every: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def test_a_held_folder_is_refused_naming_the_holder_and_a_killed_holder_is_taken_over(tmp_path, caplog):
    folder = tmp_path / "run"
    holder = _hold(folder)
    try:
        with pytest.raises(FolderBusy) as err:
            acquire(folder)
        message = str(err.value)
        assert "\n" not in message and f"pid {holder.pid}" in message and str(folder) in message
        assert holder_of(folder)["pid"] == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)  # no cleanup runs: the lock file stays, the kernel drops the flock
        holder.wait()
    assert (folder / LOCK_NAME).exists() and holder_of(folder)["pid"] == holder.pid  # stale, left behind
    with caplog.at_level("WARNING", logger="harness.dirlock"), folder_lock(folder):
        assert holder_of(folder)["pid"] == os.getpid()
        assert f"pid {holder.pid}" in caplog.text and "taking over" in caplog.text
        with folder_lock(folder):  # re-entrant within one process
            pass
        assert holder_of(folder)["pid"] == os.getpid()
    assert not (folder / LOCK_NAME).exists()  # released: the lock file is removed
    with folder_lock(tmp_path / "new" / "run"):
        pass
    assert not (tmp_path / "new").exists()  # created for the lock and left empty: removed again


def _eval_cmd(out: Path, *extra: str) -> list[str]:
    return [*HARNESS, "eval", "--model", "world:test", "--task", "world", "--limit", "8", "-k", "2",
            "--max-tokens", "48", "--batch-problems", "1", "--no-progress", "--out", str(out), *extra]


def _records(out: Path) -> list[dict]:
    (path,) = out.glob("*/samples.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_two_eval_processes_on_one_folder(tmp_path, world_model):
    """Two real `harness eval` processes on the same --out: the second is refused in one line naming the
    first, which finishes with exactly k samples per problem (before: both exited 0 with every record twice)."""
    out = tmp_path / "ev"
    first = subprocess.Popen(_eval_cmd(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(lambda: (holder_of(out) or {}).get("pid") == first.pid, "the first eval to lock its folder")
        first.send_signal(signal.SIGSTOP)  # frozen while holding the lock: the second surely overlaps it
        second = subprocess.run(_eval_cmd(out), cwd=ROOT, capture_output=True, text=True, timeout=600)
        first.send_signal(signal.SIGCONT)
        assert second.returncode == 1, second.stdout + second.stderr
        lines = [line for line in (second.stdout + second.stderr).splitlines() if line.strip()]
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "in use" in lines[0], lines
        assert first.wait(timeout=600) == 0, first.stdout.read()
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    records = _records(out)
    keys = {(r["problem_id"], r["sample_index"]) for r in records}
    assert len(records) == len(keys) == 16
    results = json.loads((out / "results.json").read_text())
    (task,) = results["tasks"].values()
    assert task["metrics"]["samples_per_problem"] == 2 and task["counts"]["samples"] == 16
    assert not (out / LOCK_NAME).exists()


def test_a_killed_eval_is_taken_over_and_its_generations_are_counted(tmp_path, world_model):
    """kill -9 mid-run: the next run takes over the stale lock, and run_stats_total counts the killed
    invocation's generations too (before: only the resumed invocation's)."""
    out = tmp_path / "ev"
    victim = subprocess.Popen(_eval_cmd(out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        samples = out / "world@default" / "samples.jsonl"
        _wait(lambda: samples.exists() and samples.read_text().count("\n") >= 2, "the first records")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    finally:
        victim.kill()
    written = len(_records(out))
    assert 2 <= written < 16, written
    assert holder_of(out)["pid"] == victim.pid  # the killed process's lock file is still there
    resumed = subprocess.run(_eval_cmd(out), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "taking over" in resumed.stdout + resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    statuses = [inv["status"] for inv in manifest["invocations"]]
    assert statuses == ["killed", "complete"], statuses
    assert manifest["invocations"][0]["new_generations"] == written
    assert manifest["run_stats_total"]["new_generations"] == 16 == len(_records(out))
    results = json.loads((out / "results.json").read_text())
    assert results["run_stats_total"]["new_generations"] == 16


def test_int_stage_and_comparison_folders_refuse_a_second_writer(tmp_path, world_model):
    """Every InT stage folder and the comparison folder: a second process is refused, naming the holder."""
    run = tmp_path / "int"
    holder = _hold(run / "rollout")
    try:
        proc = subprocess.run([*HARNESS, "int", "rollout", "--preset", "world", "--model", "world:test", "--run-dir",
                               str(run), "--limit", "2", "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
    finally:
        holder.kill()
        holder.wait()
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and f"pid {holder.pid}" in lines[0], lines

    from harness.compare.run import run_compare

    out = tmp_path / "cmp"
    holder = _hold(out)
    try:
        with pytest.raises(FolderBusy, match=f"pid {holder.pid}"):
            run_compare(["rl-baseline"], _config(out), show_progress=False)
    finally:
        holder.kill()
        holder.wait()


def _config(out: Path, **overrides):
    """tests/test_compare.py's tiny comparison, inline (steps in this process), with ``overrides``."""
    import yaml
    from test_compare import TINY_YAML

    from harness.compare.config import CompareConfig

    return CompareConfig(**{**yaml.safe_load(TINY_YAML), "out": str(out), "isolation": "inline", **overrides})


@pytest.mark.slow
def test_a_damaged_cached_step_is_never_reused(tmp_path, world_model):
    """A cached evaluation whose records were doubled (two writers) and an RL step whose train log repeats
    its steps: the next run stops with one line naming the folder, instead of reporting them "cached"."""
    from harness.compare.run import run_compare
    from harness.compare.verify import CachedStepDamaged

    out = tmp_path / "cmp"
    cfg = _config(out, include_base=False, reported=False, rl={"max_steps": 1},
                  eval={"tasks": ["world"], "split": "test", "per_category": 1, "samples": 2, "sampling": {"max_tokens": 48}})
    run_compare(["rl-baseline"], cfg, show_progress=False)
    run_compare(["rl-baseline"], cfg, show_progress=False)  # intact: reused as cached
    (evaluation,) = [d for d in (out / "cache").glob("eval-*")]
    samples = next(evaluation.glob("*/samples.jsonl"))
    intact = samples.read_text()
    samples.write_text(intact + intact.splitlines()[0] + "\n")  # what a second writer appends
    with pytest.raises(CachedStepDamaged, match="duplicate record") as err:
        run_compare(["rl-baseline"], cfg, show_progress=False)
    assert str(evaluation) in str(err.value) and "remove the folder" in str(err.value)
    samples.write_text(intact)
    (rl,) = [d for d in (out / "cache").glob("rl-*")]
    log = rl / "train_log.jsonl"
    rows = log.read_text().splitlines()
    log.write_text("\n".join([rows[0], *rows]) + "\n")  # steps 1, 1: the same step trained twice
    with pytest.raises(CachedStepDamaged, match="duplicate record"):
        run_compare(["rl-baseline"], cfg, show_progress=False)


def test_a_filesystem_without_flock_runs_unlocked_with_a_warning(tmp_path, monkeypatch, caplog):
    """Some network and FUSE mounts refuse flock (ENOLCK): the run goes on, saying it is not guarded,
    rather than refusing to run at all."""
    import errno

    import harness.dirlock as dirlock

    def refuse(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(dirlock.fcntl, "flock", refuse)
    with caplog.at_level("WARNING", logger="harness.dirlock"), folder_lock(tmp_path / "run"):
        assert "not locked against a second writer" in caplog.text and "No locks available" in caplog.text
        (tmp_path / "run" / "results.json").write_text("{}")
    assert (tmp_path / "run" / "results.json").exists()
