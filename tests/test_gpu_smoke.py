"""The GPU smoke script's CPU parts run in CI: every stage that a CPU can run (generation, TRL SFT and GRPO, a
compare with isolated steps, the long-context proposer budgets on the real SmolLM2 model) completes and reports
its results; the GPU-only stages (vLLM with a chat template, TRL's colocated vLLM with sleep mode) say they
were skipped, and the TRL arguments of the colocate stage are TRL's own names."""

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
    assert set(stages) == {"generate", "sft", "grpo", "compare", "vllm_chat", "trl_vllm_colocate", "long_context"}
    assert stages["generate"]["samples"] > 0 and stages["sft"]["steps"] == 2 and stages["grpo"]["steps"] == 2
    assert stages["compare"]["arms"] >= 2
    assert "needs CUDA" in stages["vllm_chat"]["skipped"] and "needs CUDA" in stages["trl_vllm_colocate"]["skipped"]
    long = stages["long_context"]  # SmolLM2's 8,192-token window: a 3-window attempt cut, generation shortened
    assert long["window"] == 8192 and long["prompt_tokens_full"] > 2 * long["window"]
    assert long["prompt_tokens"] + long["max_tokens"] == long["window"] and long["completion_tokens"] > 0


def test_the_colocate_stage_uses_trls_own_argument_names(tmp_path):
    import dataclasses
    import importlib.util

    import trl

    from trainers.trl_backend import TRLTrainer

    spec = importlib.util.spec_from_file_location("gpu_smoke", ROOT / "benchmarks" / "gpu_smoke.py")
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    kwargs = TRLTrainer().grpo_kwargs(smoke.smoke_colocate_config(), tmp_path, max_prompt_tokens=100)
    names = {f.name for f in dataclasses.fields(trl.GRPOConfig)}
    assert set(kwargs) <= names, set(kwargs) - names  # a renamed TRL field would be silently ignored otherwise
    assert kwargs["use_vllm"] and kwargs["vllm_mode"] == "colocate" and kwargs["vllm_enable_sleep_mode"] is True
    assert kwargs["vllm_max_model_length"] == 100 + 64 and kwargs["vllm_gpu_memory_utilization"] == 0.3


def test_gpu_smoke_refuses_cuda_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the refusal path does not apply")
    proc = subprocess.run([sys.executable, "benchmarks/gpu_smoke.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--device cpu" in proc.stderr
