"""Pretraining loop: plain PyTorch (AdamW, warmup + cosine), prompt-masked next-token loss.

WHY plain PyTorch and not TRL: the build must be deterministic for a seed, fit in minutes on 2 CPU
cores and have no moving parts; TRL is used later, on the built model, like on any hub model.
Conversations are tokenised exactly as the ChatML template renders them, the loss covers the
assistant turn and its `<|im_end|>` (so generation stops), and batches group similar lengths to
avoid padding waste. bf16 autocast roughly doubles CPU throughput; the weights stay fp32.
Threads are not part of the recipe: `harness.cpu.ThreadGovernor` picks them step by step from the free
cores (the weights of the shipped presets do not depend on the count; tests/test_cpu_threads.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class TrainSpec:
    """Optimiser and batching. `tokens_per_batch` counts padded tokens."""

    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_ratio: float = 0.03
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    tokens_per_batch: int = 2048  # small batches, many steps: the induction and arithmetic circuits need steps
    epochs: int = 1
    bf16: bool = True
    # Attention kernel while pretraining: "eager" (matmul + softmax) is 1.3-1.4x faster per step than torch's
    # SDPA flash kernel on these short sequences on a CPU (measured 111 vs 140-159 ms/step, default preset,
    # 2 threads); the saved model keeps transformers' default for inference (the same function).
    attention: str = "eager"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def chat_prompt(user: str) -> str:
    """The ChatML text `apply_chat_template(..., add_generation_prompt=True)` produces."""
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], int]]:
    """(ids, prompt_len) per conversation; the response is followed by <|im_end|>."""
    raw = tokenizer.backend_tokenizer if hasattr(tokenizer, "backend_tokenizer") else tokenizer
    im_end = raw.token_to_id("<|im_end|>")
    prompts = raw.encode_batch([chat_prompt(u) for u, _ in pairs], add_special_tokens=False)
    answers = raw.encode_batch([a for _, a in pairs], add_special_tokens=False)
    return [(p.ids + a.ids + [im_end], len(p.ids)) for p, a in zip(prompts, answers)]


def make_batches(
    encoded: Sequence[tuple[list[int], int]], tokens_per_batch: int, rng: random.Random, bucket: int = 32
) -> list[list[int]]:
    """Index batches in shuffled order. Lengths are bucketed (multiples of `bucket`) and each bucket has a
    fixed row count, so there are few distinct tensor shapes: CPU kernels are planned once per shape."""
    by_width: dict[int, list[int]] = {}
    for i, (seq, _) in enumerate(encoded):
        by_width.setdefault(-(-len(seq) // bucket) * bucket, []).append(i)
    batches: list[list[int]] = []
    for width in sorted(by_width):
        idx = by_width[width]
        rng.shuffle(idx)
        rows = max(1, tokens_per_batch // width)
        batches += [idx[s : s + rows] for s in range(0, len(idx), rows)]
    rng.shuffle(batches)
    return batches


def collate(
    encoded: Sequence[tuple[list[int], int]], idx: Sequence[int], pad_id: int, bucket: int = 32
) -> dict[str, torch.Tensor]:
    width = -(-max(len(encoded[i][0]) for i in idx) // bucket) * bucket
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for r, i in enumerate(idx):
        seq, plen = encoded[i]
        ids[r, : len(seq)] = torch.tensor(seq)
        labels[r, plen : len(seq)] = torch.tensor(seq[plen:])
        mask[r, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def lr_at(step: int, total: int, spec: TrainSpec) -> float:
    warm = max(1, int(spec.warmup_ratio * total))
    if step < warm:
        return spec.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return spec.lr * (spec.min_lr_ratio + (1 - spec.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def train(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    spec: TrainSpec,
    seed: int,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train `model` in place on (user, assistant) pairs. Returns the per-step losses."""
    from harness.cpu import governor

    threads = governor(sum(p.numel() for p in model.parameters()))
    saved_attention = model.config._attn_implementation
    model.set_attn_implementation(spec.attention)
    torch.manual_seed(seed)
    rng = random.Random(f"batches|{seed}")
    encoded = encode_pairs(tokenizer, pairs)
    batches = [b for _ in range(spec.epochs) for b in make_batches(encoded, spec.tokens_per_batch, rng)]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": spec.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=spec.lr,
        betas=spec.betas,
    )
    pad_id = tokenizer.pad_token_id
    model.train()
    losses: list[float] = []
    for step, idx in enumerate(batches):
        threads.tick()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, len(batches), spec)
        batch = collate(encoded, idx, pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec.bf16):
            out = model(**batch)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(out.loss.detach()))
        if on_step is not None:
            on_step(step + 1, len(batches), losses[-1])
    model.set_attn_implementation(saved_attention)
    model.eval()
    return losses
