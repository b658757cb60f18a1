"""AMO-Bench (Meituan LongCat): 50 human-crafted olympiad-or-harder problems; an InT eval benchmark.

Hub only. Columns (question_id, prompt, solution, answer, answer_type; split test, 50 rows) are from the
dataset card and the official grading code. ``answer_type`` is ``number``/``set``/``variable`` (39
parser-gradable problems) or ``description`` (11 that upstream grades with an LLM judge); it is kept in
metadata so reports can split the two. Problem 35 was revised on the Hub on 2025-11-05.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import field, load_hub_task, number_to_str
from tasks.registry import register_task

HUB_ID = "meituan-longcat/AMO-Bench"


def to_problem(row: Mapping[str, Any], index: int, where: str) -> Problem:
    return Problem(
        id=str(field(row, "question_id", where)),
        problem=str(field(row, "prompt", where)).strip(),
        answer=number_to_str(field(row, "answer", where)),
        solution=(row.get("solution") or None),
        metadata={"answer_type": row.get("answer_type")},
    )


def load(resolver: DataResolver, split: str = "test") -> LoadedTask:
    return load_hub_task(resolver, "amo-bench", HUB_ID, "test", split, to_problem, expected=50)


register_task(
    Task(
        name="amo-bench",
        version="default",
        description="AMO-Bench: 50 advanced olympiad problems (InT paper eval; Hub only)",
        loader=load,
        prompt_template="paper",
        answer_format="mixed",
        source=f"hf://datasets/{HUB_ID} (split test)",
        license="MIT (dataset card)",
        hub_only=True,
        size=50,  # the documented size (loader check)
        hub_id=HUB_ID,
    )
)
