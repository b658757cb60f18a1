"""The preflight's memory estimate of every stage next to the peak resident memory the stage measured.

    .venv/bin/python benchmarks/preflight_vs_measured.py runs/real-cpu          # a finished comparison

Reads ``compare.json`` (the preflight it printed before running) and the peaks the steps recorded
(``peak_rss_gib`` in ``cache/*/step.json``; per InT stage in the int step's summary; `harness.memory`), and
prints a Markdown table: stage, estimate (GiB) with its largest terms, measured peak (GiB), measured /
estimate. Peaks are only per stage when the comparison ran with ``isolation: process`` (each step in its
own process); inline, a step's peak includes what earlier steps left resident.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INT_STAGES = {"int: rollout": "rollout", "int: propose": "propose-self", "int: continue": "continue-self"}


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def measured(run: Path, arm: str, stage: str) -> float | None:
    """The peak RSS (GiB) the stage of ``arm`` (seed 0) recorded, or None (skipped, cached from elsewhere)."""
    arm_dir = run / "arms" / arm / "seed-0"
    if stage in INT_STAGES:
        summary = ((_read(arm_dir / "int" / "step.json").get("output") or {}).get("summary") or {})
        return (summary.get("peak_rss_gib") or {}).get(INT_STAGES[stage])
    if stage == "eval":
        return _read(arm_dir / "eval" / "step.json").get("peak_rss_gib")
    out = _read(arm_dir / stage / "step.json").get("output") or {}
    if (out.get("summary") or {}).get("skipped"):
        return None
    return ((out.get("compute") or {}).get("detail") or {}).get("peak_rss_gib")


def recomputed(meta: dict[str, Any]) -> dict[str, Any]:
    """The preflight of the run's recorded config under the current code (after an estimate changed)."""
    import contextlib
    import io

    from harness.compare.config import CompareConfig
    from harness.compare.run import run_compare

    cfg = CompareConfig.model_validate(meta["config"])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return run_compare(meta["recipes"], cfg, dry_run=True, show_progress=False)["preflight"]


def rows(run: Path, recompute: bool = False) -> list[dict[str, Any]]:
    meta = _read(run / "compare.json")
    recorded = meta.get("preflight") or {}
    pre = recomputed(meta) if recompute else recorded
    before = {(st["arm"], st["stage"]): st.get("peak_gib") for st in recorded.get("stages", [])}
    out, seen = [], set()
    for st in pre.get("stages", []):
        arm = st["arm"] if (run / "arms" / st["arm"]).exists() else None
        if arm is None or st.get("peak_gib") is None:
            continue
        got = measured(run, arm, st["stage"])
        key = (st["stage"], got)
        if got is None or key in seen:  # a stage shared by arms (cached) is shown once
            continue
        seen.add(key)
        terms = sorted((st.get("memory_gib") or {}).items(), key=lambda kv: -kv[1])
        out.append({"arm": arm, "stage": st["stage"], "estimate": st["peak_gib"], "measured": got,
                    "recorded": before.get((arm, st["stage"])), "terms": ", ".join(f"{k} {v:.2f}" for k, v in terms[:3])})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="A finished comparison folder.")
    ap.add_argument("--recompute", action="store_true",
                    help="Estimate with the current preflight code from the run's recorded config (else: the estimate "
                         "compare.json recorded before the run).")
    args = ap.parse_args()
    table = rows(Path(args.run), args.recompute)
    if not table:
        print(f"{args.run}: no stage with both an estimate and a measured peak", file=sys.stderr)
        return 1
    extra = args.recompute
    print("| stage (arm) |" + (" estimate recorded before the run, GiB |" if extra else "")
          + " preflight estimate, GiB | largest estimated terms (GiB) | measured peak RSS, GiB | measured / estimate |")
    print("|---|" + ("---|" if extra else "") + "---|---|---|---|")
    for r in table:
        was = (f" {r['recorded']:.2f} |" if r["recorded"] is not None else " - |") if extra else ""
        print(f"| {r['stage']} ({r['arm']}) |{was} {r['estimate']:.2f} | {r['terms']} | {r['measured']:.2f} | "
              f"{r['measured'] / r['estimate']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
