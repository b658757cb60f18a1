"""transformers backend: batched chat generation on CPU or one GPU.

Why not plain ``model.generate(do_sample=True)``: it draws every row from one global RNG, so a sample
changes whenever the batch around it changes, and the "sample j uses seed + j" contract of `Backend`
(the same rule as vLLM's parallel sampling) cannot hold. Here each row gets its own ``torch.Generator``
seeded with ``params.seed + j``; sampling happens in a logits processor and ``generate`` runs in greedy
mode, picking the one token the processor leaves. Results are exactly reproducible for the same inputs,
batch size and seed. Across different batch compositions they agree up to float noise from padding
(left padding changes reduction shapes), which can rarely flip a token -- do not rely on bitwise
equality across batch sizes or devices.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from harness.backends.base import Backend, GenerationRequest, Sample, SamplingParams


def _resolve_device(device: str | None) -> str:
    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype | str:
    """float32 on CPU (bf16 matmuls are slow and lossy there), bf16 (else fp16) on GPU; "auto" = checkpoint."""
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype is None:
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    resolved = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return resolved


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Top-k then nucleus filtering (vLLM's order); masked entries become -inf. ``top_k <= 0`` disables."""
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token once the mass *before* it already reaches top_p (the top token always survives)
        drop_sorted = (probs.cumsum(dim=-1) - probs) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


class _SeededSampler(LogitsProcessor):
    """Samples each row from its own generator and returns a one-hot score, so greedy decoding takes it."""

    def __init__(self, seeds: Sequence[int], params: SamplingParams, device: str) -> None:
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self.temperature, self.top_k, self.top_p = params.temperature, params.top_k, params.top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = filter_logits(scores.float() / self.temperature, self.top_k, self.top_p).softmax(dim=-1)
        picks = torch.cat(
            [torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(self.generators)]
        )
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, picks[:, None], 0.0)


class _CpuThreads(LogitsProcessor):
    """Leaves the scores alone; between decoding steps lets `harness.cpu` follow the free cores."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        from harness.cpu import tick

        tick()
        return scores


class _StopStrings(StoppingCriteria):
    """Stops a row once its generated text contains a stop string; records where, for token counts."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_len: int, batch: int) -> None:
        self.tokenizer, self.stops, self.prompt_len = tokenizer, list(stops), prompt_len
        # a stop string of L characters spans at most 4L byte-level tokens
        self.window = 4 * max(len(s) for s in stops) + 4
        self.finished_at: list[int | None] = [None] * batch

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        length = input_ids.shape[1]
        start = max(self.prompt_len, length - self.window)
        done = []
        for r in range(input_ids.shape[0]):
            if self.finished_at[r] is None:
                tail = self.tokenizer.decode(input_ids[r, start:], skip_special_tokens=True)
                if any(s in tail for s in self.stops):
                    self.finished_at[r] = length - self.prompt_len
            done.append(self.finished_at[r] is not None)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string (the stop string itself is dropped, as in vLLM)."""
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class HFBackend(Backend):
    """Chat generation with transformers. ``batch_size`` counts sequences (a request with ``n=4`` is 4)."""

    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 16,
        trust_remote_code: bool = False,
        gguf_file: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = _resolve_device(device)
        torch_dtype = _resolve_dtype(dtype, self.device)
        super().__init__(
            model,
            device=self.device,
            dtype=str(torch_dtype).removeprefix("torch."),
            batch_size=batch_size,
            trust_remote_code=trust_remote_code,
            gguf_file=gguf_file,
        )
        self.batch_size = batch_size
        load: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if gguf_file:
            load["gguf_file"] = gguf_file
        self.tokenizer = AutoTokenizer.from_pretrained(model, **load)
        self.tokenizer.padding_side = "left"  # decoder-only batching: real tokens must end at the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.tokenizer.pad_token is None:
            raise ValueError(f"tokenizer of {model!r} has neither a pad nor an eos token")
        self._check_chat_template()
        # `self.model` stays the name (Backend contract, run manifests); the torch module is `hf_model`.
        self.hf_model = (
            AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype, **load).to(self.device).eval()
        )
        # The checkpoint's generation_config may carry sampling defaults (temperature, top_k,
        # repetition_penalty...). Our SamplingParams are the whole spec, so keep only the token ids.
        self.checkpoint_generation_config = self.hf_model.generation_config
        self.eos_token_ids = self._eos_ids()
        self.hf_model.generation_config = GenerationConfig(
            eos_token_id=sorted(self.eos_token_ids),
            pad_token_id=self.tokenizer.pad_token_id,
            bos_token_id=self.checkpoint_generation_config.bos_token_id,
        )
        if self.device == "cpu":  # threads follow the free cores (harness.cpu), capped by the model's size
            from harness.cpu import governor, model_parameters

            governor(model_parameters(self.hf_model))

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.checkpoint_generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if source is not None:
                ids.update(source if isinstance(source, (list, tuple)) else [source])
        if not ids:
            raise ValueError(f"{self.model!r} defines no eos token; generation could never stop")
        return ids

    def _check_chat_template(self) -> None:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(
                f"tokenizer of {self.model!r} has no chat template; the harness only sends chat "
                "messages. Use an instruct/chat checkpoint or set `tokenizer.chat_template` before generating."
            )

    def render(self, request: GenerationRequest) -> str:
        """The exact prompt text: a fresh assistant turn, or the open final assistant turn to continue."""
        self._check_chat_template()
        cont = request.continue_final_message
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in request.messages],
            tokenize=False,
            add_generation_prompt=not cont,
            continue_final_message=cont,
        )

    def prompt_token_ids(self, request: GenerationRequest) -> list[int]:
        """Token ids of `render` (special tokens come from the template, so none are added here)."""
        return self.tokenizer(self.render(request), add_special_tokens=False)["input_ids"]

    def context_window(self) -> int | None:
        return getattr(self.hf_model.config, "max_position_embeddings", None)

    def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return len(self.prompt_token_ids(request))

    def describe(self) -> dict[str, Any]:
        import transformers

        return {**super().describe(), "transformers": transformers.__version__, "torch": torch.__version__}

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        """``params.n`` samples per request; rows are batched longest-prompt first (same inputs, batch
        size and seed give the same text). ``seed=None`` draws a fresh random base seed per call."""
        return self._generate_ids([self.prompt_token_ids(r) for r in requests], params)

    def complete(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Sample]]:
        """``params.n`` samples per raw text prompt, no chat template (the tokenizer's own special tokens,
        e.g. a BOS, are added as for any encoded text): what ``/v1/completions`` of `harness serve` runs."""
        return self._generate_ids([self.tokenizer(p)["input_ids"] for p in prompts], params)

    def _generate_ids(self, ids: list[list[int]], params: SamplingParams) -> list[list[Sample]]:
        context = getattr(self.hf_model.config, "max_position_embeddings", None)
        longest = max((len(x) for x in ids), default=0)
        if context and longest + params.max_tokens > context:
            # vLLM rejects these too; failing here beats silently degraded text past the trained positions
            raise ValueError(
                f"prompt ({longest} tokens) + max_tokens ({params.max_tokens}) exceeds the context window of "
                f"{self.model!r} ({context} tokens); lower the token budget (e.g. --max-tokens "
                f"{max(1, context - longest)})"
            )
        base_seed = params.seed if params.seed is not None else secrets.randbits(31)
        rows = sorted(
            ((i, j) for i in range(len(ids)) for j in range(params.n)), key=lambda ij: -len(ids[ij[0]])
        )
        results: list[list[Sample | None]] = [[None] * params.n for _ in ids]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            samples = self._generate_batch(
                [ids[i] for i, _ in chunk], [base_seed + j for _, j in chunk], params
            )
            for (i, j), sample in zip(chunk, samples, strict=True):
                results[i][j] = sample
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(
        self, prompts: list[list[int]], seeds: list[int], params: SamplingParams
    ) -> list[Sample]:
        enc = self.tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.device)
        prompt_len = enc["input_ids"].shape[1]
        processors = LogitsProcessorList([_CpuThreads()] if self.device == "cpu" else [])
        if params.temperature > 0:
            processors.append(_SeededSampler(seeds, params, self.device))
        stopper = _StopStrings(self.tokenizer, params.stop, prompt_len, len(prompts)) if params.stop else None
        config = GenerationConfig(
            max_new_tokens=params.max_tokens,
            do_sample=False,
            num_beams=1,
            use_cache=True,
            eos_token_id=sorted(self.eos_token_ids),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        out = self.hf_model.generate(
            input_ids=enc["input_ids"],
            attention_mask=enc["attention_mask"],
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([stopper] if stopper else []),
        )
        samples = []
        for r, prompt in enumerate(prompts):
            generated = out[r, prompt_len:].tolist()
            end = next((k for k, t in enumerate(generated) if t in self.eos_token_ids), None)
            n_tokens = len(generated) if end is None else end + 1  # the end-of-turn token counts, as in vLLM
            hit_eos = end is not None
            stop_at = stopper.finished_at[r] if stopper else None
            if stop_at is not None and (end is None or stop_at <= end):
                end, n_tokens, hit_eos = stop_at, stop_at, False
            text = self.tokenizer.decode(generated[:end], skip_special_tokens=True)
            text, hit_stop = truncate_at_stop(text, params.stop)
            reason = "stop" if hit_eos or hit_stop else "length"
            extra = {"seed": seeds[r]} if params.temperature > 0 else {}
            samples.append(Sample(text, len(prompt), n_tokens, reason, extra))
        return samples

    def close(self) -> None:
        """Drop the model so GPU memory can be reclaimed by the next stage."""
        self.hf_model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
