"""The preflight's arithmetic against published figures, the paper plan on one H200, a plan that cannot
fit, and trainer settings derived from the config's context length."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.compare.preflight import (
    GiB,
    ModelShape,
    activation_bytes,
    kv_fit,
    logits_bytes,
    logits_grad_bytes,
    training_memory,
    training_state_bytes,
    weight_copy_bytes,
)

ROOT = Path(__file__).resolve().parents[1]
QWEN3_4B = ModelShape(params=4.02e9, layers=36, hidden=2560, kv_heads=8, head_dim=128, vocab=151936)


def test_model_states_match_the_zero_paper():
    # ZeRO (Rajbhandari et al. 2020) §3.1: mixed-precision Adam keeps 16 bytes per parameter, so a 1.5B-parameter
    # GPT-2 "requires at least 24 GB of memory" for its model states.
    assert training_state_bytes(1.5e9) == pytest.approx(24e9)
    assert training_state_bytes(1.5e9, master_fp32=False) == pytest.approx(12e9)
    # a 4B model with fp32 AdamW state: the ~60 GiB the issue estimates, before activations
    assert training_state_bytes(QWEN3_4B.params) / GiB == pytest.approx(59.9, abs=0.1)


def test_kv_cache_per_token_matches_pagedattention():
    # PagedAttention (Kwon et al. 2023) §3: "for OPT-13B, the KV cache of a single token demands 800 KB of space,
    # calculated as 2 (key and value vectors) x 5120 (hidden state size) x 40 (number of layers) x 2 (bytes per FP16)".
    opt13b = ModelShape(params=13e9, layers=40, hidden=5120, kv_heads=40, head_dim=128, vocab=50272)
    assert opt13b.kv_bytes_per_token() == 2 * 5120 * 40 * 2 == 819_200


def test_qwen3_4b_full_context_does_not_fit_a_colocated_engine_but_its_budget_does():
    # TRL's colocated vLLM at its default 0.3 of a 141 GB GPU: the model's 262,144 positions do not fit ...
    room, need = kv_fit(QWEN3_4B, 141 * GiB, 0.3, 262_144)
    assert need > room
    # ... one 16K-token completion after a 2K prompt does.
    room, need = kv_fit(QWEN3_4B, 141 * GiB, 0.3, 18_432)
    assert need < room


def test_logits_and_activations_scale_with_the_micro_batch():
    assert logits_bytes(8, 18_432, 151_936) == 8 * logits_bytes(1, 18_432, 151_936)
    assert logits_bytes(8, 18_432, 151_936) / GiB > 100  # the "tens of GB of logits" at micro-batch 8
    assert activation_bytes(QWEN3_4B, 1, 16_384, True) < activation_bytes(QWEN3_4B, 1, 16_384, False) / 10


def test_the_backward_logits_and_bf16_weight_copies_are_counted():
    # the gradient of one 18K-token sequence's logits over Qwen3's 152K vocabulary, in bf16: ~5 GiB
    assert logits_grad_bytes(1, 18_432, 151_936) / GiB == pytest.approx(5.2, abs=0.1)
    assert weight_copy_bytes(QWEN3_4B.params) / GiB == pytest.approx(7.5, abs=0.1)  # autocast's bf16 casts
    gpu = training_memory(QWEN3_4B, {}, 1, 18_432, gpu=True)
    assert {"bf16 weight copies (autocast)", "logits gradient (backward)"} <= set(gpu)
    # a CPU run: float32 activations and logits (twice the bytes), no autocast copies, no checkpointing, the process
    cpu = training_memory(QWEN3_4B, {}, 1, 2_048, gpu=False, baseline_bytes=0.4 * GiB)
    assert "bf16 weight copies (autocast)" not in cpu and cpu["process baseline (libraries)"] == 0.4 * GiB
    assert cpu["activations"] == activation_bytes(QWEN3_4B, 1, 2_048, False, 4) == 2 * activation_bytes(QWEN3_4B, 1, 2_048, False)
    assert cpu["logits gradient (backward)"] == 2 * logits_grad_bytes(1, 2_048, 151_936)


def _dry_run(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "compare", "int", "rl-baseline", "--config", str(config),
                           "--dry-run"], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.usefixtures("data_dir")
def test_the_paper_plan_fits_one_h200_and_a_24gb_gpu_does_not(tmp_path):
    ok = _dry_run(ROOT / "configs" / "paper.yaml")
    assert ok.returncode == 0, ok.stderr[-2000:]
    out = " ".join(ok.stderr.split())
    for text in ("Preflight", "int: rollout", "int: continue", "sft", "rl", "GPU-hours", "held out", "overlap",
                 "throughput ASSUMED", "assumed throughput: 15,000 generated", "assumed, not measured", "assumed: expected_failure_rate"):
        assert text in out, text
    small = tmp_path / "paper-24gb.yaml"
    small.write_text((ROOT / "configs" / "paper.yaml").read_text().replace("device_memory_gib: 141", "device_memory_gib: 24"))
    bad = _dry_run(small)
    assert bad.returncode != 0
    last = " ".join(bad.stderr.strip().splitlines()[-4:])
    assert "does not fit" in last and "stage sft" in last and "model states" in last and "ZeRO-3" in last


def test_trl_settings_derive_from_the_config_context(tmp_path):
    from trainers.presets import get_config
    from trainers.trl_backend import TRLTrainer

    config = get_config("paper", "rl", max_new_tokens=4096)
    args = TRLTrainer().grpo_args(config, tmp_path, max_prompt_tokens=1000)
    assert args.vllm_max_model_length == 1000 + 4096
    assert args.per_device_train_batch_size == 1 and args.model_init_kwargs == {"dtype": "float32"}
    explicit = TRLTrainer().grpo_args(get_config("paper", "rl", vllm_max_model_length=9000), tmp_path, max_prompt_tokens=1000)
    assert explicit.vllm_max_model_length == 9000


@pytest.mark.usefixtures("data_dir")
def test_another_proposers_memory_is_estimated_at_its_own_shape(tmp_path, monkeypatch, capsys):
    """The proposer ablation loads another model for the proposer's turns: the preflight checks *its* weights and
    KV cache (a 200B dense proposer cannot fit the H200 the 4B policy fits), and says so when its shape is unknown."""
    from cli_support import run_main

    big = "example/dense-200b"
    cfg = tmp_path / "paper-big-proposer.yaml"
    cfg.write_text((ROOT / "configs" / "paper.yaml").read_text().replace(
        "  models:\n", f"  models:\n    {big}: {{params: 2.0e11, layers: 96, hidden: 12288, kv_heads: 8, head_dim: 128, vocab: 151936}}\n", 1))
    code, output = run_main(["ablate", "proposer", "--config", cfg, "--out", tmp_path / "o", "--dry-run", "--proposer-model", big],
                            monkeypatch, capsys)
    text = " ".join(output.split())
    assert code != 0 and "DOES NOT FIT (int-proposer-dense-200b int: propose)" in text, output[-3000:]
    code, output = run_main(["ablate", "proposer", "--config", ROOT / "configs" / "paper.yaml", "--out", tmp_path / "o",
                             "--dry-run", "--proposer-model", "example/not-declared-anywhere"], monkeypatch, capsys)
    text = " ".join(output.split())
    assert code == 0 and "proposed by example/not-declared-anywhere (its shape unknown here" in text, output[-3000:]
