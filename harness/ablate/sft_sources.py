"""Figures 8 and 9: how on-policy is each SFT data source, and what SFT on it does to the model's entropy.

One comparison trains SFT-only arms on each source -- InT's prefix + intervention rows (``int-sft``), the
reference solutions (``sft-reference``), the policy's self-reflection rewrites (``sft-reflection``) -- and
evaluates them with the base model under the comparison's protocol.

* Figure 9: the NLL of each source's SFT rows under the base model (`Runner.sft_stats`, the report's
  ``sft_nll_entropy`` figure): lower = more on-policy. The paper's order: InT < self-reflection < R1 traces
  < reference solutions.
* Figure 8: the next-token entropy of each model *after* SFT -- of its full next-token distribution
  (temperature 1) along its own evaluation samples (``entropy_samples`` of them: the first sample of every
  problem first), the base model likewise. The paper: base 0.26, InT 0.29, reference SFT 1.66.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.ablate import paper
from harness.ablate.common import arm_dirs, arm_models
from harness.ablate.internalization import score
from harness.metrics import bootstrap_ci
from harness.rundir import iter_jsonl, read_json, write_jsonl

SOURCES = {"int": "int-sft", "reference": "sft-reference", "reflection": "sft-reflection"}
LABELS = {"base": "base model (no SFT)", "int": "InT (prefix + intervention)", "reference": "reference solutions",
          "reflection": "self-reflections"}


def own_sample_rows(arm_dir: Path, model: str, folder: Path, n: int, cfg: Any) -> Path | None:
    """SFT-format rows of a model's own evaluation samples (prompt masked, completion scored): sample 0 of every
    problem, then sample 1, ... up to ``n`` rows."""
    from transformers import AutoTokenizer

    from harness.intervention.build_sft import encode_example
    from tasks import render_prompt

    files = sorted((arm_dir / "eval").glob("*/samples.jsonl"))
    if not files:
        return None
    problems, tasks = {}, {}
    for ps in cfg.eval_settings().problem_sets():
        task, selected = ps.load()
        for p in selected:
            problems[(task.name, p.id)] = p
            tasks[task.name] = task
    samples = [r for f in files for r in iter_jsonl(f) if r.get("text")]
    samples.sort(key=lambda r: (int(r["sample_index"]), str(r["problem_id"])))
    tok = AutoTokenizer.from_pretrained(model)
    rows = []
    for r in samples[:n]:
        p = problems.get((r["task"], r["problem_id"]))
        if p is None:
            continue
        ex = encode_example(tok, render_prompt(tasks[r["task"]], p), "", r["text"])  # as build-sft encodes its rows
        ex.pop("_chat_prompt")
        if not any(ex["loss_mask"]):
            continue
        rows.append({"id": f"{r['problem_id']}#{r['sample_index']}", "problem_id": r["problem_id"], **ex})
    if not rows:
        return None
    return write_jsonl(folder / "own_samples.jsonl", rows)


def nll_under_base(compare_out: Path, recipe: str) -> list[dict[str, Any]]:
    """The base model's NLL/entropy of the arm's SFT data source(s), per seed (`Runner.sft_stats`)."""
    out = []
    for seed, d in sorted(arm_dirs(compare_out, recipe).items()):
        path = d / "analysis" / "sft_stats.json"
        if path.exists():
            out += [{"seed": seed, "source": src, **stats} for src, stats in read_json(path).items()]
    return out


def run(ctx: Any) -> dict[str, Any]:
    from harness.models import resolve_model

    opts, cfg = ctx.options, ctx.cfg
    out = ctx.compare(list(SOURCES.values()), include_base=True)
    models: dict[str, dict[int, tuple[str, Path]]] = {
        "base": {0: (resolve_model(cfg.base_model), next(iter(arm_dirs(out, "base").values())))}}
    for source, recipe in SOURCES.items():
        dirs = arm_dirs(out, recipe)
        models[source] = {s: (m, dirs[s]) for s, m in arm_models(out, recipe).items()}
    cache = ctx.folder / "scores"
    cache.mkdir(parents=True, exist_ok=True)
    entropy: dict[str, Any] = {}
    for source, by_seed in models.items():
        per_row, token_means = [], []
        for seed, (model, arm_dir) in sorted(by_seed.items()):
            rows = own_sample_rows(arm_dir, model, ctx.folder / "entropy" / f"{source}-seed{seed}", opts.entropy_samples, cfg)
            if rows is None:
                continue
            stats = score(model, rows, cache)
            per_row += [r["entropy"] for r in stats["rows_scored"]]
            token_means.append(stats["entropy_token_mean"])
        if per_row:
            lo, hi = bootstrap_ci(per_row, n_boot=4000)
            entropy[source] = {"mean": float(np.mean(per_row)), "ci95": [lo, hi], "token_mean": float(np.mean(token_means)),
                               "rows": len(per_row), "seeds": len(token_means)}
    nll: dict[str, Any] = {}
    for source, recipe in SOURCES.items():
        stats = nll_under_base(out, recipe)  # an SFT-only arm has one source
        if stats:
            lo = min(s["nll_ci95"][0] for s in stats)
            hi = max(s["nll_ci95"][1] for s in stats)
            nll[source] = {"mean": float(np.mean([s["nll_mean"] for s in stats])), "ci95": [lo, hi],
                           "entropy_under_base": float(np.mean([s["entropy_mean"] for s in stats])),
                           "rows": int(np.mean([s["rows"] for s in stats])), "tokens": int(np.mean([s["tokens"] for s in stats]))}
    order = sorted(nll, key=lambda s: nll[s]["mean"])
    paper_rank = {s: i + 1 for i, s in enumerate(paper.NLL_ORDER)}
    rows = []
    for source in ("base", *SOURCES):
        n, e = nll.get(source), entropy.get(source)
        rows.append([LABELS[source],
                     "" if not n else f"{n['mean']:.3f} [{n['ci95'][0]:.3f}, {n['ci95'][1]:.3f}]",
                     "" if not n else str(order.index(source) + 1),
                     "" if source not in paper_rank else f"{paper_rank[source]} of 4 (InT, self-reflection, R1, reference)",
                     "" if not e else f"{e['mean']:.3f} [{e['ci95'][0]:.3f}, {e['ci95'][1]:.3f}]",
                     "" if source not in paper.ENTROPY else f"{paper.ENTROPY[source]:.2f}"])
    table = {
        "name": "fig8_fig9_sft_sources",
        "title": "Figures 8-9: NLL of each SFT source under the base model, and entropy after SFT on it",
        "columns": ["SFT data source", "NLL per token under the base model [95% CI] (Fig. 9)", "rank (lowest NLL = 1)",
                    "paper rank", "next-token entropy after SFT, own samples [95% CI] (Fig. 8)", "paper entropy"],
        "rows": rows,
        "caption": (f"NLL: mean per-token NLL (nats) of the source's trained tokens under the base model, at most "
                    f"{cfg.sft_stats_rows} rows per source and seed; CI over rows (widest over seeds). Entropy: mean "
                    f"next-token entropy (nats, temperature 1) of each model along {opts.entropy_samples} of its own "
                    f"evaluation samples per seed ({cfg.seeds} seed(s)); CI over samples."),
        "notes": ["The paper's entropies (0.26 / 0.29 / 1.66) are Qwen3-4B-Instruct's on its own long reasoning traces; "
                  "the world model's values are on ~100-token solutions, so only the ordering and the ratios compare."],
    }
    findings = []
    if {"int", "reference"} <= set(nll):
        agree = nll["int"]["mean"] < nll["reference"]["mean"] and ("reflection" not in nll or
                                                                   nll["int"]["mean"] <= nll["reflection"]["mean"] <= nll["reference"]["mean"])
        verdict = "the paper's order" if agree else "differs from the paper (InT < self-reflection < reference)"
        findings.append(f"Fig. 9: NLL order {' < '.join(order)} -- {verdict}.")
    if {"base", "int", "reference"} <= set(entropy):
        b, i, r = (entropy[s]["mean"] for s in ("base", "int", "reference"))
        like = abs(i - b) < abs(r - b) and r > b
        findings.append(f"Fig. 8: entropy base {b:.3f}, after InT-SFT {i:.3f}, after reference SFT {r:.3f} -- "
                        + ("InT keeps the base entropy and reference SFT raises it, as in the paper (0.26 / 0.29 / 1.66)"
                           if like else "unlike the paper (0.26 / 0.29 / 1.66: InT keeps it, reference SFT raises it)") + ".")
    return {"tables": [table], "findings": findings,
            "figures": [{"name": "fig8_fig9_sft_sources", "kind": "sft_sources", "data": {"nll": nll, "entropy": entropy, "labels": LABELS,
                                                                                  "paper_entropy": paper.ENTROPY},
                         "caption": "Left (Fig. 9): NLL of each SFT source under the base model. Right (Fig. 8): next-token "
                         "entropy after SFT on each source (base: no SFT); open markers: the paper's values."}],
            "n": {"seeds": cfg.seeds, "entropy_samples": opts.entropy_samples, "sft_stats_rows": cfg.sft_stats_rows}}
