"""A restarted training stage starts a fresh neutral log; the killed attempt's rows are set aside, never
mixed in (issue 12 item 5). The slow test kills a real TRL run (`harness trainers sft`) mid-training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trainers_support as ts

from harness.rundir import read_jsonl
from trainers.trainlog import LOG_NAME, TrainLogWriter, read_train_log


def test_restart_replaces_the_dead_attempts_rows(tmp_path: Path) -> None:
    dead = TrainLogWriter(tmp_path, "rl")
    for step in (1, 2, 3):
        dead.write(step, reward_mean=0.1)
    with open(tmp_path / LOG_NAME, "a", encoding="utf-8") as fh:
        fh.write('{"step": 4, "stage": "rl", "rew')  # killed mid-append
    restart = TrainLogWriter(tmp_path, "rl")
    for step in range(1, 6):
        restart.write(step, reward_mean=0.9)
    rows = read_train_log(tmp_path)
    assert [(r.step, r.reward_mean) for r in rows] == [(s, 0.9) for s in range(1, 6)]
    assert restart.archived == tmp_path / "train_log.attempt-1.jsonl"
    assert [r["reward_mean"] for r in read_jsonl(restart.archived)] == [0.1] * 3
    again = TrainLogWriter(tmp_path, "rl")  # a second restart gets its own archive
    assert again.archived == tmp_path / "train_log.attempt-2.jsonl" and not read_train_log(tmp_path)


def test_other_stages_rows_stay(tmp_path: Path) -> None:
    sft = TrainLogWriter(tmp_path, "sft")
    sft.write(1, loss=2.0)
    TrainLogWriter(tmp_path, "rl").write(1, reward_mean=0.5)
    assert TrainLogWriter(tmp_path, "rl").archived is not None
    assert [(r.stage, r.step) for r in read_train_log(tmp_path)] == [("sft", 1)]
    assert TrainLogWriter(tmp_path / "fresh", "rl").archived is None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_killed_trl_run_then_a_restart_logs_only_the_restart(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    data = ts.write_sft(AutoTokenizer.from_pretrained(tiny_model_dir), tmp_path / "sft.jsonl", n=8)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def run(lr: str, steps: int) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "harness.cli", "trainers", "sft", "--model", str(tiny_model_dir),
               "--data", str(data), "--out", str(out), "--preset", "embedded",
               "--set", f"max_steps={steps}", "--set", "effective_batch_size=2", "--set", "per_device_batch_size=2",
               "--set", "logging_steps=1", "--set", f"learning_rate={lr}"]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    dead = run("1e-3", 4000)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and dead.poll() is None:
        if (out / LOG_NAME).exists() and len(read_train_log(out)) >= 3:
            break
        time.sleep(0.2)
    assert dead.poll() is None, dead.stderr.read() if dead.stderr else ""
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    dead_rows = read_train_log(out)
    assert len(dead_rows) >= 3 and {r.learning_rate for r in dead_rows} != {None}

    restart = run("2e-3", 3)
    _, err = restart.communicate(timeout=600)
    assert restart.returncode == 0, err[-3000:]
    rows = read_train_log(out)
    assert [r.step for r in rows] == [1, 2, 3]
    # The killed run was still warming up towards 1e-3 (over 400 steps: every row it wrote is below 1e-3,
    # however many it got through before the kill); the restart peaks at 2e-3 within 3 steps: its rows,
    # not the killed run's, are what the log holds.
    assert max(r.learning_rate or 0 for r in dead_rows) < 1e-3
    assert max(r.learning_rate or 0 for r in rows) > 1e-3
    archived = read_jsonl(out / "train_log.attempt-1.jsonl")
    assert [(r["step"], r["learning_rate"]) for r in archived] == [(r.step, r.learning_rate) for r in dead_rows]
