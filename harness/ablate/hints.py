"""Table 1 extended: continuations after the hint alone, the intervention alone and hint + intervention (the
paper's 176-problem study), beside the controls (problem alone, prefix alone, prefix + original step).

One ``int`` step with the continue stage's hint conditions on (`harness.intervention.continuation`): the hint
is hint-guided RL's -- the reference's first ``hint_length`` substeps, its answer never included
(`harness.intervention.steps.hint_prefix`) -- and hint + intervention puts the hint in place of the attempt's
first substeps, then the attempt's own substeps up to its first error, then the intervention
(`harness.intervention.steps.hint_then_intervention`). All conditions run on the same problems (the first
``hint_problems`` drawn from those with a selected intervention), ``continue.n`` samples per unit.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from harness.ablate import paper
from harness.ablate.common import N_BOOT, arm_dirs, paper_covered
from harness.intervention.analytics import CONDITION_LABELS
from harness.rundir import iter_jsonl, read_json

CONDITIONS = ("scratch", "prefix", "original", "intervention", "hint", "hint_intervention")
HINT_LENGTH = 0.5  # hint-rl's


def recipe_text(problems: int | None) -> str:
    controls = ["original", "prefix", "scratch", "hint", "hint_intervention"]
    over = {"continue.controls": controls, "continue.controls_max_problems": problems, "continue.hint_length": HINT_LENGTH}
    import yaml

    return yaml.safe_dump({"name": "int-hints", "description": "InT's stages with the hint conditions on (Table 1 "
                           "extended; no training)", "steps": [{"int": {"overrides": over}}]}, sort_keys=False)


def condition_data(int_dir: Path) -> tuple[dict[str, dict[str, list[int]]], dict[str, Any]]:
    """``condition -> problem -> [correct, samples]`` on the problems the controls ran on, and unit facts."""
    cont = next(p for p in sorted(int_dir.glob("continue-*")) if (p / "units.jsonl").exists())
    units = {u["unit_id"]: u for u in iter_jsonl(cont / "units.jsonl")}
    controls = {u["problem_id"] for u in units.values() if u["condition"] != "intervention"}
    data: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for s in iter_jsonl(cont / "samples.jsonl"):
        u = units.get(s["problem_id"])
        if u is None or u["problem_id"] not in controls:
            continue
        cell = data[u["condition"]][u["problem_id"]]
        cell[0] += bool(s["correct"])
        cell[1] += 1
    hi = [u for u in units.values() if u["condition"] == "hint_intervention"]
    hints = {u["problem_id"]: u["given"] for u in units.values() if u["condition"] == "hint"}
    facts = {"problems": len(controls), "hint_intervention_units": len(hi),
             "hint_covers_first_error": sum(u["given"] == hints.get(u["problem_id"]) for u in hi),
             "table1": read_json(cont / "table1.json") if (cont / "table1.json").exists() else None}
    return data, facts


def ratio_ci(cells: list[tuple[int, int]]) -> tuple[float, float]:
    """95% bootstrap CI of sum(correct) / sum(samples), resampling problems."""
    if not cells:
        return (float("nan"), float("nan"))
    arr = np.asarray(cells, dtype=float)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(arr), size=(N_BOOT, len(arr)))
    num, den = arr[idx, 0].sum(axis=1), arr[idx, 1].sum(axis=1)
    vals = np.where(den > 0, num / np.maximum(den, 1), 0.0)
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def run(ctx: Any) -> dict[str, Any]:
    from harness.evaluate import EvalSettings

    rdir = ctx.folder / "recipes"
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "int-hints.yaml").write_text(recipe_text(ctx.options.hint_problems), encoding="utf-8")
    ev = ctx.cfg.eval
    tiny = EvalSettings(tasks=ev.tasks, split=ev.split, per_category=1, limit=1, samples=1, sampling=ev.sampling)
    out = ctx.compare(["int-hints"], recipes_dirs=[str(rdir)], eval=tiny, include_base=False)
    per_seed = {seed: condition_data(d / "int") for seed, d in sorted(arm_dirs(out, "int-hints").items())}
    rows, measured = [], {}
    for cond in CONDITIONS:
        cells = [(c, n) for data, _ in per_seed.values() for c, n in data.get(cond, {}).values()]
        problems = sum(f["problems"] for _, f in per_seed.values())
        covered = sum(1 for c, _ in cells if c)
        correct, samples = sum(c for c, _ in cells), sum(n for _, n in cells)
        acc = 100 * correct / samples if samples else float("nan")
        lo, hi = ratio_ci(cells)
        p1, ph = paper.TABLE1.get(cond), paper.HINTS.get(cond)
        rows.append({"condition": cond, "label": CONDITION_LABELS[cond], "covered": covered, "problems": problems,
                     "problems_with_units": len(cells), "correct": correct, "samples": samples, "accuracy_pct": acc,
                     "accuracy_ci95_pct": [100 * lo, 100 * hi], "paper_table1": p1, "paper_hints": ph})
        measured[cond] = acc
    facts = {seed: f for seed, (_, f) in per_seed.items()}
    n_units = sum(f["hint_intervention_units"] for f in facts.values())
    n_cover = sum(f["hint_covers_first_error"] for f in facts.values())
    seeds = len(per_seed)
    table = {
        "name": "table1_hints",
        "title": "Table 1 extended: continuation success after hints and interventions",
        "columns": ["conditioning", "coverage", "accuracy % [95% CI]", "correct / samples",
                    "paper: Table 1 (334 problems)", "paper: hint study (176 problems)"],
        "rows": [[r["label"], f"{r['covered']}/{r['problems']}", f"{r['accuracy_pct']:.2f} [{r['accuracy_ci95_pct'][0]:.2f}, "
                  f"{r['accuracy_ci95_pct'][1]:.2f}]", f"{r['correct']}/{r['samples']}",
                  "" if not r["paper_table1"] else f"{paper_covered(r['paper_table1'])}, {r['paper_table1']['accuracy_pct']:.4g}%",
                  "" if not r["paper_hints"] else f"{paper_covered(r['paper_hints'])}, {r['paper_hints']['accuracy_pct']:.3g}%"]
                 for r in rows],
        "caption": (f"Continuations from the base model (the policy), {seeds} seed(s) pooled: coverage = problems (summed "
                    "over seeds) with >= 1 correct continuation; accuracy = correct / continuations, 95% CI by bootstrap "
                    "over (seed, problem). Hint = the reference's first half of substeps (hint-guided RL's); all "
                    "conditions on the same problems."),
        "notes": [f"hint + intervention: in {n_cover} of {n_units} units the attempt's first error lies inside the "
                  "hinted substeps, so the hint replaces it and is continued alone; elsewhere the attempt's own "
                  "substeps after the hint lead to the intervention. The hint stands in for as many of the attempt's "
                  "substeps as it has; a reference written with several steps per substep (the offref regime's "
                  "prose) covers more of the attempt than that."],
    }
    findings = []
    hi_, h_, i_ = measured.get("hint_intervention"), measured.get("hint"), measured.get("intervention")
    if None not in (hi_, h_, i_):
        best = max(h_, i_)
        findings.append(f"Hint + intervention {hi_:.1f}% vs hint alone {h_:.1f}% and intervention alone {i_:.1f}%: "
                        + ("complementary, as in the paper (4.62 vs 2.38 / 3.05)" if hi_ > best else
                           "not above the better of the two, unlike the paper (4.62 vs 2.38 / 3.05)") + ".")
        findings.append(f"Intervention alone vs hint alone: {i_:.1f}% vs {h_:.1f}% "
                        f"({'as' if i_ > h_ else 'unlike'} the paper: 3.05 vs 2.38).")
    def paper_of(r: dict[str, Any]) -> dict[str, Any] | None:
        return r["paper_hints"] or r["paper_table1"]

    figure = {"name": "table1_hints", "kind": "bars_vs_paper",
              "caption": "Continuation success by conditioning (95% CI); hatched: the paper's (hint study, 176 problems, "
                         "for hint / intervention / hint + intervention; Table 1, 334 problems, for the controls).",
              "data": {"labels": [r["label"] for r in rows], "panels": [
                  {"title": "coverage (% of problems)", "values": [100 * r["covered"] / r["problems"] if r["problems"] else None for r in rows],
                   "ci": [None] * len(rows),
                   "paper": [None if not paper_of(r) else 100 * paper_of(r)["covered"] / paper_of(r)["problems"] for r in rows]},
                  {"title": "accuracy (% of continuations)", "values": [r["accuracy_pct"] for r in rows],
                   "ci": [r["accuracy_ci95_pct"] for r in rows],
                   "paper": [None if not paper_of(r) else paper_of(r)["accuracy_pct"] for r in rows]}]}}
    return {"tables": [table], "rows": rows, "findings": findings, "figures": [figure],
            "n": {"problems": rows[0]["problems"] if rows else 0, "seeds": seeds, "hint_length": HINT_LENGTH}}
