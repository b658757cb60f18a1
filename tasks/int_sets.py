"""The InT authors' own Hub sets: the evaluation set and the hard training set with reference solutions.

- ``int-test-set`` = ``CMU-AIRe/InT-test-set`` split ``test``: what the authors' ``eval.sh`` samples 128
  times per problem. Their code confirms the ``problem`` column; ``answer`` is assumed (their grader
  needs it) and ``source``/``reference_solution`` are used when present. Card not seen; size unknown.
- ``int-hard-set`` = ``CMU-AIRe/InT-hard-set`` split ``train`` (card: problem, answer, source,
  reference_solution, reference_solution_source; 4,508 train rows, plus a 1,352-row test split). An
  earlier revision named the reference column ``solution`` (the authors' filter notebook), so both work.

Neither set carries ids; ids are the row index within the split, stable only for a fixed Hub revision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataResolver
from tasks.readers import field, load_hub_task, number_to_str
from tasks.registry import register_task

logger = logging.getLogger(__name__)

TEST_HUB_ID = "CMU-AIRe/InT-test-set"
HARD_HUB_ID = "CMU-AIRe/InT-hard-set"


def to_problem(row: Mapping[str, Any], index: int, where: str) -> Problem:
    metadata = {k: row[k] for k in ("source", "reference_solution_source") if row.get(k)}
    return Problem(
        id=str(row.get("id") or index),
        problem=str(field(row, "problem", where)).strip(),
        answer=number_to_str(field(row, "answer", where)),
        solution=(row.get("reference_solution") or row.get("solution") or None),
        category=(str(row["source"]) if row.get("source") else None),
        metadata=metadata,
    )


def load_test(resolver: DataResolver, split: str = "test") -> LoadedTask:
    return load_hub_task(resolver, "int-test-set", TEST_HUB_ID, "test", split, to_problem)


def load_hard(resolver: DataResolver, split: str = "train") -> LoadedTask:
    """Rows without a reference solution are kept but counted: the InT pipeline drops them, not the loader."""
    loaded = load_hub_task(resolver, "int-hard-set", HARD_HUB_ID, "train", split, to_problem, expected=4508)
    missing = sum(1 for p in loaded.problems if not p.solution)
    if missing:
        logger.warning(
            "int-hard-set: %d of %d rows have no reference solution", missing, len(loaded.problems)
        )
    return loaded


register_task(
    Task(
        name="int-test-set",
        version="default",
        description="InT authors' evaluation set (CMU-AIRe/InT-test-set; Hub only)",
        loader=load_test,
        prompt_template="paper",
        answer_format="mixed",
        source=f"hf://datasets/{TEST_HUB_ID} (split test)",
        license="unknown (dataset card not seen)",
        hub_only=True,
        hub_id=TEST_HUB_ID,
    )
)
register_task(
    Task(
        name="int-hard-set",
        version="default",
        description="InT hard training problems with reference solutions (CMU-AIRe/InT-hard-set; Hub only)",
        loader=load_hard,
        prompt_template="paper",
        answer_format="mixed",
        source=f"hf://datasets/{HARD_HUB_ID} (split train)",
        license="unknown (dataset card lists none)",
        splits=("train",),
        hub_only=True,
        hub_id=HARD_HUB_ID,
        size=4508,  # the documented train split (loader check)
        overlaps={"imo-answerbench": 360},  # int-paper.md §2.0: 360 of IMO-AnswerBench's 400 are in the pool
    )
)
