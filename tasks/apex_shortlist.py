"""MathArena Apex Shortlist 2025: hard 2025 competition problems (about 50% for frontier models).

An InT paper eval benchmark. Hub only. Id and columns (problem_idx, answer, source, problem; split
train, 49 rows) are from the dataset card; the set may grow, so the size is checked softly.
"""

from __future__ import annotations

from tasks.base import LoadedTask, Task
from tasks.data import DataResolver
from tasks.readers import load_hub_task, matharena_problem
from tasks.registry import register_task

HUB_ID = "MathArena/apex-shortlist"


def load(resolver: DataResolver, split: str = "test") -> LoadedTask:
    return load_hub_task(resolver, "apex-shortlist", HUB_ID, "train", split, matharena_problem, expected=49)


register_task(
    Task(
        name="apex-shortlist",
        version="default",
        description="MathArena Apex Shortlist 2025: hard final-answer problems (InT paper eval; Hub only)",
        loader=load,
        prompt_template="paper",
        answer_format="mixed",
        source=f"hf://datasets/{HUB_ID} (split train)",
        license="CC-BY-NC-SA-4.0 (MatHArena Hub copy)",
        hub_only=True,
        size=49,  # the documented size (loader check)
        hub_id=HUB_ID,
    )
)
