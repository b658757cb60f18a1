"""AIME 1983-2023 with AoPS worked solutions: 975 training problems (split ``train``).

InT needs a reference solution for every training problem (the verifier checks a failed attempt
against it), which is why this set, and not a bare problem/answer list, is the local training set.
It does not overlap AIME 2024/2025.
"""

from __future__ import annotations

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import UniqueIds, expect_count, field, read_json_array
from tasks.registry import register_task

RLLM_COMMIT = "874daa4acb7f451dc2a4b2b6e8ce28f5aa88d1f5"
URL = f"https://raw.githubusercontent.com/agentica-project/rllm/{RLLM_COMMIT}/rllm/data/train/math/aime.json"
RELPATH = "train/aime-1983-2023/aime.json"


def load(resolver: DataResolver) -> LoadedTask:
    path = resolver.local_file("aime-1983-2023", RELPATH, URL)
    problems = []
    ids = UniqueIds(path, field="year/aime_number/problem_number")
    for index, row in enumerate(read_json_array(path)):
        where = f"{path}: item {index}"
        year, contest, number = (int(field(row, k, where)) for k in ("year", "aime_number", "problem_number"))
        roman = "I" * contest
        ids.add(f"{year}-{roman}-{number}", f"item {index}")
        problems.append(
            Problem(
                id=f"{year}-{roman}-{number}",
                problem=str(field(row, "problem", where)).strip(),
                answer=str(field(row, "answer", where)).strip(),
                solution=str(field(row, "solution", where)).strip(),
                category=f"AIME {roman}",
                metadata={"year": year, "difficulty": row.get("difficulty")},
            )
        )
    expect_count(problems, 975, str(path))
    return LoadedTask(problems=problems, origin=str(path))


register_task(
    Task(
        name="aime-1983-2023",
        version="default",
        description="AIME 1983-2023 training problems with AoPS worked reference solutions (975)",
        loader=load,
        prompt_template="boxed",
        answer_format="integer",
        source=URL,
        license="MIT (agentica-project/rllm); problems (c) MAA, solutions from the AoPS wiki",
        categories=("AIME I", "AIME II"),
        splits=("train",),
        hub_id="agentica-org/DeepScaleR-Preview-Dataset",  # the full 40k mix this file is the AIME slice of
    )
)
