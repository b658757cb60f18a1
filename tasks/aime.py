"""AIME 2024 and AIME 2025 (I + II): 30 integer-answer problems each.

Answers keep their upstream string form, which for AIME 2024 includes leading zeros (``"025"``); the
integer value is in ``metadata["integer_answer"]`` so graders can compare as numbers. Ids are
``I-1``..``I-15`` and ``II-1``..``II-15`` for both years, in contest order.
"""

from __future__ import annotations

import re

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import UniqueIds, expect_count, field, read_jsonl, read_matharena_contest
from tasks.registry import register_task

QWEN_COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"
AIME24_URL = (
    f"https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/{QWEN_COMMIT}/evaluation/data/aime24/test.jsonl"
)
# The last MatHArena commit before its data moved to the Hub (5e8b18c).
MATHARENA_COMMIT = "81f103e38b1df076afa65ee0a3ffbe148d42e6d2"
MATHARENA_AIME = f"https://raw.githubusercontent.com/eth-sri/matharena/{MATHARENA_COMMIT}/data/aime"
_URL_ID = re.compile(r"(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")


def _contest_order(pid: str) -> tuple[int, int]:
    contest, number = pid.split("-")
    return len(contest), int(number)


def load_aime24(resolver: DataResolver) -> LoadedTask:
    """Qwen2.5-Math's copy sorts problems lexicographically per contest; recover I-n/II-n from the URL."""
    path = resolver.local_file("aime24", "aime24/test.jsonl", AIME24_URL)
    problems = []
    ids = UniqueIds(path, field="url")
    for lineno, row in enumerate(read_jsonl(path), 1):
        where = f"{path}: line {lineno}"
        url = str(field(row, "url", where))
        match = _URL_ID.search(url)
        if match is None:
            raise ValueError(f"{where}: field 'url' does not name an AIME problem: {url!r}")
        year, contest, number = match.groups()
        ids.add(f"{contest}-{int(number)}", f"line {lineno}")
        answer = str(field(row, "answer", where)).strip()
        problems.append(
            Problem(
                id=f"{contest}-{int(number)}",
                problem=str(field(row, "problem", where)).strip(),
                answer=answer,
                solution=row.get("solution") or None,
                category=f"AIME {contest}",
                metadata={
                    "year": int(year),
                    "url": url,
                    "source_id": row.get("id"),
                    "integer_answer": int(answer),
                },
            )
        )
    problems.sort(key=lambda p: _contest_order(p.id))
    expect_count(problems, 30, str(path))
    return LoadedTask(problems=problems, origin=str(path))


def load_aime25(resolver: DataResolver) -> LoadedTask:
    problems, origins = [], []
    for contest in ("I", "II"):
        folder = f"aime_2025_{contest}"
        rows, answers_path = read_matharena_contest(
            resolver, "aime25", f"aime25/{folder}", f"{MATHARENA_AIME}/{folder}", n_problems=15
        )
        origins.append(str(answers_path.parent))
        for pid, text, answer in rows:
            problems.append(
                Problem(
                    id=f"{contest}-{pid}",
                    problem=text,
                    answer=answer,
                    category=f"AIME {contest}",
                    metadata={"year": 2025, "integer_answer": int(answer)},
                )
            )
    return LoadedTask(problems=problems, origin=" + ".join(origins))


_COMMON = dict(
    prompt_template="boxed",
    answer_format="integer",
    categories=("AIME I", "AIME II"),
    version="default",
)

register_task(
    Task(
        name="aime24",
        description="AIME 2024 I+II: 30 problems, integer answers 0-999, AoPS worked solutions",
        loader=load_aime24,
        source=AIME24_URL,
        license="MIT (Qwen2.5-Math evaluation/); problems (c) MAA",
        hub_id="HuggingFaceH4/aime_2024",
        **_COMMON,
    )
)
register_task(
    Task(
        name="aime25",
        description="AIME 2025 I+II: 30 problems, integer answers 0-999 (MatHArena LaTeX transcription)",
        loader=load_aime25,
        source=f"{MATHARENA_AIME}/aime_2025_{{I,II}}/",
        license="MIT (eth-sri/matharena); problems (c) MAA",
        hub_id="MathArena/aime_2025",
        **_COMMON,
    )
)
