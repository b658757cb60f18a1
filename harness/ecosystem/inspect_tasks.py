"""Our benchmarks as inspect_ai tasks: ``inspect eval int_harness/aime25 --model ...``.

Each task is our loader's problems, our rendered prompt, inspect's ``generate()`` and a scorer that calls
our grader -- so an inspect accuracy is our avg@k. This module is the ``inspect_ai`` entry point of the
``int-harness`` distribution; inspect imports it when a task name starts with ``int_harness/``.

Why the explicit ``int_harness/`` registration: inspect prefixes a task with the *import* package of the
module that defines it (``harness``), and only when it can tell that package is installed (it cannot for
an editable install, whose distribution is named ``int-harness``). Registering the namespaced name as
well makes ``int_harness/<task>`` resolve the same way for wheel and editable installs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from inspect_ai import Epochs, Task, task
from inspect_ai._util.registry import RegistryInfo, registry_add, registry_info
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser, GenerateConfig
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Scorer, Target, accuracy, pass_at, scorer, stderr
from inspect_ai.solver import TaskState, generate

from harness.ecosystem.common import (
    DEFAULT_GRADER_TIMEOUT,
    DEFAULT_SAMPLING,
    ExportedTask,
    exported_tasks,
    grade_response,
    problem_rows,
)
from harness.metrics import ks_for

NAMESPACE = "int_harness"


@scorer(metrics=[accuracy(), stderr()], name="int_grader")
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


def epochs_with_reducers(epochs: int) -> Epochs:
    """``mean`` (= our avg@k) plus Chen's unbiased ``pass_at(k)`` for the k our reports use."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    return Epochs(epochs, ["mean", *(pass_at(k) for k in ks_for(epochs) if k > 1)])


def build_task(
    task_name: str,
    version: str | None = None,
    *,
    epochs: int = 1,
    data_dir: str | None = None,
    split: str = "test",
    grader_timeout: float = DEFAULT_GRADER_TIMEOUT,
) -> Task:
    """An inspect `Task` for one of our benchmarks (any registered task, not only the exported ones)."""
    rows = problem_rows(task_name, version, data_dir=data_dir, split=split)
    first = rows[0] if rows else {"task": task_name, "version": version}
    return Task(
        dataset=MemoryDataset([_sample(r) for r in rows], name=f"{first['task']}@{first['version']}"),
        solver=generate(),
        scorer=int_grader(timeout=grader_timeout),
        epochs=epochs_with_reducers(epochs),
        config=GenerateConfig(**DEFAULT_SAMPLING),
        version=0,
        metadata={"int_task": first["task"], "int_version": first["version"], "split": split},
    )


def _register(name: str, factory: Callable[..., Task]) -> Callable[..., Task]:
    registered = task(name=name)(factory)
    info = registry_info(registered)
    qualified = f"{NAMESPACE}/{name}"
    if info.name != qualified:
        registry_add(registered, RegistryInfo(type="task", name=qualified, metadata=info.metadata))
    return registered


def _factory(exp: ExportedTask) -> Callable[..., Task]:
    def make(
        epochs: int = 1,
        data_dir: str | None = None,
        split: str = "test",
        grader_timeout: float = DEFAULT_GRADER_TIMEOUT,
    ) -> Task:
        return build_task(
            exp.task,
            exp.version,
            epochs=epochs,
            data_dir=data_dir,
            split=split,
            grader_timeout=grader_timeout,
        )

    make.__name__ = exp.export
    make.__qualname__ = exp.export
    make.__doc__ = f"{exp.spec} with our prompt and grader; -T epochs=N adds pass@k reducers."
    return make


def benchmark(
    task: str = "aime25",
    version: str | None = None,
    epochs: int = 1,
    data_dir: str | None = None,
    split: str = "test",
    grader_timeout: float = DEFAULT_GRADER_TIMEOUT,
) -> Task:
    """Any registered task by name (``-T task=imo-answerbench -T version=v2``), including plugin tasks."""
    return build_task(
        task, version, epochs=epochs, data_dir=data_dir, split=split, grader_timeout=grader_timeout
    )


REGISTERED: dict[str, Callable[..., Task]] = {"benchmark": _register("benchmark", benchmark)}
for _exp in exported_tasks():
    REGISTERED[_exp.export] = _register(_exp.export, _factory(_exp))
