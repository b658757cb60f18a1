"""Our benchmarks as inspect_ai tasks: the scorer, the metrics and `build_task` behind ``int_harness/<task>``.

Each task is our loader's problems, our rendered prompt, inspect's ``generate()`` and a scorer that calls
our grader -- so an inspect number is our number. The ``@task`` definitions themselves live in the
top-level ``int_harness`` package (the ``inspect_ai`` entry point): inspect names a task after the package
that defines it, so only a package named like the distribution gets ``int_harness/<task>`` from inspect's
public decorator alone.

Why one unreduced metric instead of epoch reducers: inspect heads every reducer's column with the scorer's
name (``int_grader`` twice for mean and pass_at_2), and ``inspect eval --epochs N`` keeps the reducers the
task was built with (only ``mean`` for a task built with one epoch), so pass@k silently disappeared. The
metric sees every epoch's score and reports avg@k, its bootstrap CI, pass@k for every reported k and maj@k
with `harness.metrics.summarize` -- the exact numbers ``harness eval`` prints -- whichever way the epochs
were set (``-T epochs=N`` or ``--epochs N``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from inspect_ai import Task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser, GenerateConfig
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    Metric,
    SampleScore,
    Score,
    Scorer,
    Target,
    metric,
    scorer,
)
from inspect_ai.solver import TaskState, generate

from harness.ecosystem.common import (
    DEFAULT_GRADER_TIMEOUT,
    DEFAULT_SAMPLING,
    grade_response,
    max_tokens_of,
    problem_rows,
)
from harness.metrics import group_samples, summarize

NAMESPACE = "int_harness"


@metric(name="int_metrics", scores="unreduced")
def int_metrics() -> Metric:
    """avg@k with its 95% bootstrap CI, pass@k (k = 2, 4, ..., n) and maj@n over all epochs of all samples.

    Computed by `harness.metrics.summarize`, so the values equal ``harness eval``'s for the same verdicts.
    """

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        records = [
            {
                "problem_id": str(s.sample_id),
                "sample_index": (s.score.metadata or {}).get("epoch", i),
                "correct": s.score.value == CORRECT,
                "extracted": s.score.answer,
            }
            for i, s in enumerate(scores)
        ]
        summary = summarize(group_samples(records))
        if not summary["n_problems"]:
            return {}
        lo, hi = summary["avg@k_ci95"]
        out = {"avg@k": summary["avg@k"], "ci95_low": lo, "ci95_high": hi}
        out.update({f"pass@{k}": v for k, v in summary["pass@k"].items() if k != "1"})
        n = str(summary["samples_per_problem"])
        if n != "1":
            out[f"maj@{n}"] = summary["maj@k"][n]
        return out

    return compute


@scorer(metrics=[int_metrics()], name="int_grader")
def int_grader(timeout: float = DEFAULT_GRADER_TIMEOUT) -> Scorer:
    """Score the completion with our grader; the full verdict goes to the score's metadata so the
    importer can rebuild our per-sample record without re-grading.

    Args:
        timeout: hard per-answer grading limit, seconds (as ``harness eval --grader-timeout``).
    """

    async def score(state: TaskState, target: Target) -> Score:
        response = state.output.completion if state.output else ""
        # The grader enforces its own hard timeout; a worker thread keeps the event loop (and the other
        # samples' generations) running meanwhile.
        verdict = await asyncio.to_thread(grade_response, response, target.text, timeout=timeout)
        return Score(
            value=CORRECT if verdict.correct else INCORRECT,
            answer=verdict.extracted,
            explanation=verdict.reason or None,
            metadata={
                "extracted": verdict.extracted,
                "status": verdict.status,
                "reason": verdict.reason,
                "grader": verdict.grader,
                "epoch": state.epoch - 1,  # our sample_index; maj@k votes over samples in this order
            },
        )

    return score


def _sample(row: dict[str, Any]) -> Sample:
    messages: list[ChatMessage] = []
    if row["system"]:
        messages.append(ChatMessageSystem(content=row["system"]))
    messages.append(ChatMessageUser(content=row["prompt"]))
    meta = {k: row[k] for k in ("task", "version", "category", "prompt_hash")}
    return Sample(id=row["id"], input=messages, target=row["answer"], metadata=meta)


def build_task(
    task_name: str,
    version: str | None = None,
    *,
    epochs: int = 1,
    data_dir: str | None = None,
    split: str | None = None,
    grader_timeout: float = DEFAULT_GRADER_TIMEOUT,
) -> Task:
    """An inspect `Task` for any registered task (``name`` or ``name@version``), built-in or plugin.

    Sampling defaults are ours (paper settings); the token budget is the task's own ``max_tokens`` when it
    declares one. ``split=None`` is the task's default split (``test``, or a training set's only split).
    """
    from tasks import get_task

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    spec = get_task(task_name, version)
    rows = problem_rows(spec.name, spec.version, data_dir=data_dir, split=split)
    sampling = {**DEFAULT_SAMPLING, "max_tokens": max_tokens_of(spec.name, spec.version)}
    return Task(
        dataset=MemoryDataset([_sample(r) for r in rows], name=f"{spec.name}@{spec.version}"),
        solver=generate(),
        scorer=int_grader(timeout=grader_timeout),
        epochs=epochs,
        config=GenerateConfig(**sampling),
        version=0,
        metadata={"int_task": spec.name, "int_version": spec.version, "split": split},
    )
