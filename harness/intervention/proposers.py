"""Who proposes the intervention: the policy itself, another model, or (embedded world only) an oracle.

Every proposer returns raw text that goes through the same parser, so parse failures and the
intervention format are measured identically for all of them. ``self`` and ``model`` differ only in
which backend answers (the paper's default vs its proposer-size ablation). The ``oracle`` writes the
world's *computable* first error and its corrected step: it bounds what a perfect verifier could do and
is labelled as such in every report -- it is never InT.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
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


class ModelProposer(Proposer):
    """A language model behind any backend, prompted with a template set (``paper`` or ``compact``)."""

    def __init__(self, backend: Backend, templates: TemplateSet, kind: str = "self") -> None:
        self.backend, self.templates, self.kind = backend, templates, kind
        self.needs_solve = templates.solve is not None

    def solve(self, items: list[dict[str, Any]], params: SamplingParams) -> list[Sample]:
        requests = [
            GenerationRequest(messages=tuple(solve_messages(self.templates, it) or ())) for it in items
        ]
        return [s[0] for s in self.backend.generate(requests, replace(params, n=1))]

    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        requests = [
            GenerationRequest(messages=tuple(verify_messages(self.templates, it, st)))
            for it, st in zip(items, solves, strict=True)
        ]
        return self.backend.generate(requests, params)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "templates": self.templates.name, "generator": self.backend.describe()}


class OracleProposer(Proposer):
    """The embedded world's ground truth in the proposer's output format: the true first error and the
    reference step that belongs there (world.problems.render_verification_target). Deterministic, so all
    ``n`` proposals are the same text."""

    kind = "oracle"

    def __init__(self) -> None:
        from harness.world.problems import render_verification_target

        self._target = render_verification_target

    def verify(
        self, items: list[dict[str, Any]], solves: list[str | None], params: SamplingParams
    ) -> list[list[Sample]]:
        return [[Sample(text=self._target(it, it["attempt"]))] * params.n for it in items]


def make_proposer(kind: str, templates: TemplateSet, backend: Backend | None) -> Proposer:
    if kind == "oracle":
        return OracleProposer()
    if backend is None:
        raise ValueError(f"proposer {kind!r} needs a generation backend")
    return ModelProposer(backend, templates, kind=kind)


def world_truth(task_name: str) -> Any:
    """``item -> true first-error substep`` for the embedded world, None for tasks without a checker."""
    if task_name != "world":
        return None
    from harness.world.problems import first_error

    return lambda item: first_error(item, item["attempt"])
