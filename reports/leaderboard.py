"""The leaderboard: avg@k with a 95% CI per model, task and category, seeds aggregated, compute alongside.

Why this shape: one long table (``leaderboard.csv``) that pandas users can pivot any way, with measured,
eval-only and *reported* rows told apart by ``kind`` and a ``source`` column, so a number copied from
the paper can never pass for one measured here. Accuracies are percentages, like the paper's tables.

Seed aggregation: per problem, accuracy is averaged over seeds; the headline is the mean of those, the
CI is a bootstrap over problems (harness.metrics), and the spread is the std of per-seed avg@k.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import ProblemSamples, bootstrap_ci, summarize
from reports.load import CompareRun

MEAN_TASK = "mean of tasks"
COLUMNS = [
    "model", "kind", "scope", "task", "category", "n_problems", "k", "n_seeds", "accuracy_pct", "ci95_low_pct",
    "ci95_high_pct", "seed_std_pct", "per_seed_pct", "pass@k_pct", "train_tokens_generated", "train_tokens_trained",
    "train_wall_time_s", "eval_tokens_generated", "eval_wall_time_s", "source", "note",
]  # fmt: skip


def seed_averaged(per_seed: Mapping[int, Sequence[ProblemSamples]]) -> dict[str, float]:
    """Per-problem accuracy averaged over the seeds that evaluated the problem (the unit of every CI)."""
    accs: dict[str, list[float]] = defaultdict(list)
    for problems in per_seed.values():
        for p in problems:
            accs[p.problem_id].append(p.accuracy)
    return {pid: float(np.mean(v)) for pid, v in sorted(accs.items())}


def aggregate(per_seed: Mapping[int, Sequence[ProblemSamples]], *, n_boot: int = 10_000) -> dict[str, Any]:
    """avg@k, its CI, the seed spread and pass@k at the largest common k for one model on one problem set."""
    per_seed = {s: ps for s, ps in per_seed.items() if ps}
    if not per_seed:
        return {}
    # summarize()'s own CI is per seed and unused here (ours is over seed-averaged problems): n_boot=1.
    summaries = {s: summarize(ps, n_boot=1, seed=0) for s, ps in sorted(per_seed.items())}
    accs = list(seed_averaged(per_seed).values())
    lo, hi = bootstrap_ci(accs, n_boot=n_boot, seed=0)
    seed_vals = [summ["avg@k"] for summ in summaries.values()]
    k = min(summ["samples_per_problem"] for summ in summaries.values())
    pass_k = [summ["pass@k"].get(str(k), np.nan) for summ in summaries.values()]
    return {
        "n_problems": len(accs),
        "k": k,
        "n_seeds": len(per_seed),
        "accuracy_pct": 100 * float(np.mean(accs)),
        "ci95_low_pct": 100 * lo,
        "ci95_high_pct": 100 * hi,
        "seed_std_pct": 100 * float(np.std(seed_vals, ddof=1)) if len(seed_vals) > 1 else np.nan,
        "per_seed_pct": "; ".join(f"{100 * v:.2f}" for v in seed_vals),
        "pass@k_pct": 100 * float(np.nanmean(pass_k)),
    }


def compute_totals(run: CompareRun) -> pd.DataFrame:
    """Per model: training compute (every non-eval stage) and evaluation compute, mean over seeds."""
    st = run.stages
    cols = ["train_tokens_generated", "train_tokens_trained", "train_wall_time_s", "eval_tokens_generated", "eval_wall_time_s"]
    if st.empty:
        return pd.DataFrame(columns=["model", *cols])
    st = st.assign(is_eval=st["stage"].eq("eval"))
    per_seed = st.groupby(["model", "seed", "is_eval"])[["tokens_generated", "tokens_trained", "wall_time"]].sum()
    per_seed = per_seed.unstack("is_eval", fill_value=0)
    out = pd.DataFrame(index=per_seed.index)
    for name, (col, is_eval) in zip(
        cols,
        [("tokens_generated", False), ("tokens_trained", False), ("wall_time", False), ("tokens_generated", True), ("wall_time", True)],
        strict=True,
    ):
        out[name] = per_seed[(col, is_eval)] if (col, is_eval) in per_seed.columns else 0
    return out.groupby("model").mean().reset_index()


def leaderboard(run: CompareRun, *, n_boot: int = 10_000) -> pd.DataFrame:
    """The long leaderboard: task, category and mean-of-tasks rows per model, then reported rows."""
    rows: list[dict[str, Any]] = []
    by_model_task: dict[tuple[str, str], dict[int, list[ProblemSamples]]] = defaultdict(dict)
    for (model, seed, task), problems in run.problems.items():
        by_model_task[(model, task)][seed] = problems
    compute = compute_totals(run).set_index("model")
    for model in run.models:
        base = {"model": model, "kind": run.kind_of(model)}
        if model in compute.index:
            base |= compute.loc[model].to_dict()
        task_seed_means: dict[int, list[float]] = defaultdict(list)
        for task in run.tasks:
            per_seed = by_model_task.get((model, task))
            if not per_seed:
                continue
            rows.append(base | {"scope": "task", "task": task, "category": ""} | aggregate(per_seed, n_boot=n_boot))
            for s, ps in per_seed.items():
                task_seed_means[s].append(float(np.mean([p.accuracy for p in ps])))
            cats = sorted({p.category for ps in per_seed.values() for p in ps if p.category is not None})
            for cat in cats if len(cats) > 1 else []:
                sub = {s: [p for p in ps if p.category == cat] for s, ps in per_seed.items()}
                rows.append(base | {"scope": "category", "task": task, "category": cat} | aggregate(sub, n_boot=n_boot))
        n_tasks = sum((model, t) in by_model_task for t in run.tasks)
        if n_tasks > 1:
            vals = [100 * float(np.mean(v)) for v in task_seed_means.values() if len(v) == n_tasks]
            rows.append(
                base | {
                    "scope": "mean", "task": MEAN_TASK, "category": "", "n_seeds": len(vals),
                    "accuracy_pct": float(np.mean(vals)) if vals else np.nan,
                    "seed_std_pct": float(np.std(vals, ddof=1)) if len(vals) > 1 else np.nan,
                    "per_seed_pct": "; ".join(f"{v:.2f}" for v in vals),
                    "note": "unweighted mean of the task avg@k; CI not defined",
                }
            )  # fmt: skip
    for r in run.reported.to_dict("records"):
        rows.append(
            {
                "model": r["model"], "kind": "reported", "scope": "task", "task": r["task"], "category": "",
                "accuracy_pct": r["value"], "source": r["source"], "note": r["note"],
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def cell(row: Mapping[str, Any]) -> str:
    """One leaderboard cell: ``25.6 [23.1, 28.0] ±1.2`` (CI when defined, seed std when > 1 seed)."""
    acc = row.get("accuracy_pct")
    if acc is None or pd.isna(acc):
        return ""
    text = f"{acc:.1f}" if row.get("kind") != "reported" else f"{acc:.2f}"
    if not pd.isna(row.get("ci95_low_pct", np.nan)):
        text += f" [{row['ci95_low_pct']:.1f}, {row['ci95_high_pct']:.1f}]"
    if not pd.isna(row.get("seed_std_pct", np.nan)):
        text += f" ±{row['seed_std_pct']:.1f}"
    return text


def pivot(board: pd.DataFrame, kinds: Sequence[str] = ("measured", "eval-only")) -> pd.DataFrame:
    """Models x tasks of formatted cells (task and mean rows of the given kinds), in first-seen order."""
    sub = board[board["kind"].isin(kinds) & board["scope"].isin(["task", "mean"])]
    if sub.empty:
        return pd.DataFrame()
    models = list(dict.fromkeys(sub["model"]))
    tasks = list(dict.fromkeys(sub["task"]))
    table = pd.DataFrame("", index=models, columns=tasks)
    for r in sub.to_dict("records"):
        table.loc[r["model"], r["task"]] = cell(r)
    return table


def print_leaderboard(report_dir: str | Path) -> None:
    """Print the saved leaderboard (measured rows, then reported ones) to the terminal."""
    from rich.table import Table

    from harness.ui import console

    board = pd.read_csv(Path(report_dir) / "leaderboard.csv", keep_default_na=True)
    for title, kinds in (("Measured (avg@k, 95% CI, ±seed std)", ("measured", "eval-only")), ("Reported in the paper", ("reported",))):
        table = pivot(board, kinds)
        if table.empty:
            continue
        rich_table = Table(title=title)
        rich_table.add_column("model")
        for col in table.columns:
            rich_table.add_column(str(col), justify="right")
        for model, values in table.iterrows():
            rich_table.add_row(str(model), *[str(v) for v in values])
        console.print(rich_table)
