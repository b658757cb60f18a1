"""`sft_data_stats`: NLL and entropy of the *trained* tokens of SFT rows under a model, checked against a
direct full-logits computation on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.intervention.build_sft import encode_example
from harness.rundir import write_jsonl
from reports.stats_nll import sft_data_stats

MESSAGES = [[{"role": "user", "content": f"Compute {a} + {b}."}] for a, b in ((2, 3), (7, 4), (10, 5))]


def _rows(tok, target: str) -> list[dict]:
    rows = []
    for i, msgs in enumerate(MESSAGES):
        ex = encode_example(tok, msgs, "We add the numbers.\n\n", target)
        ex.pop("_chat_prompt")
        rows.append({"id": f"r{i}", "problem_id": f"p{i}", **ex})
    return rows


def _reference(model_dir: Path, rows: list[dict]) -> tuple[float, float, int]:
    """Mean over rows of per-token NLL / entropy on loss-masked positions, from the full logits."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    nlls, ents, n = [], [], 0
    for r in rows:
        ids = torch.tensor([r["input_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].float(), -1)
        pos = [i for i in range(1, len(r["input_ids"])) if r["loss_mask"][i]]
        nll = [-logp[i - 1, r["input_ids"][i]].item() for i in pos]
        ent = [-(logp[i - 1].exp() * logp[i - 1]).sum().item() for i in pos]
        nlls.append(sum(nll) / len(nll))
        ents.append(sum(ent) / len(ent))
        n += len(pos)
    return sum(nlls) / len(nlls), sum(ents) / len(ents), n


def test_sft_data_stats_matches_full_logits(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = _rows(tok, "Then 2 + 3 = 5, so the answer is \\boxed{5}.")
    data = write_jsonl(tmp_path / "int" / "sft.jsonl", rows)
    stats = sft_data_stats(tiny_model_dir, data, n_boot=200)
    nll, ent, n = _reference(tiny_model_dir, rows)
    assert stats["nll_mean"] == pytest.approx(nll, rel=1e-4)
    assert stats["entropy_mean"] == pytest.approx(ent, rel=1e-4)
    assert stats["tokens"] == n == sum(sum(r["loss_mask"]) for r in rows)
    assert stats["rows"] == 3 and stats["source"] == "int"
    assert stats["nll_ci95"][0] <= stats["nll_mean"] <= stats["nll_ci95"][1]
    assert stats["nll_token_mean"] > 0 and len(stats["data_sha256"]) == 16
    json.dumps(stats)  # what the orchestrator saves


def test_sft_data_stats_scores_only_the_loss_mask(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = _rows(tok, "Then the answer is \\boxed{5}.")
    full = sft_data_stats(tiny_model_dir, write_jsonl(tmp_path / "a.jsonl", rows), source="a", n_boot=200)
    for r in rows:  # train on the last 3 tokens only
        r["loss_mask"] = [0] * (len(r["loss_mask"]) - 3) + [1, 1, 1]
    part = sft_data_stats(tiny_model_dir, write_jsonl(tmp_path / "b.jsonl", rows), source="b", n_boot=200)
    assert part["tokens"] == 9 and full["tokens"] > 9
    assert part["nll_mean"] != pytest.approx(full["nll_mean"])
    few = sft_data_stats(tiny_model_dir, tmp_path / "a.jsonl", max_rows=2, max_length=10_000, n_boot=200)
    assert few["rows"] == 2 and few["rows_dropped_too_long"] == 0
