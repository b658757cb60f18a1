"""HMMT February 2025 (local MatHArena copy) and HMMT November 2025 (Hub only; an InT eval benchmark).

HMMT answers are LaTeX (``\\frac{1}{576}``, ``2^{25} \\cdot 26!``, two-value answers), so they need
symbolic grading, not string or integer matching.
"""

from __future__ import annotations

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import load_hub_task, matharena_problem, read_matharena_contest
from tasks.registry import register_task

# The last MatHArena commit before its data moved to the Hub (5e8b18c).
MATHARENA_COMMIT = "81f103e38b1df076afa65ee0a3ffbe148d42e6d2"
FEB_URL = f"https://raw.githubusercontent.com/eth-sri/matharena/{MATHARENA_COMMIT}/data/hmmt/hmmt_feb_2025"
# Hub id seen in several third-party eval configs (load_dataset("MathArena/hmmt_nov_2025", split="train"),
# columns problem/answer); problem_idx/problem_type follow MatHArena's other cards but were not confirmed.
NOV_HUB_ID = "MathArena/hmmt_nov_2025"
MATHARENA_LICENSE = "CC-BY-NC-SA-4.0 (MatHArena Hub copy); problems (c) HMMT"


def load_feb(resolver: DataResolver) -> LoadedTask:
    rows, answers_path = read_matharena_contest(
        resolver, "hmmt-feb-2025", "hmmt-feb-2025/hmmt_feb_2025", FEB_URL, n_problems=30
    )
    problems = [Problem(id=pid, problem=text, answer=answer) for pid, text, answer in rows]
    return LoadedTask(problems=problems, origin=str(answers_path.parent))


def load_nov(resolver: DataResolver, split: str = "test") -> LoadedTask:
    return load_hub_task(
        resolver, "hmmt-nov-2025", NOV_HUB_ID, "train", split, matharena_problem, expected=30
    )


register_task(
    Task(
        name="hmmt-feb-2025",
        version="default",
        description="HMMT February 2025: 30 problems with LaTeX answers (MatHArena transcription)",
        loader=load_feb,
        prompt_template="boxed",
        answer_format="latex",
        source=f"{FEB_URL}/",
        license="MIT (eth-sri/matharena); problems (c) HMMT",
        hub_id="MathArena/hmmt_feb_2025",
    )
)
register_task(
    Task(
        name="hmmt-nov-2025",
        version="default",
        description="HMMT November 2025: 30 problems (InT paper eval benchmark; Hub only)",
        loader=load_nov,
        prompt_template="paper",
        answer_format="latex",
        source=f"hf://datasets/{NOV_HUB_ID} (split train)",
        license=MATHARENA_LICENSE,
        hub_only=True,
        size=30,  # the documented size (loader check)
        hub_id=NOV_HUB_ID,
    )
)
