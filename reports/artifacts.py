"""Frames from the InT run directories and SFT analyses of a comparison (Figs. 2, 8-10, Table 1).

Why separate from `load`: these artifacts exist only for InT arms and are written by stages that are
still evolving, so every reader here tolerates missing optional fields and missing stages, and raises
`MissingData` (never a KeyError) when a figure has nothing to draw.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from harness.intervention.analytics import CONDITION_LABELS
from reports.load import CompareRun, MissingData, iter_jsonl, read_json_if

log = logging.getLogger(__name__)


def _label(stage_dir: Path, prefix: str) -> str:
    """The proposer label of a stage folder (``propose-self`` -> ``self``)."""
    return stage_dir.name[len(prefix) :].lstrip("-") or "default"


def _located(rec: dict[str, Any]) -> int | None:
    """The parsed first-error location of a proposal that named one (the analytics' 'located' set)."""
    parse = rec.get("parse") or {}
    if not parse.get("ok") or not parse.get("content") or not parse.get("location"):
        return None
    return int(parse["location"])


def first_error_locations(run: CompareRun) -> pd.DataFrame:
    """One row per located proposal: model, seed, proposer, location (1-based substep), location_rel."""
    rows = []
    for arm, d in run.int_stage_dirs("propose"):
        path = d / "proposals.jsonl"
        if not path.exists():
            continue
        for rec in iter_jsonl(path):
            loc = _located(rec)
            if loc is not None:
                rel = rec.get("location_rel")
                rows.append({"model": arm.recipe, "seed": arm.seed, "proposer": _label(d, "propose"),
                             "location": loc, "location_rel": float(rel) if rel is not None else None})  # fmt: skip
    if not rows:
        raise MissingData("no parsed proposals (int/propose-*/proposals.jsonl) in any arm")
    return pd.DataFrame(rows)


def _tokenizer(run: CompareRun) -> Any | None:
    """The base model's tokenizer (so lengths are in the same tokens as the rollouts), or None."""
    base = run.meta.get("base_model")
    if not base or not Path(base).exists():
        return None
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as exc:
        log.warning("cannot load the tokenizer of %s (%s); measuring lengths in characters", base, exc)
        return None


def intervention_lengths(run: CompareRun) -> tuple[pd.DataFrame, str]:
    """(rows of model, seed, what in {intervention, rollout}, length; the unit).

    Interventions are the located proposals as spliced in (`format_intervention`); rollouts are the
    failed attempts they were proposed for. Both are measured in base-model tokens, or both in
    characters when the tokenizer is unavailable -- never one unit against another.
    """
    from harness.intervention.steps import format_intervention

    tok = _tokenizer(run)
    unit = "tokens" if tok is not None else "characters"
    rows: list[dict[str, Any]] = []
    seen_rollouts: set[Path] = set()
    for arm, d in run.int_stage_dirs("propose"):
        texts = [format_intervention(r["parse"]["content"]) for r in iter_jsonl(d / "proposals.jsonl")
                 if _located(r) is not None] if (d / "proposals.jsonl").exists() else []  # fmt: skip
        lens = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]] if tok and texts else [len(t) for t in texts]
        rows += [{"model": arm.recipe, "seed": arm.seed, "what": "intervention", "length": n} for n in lens]
        attempts = d.parent / "rollout" / "attempts.jsonl"
        if attempts.exists() and attempts.resolve() not in seen_rollouts:
            seen_rollouts.add(attempts.resolve())
            for a in iter_jsonl(attempts):
                n = a.get("completion_tokens") if tok is not None else len(a.get("attempt") or "")
                if n:
                    rows.append({"model": arm.recipe, "seed": arm.seed, "what": "rollout", "length": int(n)})
    df = pd.DataFrame(rows, columns=["model", "seed", "what", "length"])
    if df.empty or not (df["what"] == "intervention").any():
        raise MissingData("no parsed interventions (int/propose-*/proposals.jsonl) in any arm")
    return df, unit


def table1_frame(run: CompareRun) -> pd.DataFrame:
    """Table 1 rows per arm and proposer: condition, label, units, samples, correct, accuracy, coverage."""
    rows = []
    for arm, d in run.int_stage_dirs("continue"):
        data = read_json_if(d / "table1.json") or (read_json_if(d / "manifest.json") or {}).get("table1")
        if not data:
            continue
        for cond, r in (data.get("conditions") or {}).items():
            rows.append({"model": arm.recipe, "seed": arm.seed, "proposer": _label(d, "continue"), "condition": cond,
                         "label": r.get("label", cond), "units": r.get("units"), "samples": r.get("samples"),
                         "correct": r.get("correct"), "accuracy": r.get("accuracy"), "covered": r.get("covered"),
                         "problems": r.get("problems", data.get("problems")), "coverage": r.get("coverage")})  # fmt: skip
    if not rows:
        raise MissingData("no counterfactual table (int/continue-*/table1.json) in any arm")
    return pd.DataFrame(rows)


def table1_summary(run: CompareRun) -> pd.DataFrame:
    """Table 1 as the paper prints it, seeds pooled: coverage ``covered/problems`` and accuracy (%)."""
    df = table1_frame(run)
    g = df.groupby(["model", "proposer", "condition", "label"], sort=False)
    out = g[["units", "samples", "correct", "covered", "problems"]].sum().reset_index()
    out["accuracy_pct"] = 100 * out["correct"] / out["samples"].where(out["samples"] > 0)
    out["coverage"] = out["covered"].astype(int).astype(str) + "/" + out["problems"].astype(int).astype(str)
    out["n_seeds"] = g.size().values
    order = {c: i for i, c in enumerate(CONDITION_LABELS)}  # the paper's row order: controls first
    return out.sort_values(["model", "proposer", "condition"], key=lambda c: c.map(order) if c.name == "condition" else c, kind="stable")


def sft_stats_frame(run: CompareRun) -> pd.DataFrame:
    """NLL / entropy of each SFT data source under the base model, from ``<arm>/analysis/sft_stats.json``.

    Accepted shapes: ``{source: stats}``, ``[stats, ...]`` or one ``stats`` dict, where ``stats`` is what
    `reports.stats_nll.sft_data_stats` returns. Identical sources in several arms are kept once.
    """
    rows, seen = [], set()
    for arm in run.arms:
        data = read_json_if(arm.dir / "analysis" / "sft_stats.json")
        if not data:
            continue
        if isinstance(data, dict) and "nll_mean" in data:
            items = [(data.get("source") or arm.recipe, data)]
        elif isinstance(data, dict):
            items = list(data.items())
        else:
            items = [(d.get("source") or arm.recipe, d) for d in data]
        for source, stats in items:
            key = (source, stats.get("data_sha256") or arm.recipe)
            if key in seen or stats.get("nll_mean") is None:
                continue
            seen.add(key)
            rows.append({"source": str(source), "model": arm.recipe, "seed": arm.seed,
                         **{k: stats.get(k) for k in ("nll_mean", "nll_ci95", "entropy_mean", "entropy_ci95", "tokens", "rows")}})  # fmt: skip
    if not rows:
        raise MissingData("no SFT data statistics (<arm>/analysis/sft_stats.json) in any arm")
    return pd.DataFrame(rows)
