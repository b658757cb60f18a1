"""A minimal batched `model.generate` backend, used only while `harness.backends.hf` is missing.

WHY: the world build must print its abilities table even before the project's HF backend exists.
It follows the `Backend` contract (chat messages in, n samples out, `continue_final_message`), pads
on the left, groups prompts of similar length and samples with the KV cache. Not a replacement for
`harness.backends.hf` -- `measure_abilities` prefers that one when it is importable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from harness.backends.base import Backend, GenerationRequest, Sample, SamplingParams


class LocalHFBackend(Backend):
    name = "world-local-hf"

    def __init__(self, model: str, batch_size: int = 256, threads: int = 2, **options: Any) -> None:
        super().__init__(model, batch_size=batch_size, threads=threads, **options)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        self.tok = AutoTokenizer.from_pretrained(model)
        self.tok.padding_side = "left"
        self.lm = AutoModelForCausalLM.from_pretrained(model).eval()
        self.batch_size = batch_size

    def _prompt(self, req: GenerationRequest) -> str:
        return self.tok.apply_chat_template(
            list(req.messages),
            tokenize=False,
            add_generation_prompt=not req.continue_final_message,
            continue_final_message=req.continue_final_message,
        )

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        prompts = [self._prompt(r) for r in requests]
        flat = [(i, j) for i in range(len(prompts)) for j in range(params.n)]
        lengths = [len(self.tok(p, add_special_tokens=False).input_ids) for p in prompts]
        flat.sort(key=lambda ij: (lengths[ij[0]], ij))
        out: list[list[Sample | None]] = [[None] * params.n for _ in prompts]
        eos = self.lm.generation_config.eos_token_id
        for b, s in enumerate(range(0, len(flat), self.batch_size)):
            chunk = flat[s : s + self.batch_size]
            enc = self.tok([prompts[i] for i, _ in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
            torch.manual_seed((params.seed or 0) * 1_000_003 + b)
            sample = params.temperature > 0
            gen = self.lm.generate(
                **enc,
                max_new_tokens=params.max_tokens,
                do_sample=sample,
                temperature=params.temperature if sample else None,
                top_p=params.top_p if sample else None,
                top_k=(params.top_k if params.top_k and params.top_k > 0 else 0) if sample else None,
                eos_token_id=eos,
                pad_token_id=self.tok.pad_token_id,
            )
            new = gen[:, enc["input_ids"].shape[1] :]
            for (i, j), row in zip(chunk, new, strict=True):
                ids = row.tolist()
                stop = next((k for k, t in enumerate(ids) if t in (eos if isinstance(eos, list) else [eos])), None)
                kept = ids if stop is None else ids[:stop]
                out[i][j] = Sample(
                    text=self.tok.decode(kept, skip_special_tokens=True),
                    prompt_tokens=lengths[i],
                    completion_tokens=len(kept),
                    finish_reason="length" if stop is None else "stop",
                )
        return [[s for s in row if s is not None] for row in out]
