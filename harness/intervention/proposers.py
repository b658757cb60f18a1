"""Who proposes the intervention: the policy itself, another model, or an oracle (tasks that know the truth).

Every proposer returns raw text that goes through the same parser, so parse failures and the
intervention format are measured identically for all of them. ``self`` and ``model`` differ only in
which backend answers (the paper's default vs its proposer-size ablation). The ``oracle`` is offered by
a task with the ``oracle_intervention`` capability (`tasks.base.CAPABILITIES`; the embedded world has
it): the *computable* first error and its corrected step. It bounds what a perfect verifier could do and
is labelled as such in every report -- it is never InT.

Budgets, in tokens, as the paper's scripts set them: the chat-templated verify prompt (turn 2) is cut to
``max_prompt_tokens`` (paper: 30,000) and to what leaves ``min_new_tokens`` of the context window, by
showing fewer of the attempt's whole substeps (`steps.cut_to_fit`; the instructions and the generation
prompt after the attempt are never cut). Generation then runs to the context window: a request whose
prompt + ``max_tokens`` exceeds the window is sent with the room left, down to ``min_new_tokens``
(`harness.backends.generate_within_window`); only a request with less room than that is skipped -- its
samples say ``finish_reason="skipped"`` with the reason, and the propose stage records it as a parse
failure of reason ``context``. Every cut, shortened and skipped request is recorded and counted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness.backends import Backend, GenerationRequest, Sample, SamplingParams, generate_within_window
from harness.intervention.prompts import TemplateSet, solve_messages, verify_messages
from harness.intervention.steps import cut_to_fit, split_substeps


class Proposer(ABC):
    """Turn 1 (optional guided solve) and turn 2 (verify + intervention) for a batch of failed attempts."""

    kind: str = "base"
    needs_solve: bool = False

    def solve(self, items: list[dict[str, Any]], params: SamplingParams) -> list[Sample]:
        """One guided-solve answer per attempt (only called when `needs_solve`)."""
        raise RuntimeError(f"proposer {self.kind!r} has no solve turn")

    def show(self, items: list[dict[str, Any]], solves: list[str | None], max_tokens: int) -> list[Shown]:
        """What the proposer sees of each attempt (`ModelProposer` cuts to its token budget, leaving room for a
        generation of up to ``max_tokens``); default: all of it."""
        return [Shown(it, len(split_substeps(it["attempt"]))) for it in items]

    @abstractmethod
    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        """``params.n`` raw proposal texts per attempt."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}


def generate_fitting(
    backend: Backend, requests: list[GenerationRequest], params: SamplingParams, min_tokens: int | None = None
) -> list[list[Sample]]:
    """``backend.generate`` within the context window (`harness.backends.generate_within_window`): a request
    that does not fit is shortened down to ``min_tokens`` (None: never), else skipped with its reason."""
    return generate_within_window(backend, requests, params, min_tokens)


@dataclass(frozen=True)
class Shown:
    """What the proposer is shown of one failed attempt: the item (its attempt possibly cut), how many
    substeps survive, whether it was cut, and -- for a cut one -- the templated verify prompt's tokens before
    the cut. ``skip`` says why nothing could be shown."""

    item: dict[str, Any]
    substeps: int
    cut: bool = False
    prompt_tokens_full: int | None = None
    skip: str | None = None


class ModelProposer(Proposer):
    """A language model behind any backend, prompted with a template set (``paper`` or ``compact``).

    ``max_prompt_tokens`` and ``min_new_tokens`` are the token budgets of the module docstring."""

    def __init__(self, backend: Backend, templates: TemplateSet, kind: str = "self", *,
                 max_prompt_tokens: int | None = None, min_new_tokens: int | None = None) -> None:
        self.backend, self.templates, self.kind = backend, templates, kind
        self.needs_solve = templates.solve is not None
        self.max_prompt_tokens, self.min_new_tokens = max_prompt_tokens, min_new_tokens

    def solve(self, items: list[dict[str, Any]], params: SamplingParams) -> list[Sample]:
        requests = [
            GenerationRequest(messages=tuple(solve_messages(self.templates, it) or ())) for it in items
        ]
        return [s[0] for s in generate_fitting(self.backend, requests, replace(params, n=1), self.min_new_tokens)]

    def prompt_budget(self, max_tokens: int) -> int | None:
        """Tokens the verify prompt may take: ``max_prompt_tokens``, and room in the window for the generation --
        ``min_new_tokens``, or ``max_tokens`` when that is smaller (a short budget needs no more room)."""
        window = self.backend.context_window()
        room = min(self.min_new_tokens or max_tokens, max_tokens)
        limits = [b for b in (self.max_prompt_tokens, window - room if window is not None else None) if b is not None]
        return min(limits) if limits else None

    def show(self, items: list[dict[str, Any]], solves: list[str | None], max_tokens: int) -> list[Shown]:
        budget = self.prompt_budget(max_tokens)
        out = []
        for it, st in zip(items, solves, strict=True):
            full = len(split_substeps(it["attempt"]))

            def tokens(attempt: str, it: dict[str, Any] = it, st: str | None = st) -> int | None:
                msgs = verify_messages(self.templates, {**it, "attempt": attempt}, st)
                return self.backend.count_prompt_tokens(GenerationRequest(messages=tuple(msgs)))

            n = tokens(it["attempt"]) if budget is not None else None
            if n is None or n <= budget:  # fits, or nothing to cut against (no budget, or tokens not countable)
                out.append(Shown(it, full))  # the record then depends on nothing the backend may not report
                continue
            head = cut_to_fit(it["attempt"], lambda text: (tokens(text) or 0) <= budget)
            if head is None:
                out.append(Shown(it, 0, cut=True, prompt_tokens_full=n, skip=(
                    f"context: the verify prompt with one substep of the attempt exceeds the {budget}-token budget "
                    f"(max_prompt_tokens {self.max_prompt_tokens}, min_new_tokens {self.min_new_tokens})")))
                continue
            text, kept = head
            out.append(Shown({**it, "attempt": text, "attempt_truncated": True}, kept, cut=True, prompt_tokens_full=n))
        return out

    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        requests = [
            GenerationRequest(messages=tuple(verify_messages(self.templates, it, st)))
            for it, st in zip(items, solves, strict=True)
        ]
        return generate_fitting(self.backend, requests, params, self.min_new_tokens)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "templates": self.templates.name, "generator": self.backend.describe(),
                "max_prompt_tokens": self.max_prompt_tokens, "min_new_tokens": self.min_new_tokens}


class OracleProposer(Proposer):
    """A task's ground truth in the proposer's output format (the ``oracle_intervention`` capability).
    Deterministic, so all ``n`` proposals are the same text."""

    kind = "oracle"

    def __init__(self, target: Callable[[dict[str, Any], str], str]) -> None:
        self._target = target

    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        return [[Sample(text=self._target(it, it["attempt"]))] * params.n for it in items]


def make_proposer(kind: str, templates: TemplateSet, backend: Backend | None, task: Any = None, *,
                  max_prompt_tokens: int | None = None, min_new_tokens: int | None = None) -> Proposer:
    """The proposer of ``kind``; ``task`` (a `tasks.Task`) supplies the oracle when it has one; the budgets
    apply to model proposers (see the module docstring)."""
    if kind == "oracle":
        target = task.capability("oracle_intervention") if task is not None else None
        if target is None:
            name = getattr(task, "name", "?")
            raise ValueError(f"proposer=oracle needs a task with the oracle_intervention capability; {name!r} has none")
        return OracleProposer(target)
    if backend is None:
        raise ValueError(f"proposer {kind!r} needs a generation backend")
    return ModelProposer(backend, templates, kind=kind, max_prompt_tokens=max_prompt_tokens,
                         min_new_tokens=min_new_tokens)
