"""Table 2, the SFT design ablation: after SFT (before RL), coverage and accuracy on the hard *training* problems.

One comparison trains one arm per design -- all from the same ``int`` step (rollouts, proposals and
continuations are shared; `harness.compare.kinds.build_sft` rebuilds the rows per design) -- and evaluates
each model and the base model on the training problems themselves (``samples`` samples each; coverage =
problems with at least one correct sample, as the paper's Table 2). The recipes ``int-sft*`` are the SFT-only
rows; ``int``, ``int-nofilter``, ``int-noprefix``, ``int-suffix``, ``int-prefixonly`` are the same designs
followed by RL, for `harness compare`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.ablate import paper
from harness.ablate.common import (
    arm_dirs,
    coverage_accuracy,
    covered_text,
    paper_covered,
    pct,
    pct_ci,
    per_seed_samples,
    ranks_agree,
    step_record,
)
from harness.rundir import read_json

# design -> (recipe, the paper's row label)
DESIGNS = {
    "int": ("int-sft", "prefix + intervention, correctness filter (InT)"),
    "nofilter": ("int-sft-nofilter", "prefix + intervention, no filter"),
    "noprefix": ("int-sft-noprefix", "intervention without the prefix"),
    "suffix": ("int-sft-suffix", "prefix + intervention + successful suffix"),
    "prefixonly": ("int-sft-prefixonly", "prefix only"),
}


def eval_on_training_problems(cfg: Any, samples: int) -> Any:
    """The comparison's evaluation moved onto its training problems (same sampling and budget)."""
    from harness.evaluate import EvalSettings

    train = cfg.train_set()
    exclude = {train.resolve_task().name: list(train.exclude_ids)} if train.exclude_ids else {}
    return EvalSettings(tasks=[train.task], split=train.split, per_category=train.per_category, limit=train.limit,
                        samples=samples, sampling=cfg.eval.sampling, grader=cfg.eval.grader, judge=cfg.eval.judge,
                        data_dir=cfg.eval.data_dir, exclude=exclude)


def sft_rows(arm_dir: Path) -> int | None:
    """SFT rows the arm trained on (its build-sft step's, else its int step's)."""
    for stage in ("build-sft", "int"):
        if (arm_dir / stage / "step.json").exists():
            return step_record(arm_dir, stage)["output"]["summary"].get("rows")
    return None


def nll_of_data(arm_dir: Path) -> float | None:
    """Mean per-token NLL of the arm's SFT rows under the base model (`Runner.sft_stats`), if measured."""
    path = arm_dir / "analysis" / "sft_stats.json"
    if not path.exists():
        return None
    stats = read_json(path)
    return next(iter(stats.values())).get("nll_mean") if stats else None


def run(ctx: Any) -> dict[str, Any]:
    opts, cfg = ctx.options, ctx.cfg
    settings = eval_on_training_problems(cfg, opts.samples)
    out = ctx.compare([recipe for recipe, _ in DESIGNS.values()], eval=settings, allow_overlap=True,
                      decontaminate="refuse", include_base=True)
    rows, measured = [], {}
    base = coverage_accuracy({0: per_seed_samples(out, "base").get(0, [])})
    rows.append({"design": "base model (no SFT)", "recipe": "base", "sft_rows": "", **base, "nll_under_base": None,
                 "paper": None})
    for design, (recipe, label) in DESIGNS.items():
        r = coverage_accuracy(per_seed_samples(out, recipe))
        dirs = arm_dirs(out, recipe)
        n_rows = [sft_rows(d) for _, d in sorted(dirs.items())]
        nll = [x for x in (nll_of_data(d) for _, d in sorted(dirs.items())) if x is not None]
        rows.append({"design": label, "recipe": recipe, "sft_rows": "; ".join(str(n) for n in n_rows), **r,
                     "nll_under_base": sum(nll) / len(nll) if nll else None, "paper": paper.TABLE2[design]})
        measured[design] = r
    table = {
        "name": "table2",
        "title": "Table 2: SFT design ablation (after SFT, before RL), hard training problems",
        "columns": ["SFT target", "recipe", "SFT rows", "coverage", "coverage % [95% CI]", "accuracy % [95% CI]",
                    "NLL of the rows under the base model", "paper: coverage", "paper: accuracy %"],
        "rows": [[r["design"], r["recipe"], r["sft_rows"], covered_text(r), pct_ci(r["coverage_pct"], r["coverage_ci95_pct"]),
                  pct_ci(r["accuracy_pct"], r["accuracy_ci95_pct"], 2), pct(r["nll_under_base"], 3),
                  paper_covered(r["paper"]), "" if not r["paper"] else f"{r['paper']['accuracy_pct']:.2f}"] for r in rows],
        "caption": (f"Coverage = training problems with >= 1 correct sample of {settings.samples}; accuracy = mean over "
                    f"samples; {base.get('problems')} problems ({settings.tasks[0]}, split {settings.split}), "
                    f"{ctx.cfg.seeds} training seed(s); 95% CI: bootstrap over "
                    "seeds then problems (problems only with one seed). SFT rows per seed. The paper: 235 problems of "
                    "a DeepScaleR subset, Qwen3-4B-Instruct."),
        "notes": ["'intervention without the prefix' trains on the intervention with the prefix as (masked) context; "
                  "'prefix only' trains on the prefix alone (no intervention); the paper's 162/235 row is read as the "
                  "former (int-paper.md §4.3: the summaries disagree on its label), so 'prefix only' has no paper value.",
                  "Every design is built from the same InT stages (one int step); the no-filter and no-suffix designs "
                  "would not need the continuations that step ran for the filter."],
    }
    findings = []
    for what, key in (("coverage", "coverage_pct"), ("accuracy", "accuracy_pct")):
        agree, order = ranks_agree({d: measured[d][key] for d in measured}, paper.TABLE2_ORDER)
        findings.append(f"Ordering by {what} of the paper's four designs (best first): world {' > '.join(order)}; "
                        f"paper {' > '.join(paper.TABLE2_ORDER)} -- {'agrees' if agree else 'differs'}.")
    figure = {"name": "table2_sft_design", "kind": "bars_vs_paper",
              "caption": "Table 2 as bars: coverage and accuracy on the hard training problems after SFT (95% CI), the "
                         "paper's values hatched (235 problems, Qwen3-4B-Instruct).",
              "data": {"labels": [r["design"] for r in rows], "panels": [
                  {"title": "coverage (% of training problems)", "values": [r.get("coverage_pct") for r in rows],
                   "ci": [r.get("coverage_ci95_pct") for r in rows],
                   "paper": [None if not r["paper"] else 100 * r["paper"]["covered"] / r["paper"]["problems"] for r in rows]},
                  {"title": "accuracy (% of samples)", "values": [r.get("accuracy_pct") for r in rows],
                   "ci": [r.get("accuracy_ci95_pct") for r in rows],
                   "paper": [None if not r["paper"] else r["paper"]["accuracy_pct"] for r in rows]}]}}
    return {"tables": [table], "rows": rows, "findings": findings, "figures": [figure],
            "n": {"problems": base.get("problems"), "samples": settings.samples, "seeds": ctx.cfg.seeds}}
