"""`build_report`: the report folder of a comparison -- tables, figures, Markdown and self-contained HTML.

Why the split between Python and templates: every number is computed and formatted here once, and both
templates only lay out the same generic tables, so report.md and index.html can never disagree. Model
outputs are untrusted text: the HTML environment autoescapes, the page's Content-Security-Policy allows
no network access and only the page's own script (by hash), and Markdown excerpts sit in code fences.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.rundir import atomic_write_json, atomic_write_text
from reports import artifacts
from reports.leaderboard import compute_totals, leaderboard, pivot
from reports.load import CompareRun, MissingData
from reports.paired import paired_tables
from reports.reported import AVERAGE_NOTE

TEMPLATES = Path(__file__).parent / "templates"
EXAMPLES_PER_PAIR = 6  # changed problems shown with sample excerpts (all are in problems_changed.csv)
EXCERPT_CHARS = 1200
NUMERIC = re.compile(r"^[<+\-]?\s?[\d.,]")  # right-align cells that read as numbers
SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute("data-sort") !== "asc";
    var key = function (r) { var t = r.cells[col].textContent.trim(); var n = parseFloat(t.replace(/[,%+]/g, ""));
      return isNaN(n) ? t.toLowerCase() : n; };
    rows.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
    rows.forEach(function (r) { body.appendChild(r); });
    th.setAttribute("data-sort", asc ? "asc" : "desc");
  });
});
""".strip()


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float | np.floating):
        return f"{v:,.{digits}f}"
    if isinstance(v, int | np.integer):
        return f"{v:,}"
    if isinstance(v, dict | list | tuple):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def table(df: pd.DataFrame, caption: str = "", digits: int = 2, index: bool = False) -> dict[str, Any]:
    """A frame as the templates' generic table: column names and rows of formatted strings."""
    if index:
        df = df.reset_index()
    rows = [[_fmt(v, digits) for v in row] for row in df.itertuples(index=False)]
    numeric = [bool(col) and all(NUMERIC.match(v) for v in col if v) for col in zip(*rows, strict=True)] if rows else []
    return {"caption": caption, "columns": [str(c) for c in df.columns], "rows": rows, "numeric": numeric}


def md_cell(text: Any) -> str:
    """Markdown table cell: HTML-escaped (renderers pass raw HTML through), no pipes or line breaks."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def fence(text: str) -> str:
    """A code fence longer than any backtick run inside ``text`` (so untrusted text cannot close it)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _examples(run: CompareRun, changed: pd.DataFrame) -> list[dict[str, Any]]:
    """A few changed problems per pair with an excerpt of the winner's correct sample and the loser's answers."""
    picked = []
    for (cand, base), g in changed.groupby(["candidate", "baseline"], sort=False):
        for r in g.head(EXAMPLES_PER_PAIR).to_dict("records"):
            winner, loser = (cand, base) if r["change"] == "newly solved" else (base, cand)
            picked.append((r, winner, loser))
    texts = run.sample_texts({(m, r["task"], r["problem_id"]) for r, w, lo in picked for m in (w, lo)})
    out = []
    for r, winner, loser in picked:
        good = [s for s in texts[(winner, r["task"], r["problem_id"])] if s.get("correct")]
        bad = texts[(loser, r["task"], r["problem_id"])]
        answers = Counter(str(s.get("extracted")) for s in bad if s.get("extracted") is not None).most_common(3)
        text = (good[0].get("text") or "") if good else ""
        excerpt = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS // 2] + "\n[...]\n" + text[-EXCERPT_CHARS // 2 :]
        out.append({**r, "pair": f"{r['candidate']} vs {r['baseline']}", "winner": winner, "loser": loser,
                    "gold": good[0].get("gold") if good else "", "excerpt": excerpt, "fence": fence(excerpt),
                    "loser_answers": ", ".join(f"{a} (x{n})" for a, n in answers) or "no extracted answer"})  # fmt: skip
    return out


def _leaderboard_view(run: CompareRun, board: pd.DataFrame) -> pd.DataFrame:
    """Models x tasks (formatted cells) with each model's compute beside its accuracy."""
    view = pivot(board)
    if view.empty:
        return view
    compute = compute_totals(run).set_index("model")
    kinds = {m: run.kind_of(m) for m in view.index}
    view.insert(0, "kind", [kinds[m] for m in view.index])
    for col, label in (("train_tokens_generated", "train tokens generated"), ("train_tokens_trained", "tokens trained"),
                       ("train_wall_time_s", "train wall time (s)"), ("eval_tokens_generated", "eval tokens")):  # fmt: skip
        view[label] = [_fmt(compute.loc[m, col], 0) if m in compute.index else "" for m in view.index]
    view.index.name = "model"
    return view


def _reported_view(board: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """The paper's rows as models x benchmarks, each model with the table it comes from."""
    view = pivot(board, ["reported"])
    if view.empty:
        return view
    rep = board[board["kind"] == "reported"]
    budget = reported.dropna(subset=["budget"]).groupby("model")["budget"].first()
    view["token budget"] = [budget.get(m, "") for m in view.index]
    view["source"] = [", ".join(dict.fromkeys(rep.loc[rep["model"] == m, "source"])) for m in view.index]
    view.index.name = "model (reported)"
    return view


def _stage_view(run: CompareRun) -> pd.DataFrame:
    st = run.stages
    if st.empty:
        return st
    per_seed = st.groupby(["model", "seed", "stage"], sort=False)[["tokens_generated", "tokens_trained", "wall_time"]].sum()
    view = per_seed.groupby(["model", "stage"], sort=False).mean().reset_index()
    view[["tokens_generated", "tokens_trained"]] = view[["tokens_generated", "tokens_trained"]].round().astype(int)
    return view.rename(columns={"tokens_generated": "tokens generated", "tokens_trained": "tokens trained", "wall_time": "wall time (s)"})


def _p(p: float, n_boot: int) -> str:
    """A bootstrap p-value cannot resolve below 1/n_boot: say so instead of printing 0."""
    return f"< {1 / n_boot:.0e}" if p < 1 / n_boot else f"{p:.4f}"


def _paired_view(stats: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    if stats.empty:
        return stats
    v = pd.DataFrame({"pair": stats["candidate"] + " - " + stats["baseline"], "task": stats["task"], "problems": stats["n_problems"]})
    v["candidate (%)"] = stats["candidate_pct"].map(lambda x: f"{x:.2f}")
    v["baseline (%)"] = stats["baseline_pct"].map(lambda x: f"{x:.2f}")
    v["difference [95% CI] (pts)"] = [f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for d, lo, hi in zip(stats["diff_pct"], stats["ci95_low_pct"], stats["ci95_high_pct"], strict=True)]
    v["p-value"] = stats["p_value"].map(lambda p: _p(p, n_boot))
    v["per-seed diff (mean ± std)"] = [
        "" if n == 0 else f"{m:+.2f}" + ("" if np.isnan(s) else f" ± {s:.2f}") + f" ({n} seeds)"
        for m, s, n in zip(stats["seed_diff_mean_pct"], stats["seed_diff_std_pct"], stats["n_seed_pairs"], strict=True)
    ]
    v["newly solved"] = stats["newly_solved"]
    v["regressed"] = stats["regressed"]
    return v


def _figure_entries(results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    from reports.figures import FIGURES

    shown, missing = [], []
    for name, res in results.items():
        if isinstance(res, str):
            missing.append({"name": name, "reason": res})
            continue
        png = next(p for p in res if p.suffix == ".png")
        shown.append({"name": name, "caption": FIGURES[name][1], "png": f"figures/{png.name}", "pdf": f"figures/{name}.pdf",
                      "data_uri": "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")})  # fmt: skip
    return shown, missing


def _optional(fn: Any, *args: Any) -> pd.DataFrame:
    try:
        return fn(*args)
    except MissingData:
        return pd.DataFrame()


def environment() -> Any:
    """The jinja2 environment: autoescape on for ``*.html.jinja`` (select_autoescape's default would
    look at the last suffix, ``.jinja``, and leave HTML unescaped), off for Markdown."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                      autoescape=select_autoescape(enabled_extensions=("html", "html.jinja"), default_for_string=True))  # fmt: skip
    env.filters["md"] = md_cell
    return env


def build_report(compare_dir: str | Path, out_dir: str | Path | None = None, *, n_boot: int = 10_000) -> Path:
    """Write the report folder (default ``<compare>/report``) and return it.

    Contents: leaderboard.csv, paired.csv, problems_changed.csv, samples.parquet (one row per graded
    sample, without the text), figures/*.pdf|png, report.md, index.html and report.json.
    """
    t0 = time.perf_counter()
    run = CompareRun(compare_dir)
    out = Path(out_dir) if out_dir is not None else run.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    board = leaderboard(run, n_boot=n_boot)
    board.to_csv(out / "leaderboard.csv", index=False)
    stats, changed = paired_tables(run, n_boot=n_boot)
    stats.to_csv(out / "paired.csv", index=False)
    changed.to_csv(out / "problems_changed.csv", index=False)
    run.samples.to_parquet(out / "samples.parquet", index=False)

    from reports.figures import plot

    fig_results = plot(run, out_dir=out / "figures")
    figures, missing = _figure_entries(fig_results)
    categories = board[(board["scope"] == "category")][["model", "task", "category", "n_problems", "accuracy_pct", "ci95_low_pct", "ci95_high_pct", "seed_std_pct"]]
    categories = categories.astype({"n_problems": int}).rename(columns={
        "n_problems": "problems", "accuracy_pct": "avg@k (%)", "ci95_low_pct": "CI low", "ci95_high_pct": "CI high", "seed_std_pct": "seed std"})
    reported = _reported_view(board, run.reported)
    t1 = _optional(artifacts.table1_summary, run)
    sft = _optional(artifacts.sft_stats_frame, run)
    meta = run.meta
    ctx = {
        "title": "InT harness comparison: " + " vs ".join(run.recipes or run.models),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "protocol_hash": meta.get("protocol_hash", ""),
        "protocol": table(pd.DataFrame([{"setting": k, "value": v} for k, v in (meta.get("protocol") or {}).items()])),
        "base_model": meta.get("base_model", ""),
        "seeds": ", ".join(str(s) for s in meta.get("seeds", [])),
        "leaderboard": table(_leaderboard_view(run, board), "avg@k in %, [95% bootstrap CI over problems], ± std over seeds; compute is per arm, mean over seeds.", index=True),
        "paired": table(_paired_view(stats, n_boot), "Paired per-problem bootstrap of candidate - baseline (accuracy averaged over seeds); p-value two-sided."),
        "changed_counts": table(changed.groupby(["candidate", "baseline", "task", "change"]).size().rename("problems").reset_index()) if not changed.empty else None,
        "examples": _examples(run, changed) if not changed.empty else [],
        "categories": table(categories, "Per category (avg@k %, 95% CI, seed std).") if not categories.empty else None,
        "stages": table(_stage_view(run), "Compute per stage, mean over seeds.", digits=1),
        "table1": table(t1[["model", "proposer", "label", "coverage", "accuracy_pct", "samples", "n_seeds"]].rename(columns={"label": "conditioning", "accuracy_pct": "accuracy (%)", "n_seeds": "seeds"}),
                        "Continuations per conditioning (paper Table 1); seeds pooled.", digits=3) if not t1.empty else None,
        "sft_stats": table(sft[["source", "model", "seed", "rows", "tokens", "nll_mean", "entropy_mean"]].rename(columns={"nll_mean": "NLL / token", "entropy_mean": "entropy / token"}),
                           "SFT data under the base model (mean over rows, nats).", digits=3) if not sft.empty else None,
        "reported": table(reported, "Numbers reported in the InT paper, pass@1 (%) from 128 samples -- not measured here. " + AVERAGE_NOTE, index=True) if not reported.empty else None,
        "figures": figures,
        "missing_figures": missing,
        "sort_script": SORT_SCRIPT,
        "script_hash": base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode("ascii"),
    }
    env = environment()
    atomic_write_text(out / "report.md", env.get_template("report.md.jinja").render(**ctx))
    atomic_write_text(out / "index.html", env.get_template("index.html.jinja").render(**ctx))
    atomic_write_json(out / "report.json", {
        "compare_dir": str(run.root), "paired": stats.to_dict("records"), "figures": {k: v if isinstance(v, str) else [str(p) for p in v] for k, v in fig_results.items()},
        "seconds": round(time.perf_counter() - t0, 2),
    })  # fmt: skip
    return out
