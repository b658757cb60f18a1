"""Figure 6: pass@k vs k (up to ``k``, default 1,024) for the base model and the InT-SFT model, on the hard
training problems and on the test problems.

The InT-SFT model is the ``int-sft`` arm of a comparison (shared with the other studies' cache); both models
are then sampled ``k`` times on the first ``passk_problems`` problems of every category of the training set
and of the evaluation tasks (the comparison's sampling settings and budget), and pass@k is the unbiased
estimator (`harness.metrics.pass_at_k`) for every power of two up to ``k``, averaged over the InT-SFT seeds
per problem, with a 95% bootstrap CI over problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.ablate import paper
from harness.ablate.common import arm_models
from harness.metrics import bootstrap_ci, group_samples, ks_for, pass_at_k
from harness.provenance import stable_hash
from harness.rundir import iter_jsonl

TABLE_KS = (1, 4, 16, 64, 256, 1024)


def sets(cfg: Any, per_category: int) -> dict[str, Any]:
    """``name -> EvalSettings`` fields of the two problem sets: the hard training problems and the test problems."""
    train = cfg.train_set()
    ev = cfg.eval_settings()
    return {
        "hard training set": {"tasks": [train.task], "split": train.split, "per_category": per_category,
                              "data_dir": train.data_dir},
        "test set": {"tasks": ev.tasks, "split": ev.split, "per_category": per_category, "data_dir": ev.data_dir,
                     "exclude": ev.exclude},
    }


def evaluate(ctx: Any, model: str, label: str, name: str, fields: dict[str, Any]) -> list[Any]:
    """``k`` samples per problem of one set from one model (a resumable run folder of its own)."""
    from harness.evaluate import EvalConfig, run_eval

    cfg, opts = ctx.cfg, ctx.options
    options = dict(cfg.backend_options)
    if opts.eval_batch_size:
        options["batch_size"] = opts.eval_batch_size
    settings = {**fields, "samples": opts.k, "sampling": cfg.eval.sampling.model_dump(), "grader": cfg.eval.grader}
    folder = ctx.folder / "evals" / f"{name.split()[0]}-{label}-{stable_hash({'model': model, 'settings': settings})[:12]}"
    config = EvalConfig(**settings, model=model, backend=cfg.backend, backend_options=options, out=str(folder),
                        grader_workers=1, batch_problems=max(1, 4096 // opts.k))
    run_eval(config, show_progress=opts.show_progress)
    return [group_samples(iter_jsonl(p)) for p in sorted(Path(folder).glob("*/samples.jsonl"))]


def curve(per_seed: list[list[Any]], k: int) -> dict[str, Any]:
    """pass@k for every power of two up to ``k``: the mean over problems of the seed-averaged estimate, CI over problems."""
    ks = ks_for(k)
    by_problem: dict[str, list[list[float]]] = {}
    for problems in per_seed:
        for p in problems:
            by_problem.setdefault(p.problem_id, []).append([pass_at_k(p.n, sum(p.correct), j) for j in ks])
    vals = np.array([np.mean(v, axis=0) for v in by_problem.values()])
    ci = [bootstrap_ci(vals[:, i], n_boot=4000) for i in range(len(ks))]
    return {"ks": ks, "mean": [100 * float(x) for x in vals.mean(axis=0)], "lo": [100 * c[0] for c in ci],
            "hi": [100 * c[1] for c in ci], "problems": len(vals), "seeds": len(per_seed)}


def run(ctx: Any) -> dict[str, Any]:
    from harness.models import resolve_model

    opts = ctx.options
    out = ctx.compare(["int-sft"], include_base=True)
    models = {"base": {0: resolve_model(ctx.cfg.base_model)}, "int-sft": arm_models(out, "int-sft")}
    data: dict[str, dict[str, Any]] = {}
    for name, fields in sets(ctx.cfg, opts.passk_problems).items():
        data[name] = {}
        for label, seeds in models.items():
            per_seed = []
            for seed, model in sorted(seeds.items()):
                per_seed += evaluate(ctx, model, f"{label}-seed{seed}", name, fields)
            data[name][label] = curve(per_seed, opts.k)
    ks = [j for j in TABLE_KS if j < opts.k] + [opts.k]
    rows = []
    for name, curves in data.items():
        for label, c in curves.items():
            cells = []
            for j in ks:
                i = c["ks"].index(j)
                cells.append(f"{c['mean'][i]:.1f} [{c['lo'][i]:.1f}, {c['hi'][i]:.1f}]")
            rows.append([name, label, str(c["problems"]), str(c["seeds"]), *cells])
    table = {
        "name": "fig6_pass_at_k",
        "title": "Figure 6: pass@k of the base and the InT-SFT model",
        "columns": ["problems", "model", "n problems", "seeds", *[f"pass@{j} % [95% CI]" for j in ks]],
        "rows": rows,
        "caption": (f"Unbiased pass@k from {opts.k} samples per problem (the comparison's sampling settings), "
                    f"{opts.passk_problems} problem(s) per category of each set; InT-SFT averaged over its seeds per "
                    "problem; 95% CI: bootstrap over problems."),
        "notes": [paper.PASS_AT_K_CLAIM],
    }
    findings = []
    for name, curves in data.items():
        a, b = curves["int-sft"]["mean"], curves["base"]["mean"]
        above = [j for j, x, y in zip(curves["base"]["ks"], a, b, strict=True) if x > y]
        allk = len(above) == len(a)
        findings.append(f"{name}: InT-SFT above the base model at {'every k' if allk else f'{len(above)} of {len(a)} k values'} "
                        f"(pass@1 {a[0]:.1f} vs {b[0]:.1f}, pass@{opts.k} {a[-1]:.1f} vs {b[-1]:.1f}) -- "
                        f"{'agrees with' if allk else 'differs from'} the paper's Fig. 6.")
    return {"tables": [table], "figures": [{"name": "fig6_pass_at_k", "kind": "pass_at_k", "data": data,
                                            "caption": "pass@k vs k (log scale), base vs InT-SFT; band: 95% CI over problems."}],
            "findings": findings, "n": {"k": opts.k, "problems_per_category": opts.passk_problems, "seeds": ctx.cfg.seeds}}
