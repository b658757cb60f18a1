"""The GPU smoke script's CPU parts run in CI: every stage (generation, TRL SFT and GRPO, a compare with
isolated steps) completes on the world test model and reports its results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.usefixtures("data_dir")
def test_gpu_smoke_cpu_parts(tmp_path):
    out = tmp_path / "smoke.json"
    proc = subprocess.run([sys.executable, "benchmarks/gpu_smoke.py", "--device", "cpu", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    stages = json.loads(out.read_text())["stages"]
    assert set(stages) == {"generate", "sft", "grpo", "compare"}
    assert stages["generate"]["samples"] > 0 and stages["sft"]["steps"] == 2 and stages["grpo"]["steps"] == 2
    assert stages["compare"]["arms"] >= 2


def test_gpu_smoke_refuses_cuda_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the refusal path does not apply")
    proc = subprocess.run([sys.executable, "benchmarks/gpu_smoke.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--device cpu" in proc.stderr
