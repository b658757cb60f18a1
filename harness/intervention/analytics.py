"""InT-specific analytics the stages record in their manifests (reports read them from there).

Why these: they are what the paper plots or argues from and what no existing harness computes --
where first errors sit (Fig. 2, absolute and relative to the attempt's length), how short interventions
are next to rollouts (Fig. 10), how often proposals leak the answer or fail to parse, how well a
proposer localises the true first error (embedded world only), and the Table-1 comparison of
continuations after the intervention against the controls.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CONDITION_LABELS = {
    "scratch": "x only (resample from scratch)",
    "prefix": "x + prefix",
    "original": "x + prefix + original step",
    "intervention": "x + prefix + intervention",
    "hint": "x + hint (reference's first substeps)",
    "hint_intervention": "x + hint + intervention",
}


def describe(values: Sequence[float]) -> dict[str, Any]:
    """n, mean and quantiles (nearest-rank), or just n=0."""
    if not values:
        return {"n": 0}
    xs = sorted(values)

    def q(p: float) -> float:
        return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]

    return {
        "n": len(xs),
        "mean": sum(xs) / len(xs),
        "min": xs[0],
        "p10": q(0.1),
        "p25": q(0.25),
        "median": q(0.5),
        "p75": q(0.75),
        "p90": q(0.9),
        "max": xs[-1],
    }


def histogram(values: Iterable[float], edges: Sequence[float]) -> dict[str, int]:
    """Counts per ``[edges[i], edges[i+1])``; the last bin is open-ended."""
    counts: Counter[str] = Counter()
    for v in values:
        for lo, hi in zip(edges, [*edges[1:], float("inf")], strict=True):
            if lo <= v < hi:
                counts[f"{lo:g}-{hi:g}" if hi != float("inf") else f">={lo:g}"] += 1
                break
    return dict(counts)


def proposal_analytics(proposals: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Parse-failure rate, leak rates, first-error locations and (where known) localisation accuracy."""
    n = len(proposals)
    parsed = [p for p in proposals if p["parse"]["ok"]]
    located = [p for p in parsed if p["parse"]["content"] and p["parse"]["location"]]
    with_truth = [p for p in located if p.get("true_first_error") is not None]
    rel = [p["location_rel"] for p in located if p.get("location_rel") is not None]
    out: dict[str, Any] = {
        "proposals": n,
        "parse_failure_rate": (n - len(parsed)) / n if n else 0.0,
        "parse_failures_by_reason": dict(
            Counter(p["parse"]["reason"] for p in proposals if not p["parse"]["ok"])
        ),
        "parse_methods": dict(Counter(p["parse"]["method"] for p in parsed)),
        "truncated_outputs": sum(p.get("finish_reason") == "length" for p in proposals),
        "no_critical_error": sum(1 for p in parsed if not p["parse"]["content"]),
        "leak_rate_substring": _rate(located, "leak_substring"),
        "leak_rate_boxed": _rate(located, "leak_boxed"),
        "first_error_location": describe([p["parse"]["location"] for p in located]),
        "first_error_location_hist": histogram(
            [p["parse"]["location"] for p in located], [1, 2, 3, 5, 10, 25, 50, 100, 250]
        ),
        "first_error_relative": describe(rel),
        "first_error_relative_hist": histogram(rel, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    }
    if with_truth:
        exact = sum(p["parse"]["location"] == p["true_first_error"] for p in with_truth)
        near = sum(abs(p["parse"]["location"] - p["true_first_error"]) <= 1 for p in with_truth)
        early = sum(p["parse"]["location"] < p["true_first_error"] for p in with_truth)
        out["localization"] = {
            "scored": len(with_truth),
            "exact": exact / len(with_truth),
            "within_1": near / len(with_truth),
            "too_early": early / len(with_truth),
            "too_late": (len(with_truth) - exact - early) / len(with_truth),
            "exact_over_all_proposals": exact / n if n else 0.0,
        }
    return out


def _rate(rows: Sequence[Mapping[str, Any]], key: str) -> float:
    return sum(bool(r.get(key)) for r in rows) / len(rows) if rows else 0.0


def table1(units: Sequence[Mapping[str, Any]], samples: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Coverage (problems with >= 1 correct continuation / problems) and accuracy (correct / samples) per
    condition, over the same problem set, plus the intervention / original-step accuracy ratio."""
    unit_of = {u["unit_id"]: u for u in units}
    problems = sorted({u["problem_id"] for u in units})
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"units": set(), "samples": 0, "correct": 0, "solved": set()}
    )
    for s in samples:
        u = unit_of.get(s["problem_id"])
        if u is None:
            continue
        row = acc[u["condition"]]
        row["units"].add(u["unit_id"])
        row["samples"] += 1
        if s["correct"]:
            row["correct"] += 1
            row["solved"].add(u["problem_id"])
    rows = {}
    for cond in CONDITION_LABELS:
        if cond not in acc:
            continue
        r = acc[cond]
        rows[cond] = {
            "label": CONDITION_LABELS[cond],
            "units": len(r["units"]),
            "samples": r["samples"],
            "correct": r["correct"],
            "accuracy": r["correct"] / r["samples"] if r["samples"] else 0.0,
            "covered": len(r["solved"]),
            "problems": len(problems),
            "coverage": len(r["solved"]) / len(problems) if problems else 0.0,
        }
    return {"problems": len(problems), "conditions": rows, "ratio_intervention_over_original": ratio(rows)}


def ratio(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Accuracy after the intervention divided by accuracy after the original step (the paper's 22x).
    With zero correct original-step continuations the ratio is unbounded; we then also give the lower
    bound obtained by pretending one of them had been correct."""
    if "intervention" not in rows or "original" not in rows:
        return None
    a, b = rows["intervention"], rows["original"]
    if b["correct"]:
        return {"value": a["accuracy"] / b["accuracy"], "bounded": True}
    lower = a["accuracy"] / (1 / b["samples"]) if b["samples"] else None
    return {"value": None, "lower_bound": lower, "bounded": False}
