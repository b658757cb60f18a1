"""What several studies read from a finished comparison: arms' folders, models, step records and evaluation
samples, and the statistics every table uses (coverage and accuracy with 95% CIs over seeds and problems)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.metrics import ProblemSamples, bootstrap_ci, group_samples, hierarchical_bootstrap
from harness.rundir import iter_jsonl, read_json

N_BOOT = 4000


def arms(compare_out: Path) -> list[dict[str, Any]]:
    """The arms of a finished comparison as ``compare.json`` lists them (recipe, seed, dir, model, ...)."""
    return read_json(Path(compare_out) / "compare.json")["arms"]


def arm_dirs(compare_out: Path, recipe: str) -> dict[int, Path]:
    """``seed -> arms/<recipe>/seed-<s>`` of one recipe (the base row: its one evaluation, as seed 0)."""
    return {int(a["seed"]): Path(compare_out) / a["dir"] for a in arms(compare_out) if a["recipe"] == recipe}


def arm_models(compare_out: Path, recipe: str) -> dict[int, str]:
    """``seed -> the model the arm ended with`` (a checkpoint folder, or the base model's)."""
    return {int(a["seed"]): str(a["model"]) for a in arms(compare_out) if a["recipe"] == recipe and a.get("model")}


def step_record(arm_dir: Path, stage: str) -> dict[str, Any]:
    """The step record (``step.json``) behind an arm's stage link, e.g. ``int``, ``build-sft``, ``sft``."""
    return read_json(Path(arm_dir) / stage / "step.json")


def eval_samples(arm_dir: Path) -> dict[str, list[ProblemSamples]]:
    """``task@version -> ProblemSamples`` of an arm's evaluation."""
    out = {}
    for path in sorted((Path(arm_dir) / "eval").glob("*/samples.jsonl")):
        out[path.parent.name] = group_samples(iter_jsonl(path))
    return out


def per_seed_samples(compare_out: Path, recipe: str, task: str | None = None) -> dict[int, list[ProblemSamples]]:
    """``seed -> ProblemSamples`` of one recipe on one evaluated task (default: its only task)."""
    out = {}
    for seed, d in sorted(arm_dirs(compare_out, recipe).items()):
        by_task = eval_samples(d)
        if not by_task:
            continue
        name = task or next(iter(by_task))
        if name in by_task:
            out[seed] = by_task[name]
    return out


def ci_over(per_seed: Mapping[int, Sequence[float]]) -> tuple[float, float, str]:
    """95% CI of the mean of per-problem values: hierarchical bootstrap over seeds then problems when there
    are several seeds (problems aligned by position), else a bootstrap over problems."""
    rows = [list(v) for _, v in sorted(per_seed.items()) if len(v)]
    if not rows:
        return (math.nan, math.nan, "")
    if len(rows) > 1 and len({len(r) for r in rows}) == 1:
        lo, hi = hierarchical_bootstrap(rows, n_boot=N_BOOT)
        return lo, hi, "seeds and problems"
    lo, hi = bootstrap_ci([x for r in rows for x in r], n_boot=N_BOOT)
    return lo, hi, "problems"


def coverage_accuracy(per_seed: Mapping[int, Sequence[ProblemSamples]]) -> dict[str, Any]:
    """Coverage (problems with >= 1 correct sample) and accuracy (mean over samples), each with its 95% CI,
    per seed and averaged over seeds; problems are aligned by id across seeds."""
    seeds = sorted(s for s, ps in per_seed.items() if ps)
    if not seeds:
        return {}
    ids = sorted(set.intersection(*[{p.problem_id for p in per_seed[s]} for s in seeds]))
    by = {s: {p.problem_id: p for p in per_seed[s]} for s in seeds}
    cov = {s: [float(any(by[s][i].correct)) for i in ids] for s in seeds}
    acc = {s: [by[s][i].accuracy for i in ids] for s in seeds}
    c_lo, c_hi, method = ci_over(cov)
    a_lo, a_hi, _ = ci_over(acc)
    k = min(p.n for s in seeds for p in per_seed[s])
    return {
        "problems": len(ids), "k": k, "seeds": seeds, "ci_over": method,
        "covered_per_seed": [int(sum(cov[s])) for s in seeds],
        "covered_mean": float(np.mean([sum(cov[s]) for s in seeds])),
        "coverage_pct": 100 * float(np.mean([np.mean(cov[s]) for s in seeds])),
        "coverage_ci95_pct": [100 * c_lo, 100 * c_hi],
        "accuracy_pct": 100 * float(np.mean([np.mean(acc[s]) for s in seeds])),
        "accuracy_ci95_pct": [100 * a_lo, 100 * a_hi],
        "accuracy_per_seed_pct": [100 * float(np.mean(acc[s])) for s in seeds],
    }


def pct(x: float | None, digits: int = 1) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def pct_ci(value: float, ci: Sequence[float], digits: int = 1) -> str:
    """``12.3 [10.1, 14.6]``"""
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def covered_text(r: Mapping[str, Any]) -> str:
    """``123/235`` (one seed) or ``122.5/235 (120; 125)`` (mean, then each seed)."""
    per = r["covered_per_seed"]
    if len(per) == 1:
        return f"{per[0]}/{r['problems']}"
    return f"{r['covered_mean']:g}/{r['problems']} ({'; '.join(str(c) for c in per)})"


def paper_covered(p: Mapping[str, Any] | None) -> str:
    return "" if not p else f"{p['covered']}/{p['problems']} ({100 * p['covered'] / p['problems']:.1f}%)"


def ranks_agree(measured: Mapping[str, float], paper_order: Sequence[str]) -> tuple[bool, list[str]]:
    """Does the measured value order the keys of ``paper_order`` the same way (best first)? Returns
    (agrees, the measured order of those keys)."""
    keys = [k for k in paper_order if k in measured]
    order = sorted(keys, key=lambda k: -measured[k])
    return order == keys, order


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
