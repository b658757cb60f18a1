"""Paired, per-problem comparison of recipes: the difference, its CI and p-value, and what changed.

Why paired: every recipe is evaluated on the same problems, so the per-problem difference removes the
between-problem variance that dominates unpaired CIs (anchors.md §D item 9). Seeds are aggregated twice,
for two questions: the paired bootstrap runs on per-problem accuracy *averaged over seeds* (is the gap
real across problems?), and the per-seed differences give mean ± std (is it stable across training
seeds?). A problem is *solved* by a recipe when any of its samples, over all seeds, is correct.

For ``harness compare A B C`` the pairs are (A vs B), (A vs C), (B vs C): the first named recipe is the
candidate and the difference is candidate minus baseline.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import ProblemSamples, paired_bootstrap
from reports.leaderboard import seed_averaged
from reports.load import CompareRun

POOLED = "all tasks (pooled)"


def pairs(run: CompareRun) -> list[tuple[str, str]]:
    """(candidate, baseline) for every ordered pair of measured recipes, in command-line order."""
    rs = run.recipes
    return [(rs[i], rs[j]) for i in range(len(rs)) for j in range(i + 1, len(rs))]


def _by_task(run: CompareRun, model: str) -> dict[str, dict[int, list[ProblemSamples]]]:
    out: dict[str, dict[int, list[ProblemSamples]]] = defaultdict(dict)
    for (m, seed, task), problems in run.problems.items():
        if m == model:
            out[task][seed] = problems
    return out


def _solved(per_seed: dict[int, list[ProblemSamples]]) -> dict[str, tuple[int, int]]:
    """problem_id -> (correct samples, samples) over all seeds."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for problems in per_seed.values():
        for p in problems:
            tally[p.problem_id][0] += sum(p.correct)
            tally[p.problem_id][1] += p.n
    return {pid: (c, n) for pid, (c, n) in tally.items()}


def _seed_diffs(cand: dict[int, list[ProblemSamples]], base: dict[int, list[ProblemSamples]], common: set[str]) -> list[float]:
    """avg@k(candidate) - avg@k(baseline) per seed both ran, on the common problems."""
    diffs = []
    for seed in sorted(set(cand) & set(base)):
        a = [p.accuracy for p in cand[seed] if p.problem_id in common]
        b = [p.accuracy for p in base[seed] if p.problem_id in common]
        if a and b:
            diffs.append(float(np.mean(a) - np.mean(b)))
    return diffs


def compare_pair(run: CompareRun, candidate: str, baseline: str, *, n_boot: int = 10_000) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the paired table (one per task plus the pooled row) and the changed-problem rows."""
    cand_t, base_t = _by_task(run, candidate), _by_task(run, baseline)
    stats_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    pooled_a: list[float] = []
    pooled_b: list[float] = []
    pooled_seed: dict[str, list[float]] = {}
    for task in run.tasks:
        if task not in cand_t or task not in base_t:
            continue
        acc_c, acc_b = seed_averaged(cand_t[task]), seed_averaged(base_t[task])
        common = sorted(set(acc_c) & set(acc_b))
        if not common:
            continue
        a, b = [acc_b[p] for p in common], [acc_c[p] for p in common]
        pooled_a += a
        pooled_b += b
        sol_c, sol_b = _solved(cand_t[task]), _solved(base_t[task])
        cats = {p.problem_id: p.category for ps in cand_t[task].values() for p in ps}
        n_new = n_reg = 0
        for pid in common:
            (cc, cn), (bc, bn) = sol_c[pid], sol_b[pid]
            change = "newly solved" if cc and not bc else "regressed" if bc and not cc else None
            if change is None:
                continue
            n_new += change == "newly solved"
            n_reg += change == "regressed"
            changed.append(
                {
                    "candidate": candidate, "baseline": baseline, "task": task, "problem_id": pid,
                    "category": cats.get(pid), "change": change,
                    "candidate_correct": cc, "candidate_samples": cn, "baseline_correct": bc, "baseline_samples": bn,
                }
            )  # fmt: skip
        seed_diffs = _seed_diffs(cand_t[task], base_t[task], set(common))
        pooled_seed[task] = seed_diffs
        stats_rows.append(_row(candidate, baseline, task, a, b, seed_diffs, n_new, n_reg, n_boot))
    if len(stats_rows) > 1:
        n_seeds = min(len(v) for v in pooled_seed.values())
        # pooled per-seed difference: problem-weighted mean of the task differences of that seed
        weights = [r["n_problems"] for r in stats_rows]
        seed_diffs = [float(np.average([pooled_seed[r["task"]][i] for r in stats_rows], weights=weights)) for i in range(n_seeds)]
        new = sum(r["newly_solved"] for r in stats_rows)
        reg = sum(r["regressed"] for r in stats_rows)
        stats_rows.append(_row(candidate, baseline, POOLED, pooled_a, pooled_b, seed_diffs, new, reg, n_boot))
    return stats_rows, changed


def _row(cand: str, base: str, task: str, a: list[float], b: list[float], seed_diffs: list[float],
         n_new: int, n_reg: int, n_boot: int) -> dict[str, Any]:  # fmt: skip
    res = paired_bootstrap(a, b, n_boot=n_boot, seed=0)
    return {
        "candidate": cand, "baseline": base, "task": task, "n_problems": res["n"],
        "candidate_pct": 100 * float(np.mean(b)), "baseline_pct": 100 * float(np.mean(a)),
        "diff_pct": 100 * res["diff"], "ci95_low_pct": 100 * res["ci_low"], "ci95_high_pct": 100 * res["ci_high"],
        "p_value": res["p_value"], "n_seed_pairs": len(seed_diffs),
        "seed_diff_mean_pct": 100 * float(np.mean(seed_diffs)) if seed_diffs else np.nan,
        "seed_diff_std_pct": 100 * float(np.std(seed_diffs, ddof=1)) if len(seed_diffs) > 1 else np.nan,
        "newly_solved": n_new, "regressed": n_reg,
    }  # fmt: skip


def paired_tables(run: CompareRun, *, n_boot: int = 10_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(paired statistics, changed problems) for every recipe pair; empty frames with one recipe."""
    stats: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for cand, base in pairs(run):
        s, c = compare_pair(run, cand, base, n_boot=n_boot)
        stats += s
        changed += c
    change_cols = ["candidate", "baseline", "task", "problem_id", "category", "change", "candidate_correct",
                   "candidate_samples", "baseline_correct", "baseline_samples"]  # fmt: skip
    stat_frame = pd.DataFrame(stats)
    change_frame = pd.DataFrame(changed, columns=change_cols)
    return stat_frame, change_frame
