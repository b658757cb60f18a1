"""MATH-500: the PRM800K test subset of MATH (500 problems, 7 subjects, levels 1-5).

Category is the MATH subject so per-subject accuracy falls out of the generic per-category metrics;
the difficulty level stays in metadata.
"""

from __future__ import annotations

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import UniqueIds, expect_count, field, read_jsonl
from tasks.registry import register_task

COMMIT = "cf1c7858bfc145a27aa733e75d930d34f0d318a6"
URL = (
    f"https://raw.githubusercontent.com/hkust-nlp/simpleRL-reason/{COMMIT}"
    "/examples/simplelr_math_eval/data/math500/test.jsonl"
)
SUBJECTS = (
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
)


def load(resolver: DataResolver) -> LoadedTask:
    path = resolver.local_file("math500", "math500/test.jsonl", URL)
    problems = []
    ids = UniqueIds(path, field="unique_id")
    for lineno, row in enumerate(read_jsonl(path), 1):
        where = f"{path}: line {lineno}"
        problems.append(
            Problem(
                id=ids.add(str(field(row, "unique_id", where)), f"line {lineno}"),
                problem=str(field(row, "problem", where)).strip(),
                answer=str(field(row, "answer", where)).strip(),
                solution=row.get("solution") or None,
                category=str(field(row, "subject", where)),
                metadata={"level": int(field(row, "level", where))},
            )
        )
    expect_count(problems, 500, str(path))
    return LoadedTask(problems=problems, origin=str(path))


register_task(
    Task(
        name="math500",
        version="default",
        description="MATH-500: 500 MATH test problems (PRM800K split), 7 subjects, levels 1-5",
        loader=load,
        prompt_template="boxed",
        answer_format="latex",
        source=URL,
        license="MIT",
        categories=SUBJECTS,
        hub_id="HuggingFaceH4/MATH-500",
    )
)
