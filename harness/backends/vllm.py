"""vLLM offline backend (``vllm.LLM.chat``) for GPU machines -- what the InT authors' scripts use.

``vllm`` is imported inside ``__init__`` so that this module (and the backend registry) import fine on
machines without it. With ``n > 1`` and a seed, vLLM seeds child sample ``j`` with ``seed + j``, which is
the `Backend` seeding contract the HF backend mirrors. Requests are grouped by ``continue_final_message``
because ``LLM.chat`` takes ``add_generation_prompt``/``continue_final_message`` per call, not per prompt.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from harness.backends.base import Backend, GenerationRequest, Sample, SamplingParams

INSTALL_HINT = "pip install 'int-harness[vllm]' on a CUDA machine"


def vllm_sampling_kwargs(params: SamplingParams) -> dict[str, Any]:
    """Our `SamplingParams` as ``vllm.SamplingParams(**kwargs)``; top_k 0/-1 both mean disabled (-1)."""
    return {
        "n": params.n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else -1,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
        "stop": list(params.stop),
    }


def group_by_continuation(requests: Sequence[GenerationRequest]) -> dict[bool, list[int]]:
    """Request indices per ``continue_final_message`` value (one ``LLM.chat`` call each), order kept."""
    groups: dict[bool, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.continue_final_message, []).append(i)
    return groups


def to_samples(output: Any) -> list[Sample]:
    """Map one vLLM ``RequestOutput`` to samples; token counts come straight from the token ids."""
    prompt_tokens = len(output.prompt_token_ids or [])
    samples = []
    for completion in sorted(output.outputs, key=lambda c: c.index):
        reason = {"stop": "stop", "length": "length"}.get(completion.finish_reason, "error")
        extra = {} if reason != "error" else {"finish_reason": completion.finish_reason}
        samples.append(Sample(completion.text, prompt_tokens, len(completion.token_ids), reason, extra))
    return samples


class VLLMBackend(Backend):
    """``vllm.LLM`` with prefix caching on (continuations share long prefixes); extra kwargs go to ``LLM``."""

    name = "vllm"
    requires = (("vllm", INSTALL_HINT),)  # checked by `harness.backends.check_model` before any run folder exists

    def __init__(
        self,
        model: str,
        *,
        seed: int = 0,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        trust_remote_code: bool = False,
        **llm_kwargs: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise ImportError(
                f"the 'vllm' backend needs vLLM, which is not installed: {INSTALL_HINT}"
            ) from exc
        options = dict(
            seed=seed,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=enable_prefix_caching,
            trust_remote_code=trust_remote_code,
            **llm_kwargs,
        )
        if max_model_len is not None:
            options["max_model_len"] = max_model_len
        super().__init__(model, **options)
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, **options)
        self.tokenizer = self.llm.get_tokenizer()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "vllm": self._vllm.__version__}

    def context_window(self) -> int | None:
        """The engine's ``max_model_len`` (the configured one, else the model's)."""
        config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None)
        return getattr(config, "max_model_len", None) or self.options.get("max_model_len")

    def count_prompt_tokens(self, request: GenerationRequest) -> int:
        cont = request.continue_final_message
        ids = self.tokenizer.apply_chat_template([dict(m) for m in request.messages], tokenize=True,
                                                 add_generation_prompt=not cont, continue_final_message=cont)
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        sampling = self._vllm.SamplingParams(**vllm_sampling_kwargs(params))
        results: list[list[Sample]] = [[] for _ in requests]
        for cont, indices in group_by_continuation(requests).items():
            outputs = self.llm.chat(
                [[dict(m) for m in requests[i].messages] for i in indices],
                sampling,
                use_tqdm=False,
                add_generation_prompt=not cont,
                continue_final_message=cont,
            )
            for i, output in zip(indices, outputs, strict=True):
                results[i] = to_samples(output)
        return results

    def close(self) -> None:
        """Best effort: vLLM frees GPU memory only once the engine is garbage-collected."""
        self.llm = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
