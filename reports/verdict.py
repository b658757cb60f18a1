"""The verdict: what a comparison found, one entry per paired view, for the last lines of `harness compare`
and the top of report.md and index.html.

Why its own module: the terminal and the report must say the same thing, so the sentences are made once,
here, from the paired statistics (`reports.paired.paired_tables`), stored in report.json (``verdict``),
and the terminal reprints them from that file (`print_verdict`) -- it never recomputes a number.

One entry per view of the paired table (its pooled row when there are several tasks): the measured pairs
at equal RL steps, then each compute-matched pair at equal generated tokens. An entry is a *label* (which
view, which two arms, and -- for an arm that did not train what its recipe names, e.g. RL skipped because
the budget was spent before RL -- what it is) and a *numbers* line: the difference candidate - baseline
in avg@k points with its 95% CI, the headline p-value, n problems x seeds, and MATCHED / NOT MATCHED with
the totals the view holds equal as achieved (RL steps, or required generated tokens). Both lines fit
`WIDTH` columns (a label longer than that wraps, indented); the report shows each entry as one sentence,
``label: numbers``.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.leaderboard import arm_note
from reports.load import CompareRun, read_json_if
from reports.paired import EQUAL_STEPS, P_SIGNFLIP, POOLED

WIDTH = 80
INDENT = "  "


def tokens_short(n: float) -> str:
    """A token count in three significant figures: 950, 45.7k, 151k, 1.23M (exact totals are in the report)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "?"
    n = float(n)
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            v = n / scale
            return f"{v:.3g}{unit}" if abs(v) < 1000 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def _flops_short(v: Any) -> str:
    return "?" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.2g}"


def p_text(p: float, method: str, n_boot: int) -> str:
    """The headline p as printed: three significant figures; a bootstrap p below 1 / n_boot is a bound."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if method != P_SIGNFLIP and p < 1 / n_boot:
        return f"<{1 / n_boot:.0e}"
    return f"{p:.3g}"


def _steps(v: Any) -> str:
    return "?" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):g}"


def held_equal(r: dict[str, Any]) -> tuple[bool, str]:
    """(matched, the achieved totals) of the quantity the row's view holds equal."""
    if str(r["view"]).startswith("equal FLOPs"):
        flag = r.get("flops_matched_within_one_step")
        matched = bool(flag) if isinstance(flag, bool | np.bool_) else False
        return matched, f"{_flops_short(r['candidate_train_flops'])}/{_flops_short(r['baseline_train_flops'])} FLOPs"
    if str(r["view"]).startswith("equal generated tokens"):
        flag = r.get("tokens_matched_within_one_step")
        matched = bool(flag) if isinstance(flag, bool | np.bool_) else False  # nan (unknown) is not matched
        return matched, f"{tokens_short(r['candidate_train_tokens_generated'])}/{tokens_short(r['baseline_train_tokens_generated'])} tokens"
    c, b = r.get("candidate_rl_steps"), r.get("baseline_rl_steps")
    known = all(v is not None and not (isinstance(v, float) and math.isnan(v)) for v in (c, b))
    return bool(known and round(float(c), 6) == round(float(b), 6)), f"{_steps(c)}/{_steps(b)} RL steps"


def _headline_rows(stats: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per view and pair: the pooled row when there is one, else the only task row."""
    out = []
    for _, g in stats.groupby(["view", "candidate", "baseline"], sort=False):
        pooled = g[g["task"] == POOLED]
        out.append((pooled if not pooled.empty else g).iloc[0].to_dict())
    return out


def _label(run: CompareRun | None, r: dict[str, Any]) -> str:
    view = EQUAL_STEPS if r["view"] == EQUAL_STEPS else ("equal FLOPs" if str(r["view"]).startswith("equal FLOPs")
                                                         else "equal generated tokens")
    names = []
    for side in ("candidate", "baseline"):
        model = str(r[side])
        short = arm_note(run, model, short=True) if run is not None else ""
        names.append(f"{model} ({short})" if short else model)
    return f"{view}: {names[0]} - {names[1]}"


def build_verdict(stats: pd.DataFrame, n_boot: int, run: CompareRun | None = None) -> dict[str, Any]:
    """``{"header": [sentences], "views": [entries]}`` from the paired statistics (empty with one recipe):
    every view that involves the first recipe (control-vs-control pairs are in the paired table only).

    Each entry: label, numbers, text (``label: numbers``), the numbers it prints (diff_pct, ci95_low_pct,
    ci95_high_pct, p_value, p_method, n_problems, n_seeds) and matched / held_equal."""
    if stats.empty:
        return {"header": [], "views": []}
    views = []
    first = run.recipes[0] if run is not None and run.recipes else None
    for r in _headline_rows(stats):
        if first is not None and r["view"] == EQUAL_STEPS and first not in (r["candidate"], r["baseline"]):
            continue  # control vs control pairs stay in the paired table; the verdict is about the first recipe
        matched, totals = held_equal(r)
        numbers = (f"{r['diff_pct']:+.1f} [{r['ci95_low_pct']:+.1f}, {r['ci95_high_pct']:+.1f}]  "
                   f"p={p_text(r['p_value'], r['p_method'], n_boot)}  n={int(r['n_problems'])}x{int(r['n_seeds'])}  "
                   f"{'MATCHED' if matched else 'NOT MATCHED'} {totals}")  # fmt: skip
        ratio = r.get("flops_ratio")
        flops_view = str(r["view"]).startswith("equal FLOPs")
        if isinstance(ratio, float) and ratio == ratio and not flops_view and len(numbers) + 14 <= 76:  # tokens are not FLOPs
            numbers += f"  FLOPs {ratio:.2f}x"
        label = _label(run, r)
        views.append({
            "view": r["view"], "candidate": r["candidate"], "baseline": r["baseline"], "task": r["task"],
            "label": label, "numbers": numbers, "text": f"{label}: {numbers}",
            "diff_pct": r["diff_pct"], "ci95_low_pct": r["ci95_low_pct"], "ci95_high_pct": r["ci95_high_pct"],
            "p_value": r["p_value"], "p_method": r["p_method"], "n_problems": int(r["n_problems"]), "n_seeds": int(r["n_seeds"]),
            "held_equal": "tokens" if str(r["view"]).startswith("equal generated tokens") else
                          ("flops" if str(r["view"]).startswith("equal FLOPs") else "rl_steps"),
            "matched": matched, "totals": totals,
        })  # fmt: skip
    return {"header": _header(views, stats), "views": views}


def _header(views: list[dict[str, Any]], stats: pd.DataFrame) -> list[str]:
    """The sentences before the entries: what the numbers are, and which p-value (with its floor)."""
    what = ("Verdict: candidate - baseline in avg@k points [95% CI, paired bootstrap over "
            + ("seeds and problems" if any(v["n_seeds"] > 1 for v in views) else "problems") + "]; n = problems x seeds.")
    ps = []
    for method, g in pd.DataFrame(views).groupby("p_method", sort=False):
        if method == P_SIGNFLIP:
            mins = stats[stats["p_method"] == P_SIGNFLIP].groupby("n_seeds")["p_signflip_min"].first()
            floor = ", ".join(f"{n} seeds: {p:.3g}" for n, p in mins.items())
            ps.append(f"p: exact sign-flip test over the per-seed differences (two-sided; smallest possible p with {floor}).")
        else:
            ps.append(f"p{'' if len(views) == len(g) else ' (one seed)'}: paired bootstrap over problems (two-sided; one training seed, "
                      "so training randomness is not tested).")  # fmt: skip
    return [what, *ps]


def verdict_lines(verdict: dict[str, Any]) -> list[str]:
    """The terminal lines: the header, then per view its label and its indented numbers, each <= WIDTH."""
    lines = [line for text in verdict.get("header") or [] for line in textwrap.wrap(text, WIDTH, subsequent_indent=INDENT)]
    for v in verdict.get("views") or []:
        lines += _label_lines(v)
        lines += textwrap.wrap(v["numbers"], WIDTH, initial_indent=INDENT, subsequent_indent=INDENT * 2, break_on_hyphens=False)
    return lines


def _label_lines(v: dict[str, Any]) -> list[str]:
    """The label on one line, or -- longer than `WIDTH` -- broken before the baseline (`` - <baseline>``)."""
    if len(v["label"]) <= WIDTH:
        return [v["label"]]
    head, sep, tail = v["label"].rpartition(f" - {v['baseline']}")
    parts = [head, INDENT * 2 + sep.strip() + tail] if sep else [v["label"]]
    return [line for part in parts for line in textwrap.wrap(part, WIDTH, subsequent_indent=INDENT * 2, break_on_hyphens=False,
                                                              drop_whitespace=False) or [part]]  # fmt: skip


def print_verdict(report_dir: str | Path, *, console: Any = None) -> None:
    """Print the verdict stored in ``<report_dir>/report.json`` and then, last, the report's path."""
    if console is None:
        from harness.ui import console
    folder = Path(report_dir)
    info = read_json_if(folder / "report.json") or {}
    for line in verdict_lines(info.get("verdict") or {}):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {folder / 'index.html'}", markup=False, highlight=False, soft_wrap=True)
