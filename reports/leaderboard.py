"""The leaderboard: avg@k with a 95% CI per model, task and category, seeds aggregated, compute alongside.

Why this shape: one long table (``leaderboard.csv``) that pandas users can pivot any way, with measured,
eval-only and *reported* rows told apart by ``kind`` (and ``role``: base, measured, compute-matched,
eval-only, reported) and a ``source`` column, so a number copied from the paper can never pass for one
measured here. Accuracies are percentages, like the paper's tables.

Seed aggregation: per problem, accuracy is averaged over seeds and the headline is the mean of those.
The CI is a bootstrap over problems with one seed, and a *hierarchical* bootstrap over training seeds
and problems with several (`harness.metrics.hierarchical_bootstrap`), so seed-to-seed variation is inside
the interval, not only beside it (``ci_method`` says which); the spread is the std of per-seed avg@k.

Compute per row is the mean over its seeds of the training steps' totals (``stages.json``): *required*
generated tokens (what the method needs; what compute matching equalises), *diagnostic* generated
tokens (only for measurements such as InT's Table-1 controls), trained tokens and wall time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import ProblemSamples, bootstrap_ci, hierarchical_bootstrap, pass_at_k
from reports.load import CompareRun, MissingData, read_json_if

MEAN_TASK = "mean of tasks"
CI_SEEDS, CI_PROBLEMS = "seeds+problems", "problems"
COMPUTE = ["train_tokens_generated", "train_tokens_generated_diagnostic", "train_tokens_trained", "train_flops",
           "train_flops_diagnostic", "train_wall_time_s", "train_rl_steps", "eval_tokens_generated", "eval_wall_time_s"]  # fmt: skip
COLUMNS = [
    "model", "kind", "role", "matched_to", "protocol_differs", "scope", "task", "category", "n_problems", "k", "n_seeds",
    "accuracy_pct", "ci95_low_pct", "ci95_high_pct", "ci_method", "seed_std_pct", "per_seed_pct", "pass@k_pct",
    *COMPUTE, "source", "note",
]  # fmt: skip


def seed_averaged(per_seed: Mapping[int, Sequence[ProblemSamples]]) -> dict[str, float]:
    """Per-problem accuracy averaged over the seeds that evaluated the problem (the headline's unit)."""
    accs: dict[str, list[float]] = defaultdict(list)
    for problems in per_seed.values():
        for p in problems:
            accs[p.problem_id].append(p.accuracy)
    return {pid: float(np.mean(v)) for pid, v in sorted(accs.items())}


def seed_matrix(per_seed: Mapping[int, Sequence[ProblemSamples]], seeds: Sequence[int], problems: Sequence[str]) -> np.ndarray:
    """``seeds x problems`` accuracies (the input of the hierarchical bootstraps); every cell must exist."""
    acc = {(s, p.problem_id): p.accuracy for s in seeds for p in per_seed[s]}
    return np.array([[acc[(s, pid)] for pid in problems] for s in seeds], dtype=float)


def common_problems(per_seed: Mapping[int, Sequence[ProblemSamples]], seeds: Sequence[int]) -> list[str]:
    """Problem ids every one of ``seeds`` evaluated, sorted."""
    sets = [{p.problem_id for p in per_seed[s]} for s in seeds]
    return sorted(set.intersection(*sets)) if sets else []


def aggregate(per_seed: Mapping[int, Sequence[ProblemSamples]], *, n_boot: int = 10_000) -> dict[str, Any]:
    """avg@k, its CI, the seed spread and pass@k at the largest common k for one model on one problem set."""
    per_seed = {s: ps for s, ps in sorted(per_seed.items()) if ps}
    if not per_seed:
        return {}
    accs = list(seed_averaged(per_seed).values())
    seeds = list(per_seed)
    if len(seeds) > 1 and (common := common_problems(per_seed, seeds)):
        lo, hi = hierarchical_bootstrap(seed_matrix(per_seed, seeds, common), n_boot=n_boot, seed=0)
        method = CI_SEEDS
    else:
        lo, hi = bootstrap_ci(accs, n_boot=n_boot, seed=0)
        method = CI_PROBLEMS
    seed_vals = [float(np.mean([p.accuracy for p in ps])) for ps in per_seed.values()]
    k = min(p.n for ps in per_seed.values() for p in ps)
    pass_k = [float(np.mean([pass_at_k(p.n, sum(p.correct), k) for p in ps])) for ps in per_seed.values()] if k else [np.nan]
    return {
        "n_problems": len(accs),
        "k": k,
        "n_seeds": len(per_seed),
        "accuracy_pct": 100 * float(np.mean(accs)),
        "ci95_low_pct": 100 * lo,
        "ci95_high_pct": 100 * hi,
        "ci_method": method,
        "seed_std_pct": 100 * float(np.std(seed_vals, ddof=1)) if len(seed_vals) > 1 else np.nan,
        "per_seed_pct": "; ".join(f"{100 * v:.2f}" for v in seed_vals),
        "pass@k_pct": 100 * float(np.nanmean(pass_k)),
    }


def compute_totals(run: CompareRun) -> pd.DataFrame:
    """Per model, mean over its seeds: training compute (every non-eval step), RL steps, evaluation compute.

    RL steps come from the RL train logs; a trained arm whose RL never ran (every ``rl`` step skipped, e.g.
    its token budget was spent before RL, or a recipe without RL) has 0; the base model and eval-only rows
    have none (nan). ``n_seeds_compute`` is the number of seeds averaged. Computed once per run (``run.memo``)."""
    if "compute_totals" not in run.memo:
        run.memo["compute_totals"] = _compute_totals(run)
    return run.memo["compute_totals"].copy()


def _compute_totals(run: CompareRun) -> pd.DataFrame:
    st = run.stages
    if st.empty:
        return pd.DataFrame(columns=["model", *COMPUTE, "n_seeds_compute"])
    st = st.assign(is_eval=st["stage"].eq("eval"))
    st = st.assign(flops=st["flops_generated"] + st["flops_trained"], flops_diagnostic=st["flops_generated_diagnostic"])
    train = st[~st["is_eval"]].groupby(["model", "seed"])[["tokens_generated", "tokens_generated_diagnostic", "tokens_trained",
                                                          "flops", "flops_diagnostic", "wall_time"]].sum()
    ev = st[st["is_eval"]].groupby(["model", "seed"])[["tokens_generated", "wall_time"]].sum()
    per_seed = pd.DataFrame(index=st.groupby(["model", "seed"]).size().index)
    per_seed = per_seed.join(train.add_prefix("train_")).join(ev.add_prefix("eval_")).fillna(0)
    per_seed = per_seed.rename(columns={"train_wall_time": "train_wall_time_s", "eval_wall_time": "eval_wall_time_s"})
    steps = rl_steps(run)
    ran_rl = set(st.loc[st["stage"].eq("rl") & ~st["skipped"].map(_is_reason), ["model", "seed"]].itertuples(index=False, name=None))
    trained = {"measured", "compute-matched"}
    per_seed["train_rl_steps"] = [
        steps.get(key, np.nan if key in ran_rl or run.role_of(key[0]) not in trained else 0.0) for key in per_seed.index
    ]
    out = per_seed.groupby("model").mean()
    out["n_seeds_compute"] = per_seed.groupby("model").size()
    return out.reindex(columns=[*COMPUTE, "n_seeds_compute"]).reset_index()


def _is_reason(x: Any) -> bool:
    """A ``skipped`` cell that holds a reason (None and NaN mean the step ran)."""
    return isinstance(x, str) and bool(x)


def rl_steps(run: CompareRun) -> dict[tuple[str, int], float]:
    """``(model, seed) -> RL steps trained`` (the last logged step), from the RL training logs."""
    try:
        log = run.train_log("rl")
    except MissingData:
        return {}
    return {(str(m), int(s)): float(v) for (m, s), v in log.groupby(["model", "seed"])["step"].max().items()}


def what_ran(run: CompareRun, model: str) -> tuple[list[str], dict[str, str]]:
    """(the training steps that ran, in recipe order; ``{step: why}`` for steps skipped), from stages.json.

    A step skipped in some seeds only is listed as run, and its reason says in how many seeds it was skipped."""
    st = run.stages
    st = st[(st["model"] == model) & (st["stage"] != "eval")].sort_values(["order"], kind="stable")
    ran: list[str] = []
    skipped: dict[str, str] = {}
    for stage, g in st.groupby("stage", sort=False):
        reasons = [x for x in g["skipped"] if _is_reason(x)]
        if len(reasons) < len(g):
            ran.append(str(stage))
        if reasons:
            why = "; ".join(dict.fromkeys(reasons))
            skipped[str(stage)] = why if len(reasons) == len(g) else f"in {len(reasons)} of {len(g)} seeds: {why}"
    return ran, skipped


def arm_note(run: CompareRun, model: str, *, short: bool = False) -> str:
    """What a row is, derived from what ran -- not from its name.

    A compute-matched arm: ``"int stopped at rl-baseline's tokens: int + sft only; rl skipped: <why>"`` or
    ``"rl-baseline trained to int's tokens (42 RL steps)"`` ("trained to" when it generated more than its
    recipe's own arm, "stopped at" when less). Any arm with a skipped step: ``"int + sft only; rl skipped:
    <why>"``, or ``"sft skipped in 1 of 2 seeds: <why>"`` when some seeds ran it. ``short``: only what was
    skipped in every seed (``"int + sft only, rl skipped"``), "" when nothing was."""
    ran, skipped = what_ran(run, model)
    full_skips = [s for s, why in skipped.items() if not why.startswith("in ")]
    what = (f"{' + '.join(ran) or 'nothing'} only, {' and '.join(full_skips)} skipped") if full_skips else ""
    if short:
        return what
    parts = [f"{' + '.join(ran) or 'nothing'} only"] if full_skips else []
    parts += [f"{s} skipped: {why}" if s in full_skips else f"{s} skipped {why}" for s, why in skipped.items()]
    detail = "; ".join(parts)
    if run.role_of(model) != "compute-matched":
        return detail
    recipe, target = run.matched_recipe(model), run.matched_to(model)
    totals = compute_totals(run).set_index("model")
    mine = totals["train_tokens_generated"].get(model, np.nan)
    own = totals["train_tokens_generated"].get(recipe, np.nan)
    verb = "stopped at" if own == own and mine < own else "trained to"
    steps = totals["train_rl_steps"].get(model, np.nan)
    if detail:
        return f"{recipe} {verb} {target}'s tokens: {detail}"
    return f"{recipe} {verb} {target}'s tokens" + (f" ({steps:g} RL steps)" if steps == steps else "")


def row_meta(run: CompareRun, model: str) -> dict[str, Any]:
    """The descriptive columns of a model's rows: kind, role, matched_to, protocol_differs, note."""
    out: dict[str, Any] = {"model": model, "kind": run.kind_of(model), "role": run.role_of(model),
                           "matched_to": run.matched_to(model), "protocol_differs": run.protocol_differs(model)}  # fmt: skip
    if out["protocol_differs"]:
        sampling = next((a.sampling for a in run.arms if a.recipe == model and a.sampling), None)
        out["note"] = "evaluated under its own settings, not the frozen protocol" + (f": {sampling}" if sampling else "")
    elif note := arm_note(run, model):
        out["note"] = note
    return out


def leaderboard(run: CompareRun, *, n_boot: int = 10_000) -> pd.DataFrame:
    """The long leaderboard: task, category and mean-of-tasks rows per model, then reported rows.

    Computed once per run and ``n_boot`` (kept in ``run.memo``: the report's figures reuse it)."""
    key = ("leaderboard", n_boot)
    if key not in run.memo:
        run.memo[key] = _leaderboard(run, n_boot)
    return run.memo[key].copy()


def any_leaderboard(run: CompareRun, n_boot: int = 2000) -> pd.DataFrame:
    """The leaderboard already computed for this run (whatever its ``n_boot``), else one with ``n_boot``."""
    done = [v for k, v in run.memo.items() if isinstance(k, tuple) and k[0] == "leaderboard"]
    return done[0].copy() if done else leaderboard(run, n_boot=n_boot)


def _leaderboard(run: CompareRun, n_boot: int) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    by_model_task: dict[tuple[str, str], dict[int, list[ProblemSamples]]] = defaultdict(dict)
    for (model, seed, task), problems in run.problems.items():
        by_model_task[(model, task)][seed] = problems
    compute = compute_totals(run).set_index("model")
    for model in run.models:
        base = row_meta(run, model)
        if model in compute.index:
            base |= {c: compute.loc[model, c] for c in COMPUTE}
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
                "model": r["model"], "kind": "reported", "role": "reported", "scope": "task", "task": r["task"], "category": "",
                "accuracy_pct": r["value"], "source": r["source"], "note": r["note"],
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def reported_view(reported: pd.DataFrame) -> pd.DataFrame:
    """The paper's numbers as one table of models x benchmarks, each number once.

    Tables 3 and 4 share two rows (the base model's 11.68 and InT + RL's 25.62 on IMO-AnswerBench, under
    different labels): a Table-3 row whose recipe and value match a Table-4 row is merged into it (its
    ``source`` then names both tables) instead of being printed twice."""
    if reported.empty:
        return pd.DataFrame()
    rows: dict[str, dict[str, Any]] = {}
    recipe_of: dict[str, Any] = {}
    tasks: list[str] = []
    for r in reported.to_dict("records"):
        tasks += [r["task"]] if r["task"] not in tasks else []
        label = next((lab for lab, row in rows.items() if r["recipe"] and recipe_of[lab] == r["recipe"]
                      and row.get(r["task"], r["value"]) == r["value"]), r["model"])  # fmt: skip
        row = rows.setdefault(label, {"sources": []})
        recipe_of.setdefault(label, r["recipe"])
        row[r["task"]] = r["value"]
        table = str(r["source"]).rsplit(" ", 1)[-1]  # "... Table 4" -> "4"
        row["sources"] += [table] if table not in row["sources"] else []
        if not row.get("budget") and isinstance(r.get("budget"), str):
            row["budget"] = r["budget"]
    view = pd.DataFrame(
        [{**{t: row.get(t, np.nan) for t in tasks}, "token budget": row.get("budget", ""),
          "source": ("Tables " if len(row["sources"]) > 1 else "Table ") + " and ".join(sorted(row["sources"]))}
         for row in rows.values()],
        index=pd.Index(list(rows), name="model (reported)"),
    )  # fmt: skip
    return view


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


HEADER_FOLD = 10  # longer column headers wrap onto several lines in the terminal
OWN_SETTINGS_MARK = " *"
OWN_SETTINGS_LEGEND = "* evaluated under its own sampling settings, not the frozen protocol"


def _cell_lines(text: str) -> str:
    """A cell over up to three short lines (value, CI, seed std), so a column needs ~13 characters."""
    return text.replace(" [", "\n[").replace("] ±", "]\n±").replace(" ±", "\n±")


def _chunks(widths: Sequence[int], budget: int) -> list[list[int]]:
    """Column indices split into groups whose widths fit ``budget`` (at least one column per group)."""
    groups: list[list[int]] = [[]]
    used = 0
    for i, w in enumerate(widths):
        if groups[-1] and used + w > budget:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += w
    return groups


def print_leaderboard(report_dir: str | Path, *, console: Any = None) -> None:
    """Print the saved leaderboard (measured rows, then the paper's reported ones) to the terminal.

    Model names are never truncated: the model column is as wide as the longest name, cells wrap onto
    lines (value / CI / seed std), and when the tasks still do not fit the terminal they are split over
    several tables, each repeating the model column. A comparison that ran despite train/eval overlap
    says so first."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        from harness.ui import console
    folder = Path(report_dir)
    info = read_json_if(folder / "report.json") or {}
    for line in info.get("warnings", []):
        console.print(f"[bold red]{escape(line)}[/]")
    board = pd.read_csv(folder / "leaderboard.csv", keep_default_na=True)
    blocks: list[tuple[str, pd.DataFrame, list[str]]] = []
    measured = pivot(board, ("measured", "eval-only"))
    if not measured.empty:
        differs = set(board.loc[board["protocol_differs"].fillna(False).astype(bool), "model"]) if "protocol_differs" in board else set()
        measured.index = [f"{m}{OWN_SETTINGS_MARK if m in differs else ''}" for m in measured.index]
        measured = measured.map(_cell_lines)
        ci = board.loc[board["scope"] == "task", "ci_method"].dropna().unique() if "ci_method" in board else []
        title = "Measured here: avg@k (%), [95% CI], ±seed std" + (" -- CI over seeds and problems" if CI_SEEDS in ci else "")
        blocks.append((title, measured, [OWN_SETTINGS_LEGEND] if differs else []))
    reported = pd.read_csv(folder / "reported.csv", index_col=0) if (folder / "reported.csv").exists() else pd.DataFrame()
    if not reported.empty:
        reported = reported.drop(columns=["source"], errors="ignore").map(lambda v: "" if pd.isna(v) else f"{v:.2f}" if isinstance(v, float) else str(v))
        blocks.append(("Reported in the InT paper (Tables 3 and 4; pass@1 %, not measured here)", reported, []))
    for title, table, legend in blocks:
        name_w = max(len("model"), *(len(str(m)) for m in table.index))
        # a header may fold onto several lines, a value never does: 2 = the column's padding
        widths = [max(min(len(str(c)), HEADER_FOLD), *(len(line) for v in table[c] for line in str(v).split("\n"))) + 2
                  for c in table.columns]  # fmt: skip
        groups = _chunks(widths, max(20, console.width - name_w - 2))
        for gi, cols in enumerate(groups):
            part = f" ({gi + 1}/{len(groups)})" if len(groups) > 1 else ""
            rich_table = Table(title=escape(title + part), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                               collapse_padding=True)  # fmt: skip
            rich_table.add_column("model", no_wrap=True, min_width=name_w)
            for i in cols:
                rich_table.add_column(escape(str(table.columns[i])), justify="right", overflow="fold")
            for model, values in table.iterrows():
                rich_table.add_row(escape(str(model)), *[escape(str(values.iloc[i])) for i in cols])
            console.print(rich_table)
        for line in legend:
            console.print(escape(line))
