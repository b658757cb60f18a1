"""FLOPs from a model's shape: what generating and training on tokens costs, beyond counting them.

WHY: generated tokens are not compute. InT's proposer *reads* long prompts (problem + reference +
attempt) and writes short answers; RL *trains* on every token it generates (a backward pass costs twice a
forward one); SFT trains on tokens nobody generated. Counting FLOPs from the model's shape charges each
of these for what it is.

The standard dense-transformer accounting (Kaplan et al. 2020, §2.1; Hoffmann et al. 2022, App. F):
a forward pass costs, per token at context position ``c``, ``2 * N + 4 * L * A * c`` FLOPs, where ``N``
counts the parameters of every matrix multiply (attention projections, MLP, the LM head; the embedding
lookup is free), ``L`` is the number of layers and ``A = heads * head_dim`` the attention width (QK^T and
AV each cost ``2 * A * c``). A sequence of ``T`` tokens processed at once costs ``2NT + 2LA T(T-1)``
(``sum_c 4LAc``). Generation with a KV cache processes every prompt and every generated token once:
the same sum over the ``P + G`` positions, prefill included (each sample prefills its own prompt, as the
transformers backend does; a server with prefix caching would pay less). Training costs 3x the forward
pass over the whole sequence, prompt included (masking the loss does not skip the prompt's backward).
Norms, activations, softmax and the optimizer update are left out: a few percent for these shapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    """What the FLOPs depend on, read from a transformers ``config.json``."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    gated_mlp: bool = True  # Llama/Qwen MLPs: gate, up and down projections

    @property
    def attention_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def matmul_params(self) -> int:
        """Parameters that take part in a matrix multiply per token (the LM head included)."""
        q_o = 2 * self.hidden * self.heads * self.head_dim
        k_v = 2 * self.hidden * self.kv_heads * self.head_dim
        mlp = (3 if self.gated_mlp else 2) * self.hidden * self.intermediate
        return self.layers * (q_o + k_v + mlp) + self.hidden * self.vocab

    def forward(self, tokens: int, start: int = 0) -> float:
        """FLOPs of a forward pass over ``tokens`` positions ``start .. start + tokens - 1`` (each attends
        to every earlier position)."""
        if tokens <= 0:
            return 0.0
        positions = tokens * start + tokens * (tokens - 1) / 2  # sum of c over the positions
        return 2.0 * self.matmul_params * tokens + 4.0 * self.layers * self.attention_width * positions

    def generation(self, prompt: int, completion: int) -> float:
        """One sample: prefill of ``prompt`` tokens and ``completion`` decoding steps, KV cache on."""
        return self.forward(prompt + completion)

    def training(self, sequence: int) -> float:
        """One training sequence of ``sequence`` tokens: forward + backward (2x forward)."""
        return 3.0 * self.forward(sequence)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"matmul_params": self.matmul_params}


def shape_of(config: dict[str, Any] | str | Path) -> ModelShape:
    """The shape from a ``config.json`` (a dict, its path, or a model folder)."""
    if not isinstance(config, dict):
        path = Path(config)
        config = json.loads((path / "config.json" if path.is_dir() else path).read_text())
    cfg = config.get("text_config") or config
    heads = int(cfg["num_attention_heads"])
    hidden = int(cfg["hidden_size"])
    return ModelShape(
        layers=int(cfg["num_hidden_layers"]),
        hidden=hidden,
        intermediate=int(cfg["intermediate_size"]),
        heads=heads,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        head_dim=int(cfg.get("head_dim") or hidden // heads),
        vocab=int(cfg["vocab_size"]),
    )


def model_shape(model: str | Path) -> ModelShape | None:
    """The shape of a local model folder, or None when it has no readable config.json (a GGUF file, a
    served model): FLOPs are then not reported rather than guessed."""
    try:
        return shape_of(Path(model))
    except (OSError, KeyError, ValueError, TypeError):
        return None


def generation_flops(shape: ModelShape | None, records: Iterable[dict[str, Any]]) -> float:
    """FLOPs of the samples in ``records`` (each with ``prompt_tokens`` and ``completion_tokens``)."""
    if shape is None:
        return 0.0
    return sum(shape.generation(int(r.get("prompt_tokens") or 0), int(r.get("completion_tokens") or 0))
               for r in records if int(r.get("completion_tokens") or 0) > 0)


def training_flops(shape: ModelShape | None, lengths: Iterable[int], epochs: float = 1.0) -> float:
    """FLOPs of training on sequences of ``lengths`` tokens for ``epochs`` passes."""
    if shape is None:
        return 0.0
    return epochs * sum(shape.training(n) for n in lengths)


def rl_flops(shape: ModelShape | None, samples: int, prompt_tokens: int, completion_tokens: int) -> dict[str, float]:
    """An RL run from its totals: every sample generated (prefill + decode) and trained on (3x forward over
    prompt + completion). Per-sample lengths are not logged by the trainer, so each sample is taken at the
    mean length (the attention term, quadratic in length, is then a slight underestimate)."""
    if shape is None or samples <= 0:
        return {"generation": 0.0, "training": 0.0}
    p, g = prompt_tokens / samples, completion_tokens / samples
    per_gen = 2.0 * shape.matmul_params * (p + g) + 2.0 * shape.layers * shape.attention_width * (p + g) * (p + g - 1)
    return {"generation": samples * per_gen, "training": 3.0 * samples * per_gen}
