"""An LLM judge for final answers, run through any generation backend.

For answers that rules cannot settle (prose, piecewise and function-family answers), in the spirit of
IMO-Bench's answer autograder: the model sees the problem, the solution and the reference answer, and
must end with ``\\boxed{Correct}`` or ``\\boxed{Incorrect}``. The prompt is our own wording, kept in
``judge_prompt.jinja`` so that a change to it is a visible, versioned file change. A judgement that does
not end in one of the two boxes is status ``error`` (score 0), never a guess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from harness.backends.base import Backend, GenerationRequest, SamplingParams
from harness.grading.extract import extract_boxed
from harness.grading.verdict import Status, Verdict

__all__ = ["JUDGE_VERSION", "LLMJudgeGrader", "parse_judgement"]

JUDGE_VERSION = "judge-v1"
DEFAULT_TEMPLATE = Path(__file__).with_name("judge_prompt.jinja")


def parse_judgement(text: str) -> bool | None:
    """True/False for a final ``\\boxed{Correct}``/``\\boxed{Incorrect}``, None if neither."""
    content = extract_boxed(text or "")
    if content is None:
        return None
    word = content
    for wrapper in ("\\text{", "\\textbf{", "\\mathrm{", "\\textsf{"):
        if word.startswith(wrapper) and word.endswith("}"):
            word = word[len(wrapper) : -1]
    word = word.strip().strip(".").strip().lower()
    return {"correct": True, "incorrect": False}.get(word)


def _truncate(response: str, limit: int) -> str:
    """Keep the end: the final answer is there, and a 16k-token trace would swamp the judge."""
    if len(response) <= limit:
        return response
    return f"[... {len(response) - limit} earlier characters omitted ...]\n" + response[-limit:]


class LLMJudgeGrader:
    """Grader ``llm-judge``: items are (response, gold) or (response, gold, problem)."""

    name = "llm-judge"

    def __init__(
        self,
        backend: Backend,
        *,
        params: SamplingParams | None = None,
        template: str | Path | None = None,
        max_response_chars: int = 8000,
        owns_backend: bool = False,
    ) -> None:
        self.backend = backend
        self.owns_backend = owns_backend  # opened for this grader (from a judge config): closed with it
        self.params = params or SamplingParams(n=1, temperature=0.0, top_p=1.0, top_k=0, max_tokens=2048, seed=0)
        if self.params.n != 1:
            raise ValueError("the judge samples one judgement per item (params.n must be 1)")
        text = Path(template).read_text(encoding="utf-8") if template else DEFAULT_TEMPLATE.read_text(encoding="utf-8")
        self._template = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(text)
        self.max_response_chars = max_response_chars
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        self.version = f"{JUDGE_VERSION}+{digest}/{backend.name}:{backend.model}"
        self._cache: dict[tuple[str, str, str], Verdict] = {}
        self.calls = 0  # judge requests actually sent (memoised repeats excluded)

    def render(self, response: str, gold: str, problem: str | None = None) -> str:
        """The judge prompt for one item."""
        return self._template.render(
            problem=(problem or "").strip(), gold=gold.strip(), response=_truncate(response, self.max_response_chars)
        )

    def grade_many(self, items: Sequence[tuple[str, ...]]) -> list[Verdict]:
        keys: list[tuple[str, str, str]] = []
        for item in items:
            if len(item) not in (2, 3):
                raise ValueError("llm-judge items are (response, gold) or (response, gold, problem)")
            keys.append((item[0], item[1], item[2] if len(item) == 3 else ""))
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            requests = [
                GenerationRequest(messages=({"role": "user", "content": self.render(r, g, p or None)},)) for r, g, p in todo
            ]
            outputs = self.backend.generate(requests, self.params)
            self.calls += len(todo)
            if len(outputs) != len(todo):
                raise RuntimeError(f"backend returned {len(outputs)} results for {len(todo)} judge requests")
            for key, samples in zip(todo, outputs, strict=True):
                self._cache[key] = self._verdict(key[0], samples[0] if samples else None)
        return [self._cache[k] for k in keys]

    def _verdict(self, response: str, sample: Any) -> Verdict:
        grader = f"{self.name}=={self.version}"
        extracted = extract_boxed(response)
        status: Status
        if sample is None or getattr(sample, "finish_reason", "stop") == "error":
            status, correct, reason = "error", False, "judge backend returned no judgement"
        else:
            judged = parse_judgement(sample.text)
            if judged is None:
                tail = sample.text.strip()[-200:]
                status, correct, reason = "error", False, f"unparseable judgement: ...{tail!r}"
            else:
                status, correct, reason = "ok", judged, "judge: " + ("Correct" if judged else "Incorrect")
        return Verdict(correct=correct, extracted=extracted, status=status, reason=reason, grader=grader)

    def close(self) -> None:
        """Close the backend if this grader opened it; a backend passed in belongs to the caller."""
        if self.owns_backend:
            self.backend.close()
