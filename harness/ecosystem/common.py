"""What the inspect_ai tasks, the lm-eval tasks and the importers share: which benchmarks are exported,
how a problem becomes a prompt row, and how a response is graded.

One definition of each is the whole point: a number from `inspect eval`, from `lm_eval` or from
`harness eval` means the same thing only if all three render the same prompt and call the same grader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Benchmarks shipped as lm-eval task files (training sets stay internal). inspect_ai sees every registered
# task, plugins included (the `int_harness` package).
BENCHMARKS: tuple[str, ...] = (
    "imo-answerbench",
    "aime24",
    "aime25",
    "hmmt-feb-2025",
    "math500",
    "amc23",
    "world",
)
DEFAULT_GRADER_TIMEOUT = 10.0
# Our own sampling defaults (harness.evaluate.SamplingConfig), so the external tools sample alike.
DEFAULT_SAMPLING: dict[str, Any] = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 16384}


@dataclass(frozen=True)
class ExportedTask:
    """A benchmark as the external tools name it: ``export`` is an identifier (``imo_answerbench_v1``)
    because inspect refuses dots and lm-eval task names end up in file names."""

    export: str
    task: str
    version: str | None  # None = the registry's default version

    @property
    def spec(self) -> str:
        return self.task if self.version is None else f"{self.task}@{self.version}"


def identifier(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


def exports_of(name: str, versions: Sequence[Any]) -> list[ExportedTask]:
    """The external names of one registered task: its bare name (the only or the default version) and,
    when it has several versions, ``<name>_<version>`` for each."""
    if len(versions) == 1:
        return [ExportedTask(identifier(name), name, versions[0].version)]
    out = [ExportedTask(identifier(name), name, None)] if any(v.is_default for v in versions) else []
    return out + [ExportedTask(identifier(f"{name}_{v.version}"), name, v.version) for v in versions]


def exported_tasks(names: Iterable[str] | None = BENCHMARKS) -> list[ExportedTask]:
    """External names of the given tasks (default: the benchmarks; ``None``: every registered task)."""
    from tasks import list_tasks

    by_name: dict[str, list[Any]] = {}
    for t in list_tasks():
        by_name.setdefault(t.name, []).append(t)
    wanted = list(by_name) if names is None else [n for n in names if n in by_name]
    return [exp for name in wanted for exp in exports_of(name, by_name[name])]


def max_tokens_of(task: str, version: str | None = None) -> int:
    """The token budget per sample for a task: its own ``max_tokens``, else our default (16,384)."""
    from tasks import get_task

    return get_task(task, version).max_tokens or int(DEFAULT_SAMPLING["max_tokens"])


def problem_rows(
    task: str,
    version: str | None = None,
    *,
    data_dir: str | Path | None = None,
    split: str | None = "test",
) -> list[dict[str, Any]]:
    """Our problems with their rendered prompts, flattened to JSON-able rows (``split=None``: the task's
    default split).

    ``prompt_hash`` is computed exactly as ``harness eval`` computes it, so imported samples join ours.
    """
    from harness.backends import GenerationRequest
    from tasks import get_task, load_task, render_prompt

    spec = get_task(task, version)
    loaded = load_task(spec.name, spec.version, data_dir=data_dir, split=split)
    rows = []
    for p in loaded.problems:
        messages = render_prompt(spec, p)
        roles = [m["role"] for m in messages]
        if roles not in (["user"], ["system", "user"]):
            raise ValueError(
                f"{spec.name}@{spec.version}: prompt roles {roles} cannot be exported (need [system,] user)"
            )
        rows.append(
            {
                "id": str(p.id),
                "task": spec.name,
                "version": spec.version,
                "problem": p.problem,
                "answer": str(p.answer),
                "category": p.category or "",
                "system": messages[0]["content"] if roles[0] == "system" else "",
                "prompt": messages[-1]["content"],
                "prompt_hash": GenerationRequest(messages=tuple(messages)).key(),
            }
        )
    return rows


def messages_of(row: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages a row was rendered from (inverse of `problem_rows`)."""
    head = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    return head + [{"role": "user", "content": row["prompt"]}]


def grade_response(response: str, gold: str, *, timeout: float = DEFAULT_GRADER_TIMEOUT) -> Any:
    """Our grader's `Verdict` for one response; every adapter calls this and nothing else."""
    from harness.grading import grade

    return grade(response, gold, timeout=timeout)
