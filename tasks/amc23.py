"""AMC 2023 ("AMC23"): the 40-problem AMC 12A/12B 2023 set of the Qwen2.5-Math / SimpleRL papers.

Not the 83-problem "AMC" set (AMC 12 2022+2023) some RL papers use under a similar name. Upstream
stores answers as floats (``27.0``); they are rendered as integers (``"27"``) so the gold answer
reads like what a model writes.
"""

from __future__ import annotations

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import UniqueIds, expect_count, field, number_to_str, read_jsonl
from tasks.registry import register_task

QWEN_COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"
URL = f"https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/{QWEN_COMMIT}/evaluation/data/amc23/test.jsonl"


def load(resolver: DataResolver) -> LoadedTask:
    path = resolver.local_file("amc23", "amc23/test.jsonl", URL)
    problems = []
    ids = UniqueIds(path)
    for lineno, row in enumerate(read_jsonl(path), 1):
        where = f"{path}: line {lineno}"
        url = str(row.get("url") or "")
        problems.append(
            Problem(
                id=ids.add(str(field(row, "id", where)), f"line {lineno}"),
                problem=str(field(row, "problem", where)).strip(),
                answer=number_to_str(field(row, "answer", where)),
                category="AMC 12A" if "AMC_12A" in url else "AMC 12B" if "AMC_12B" in url else None,
                metadata={"url": url},
            )
        )
    expect_count(problems, 40, str(path))
    return LoadedTask(problems=problems, origin=str(path))


register_task(
    Task(
        name="amc23",
        version="default",
        description="AMC 2023 (12A+12B): 40 problems with numeric answers",
        loader=load,
        prompt_template="boxed",
        answer_format="integer",
        source=URL,
        license="MIT (Qwen2.5-Math evaluation/); problems (c) MAA",
        categories=("AMC 12A", "AMC 12B"),
        hub_id="math-ai/amc23",
    )
)
