"""BRUMO 2025 (Brown University Math Olympiad): 30 problems, Hub only.

MatHArena added BRUMO after moving its data to the Hub, so there is no GitHub copy to pin. Hub id and
columns (problem_idx, problem, answer, problem_type; split train, 30 rows) are from the dataset card.
"""

from __future__ import annotations

from tasks.base import LoadedTask, Task
from tasks.data import DataResolver
from tasks.readers import load_hub_task, matharena_problem
from tasks.registry import register_task

HUB_ID = "MathArena/brumo_2025"


def load(resolver: DataResolver, split: str = "test") -> LoadedTask:
    return load_hub_task(resolver, "brumo25", HUB_ID, "train", split, matharena_problem, expected=30)


register_task(
    Task(
        name="brumo25",
        version="default",
        description="BRUMO 2025: 30 competition problems (MatHArena; Hub only)",
        loader=load,
        prompt_template="boxed",
        answer_format="latex",
        source=f"hf://datasets/{HUB_ID} (split train)",
        license="CC-BY-NC-SA-4.0 (MatHArena Hub copy); problems (c) BRUMO",
        hub_only=True,
        size=30,  # the documented size (loader check)
        hub_id=HUB_ID,
    )
)
