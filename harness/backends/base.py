"""The one interface everything that samples text goes through.

Chat messages in, ``n`` samples out. Rollouts, intervention proposals, counterfactual continuations,
evaluation and the LLM judge all call `Backend.generate`, so a stage never knows whether it talks to
transformers on a CPU, vLLM on a GPU or a remote OpenAI-compatible server.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings. Defaults follow the InT paper for instruct models (Qwen's recommendation)."""

    n: int = 1
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20  # 0 or -1 disables top-k
    max_tokens: int = 16384
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Fail at construction, not hours into a run on a remote server. A list/str `stop` is normalised to a
        # tuple so the params stay hashable and compare equal however they were written (e.g. from YAML).
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        object.__setattr__(self, "stop", stop)
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < -1:
            raise ValueError(f"top_k must be >= -1 (0 or -1 disable it), got {self.top_k}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if any(not s for s in stop):
            raise ValueError("stop strings must be non-empty")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt. With ``continue_final_message`` the last message must be an assistant turn, and the
    model continues it in place (no end-of-turn, no new generation prompt) -- what InT needs to sample
    continuations after prefix + intervention."""

    messages: tuple[Message, ...]
    continue_final_message: bool = False

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("GenerationRequest needs at least one message")
        if self.continue_final_message and self.messages[-1].get("role") != "assistant":
            raise ValueError("continue_final_message=True needs the last message to be an assistant turn")

    def key(self) -> str:
        """A stable hash of the prompt, used in run records and resume keys."""
        blob = json.dumps([list(self.messages), self.continue_final_message], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Sample:
    """One generated completion."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """Base class of generation backends. Subclasses implement `generate` and set `name`."""

    name: str = "base"
    loads_weights: bool = True  # False for remote servers: their model name is not resolved locally

    def __init__(self, model: str, **options: Any) -> None:
        self.model = model
        self.options = options

    @abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], params: SamplingParams
    ) -> list[list[Sample]]:
        """Return ``params.n`` samples for each request, in request order.

        Seeding contract: sample ``j`` of a request is drawn with seed ``params.seed + j`` where the
        backend supports per-request seeds, so a resumed run regenerates the same text."""

    def describe(self) -> dict[str, Any]:
        """What goes into a run manifest to identify the generator (credentials never)."""
        from harness.redact import redact_secrets

        return {"backend": self.name, "model": self.model, **redact_secrets(self.options)}

    # -- context budgets: every request is checked before it is sent (harness.sampling) ------------------
    def context_window(self) -> int | None:
        """Tokens the model attends over (prompt + generation), or None when the backend cannot tell."""
        return None

    def count_prompt_tokens(self, request: GenerationRequest) -> int | None:
        """Tokens of the rendered prompt, or None when the backend cannot count them locally."""
        return None

    def check_budget(self, max_tokens: int) -> None:
        """Fail before generating when the budget alone leaves no room for a prompt (a config error)."""
        window = self.context_window()
        if window is not None and max_tokens >= window:
            raise ValueError(
                f"max_tokens {max_tokens} leaves no room for a prompt in the {window}-token context window of "
                f"{self.model!r}; lower the token budget (e.g. --max-tokens {max(1, window // 2)})"
            )

    def check_fit(self, request: GenerationRequest, max_tokens: int) -> str | None:
        """None when prompt + ``max_tokens`` fits the context window, else the reason it does not."""
        return self.fit_tokens(request, max_tokens)[1]

    def fit_tokens(self, request: GenerationRequest, max_tokens: int, min_tokens: int | None = None) -> tuple[int | None, str | None]:
        """(tokens to generate, reason) for ``request`` under a budget of ``max_tokens``.

        Fits: ``(max_tokens, None)``. Too long for prompt + ``max_tokens`` but ``min_tokens`` is given and
        the window leaves at least that many: ``(window - prompt, "shortened: ...")`` -- the InT stages let
        generation run to the context window, as the paper's scripts did. Otherwise ``(None, "context:
        ...")``: the request must not be sent. A backend that cannot count tokens (a remote server) fits
        every request; the server is then the judge."""
        window = self.context_window()
        n = self.count_prompt_tokens(request) if window is not None else None
        if window is None or n is None or n + max_tokens <= window:
            return max_tokens, None
        room = window - n
        if min_tokens is not None and room >= min(min_tokens, max_tokens):
            return room, f"shortened: prompt {n} + max_tokens {max_tokens} tokens > context window {window}; generating {room}"
        why = f"context: prompt {n} + max_tokens {max_tokens} tokens > context window {window}"
        if min_tokens is not None:
            why += f" (room {max(room, 0)} < min_new_tokens {min_tokens})"
        return None, why

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, HTTP clients)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def generate_within_window(
    backend: Backend, requests: Sequence[GenerationRequest], params: SamplingParams, min_tokens: int | None = None
) -> list[list[Sample]]:
    """``backend.generate`` with every request checked against the context window first (`Backend.fit_tokens`).

    A request that fits is generated with ``params.max_tokens``; one whose prompt leaves less room is
    generated with the room left when that is at least ``min_tokens`` (its samples carry
    ``extra["max_tokens"]`` and ``extra["shortened"]``, the reason); any other gets ``params.n`` empty
    samples with ``finish_reason="skipped"`` and the reason in ``extra``, so a batch never fails.
    Requests are generated in groups of equal budget, in order, so seeds and batches are deterministic."""
    fits = [backend.fit_tokens(r, params.max_tokens, min_tokens) for r in requests]
    out: list[list[Sample] | None] = [None] * len(requests)
    budgets = sorted({m for m, _ in fits if m is not None}, reverse=True)
    for budget in budgets:
        idx = [i for i, (m, _) in enumerate(fits) if m == budget]
        got = backend.generate([requests[i] for i in idx], replace(params, max_tokens=budget))
        for i, samples in zip(idx, got, strict=True):
            why = fits[i][1]
            if why:  # shortened: say so on every sample
                for s in samples:
                    s.extra = {**s.extra, "max_tokens": budget, "shortened": why}
            out[i] = samples
    for i, (m, why) in enumerate(fits):
        if m is None:
            out[i] = [Sample(text="", finish_reason="skipped", extra={"reason": why}) for _ in range(params.n)]
    return out  # type: ignore[return-value]
