"""How on-policy is an SFT dataset? Per-token NLL and predictive entropy of its trained tokens under a model.

Why: the paper's argument for InT (int-paper.md §4.5, Figs. 8-9) is that prefix + intervention targets
are likely under the base model (low NLL) and keep its entropy, while reference solutions are far
off-policy. Measuring it on exactly the tokens the trainer trains on -- the ``loss_mask`` of the
trainer-neutral rows -- makes the number comparable across data sources.

Conventions: a row's NLL is the mean over its trained tokens of ``-log p(token | everything before)``;
``nll_mean`` averages rows equally (what the bootstrap CI over rows describes) and ``nll_token_mean``
pools all tokens. Entropy is that of the model's next-token distribution at the same positions (nats).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from harness.metrics import bootstrap_ci
from trainers.data import drop_long, load_sft_rows

CHUNK = 1024  # positions projected through the LM head at once (bounds memory at vocab x CHUNK floats)


def _token_stats(model: Any, ids: list[int], mask: list[int]) -> tuple[list[float], list[float]]:
    """NLL and entropy at every trained position of one row (position i is predicted from i-1)."""
    import torch

    device = next(model.parameters()).device
    x = torch.tensor([ids], device=device)
    positions = torch.tensor([i - 1 for i in range(1, len(ids)) if mask[i]], device=device)
    targets = x[0, positions + 1]
    cfg = model.config
    post_processed = getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None)
    nll, ent = [], []
    with torch.no_grad():
        if post_processed:  # the head does more than a projection: take the model's own logits
            logits_all = model(x).logits[0]
            chunks = [(logits_all[positions[i : i + CHUNK]], targets[i : i + CHUNK]) for i in range(0, len(positions), CHUNK)]
        else:  # final hidden states, then the head in chunks: never a (length x vocab) tensor at once
            hidden = model.base_model(x).last_hidden_state[0]
            head = model.get_output_embeddings()
            chunks = ((head(hidden[positions[i : i + CHUNK]]), targets[i : i + CHUNK]) for i in range(0, len(positions), CHUNK))
        for logits, tgt in chunks:
            logp = torch.log_softmax(logits.float(), dim=-1)
            nll += (-logp.gather(1, tgt[:, None])[:, 0]).tolist()
            ent += (-(logp.exp() * logp).sum(-1)).tolist()
    return nll, ent


def sft_data_stats(
    model_path: str | Path,
    sft_jsonl: str | Path,
    *,
    source: str | None = None,
    max_rows: int | None = None,
    max_length: int | None = None,
    device: str = "cpu",
    n_boot: int = 2000,
    per_row: bool = False,
) -> dict[str, Any]:
    """Mean per-token NLL and entropy of the trained tokens of ``sft_jsonl`` under ``model_path``.

    Args:
        model_path: the base model (a transformers checkpoint directory or hub id).
        sft_jsonl: trainer-neutral SFT rows (``input_ids`` + ``loss_mask``, trainers/base.py SFT_FIELDS).
        source: the data source's name in reports (default: the file's parent folder name).
        max_rows: score a seeded random subset of this many rows (CPU budget); None scores all.
        max_length: drop rows longer than this, as the trainer does (None keeps all).
        device: torch device; float32 on CPU, bfloat16 elsewhere (log-softmax always in float32).
        per_row: also return each scored row's id, mean NLL and mean entropy (``rows_scored``), so two models
            can be compared row by row on the same data (the same seeded subset is drawn for any model).
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = Path(sft_jsonl)
    rows = load_sft_rows(path)
    dropped = 0
    if max_length is not None:
        rows, dropped = drop_long(rows, max_length)
    if max_rows is not None and len(rows) > max_rows:
        rows = random.Random(0).sample(rows, max_rows)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=dtype).to(device).eval()
    row_nll, row_ent, tok_nll, tok_ent = [], [], 0.0, 0.0
    n_tokens, scored = 0, []
    for row in rows:
        nll, ent = _token_stats(model, row["input_ids"], row["loss_mask"])
        if not nll:
            continue
        scored.append({"id": row.get("id"), "nll": sum(nll) / len(nll), "entropy": sum(ent) / len(ent), "tokens": len(nll)})
        row_nll.append(sum(nll) / len(nll))
        row_ent.append(sum(ent) / len(ent))
        tok_nll += sum(nll)
        tok_ent += sum(ent)
        n_tokens += len(nll)
    if not row_nll:
        raise ValueError(f"{path}: no trained tokens to score")
    return {
        "source": source or path.parent.name,
        "model": str(model_path),
        "data": str(path),
        "data_sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "rows": len(row_nll),
        "rows_dropped_too_long": dropped,
        "tokens": n_tokens,
        "nll_mean": sum(row_nll) / len(row_nll),
        "nll_ci95": list(bootstrap_ci(row_nll, n_boot=n_boot)),
        "nll_token_mean": tok_nll / n_tokens,
        "entropy_mean": sum(row_ent) / len(row_ent),
        "entropy_ci95": list(bootstrap_ci(row_ent, n_boot=n_boot)),
        "entropy_token_mean": tok_ent / n_tokens,
        **({"rows_scored": scored} if per_row else {}),
    }
