"""Paired, per-problem comparison of recipes: the difference, its CI and p-value, and what changed.

Why paired: every recipe is evaluated on the same problems, so the per-problem difference removes the
between-problem variance that dominates unpaired CIs (anchors.md §D item 9). With several training seeds
the bootstrap resamples seeds (paired by seed: both arms of seed s share that seed's data order) and then
problems (`harness.metrics.paired_hierarchical_bootstrap`), so the CI covers seed-to-seed variation too;
with one seed it resamples problems (`paired_bootstrap`). The per-seed differences are also given as
mean ± std and tested over seeds: an exact sign-flip permutation test (`harness.metrics.sign_flip_test`)
and a paired t-test (`paired_t_test`). The headline p-value (``p_value``, named by ``p_method``) is the
sign-flip test whenever two or more seeds are paired (distribution-free, exact; it cannot go below
``p_signflip_min`` = 2 / 2^seeds), else the bootstrap's (``p_bootstrap``); docs/methodology.md says when
each holds. A problem is *solved* by a recipe when any of its samples, over all seeds, is correct.

Views (the ``view`` column): for ``harness compare A B C`` the measured pairs (A vs B), (A vs C),
(B vs C) compare arms trained for the same number of RL steps ("equal RL steps"); with compute matching,
(A vs B@A-compute) compares A with B trained until its required generated tokens reach A's, and
(A@B-compute vs B) compares A stopped at B's budget with B ("equal generated tokens"). The first named
recipe is always the candidate and the difference is candidate minus baseline. The base model and
eval-only rows are leaderboard rows, never pair members.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import (
    ProblemSamples,
    paired_bootstrap,
    paired_hierarchical_bootstrap,
    paired_t_test,
    sign_flip_test,
)
from reports.leaderboard import (
    CI_PROBLEMS,
    CI_SEEDS,
    common_problems,
    compute_totals,
    seed_averaged,
    seed_matrix,
)
from reports.load import CompareRun, MissingData

POOLED = "all tasks (pooled)"
EQUAL_STEPS = "equal RL steps"
EQUAL_FLOPS = "equal FLOPs"
P_SIGNFLIP = "exact sign-flip test over seeds"
P_BOOTSTRAP = "paired bootstrap"


@dataclass(frozen=True)
class Pair:
    candidate: str
    baseline: str
    view: str
    matched: str  # the quantity the view holds equal: "rl_steps" or "tokens"


def pairs(run: CompareRun) -> list[Pair]:
    """Every pair of the paired table: measured recipe pairs at equal RL steps (command-line order), then
    one pair per compute-matched arm at equal generated tokens."""
    rs = run.recipes
    out = [Pair(rs[i], rs[j], EQUAL_STEPS, "rl_steps") for i in range(len(rs)) for j in range(i + 1, len(rs))]
    for model in run.models:
        if run.role_of(model) != "compute-matched":
            continue
        this, other = run.matched_recipe(model), run.matched_to(model) or ""
        later = this in rs and other in rs and rs.index(this) > rs.index(other)
        if run.matched_by(model) == "flops":  # B@A-flops: B kept training until its FLOPs reached A's
            out.append(Pair(other, model, f"{EQUAL_FLOPS}: {this} trained to {other}'s FLOPs", "flops"))
        elif later:  # B@A-compute: B kept training until it generated what A required
            out.append(Pair(other, model, f"equal generated tokens: {this} trained to {other}'s budget", "tokens"))
        else:  # A@B-compute: A's RL stopped when it had generated what B required
            out.append(Pair(model, other, f"equal generated tokens: {this} stopped at {other}'s budget", "tokens"))
    return out


def rl_flops_per_step(run: CompareRun, model: str) -> float:
    """Mean FLOPs of one RL step of ``model`` (its RL steps' FLOPs over their count, mean over seeds)."""
    st = run.stages
    rl = st[(st["model"] == model) & st["stage"].eq("rl")]
    steps = compute_totals(run).set_index("model")["train_rl_steps"].get(model, np.nan)
    total = float((rl["flops_generated"] + rl["flops_trained"]).sum()) / max(1, rl["seed"].nunique())
    return total / steps if steps and steps == steps else 0.0


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


def paired_matrices(cand: dict[int, list[ProblemSamples]], base: dict[int, list[ProblemSamples]]
                    ) -> tuple[np.ndarray, np.ndarray, list[str], list[int]]:  # fmt: skip
    """(baseline, candidate) as ``seeds x problems`` matrices, the problems and the seeds used.

    Seeds both arms ran (>= 2) are paired by seed on the problems every one of them evaluated; otherwise
    each side is averaged over its own seeds into one row (the resampling is then over problems only)."""
    seeds = sorted(set(cand) & set(base))
    if len(seeds) > 1:
        common = sorted(set(common_problems(cand, seeds)) & set(common_problems(base, seeds)))
        if common:
            return seed_matrix(base, seeds, common), seed_matrix(cand, seeds, common), common, seeds
    acc_c, acc_b = seed_averaged(cand), seed_averaged(base)
    common = sorted(set(acc_c) & set(acc_b))
    return np.array([[acc_b[p] for p in common]]), np.array([[acc_c[p] for p in common]]), common, []


def compare_pair(run: CompareRun, pair: Pair | tuple[str, str], *, n_boot: int = 10_000) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the paired table (one per task plus the pooled row) and the changed-problem rows."""
    if not isinstance(pair, Pair):
        pair = Pair(pair[0], pair[1], EQUAL_STEPS, "rl_steps")
    candidate, baseline = pair.candidate, pair.baseline
    cand_t, base_t = _by_task(run, candidate), _by_task(run, baseline)
    stats_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    mats: list[tuple[np.ndarray, np.ndarray, list[int]]] = []
    pooled_seed: dict[str, list[float]] = {}
    for task in run.tasks:
        if task not in cand_t or task not in base_t:
            continue
        a, b, common, seeds = paired_matrices(cand_t[task], base_t[task])
        if not common:
            continue
        mats.append((a, b, seeds))
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
                    "view": pair.view, "candidate": candidate, "baseline": baseline, "task": task, "problem_id": pid,
                    "category": cats.get(pid), "change": change,
                    "candidate_correct": cc, "candidate_samples": cn, "baseline_correct": bc, "baseline_samples": bn,
                }
            )  # fmt: skip
        seed_diffs = _seed_diffs(cand_t[task], base_t[task], set(common))
        pooled_seed[task] = seed_diffs
        stats_rows.append(_row(pair, task, a, b, seeds, seed_diffs, n_new, n_reg, n_boot))
    if len(stats_rows) > 1:
        n_seeds = min(len(v) for v in pooled_seed.values())
        # pooled per-seed difference: problem-weighted mean of the task differences of that seed
        weights = [r["n_problems"] for r in stats_rows]
        seed_diffs = [float(np.average([pooled_seed[r["task"]][i] for r in stats_rows], weights=weights)) for i in range(n_seeds)]
        if all(m[2] == mats[0][2] for m in mats):  # the same seeds paired in every task: pool problems
            a, b, seeds = np.hstack([m[0] for m in mats]), np.hstack([m[1] for m in mats]), mats[0][2]
        else:  # seeds differ between tasks: pool seed-averaged problems
            a, b, seeds = np.hstack([m[0].mean(0) for m in mats])[None], np.hstack([m[1].mean(0) for m in mats])[None], []
        new = sum(r["newly_solved"] for r in stats_rows)
        reg = sum(r["regressed"] for r in stats_rows)
        stats_rows.append(_row(pair, POOLED, a, b, seeds, seed_diffs, new, reg, n_boot))
    return stats_rows, changed


def _row(pair: Pair, task: str, a: np.ndarray, b: np.ndarray, seeds: list[int], seed_diffs: list[float],
         n_new: int, n_reg: int, n_boot: int) -> dict[str, Any]:  # fmt: skip
    if len(seeds) > 1:
        res = paired_hierarchical_bootstrap(a, b, n_boot=n_boot, seed=0)
    else:
        res = paired_bootstrap(a[0], b[0], n_boot=n_boot, seed=0)
    seed_level = len(seed_diffs) > 1  # a test over seeds needs two of them
    flip = sign_flip_test(seed_diffs) if seed_level else {"p_value": np.nan, "p_min": np.nan}
    t = paired_t_test(seed_diffs)
    return {
        "view": pair.view, "candidate": pair.candidate, "baseline": pair.baseline, "task": task, "n_problems": res["n"],
        "n_seeds": max(1, len(seeds)), "ci_method": CI_SEEDS if len(seeds) > 1 else CI_PROBLEMS,
        "candidate_pct": 100 * float(b.mean()), "baseline_pct": 100 * float(a.mean()),
        "diff_pct": 100 * res["diff"], "ci95_low_pct": 100 * res["ci_low"], "ci95_high_pct": 100 * res["ci_high"],
        "p_value": flip["p_value"] if seed_level else res["p_value"], "p_method": P_SIGNFLIP if seed_level else P_BOOTSTRAP,
        "p_bootstrap": res["p_value"], "p_signflip": flip["p_value"], "p_signflip_min": flip["p_min"],
        "t_stat": t["t"], "p_t": t["p_value"], "n_seed_pairs": len(seed_diffs),
        "seed_diff_mean_pct": 100 * float(np.mean(seed_diffs)) if seed_diffs else np.nan,
        "seed_diff_std_pct": 100 * float(np.std(seed_diffs, ddof=1)) if len(seed_diffs) > 1 else np.nan,
        "seed_diffs_pct": "; ".join(f"{100 * x:+.2f}" for x in seed_diffs),
        "newly_solved": n_new, "regressed": n_reg,
    }  # fmt: skip


def rl_tokens_per_step(run: CompareRun) -> dict[str, float]:
    """The most generated tokens one RL step of each model took: the largest increase of the cumulative
    ``tokens_generated`` between logged RL steps, per step, over seeds (a budget-stopped arm overshoots by at
    most its last step, which can be longer than the mean one). Without a train log: the mean per step."""
    st = run.stages
    steps = compute_totals(run).set_index("model")["train_rl_steps"]
    rl = st[st["stage"] == "rl"].groupby(["model", "seed"])["tokens_generated"].sum().groupby("model").mean()
    out = {str(m): float(v / steps[m]) for m, v in rl.items() if m in steps.index and steps[m] > 0}
    try:
        log = run.train_log("rl")
    except MissingData:
        return out
    log = log.dropna(subset=["tokens_generated"]).sort_values(["model", "seed", "step"])
    for model, g in log.groupby("model"):
        # Increments per seed; a seed's first logged row covers steps 1..step from zero tokens.
        d_tok = g.groupby("seed")["tokens_generated"].diff().fillna(g["tokens_generated"])
        d_step = g.groupby("seed")["step"].diff().fillna(g["step"])
        rate = d_tok / d_step.where(d_step > 0)
        if rate.notna().any():
            out[str(model)] = max(out.get(str(model), 0.0), float(rate.max()))
    return out


def paired_tables(run: CompareRun, *, n_boot: int = 10_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(paired statistics, changed problems) for every pair; empty frames with one recipe.

    Each statistics row also carries what its view holds equal, as achieved (means over seeds): the
    required generated training tokens and the RL steps of both sides."""
    compute = compute_totals(run).set_index("model")
    per_step = rl_tokens_per_step(run)
    stats: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for pair in pairs(run):
        s, c = compare_pair(run, pair, n_boot=n_boot)
        for row in s:
            for side in ("candidate", "baseline"):
                model = row[side]
                for col, name in (("train_tokens_generated", "train_tokens_generated"), ("train_rl_steps", "rl_steps"),
                                  ("train_flops", "train_flops")):
                    row[f"{side}_{name}"] = compute.loc[model, col] if model in compute.index else np.nan
            b_flops = row["baseline_train_flops"]
            row["flops_ratio"] = row["candidate_train_flops"] / b_flops if b_flops and b_flops == b_flops else np.nan
            if pair.matched == "tokens":  # the matched side stops within one of its RL steps of the other's total
                matched = row["baseline"] if run.role_of(row["baseline"]) == "compute-matched" else row["candidate"]
                gap = abs(row["candidate_train_tokens_generated"] - row["baseline_train_tokens_generated"])
                row["tokens_matched_within_one_step"] = bool(gap <= per_step.get(matched, 0))
            if pair.matched == "flops":  # within one RL step's FLOPs (its mean: total RL FLOPs / RL steps)
                matched = row["baseline"]
                gap = abs(row["candidate_train_flops"] - row["baseline_train_flops"])
                row["flops_matched_within_one_step"] = bool(gap <= rl_flops_per_step(run, matched))
        stats += s
        changed += c
    change_cols = ["view", "candidate", "baseline", "task", "problem_id", "category", "change", "candidate_correct",
                   "candidate_samples", "baseline_correct", "baseline_samples"]  # fmt: skip
    stat_frame = pd.DataFrame(stats)
    change_frame = pd.DataFrame(changed, columns=change_cols)
    return stat_frame, change_frame
