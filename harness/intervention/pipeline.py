"""`harness int run`: the four stages in order, for one or more proposers, then the summary tables.

The policy model is loaded at most once and only if some stage still has work (a finished run
re-runs in seconds). Each proposer gets its own propose/continue/build-sft directories over the same
rollout, so ``self`` and ``oracle`` (or a larger proposer) compare on identical failed attempts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from harness.backends import Backend, GenerationRequest, Sample, SamplingParams
from harness.intervention.build_sft import CASCADE, run_build_sft
from harness.intervention.config import IntConfig
from harness.intervention.continuation import run_continue
from harness.intervention.propose import run_propose
from harness.intervention.rollout import run_rollout
from harness.intervention.stages import open_backend
from harness.memory import PeakRSS
from harness.rundir import Manifest, atomic_write_json


class LazyBackend(Backend):
    """Opens the configured backend on the first `generate`, so finished stages cost no model load."""

    name = "lazy"

    def __init__(self, cfg: IntConfig) -> None:
        super().__init__(cfg.policy.model)
        self._ref, self._inner, self._tokenizer = cfg.policy, None, None

    @property
    def inner(self) -> Backend:
        if self._inner is None:
            self._inner = open_backend(self._ref)
        return self._inner

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        return self.inner.generate(requests, params)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    # The context checks of `harness.sampling` ask these before a batch is sent (so the model is about to
    # be loaded anyway); without them every request would pass unchecked and a too-long one fail its batch.
    def context_window(self) -> int | None:
        return self.inner.context_window()

    def count_prompt_tokens(self, request: GenerationRequest) -> int | None:
        return self.inner.count_prompt_tokens(request)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None


def run_all(
    cfg: IntConfig,
    proposers: Sequence[str] | None = None,
    *,
    backend: Backend | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Rollout once, then propose -> continue -> build-sft per proposer; returns and saves the summary."""
    t0 = time.perf_counter()
    policy = backend or LazyBackend(cfg)
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}  # peak RSS per stage of this invocation (the model stays resident across stages)
    summary: dict[str, Any] = {"run_dir": cfg.out, "proposers": {}}
    try:
        t = time.perf_counter()
        with PeakRSS() as rss:
            summary["rollout"] = run_rollout(cfg, backend=policy, show_progress=show_progress)
        timings["rollout"], peaks["rollout"] = time.perf_counter() - t, rss.gib
        for kind in proposers or [cfg.propose.proposer]:
            pcfg = cfg.with_overrides({"propose.proposer": kind}) if kind != cfg.propose.proposer else cfg
            label = pcfg.propose.stage_label()
            t = time.perf_counter()
            with PeakRSS() as rss:
                run_propose(pcfg, backend=policy, show_progress=show_progress)
            timings[f"propose-{label}"], peaks[f"propose-{label}"] = time.perf_counter() - t, rss.gib
            t = time.perf_counter()
            with PeakRSS() as rss:
                table = run_continue(pcfg, backend=policy, show_progress=show_progress)
            timings[f"continue-{label}"], peaks[f"continue-{label}"] = time.perf_counter() - t, rss.gib
            t = time.perf_counter()
            with PeakRSS() as rss:
                sft = run_build_sft(pcfg, tokenizer=getattr(_unwrap(policy), "tokenizer", None))
            timings[f"build-sft-{label}"], peaks[f"build-sft-{label}"] = time.perf_counter() - t, rss.gib
            propose = Manifest(f"{cfg.out}/propose-{label}/manifest.json").data
            summary["proposers"][label] = {
                "kind": kind,
                "table1": table,
                "build_sft": sft,
                "propose_analytics": propose.get("analytics", {}),
                "propose_budget": (propose.get("counts") or {}).get("budget", {}),
            }
    finally:
        if backend is None:
            policy.close()
    summary["seconds_this_invocation"] = {k: round(v, 1) for k, v in timings.items()} | {
        "total": round(time.perf_counter() - t0, 1)
    }
    summary["seconds"] = stage_seconds(cfg.out)
    summary["peak_rss_gib_this_invocation"] = peaks | {"scope": rss.scope}
    atomic_write_json(f"{cfg.out}/int_summary.json", summary)
    return summary


def stage_seconds(run_dir: str) -> dict[str, float]:
    """Wall time per stage folder summed over every invocation that worked on it (resumes included),
    from the stage manifests, plus ``total``."""
    from pathlib import Path

    out: dict[str, float] = {}
    for path in sorted(Path(run_dir).glob("*/manifest.json")):
        out[path.parent.name] = round(float(Manifest(path).data.get("run_stats_total", {}).get("seconds", 0.0)), 1)
    return out | {"total": round(sum(out.values()), 1)}


def _unwrap(backend: Backend) -> Backend | None:
    """The real backend behind a LazyBackend, only if it was already opened (never loads a model)."""
    return backend._inner if isinstance(backend, LazyBackend) else backend


def print_summary(summary: dict[str, Any]) -> None:
    """Rich tables: rollout counts, filter counts per proposer, Table 1, the ratio, proposer analytics."""
    from rich.table import Table

    from harness.intervention.analytics import CONDITION_LABELS
    from harness.intervention.config import HINT_CONDITIONS
    from harness.ui import console

    r = summary["rollout"]
    console.print(
        f"[bold]rollout[/]: {r['problems']} problems ({r['dropped_no_reference']} dropped: no reference), "
        f"{r['samples']} samples, accuracy {100 * r['accuracy']:.1f}%, {r['failed_attempts']} failed attempts "
        f"on {r['problems_with_a_failure']} problems ({r['problems_all_failed']} with all samples wrong)"
    )
    labels = list(summary["proposers"])
    names = {
        lab: lab + (" (upper bound, not InT)" if summary["proposers"][lab]["kind"] == "oracle" else "")
        for lab in labels
    }
    filters = Table(title="Filters (counts)")
    filters.add_column("filter")
    for lab in labels:
        filters.add_column(names[lab], justify="right")
    for key in CASCADE:
        filters.add_row(
            key, *[str(summary["proposers"][lab]["build_sft"]["filters"].get(key, "")) for lab in labels]
        )
    filters.add_row(
        "parse failures by reason",
        *[_fmt_reasons(summary["proposers"][lab]["build_sft"]["filters"]) for lab in labels],
    )
    console.print(filters)

    t1 = Table(
        title="Table 1: continuations on the same problems (coverage = problems with >= 1 correct; accuracy = correct / samples)"
    )
    t1.add_column("conditioning")
    for lab in labels:
        t1.add_column(f"{names[lab]}\ncoverage", justify="right")
        t1.add_column("accuracy", justify="right")
    present = {c for lab in labels for c in summary["proposers"][lab]["table1"]["conditions"]}
    for cond in [c for c in CONDITION_LABELS if c in present or c not in HINT_CONDITIONS]:  # hint rows only when run
        cells, label = [], cond
        for lab in labels:
            row = summary["proposers"][lab]["table1"]["conditions"].get(cond)
            label = row["label"] if row else label
            cells += (
                [
                    f"{row['covered']}/{row['problems']}",
                    f"{100 * row['accuracy']:.2f}% ({row['correct']}/{row['samples']})",
                ]
                if row
                else ["-", "-"]
            )
        t1.add_row(label, *cells)
    t1.add_row(
        "ratio intervention / original step",
        *[c for lab in labels for c in (_fmt_ratio(summary["proposers"][lab]["table1"]), "")],
    )
    console.print(t1)

    an = Table(title="Proposer analytics")
    an.add_column("metric")
    for lab in labels:
        an.add_column(names[lab], justify="right")
    rows = [
        ("parse-failure rate", lambda p: f"{100 * p['propose_analytics'].get('parse_failure_rate', 0):.1f}%"),
        (
            "leak rate (paper substring)",
            lambda p: f"{100 * p['propose_analytics'].get('leak_rate_substring', 0):.1f}%",
        ),
        ("leak rate (boxed)", lambda p: f"{100 * p['propose_analytics'].get('leak_rate_boxed', 0):.1f}%"),
        (
            "localization accuracy (exact)",
            lambda p: _pct(p["propose_analytics"].get("localization", {}).get("exact")),
        ),
        (
            "localization within +-1",
            lambda p: _pct(p["propose_analytics"].get("localization", {}).get("within_1")),
        ),
        (
            "first-error location (median)",
            lambda p: str(p["propose_analytics"].get("first_error_location", {}).get("median", "-")),
        ),
        (
            "first-error relative (median)",
            lambda p: _num(p["propose_analytics"].get("first_error_relative", {}).get("median")),
        ),
        (
            "intervention tokens, median (selected)",
            lambda p: str(p["build_sft"]["lengths"]["intervention_tokens"].get("median", "-")),
        ),
        (
            "rollout tokens, median (selected)",
            lambda p: str(p["build_sft"]["lengths"]["rollout_tokens"].get("median", "-")),
        ),
        ("proposer prompts cut / shortened / skipped", lambda p: " / ".join(
            str(p.get("propose_budget", {}).get(f"verify_{k}", "-")) for k in ("cut", "shortened", "skipped"))),
        ("SFT rows / problems", lambda p: f"{p['build_sft']['rows']} / {p['build_sft']['problems']}"),
    ]
    for name, fn in rows:
        an.add_row(name, *[fn(summary["proposers"][lab]) for lab in labels])
    console.print(an)
    console.print(f"wall time per stage (all invocations, s): {summary['seconds']}")


def _fmt_reasons(filters: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in filters.get("parse_failed_by_reason", {}).items()) or "-"


def _fmt_ratio(table: dict[str, Any]) -> str:
    r = table.get("ratio_intervention_over_original")
    if not r:
        return "-"
    if r["bounded"]:
        return f"{r['value']:.1f}x"
    return (
        f">= {r['lower_bound']:.1f}x (0 correct after original)"
        if r.get("lower_bound") is not None
        else "n/a"
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"
