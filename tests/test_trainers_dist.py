"""Accounting across processes: 2 CPU processes (torch.distributed, gloo) train the same GRPO run as 1 process;
the generated and trained token totals match the 1-process run's, and the compute-matching budget stops both
ranks at the same step -- the step the 1-process run stops at. Real TRL steps on the tiny model, real
subprocesses (`tests/dist_rl_support.py` under ``torch.distributed.run``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trainers_support as ts

ROOT = Path(__file__).resolve().parents[1]
TOKENS_PER_STEP = 4 * 4 * 8  # prompts x group x max_new_tokens (every completion is exactly 8 tokens)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(procs: int, model: Path, problems: Path, out: Path, budget: int, max_steps: int) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(ROOT / "tests" / "dist_rl_support.py"),
           str(model), str(problems), str(out), str(budget), str(max_steps)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return [json.loads((out / f"rank-{r}.json").read_text()) for r in range(procs)]


@pytest.mark.slow
def test_two_processes_count_every_rank_and_stop_together(tiny_model_dir: Path, tmp_path: Path) -> None:
    problems = ts.write_rl(tmp_path / "rl.jsonl")  # 4 problems: every step uses all of them
    budget = TOKENS_PER_STEP + TOKENS_PER_STEP // 2  # reached during step 2
    one = _launch(1, tiny_model_dir, problems, tmp_path / "one", budget, max_steps=4)
    two = _launch(2, tiny_model_dir, problems, tmp_path / "two", budget, max_steps=4)

    assert one[0]["global_step"] == 2 and one[0]["tokens_generated"] == 2 * TOKENS_PER_STEP
    # each rank generated half, yet both report the total, and both stopped at the 1-process run's step
    assert sorted(r["local_tokens_generated"] for r in two) == [TOKENS_PER_STEP, TOKENS_PER_STEP]
    assert [r["global_step"] for r in two] == [2, 2]
    assert [r["tokens_generated"] for r in two] == [2 * TOKENS_PER_STEP] * 2
    assert [r["tokens_trained"] for r in two] == [one[0]["tokens_trained"]] * 2  # TRL's gathered count: same total
    assert [r["samples_graded"] for r in two] == [one[0]["samples_graded"]] * 2 == [2 * 16] * 2
    # the neutral log (written by rank 0 only) carries the totals
    rows = [json.loads(x) for x in (tmp_path / "two" / "train_log.jsonl").read_text().splitlines()]
    assert [r["tokens_generated"] for r in rows] == [TOKENS_PER_STEP, 2 * TOKENS_PER_STEP]
