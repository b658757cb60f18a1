"""The InT paper's published numbers (Tables 3 and 4), kept as data with their source.

Why a module of its own: reported numbers must never be confused with measured ones. Every row carries
``kind="reported"`` and a ``source``; reports print them in their own, labelled block. Values are pass@1
percentages estimated from 128 samples (avg@128), as in the paper (int-paper.md §4.1-4.2).

Table 4's "Average" column is *not* the arithmetic mean of its four benchmark columns (int-paper.md §4.1):
it is kept verbatim under the task ``average (as reported)`` with a note, and reports compute their own
labelled mean of tasks instead of treating 21.17 / 33.72 as such a mean.
"""

from __future__ import annotations

from typing import Any

TABLE4_SOURCE = "InT paper (arXiv 2601.14209) Table 4"
TABLE3_SOURCE = "InT paper (arXiv 2601.14209) Table 3"
AVERAGE_TASK = "average (as reported)"
AVERAGE_NOTE = (
    "Table 4's 'Average' is not the mean of its four benchmark columns "
    "(those means are 25.08 / 31.96 / 29.93 / 21.18 / 28.71 / 34.94); copied verbatim."
)

# Harness task names of the paper's benchmarks (tasks/*.py registry names).
TABLE4_TASKS = ("imo-answerbench", "hmmt-nov-2025", "amo-bench", "apex-shortlist", AVERAGE_TASK)

# (model label, harness recipe it corresponds to or None, values in TABLE4_TASKS order)
TABLE4: tuple[tuple[str, str | None, tuple[float, ...]], ...] = (
    ("Qwen3-4B-Instruct-2507 (base)", "base", (11.68, 41.61, 26.24, 20.79, 21.17)),
    ("+ RL", "rl-baseline", (23.46, 46.46, 35.21, 22.72, 28.26)),
    ("+ Hint-guided RL", None, (16.89, 47.27, 33.34, 22.23, 28.56)),
    ("+ SFT on ref. solutions + RL", "sft-reference-rl", (11.56, 27.45, 25.19, 20.51, 20.76)),
    ("+ SFT on self-reflections + RL", None, (15.53, 38.65, 36.72, 23.93, 27.60)),
    ("+ InT + RL", "int", (25.62, 49.77, 36.16, 28.22, 33.72)),
)

# Larger-model comparison on IMO-AnswerBench (Table 3); token budgets only where the paper states them.
TABLE3: tuple[tuple[str, str | None, float, str | None], ...] = (
    ("Qwen3-4B-Instruct-2507", "base", 11.68, None),
    ("DeepSeek-R1-0528-Qwen3-8B", None, 18.44, None),
    ("gpt-oss-20b", None, 23.36, "32K"),
    ("Qwen3-4B-Instruct-2507 + InT + RL", "int", 25.62, "16K"),
)


def reported_rows() -> list[dict[str, Any]]:
    """Every reported number as one row: model, recipe (or None), task, value (%), source, note, and the
    generation token budget where known (the authors' eval uses 16K; Table 3 gives gpt-oss-20b 32K)."""
    rows: list[dict[str, Any]] = []
    for model, recipe, values in TABLE4:
        for task, value in zip(TABLE4_TASKS, values, strict=True):
            rows.append(
                {
                    "model": model,
                    "recipe": recipe,
                    "task": task,
                    "value": value,
                    "source": TABLE4_SOURCE,
                    "note": AVERAGE_NOTE if task == AVERAGE_TASK else "pass@1 (%), avg@128",
                    "budget": "16K",  # the authors' eval.sh: max_tokens 16,384
                }
            )
    for model, recipe, value, budget in TABLE3:
        rows.append(
            {
                "model": model,
                "recipe": recipe,
                "task": "imo-answerbench",
                "value": value,
                "source": TABLE3_SOURCE,
                "note": "pass@1 (%), avg@128" + (f"; {budget} token budget" if budget else ""),
                "budget": budget,
            }
        )
    return rows
