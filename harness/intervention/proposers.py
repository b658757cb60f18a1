"""Who proposes the intervention: the policy itself, another model, or an oracle (tasks that know the truth).

Every proposer returns raw text that goes through the same parser, so parse failures and the
intervention format are measured identically for all of them. ``self`` and ``model`` differ only in
which backend answers (the paper's default vs its proposer-size ablation). The ``oracle`` is offered by
a task with the ``oracle_intervention`` capability (`tasks.base.CAPABILITIES`; the embedded world has
it): the *computable* first error and its corrected step. It bounds what a perfect verifier could do and
is labelled as such in every report -- it is never InT.

Context budget: a proposal request that does not fit the backend's context window (after the attempt
was cut by `ProposeConfig.max_attempt_chars`) is not sent; its sample says ``finish_reason="skipped"``
with the reason, and the propose stage records it as a parse failure of reason ``context``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from harness.backends import Backend, GenerationRequest, Sample, SamplingParams
from harness.intervention.prompts import TemplateSet, solve_messages, verify_messages


class Proposer(ABC):
    """Turn 1 (optional guided solve) and turn 2 (verify + intervention) for a batch of failed attempts."""

    kind: str = "base"
    needs_solve: bool = False

    def solve(self, items: list[dict[str, Any]], params: SamplingParams) -> list[Sample]:
        """One guided-solve answer per attempt (only called when `needs_solve`)."""
        raise RuntimeError(f"proposer {self.kind!r} has no solve turn")

    @abstractmethod
    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        """``params.n`` raw proposal texts per attempt."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}


def generate_fitting(backend: Backend, requests: list[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
    """``backend.generate`` for the requests that fit its context window; the others get ``params.n``
    empty samples with ``finish_reason="skipped"`` and the reason in ``extra``, so a batch never fails."""
    reasons = [backend.check_fit(r, params.max_tokens) for r in requests]
    send = [r for r, why in zip(requests, reasons, strict=True) if not why]
    got = iter(backend.generate(send, params) if send else [])
    return [
        [Sample(text="", finish_reason="skipped", extra={"reason": why}) for _ in range(params.n)] if why else next(got)
        for why in reasons
    ]


class ModelProposer(Proposer):
    """A language model behind any backend, prompted with a template set (``paper`` or ``compact``)."""

    def __init__(self, backend: Backend, templates: TemplateSet, kind: str = "self") -> None:
        self.backend, self.templates, self.kind = backend, templates, kind
        self.needs_solve = templates.solve is not None

    def solve(self, items: list[dict[str, Any]], params: SamplingParams) -> list[Sample]:
        requests = [
            GenerationRequest(messages=tuple(solve_messages(self.templates, it) or ())) for it in items
        ]
        return [s[0] for s in generate_fitting(self.backend, requests, replace(params, n=1))]

    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        requests = [
            GenerationRequest(messages=tuple(verify_messages(self.templates, it, st)))
            for it, st in zip(items, solves, strict=True)
        ]
        return generate_fitting(self.backend, requests, params)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "templates": self.templates.name, "generator": self.backend.describe()}


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


def make_proposer(kind: str, templates: TemplateSet, backend: Backend | None, task: Any = None) -> Proposer:
    """The proposer of ``kind``; ``task`` (a `tasks.Task`) supplies the oracle when it has one."""
    if kind == "oracle":
        target = task.capability("oracle_intervention") if task is not None else None
        if target is None:
            name = getattr(task, "name", "?")
            raise ValueError(f"proposer=oracle needs a task with the oracle_intervention capability; {name!r} has none")
        return OracleProposer(target)
    if backend is None:
        raise ValueError(f"proposer {kind!r} needs a generation backend")
    return ModelProposer(backend, templates, kind=kind)
