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
from dataclasses import asdict, dataclass, field
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
        window = self.context_window()
        if window is None:
            return None
        n = self.count_prompt_tokens(request)
        if n is not None and n + max_tokens > window:
            return f"context: prompt {n} + max_tokens {max_tokens} tokens > context window {window}"
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (GPU memory, HTTP clients)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
