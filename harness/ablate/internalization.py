"""Figure 7: the likelihood of intervention tokens before and after InT's SFT, on problems seen in SFT and on
held-out problems -- the paper's evidence that the model internalises interventions rather than memorising them.

*Seen*: the interventions of InT's own SFT rows (the ``int-sft`` arm's int step, the same correctness filter),
rebuilt with the prefix as context (``include_prefix: false``), so that only the intervention's tokens are
scored. *Held-out*: the same InT stages run with the base model on problems no arm trained on (the training
task's ``test`` split, ``heldout_problems`` per category), rows built the same way. Each set is scored under the
base model (before) and under each seed's InT-SFT model (after): mean per-token NLL of the intervention given
problem + prefix (`reports.stats_nll`), and the paired per-intervention change with a 95% bootstrap CI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.ablate import paper
from harness.ablate.common import arm_dirs, arm_models
from harness.metrics import bootstrap_ci


def intervention_rows(int_dir: Path, folder: Path, problems: dict[str, Any] | None = None) -> Path:
    """SFT rows of ``int_dir``'s interventions with the prefix as masked context; with ``problems``, the same
    InT stages are first run (by the run's own policy, as proposer) on those problems into ``folder``."""
    from harness.compare.kinds.build_sft import rebuild_sft
    from harness.intervention.build_sft import sft_path
    from harness.intervention.config import IntConfig
    from harness.intervention.pipeline import run_all

    if problems is None:
        return rebuild_sft(int_dir, folder, {"include_prefix": False})[0]
    folder.mkdir(parents=True, exist_ok=True)
    cfg = IntConfig.load(int_dir, out=str(folder)).with_overrides(
        {"build_sft.include_prefix": False, "rollout.problems": problems, "continue.controls": []})
    cfg.save()
    run_all(cfg, show_progress=False)
    return sft_path(cfg)


def score(model: str, rows: Path, cache: Path) -> dict[str, Any]:
    """`sft_data_stats` with its per-row values, cached as JSON beside the study (keyed by the model's name and
    the rows' bytes: a model folder is never rewritten in place -- each step writes its own)."""
    import hashlib
    import json

    from harness.rundir import atomic_write_json
    from reports.stats_nll import sft_data_stats

    key = hashlib.sha256(f"{model}|".encode() + rows.read_bytes()).hexdigest()[:16]  # the model and the rows' content
    path = cache / f"score-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    stats = sft_data_stats(model, rows, per_row=True)
    atomic_write_json(path, stats)
    return stats


def run(ctx: Any) -> dict[str, Any]:
    from harness.models import resolve_model

    opts, cfg = ctx.options, ctx.cfg
    out = ctx.compare(["int-sft"], include_base=True)
    base = resolve_model(cfg.base_model)
    after = arm_models(out, "int-sft")
    dirs = arm_dirs(out, "int-sft")
    train = cfg.train_set()
    heldout = train.model_copy(update={"split": cfg.eval_settings().split or "test", "per_category": opts.heldout_problems,
                                       "limit": None, "exclude_ids": ()}).model_dump()
    cache = ctx.folder / "scores"
    cache.mkdir(parents=True, exist_ok=True)
    sets: dict[str, dict[int, Path]] = {
        "seen in SFT": {s: intervention_rows(d / "int", ctx.folder / f"seen-seed{s}") for s, d in sorted(dirs.items())},
        "held-out": {0: intervention_rows(dirs[min(dirs)] / "int", ctx.folder / "heldout", heldout)},
    }
    data: dict[str, Any] = {}
    rows = []
    for name, by_seed in sets.items():
        before_rows, after_rows, diffs = [], [], []
        for seed, model in sorted(after.items()):
            path = by_seed.get(seed, by_seed.get(0))
            if path is None or not path.exists() or path.stat().st_size == 0:
                continue
            b, a = score(base, path, cache), score(model, path, cache)
            pb = {r["id"]: r["nll"] for r in b["rows_scored"]}
            pa = {r["id"]: r["nll"] for r in a["rows_scored"]}
            ids = [i for i in pb if i in pa]
            before_rows += [pb[i] for i in ids]
            after_rows += [pa[i] for i in ids]
            diffs += [pa[i] - pb[i] for i in ids]
        if not diffs:
            continue
        d_lo, d_hi = bootstrap_ci(diffs, n_boot=4000)
        b_ci, a_ci = bootstrap_ci(before_rows, n_boot=4000), bootstrap_ci(after_rows, n_boot=4000)
        entry = {"interventions": len(diffs), "nll_before": float(np.mean(before_rows)), "nll_before_ci95": list(b_ci),
                 "nll_after": float(np.mean(after_rows)), "nll_after_ci95": list(a_ci), "change": float(np.mean(diffs)),
                 "change_ci95": [d_lo, d_hi], "share_more_likely": float(np.mean([x < 0 for x in diffs])),
                 "before": before_rows, "after": after_rows}
        data[name] = entry
        rows.append([name, str(entry["interventions"]),
                     f"{entry['nll_before']:.3f} [{b_ci[0]:.3f}, {b_ci[1]:.3f}]",
                     f"{entry['nll_after']:.3f} [{a_ci[0]:.3f}, {a_ci[1]:.3f}]",
                     f"{entry['change']:+.3f} [{d_lo:+.3f}, {d_hi:+.3f}]",
                     f"{np.exp(-entry['nll_before']):.3f} -> {np.exp(-entry['nll_after']):.3f}",
                     f"{100 * entry['share_more_likely']:.0f}%"])
    table = {
        "name": "fig7_internalization",
        "title": "Figure 7: likelihood of intervention tokens before and after InT's SFT",
        "columns": ["problems", "interventions", "NLL per token, base [95% CI]", "NLL per token, after InT-SFT [95% CI]",
                    "change [95% CI]", "per-token likelihood exp(-NLL), before -> after", "interventions made more likely"],
        "rows": rows,
        "caption": (f"Mean per-token NLL (nats) of the intervention tokens given problem + prefix; seen = the interventions "
                    f"of InT's SFT rows ({cfg.seeds} seed(s), each scored under its own SFT model), held-out = interventions "
                    f"the base model proposed on {opts.heldout_problems} held-out problem(s) per category (after: every "
                    "seed's SFT model). Change = after - before per intervention, 95% bootstrap CI over interventions."),
        "notes": [paper.INTERNALIZATION_CLAIM],
    }
    findings = []
    for name, e in data.items():
        up = e["change_ci95"][1] < 0
        findings.append(f"{name}: NLL of the intervention tokens {e['nll_before']:.3f} -> {e['nll_after']:.3f} "
                        f"({e['change']:+.3f} [{e['change_ci95'][0]:+.3f}, {e['change_ci95'][1]:+.3f}]) -- "
                        f"{'more likely after SFT, as in the paper' if up else 'not clearly more likely, unlike the paper'}.")
    return {"tables": [table], "figures": [{"name": "fig7_internalization", "kind": "internalization", "data": data,
                                            "caption": "Per-intervention mean log-likelihood per token before (base) and "
                                            "after InT's SFT, seen vs held-out problems."}],
            "findings": findings, "n": {name: e["interventions"] for name, e in data.items()} | {"seeds": cfg.seeds}}
