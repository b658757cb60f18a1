"""`build_report`: the report folder of a comparison -- tables, figures, Markdown and self-contained HTML.

Why the split between Python and templates: every number is computed and formatted here once, and both
templates only lay out the same generic tables, so report.md and index.html can never disagree. Model
outputs are untrusted text: the HTML environment autoescapes, the page's Content-Security-Policy allows
no network access and only the page's own script (by hash), and Markdown excerpts sit in code fences.
"""

from __future__ import annotations

import base64
import hashlib
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
from reports.leaderboard import CI_SEEDS, compute_totals, leaderboard, pivot, reported_view
from reports.load import CompareRun, MissingData
from reports.paired import P_SIGNFLIP, paired_tables
from reports.reported import AVERAGE_NOTE
from reports.verdict import build_verdict
from reports.yields import yields_view

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
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float | np.floating):
        return f"{v:,.{digits}f}"
    if isinstance(v, int | np.integer):
        return f"{v:,}"
    if isinstance(v, dict | list | tuple):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def table(df: pd.DataFrame, caption: str = "", digits: int = 2, index: bool = False, wrap: tuple[str, ...] = ()) -> dict[str, Any]:
    """A frame as the templates' generic table: column names and rows of formatted strings.

    ``numeric`` columns are right-aligned and never wrap in HTML; text columns wrap (anywhere, if a word
    is longer than the column), and so do the columns named in ``wrap``, numeric or not."""
    if index:
        df = df.reset_index()
    rows = [[_fmt(v, digits) for v in row] for row in df.itertuples(index=False)]
    numeric = [bool(col) and all(NUMERIC.match(v) for v in col if v) for col in zip(*rows, strict=True)] if rows else []
    wraps = [str(c) in wrap for c in df.columns]
    return {"caption": caption, "columns": [str(c) for c in df.columns], "rows": rows, "numeric": numeric, "wrap": wraps}


RAW_HTML = re.compile(r"<(?=[A-Za-z/!?])|&(?=#?\w+;)")  # what CommonMark could read as a tag, comment or entity


def md_cell(text: Any) -> str:
    """Markdown table cell or inline text: no pipes or line breaks, and nothing a renderer would take as raw
    HTML (renderers pass it through): a ``<`` that could open a tag and an ``&`` that could start an entity
    become ``&lt;`` / ``&amp;``. Everything else stays as written (``< 1e-04`` is text, not HTML)."""
    out = RAW_HTML.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", str(text))
    return out.replace("|", "\\|").replace("\n", " ")


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


ROLE_TEXT = {"base": "base model (untrained)", "measured": "trained", "compute-matched": "compute-matched", "eval-only": "eval-only"}


def role_text(run: CompareRun, model: str) -> str:
    """What a row is, in words: base / trained / compute-matched (what ran, e.g. "int stopped at rl-baseline's
    tokens: int + sft only; rl skipped: ...") / eval-only (own sampling settings). Derived from the arm's
    stages, never from its name (`reports.leaderboard.arm_note`)."""
    from reports.leaderboard import arm_note

    role = run.role_of(model)
    if role == "compute-matched":
        return f"compute-matched: {arm_note(run, model)}"
    if role == "eval-only" and run.protocol_differs(model):
        return "eval-only, OWN SAMPLING SETTINGS (not the frozen protocol)"
    note = arm_note(run, model) if role == "measured" else ""
    return ROLE_TEXT.get(role, role) + (f": {note}" if note else "")


def _leaderboard_view(run: CompareRun, board: pd.DataFrame) -> pd.DataFrame:
    """Models x tasks (formatted cells) with each model's role, seeds and compute beside its accuracy."""
    view = pivot(board)
    if view.empty:
        return view
    compute = compute_totals(run).set_index("model")
    view.insert(0, "role", [role_text(run, m) for m in view.index])
    seeds = board[board["scope"] == "task"].groupby("model")["n_seeds"].max()
    view["seeds"] = [_fmt(seeds.get(m), 0) for m in view.index]
    for col, label in (("train_tokens_generated", "train tokens generated: required"),
                       ("train_tokens_generated_diagnostic", "... diagnostic"), ("train_tokens_trained", "tokens trained"),
                       ("train_flops", "train FLOPs: required"),
                       ("train_rl_steps", "RL steps"), ("train_wall_time_s", "train wall time (s)"),
                       ("eval_tokens_generated", "eval tokens")):  # fmt: skip
        fmt = (lambda v: "" if v != v or not v else f"{v:.3g}") if "flops" in col else (lambda v: _fmt(v, 0))
        view[label] = [fmt(compute.loc[m, col]) if m in compute.index else "" for m in view.index]
    view.index = [f"{m} *" if run.protocol_differs(m) else m for m in view.index]
    view.index.name = "model"
    return view


def _leaderboard_caption(run: CompareRun, board: pd.DataFrame) -> str:
    tasks = board[(board["scope"] == "task") & (board["kind"] != "reported")]
    n_probs = ", ".join(f"{t} {int(n)}" for t, n in tasks.groupby("task", sort=False)["n_problems"].max().items())
    multi = tasks[tasks["ci_method"] == CI_SEEDS]
    seeds = ", ".join(f"{m} {int(n)}" for m, n in multi.groupby("model", sort=False)["n_seeds"].max().items())
    ci = (f"hierarchical bootstrap resampling training seeds, then problems, for rows with several seeds ({seeds}); "
          "over problems for one-seed rows" if seeds else "bootstrap over problems (one seed per row)")  # fmt: skip
    text = (f"avg@k in %, [95% CI], ± std over seeds. CI: {ci}. Problems per task: {n_probs}. Compute per arm, mean "
            "over its seeds: required generated tokens are what the method needs (what compute matching equalises); "
            "diagnostic ones only measure (e.g. InT's Table-1 controls).")  # fmt: skip
    if any(run.protocol_differs(m) for m in run.models):
        text += " * evaluated under its own sampling settings, not the frozen protocol: not comparable cell for cell."
    return text


def _stage_view(run: CompareRun) -> pd.DataFrame:
    """Per arm and step: required / diagnostic generated tokens, trained tokens, wall time (mean over seeds)."""
    st = run.stages
    if st.empty:
        return st
    cols = ["tokens_generated", "tokens_generated_diagnostic", "tokens_trained", "wall_time"]
    g = st.groupby(["model", "order", "stage"], sort=False)
    view = g[cols].mean().reset_index()
    view["seeds"] = g.size().values
    view["skipped"] = [", ".join(dict.fromkeys(x for x in v if isinstance(x, str) and x)) for v in g["skipped"].agg(list)]
    view[cols[:3]] = view[cols[:3]].round().astype(int)
    view["step"] = [f"{o + 1}. {s}" for o, s in zip(view["order"], view["stage"], strict=True)]
    view = view[["model", "step", "seeds", *cols, "skipped"]]
    return view.rename(columns={"tokens_generated": "generated: required", "tokens_generated_diagnostic": "generated: diagnostic",
                                "tokens_trained": "trained", "wall_time": "wall time (s)"})  # fmt: skip


def _int_sources_view(run: CompareRun) -> pd.DataFrame:
    """InT's generated tokens by source (mean over seeds), each marked required or diagnostic."""
    ic = run.int_compute
    if ic.empty:
        return ic
    g = ic.groupby(["model", "source"], sort=False)
    view = g["tokens"].mean().round().astype(int).reset_index()
    view["counts as"] = ["required" if r else "diagnostic" for r in g["required"].first().values]
    view["seeds"] = g.size().values
    return view.rename(columns={"tokens": "generated tokens"})


def _p(p: float, n_boot: int) -> str:
    """A bootstrap p-value cannot resolve below 1/n_boot: say so instead of printing 0."""
    if p is None or (isinstance(p, float) and np.isnan(p)):
        return ""
    return f"< {1 / n_boot:.0e}" if p < 1 / n_boot else f"{p:.4f}"


def _p_seeds(p: float) -> str:
    """A seed-level p-value (exact or analytic): three significant figures; empty with one seed."""
    return "" if p is None or (isinstance(p, float) and np.isnan(p)) else f"{p:.3g}"


def _steps(v: Any) -> str:
    return _fmt(v, 0) or "?"


def _matched_text(row: Any) -> str:
    """The quantity a pair's view holds equal, as achieved by both sides (means over seeds), and whether
    the view is MATCHED (tokens: within one RL step; RL steps: equal)."""
    from reports.verdict import held_equal

    matched = "MATCHED" if held_equal(row)[0] else "NOT MATCHED"
    if str(row["view"]).startswith("equal FLOPs"):
        return f"{matched}: FLOPs {row['candidate_train_flops']:.3g} / {row['baseline_train_flops']:.3g}"
    if str(row["view"]).startswith("equal generated tokens"):
        c, b = row["candidate_train_tokens_generated"], row["baseline_train_tokens_generated"]
        return f"{matched}: tokens {_fmt(c, 0)} / {_fmt(b, 0)}"
    return f"{matched}: RL steps {_steps(row['candidate_rl_steps'])} / {_steps(row['baseline_rl_steps'])}"


PAIRED_WRAP = ("per-seed differences (pts)",)


def _tuning_view(run: CompareRun) -> dict[str, Any] | None:
    """The learning-rate sweep (``tuning.json``, `harness.compare.tune`): per recipe and step, the validation
    avg@k of every grid value, the choice, and what the sweep cost."""
    path = run.root / "tuning.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    rows = []
    for recipe, rec in data.get("recipes", {}).items():
        cost = rec.get("cost", {})
        for st in rec.get("steps", []):
            rows.append({"recipe": recipe, "step": f"{st['step']} ({st['kind']})",
                         "validation avg@k (%) by learning rate": ", ".join(f"{k}: {100 * v:.1f}" for k, v in sorted(st["validation_avg"].items(), key=lambda kv: float(kv[0]))),
                         "chosen": f"{st['chosen']:g}", "sweep runs": cost.get("runs"),
                         "sweep tokens generated / trained": f"{cost.get('tokens_generated', 0):,} / {cost.get('tokens_trained', 0):,}",
                         "sweep wall time (s)": cost.get("wall_time")})
    caption = (f"Learning rates picked by the same sweep for every recipe (grid {', '.join(f'{x:g}' for x in data.get('grid', []))}; "
               f"training seed {data.get('seed')}, not a reported seed; {data.get('selection', '')}), on validation problems "
               "disjoint from the test problems and from the training problems. The reported arms train with the chosen values.")
    return table(pd.DataFrame(rows), caption, wrap=("validation avg@k (%) by learning rate",))


def _paired_view(stats: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """The paired table as shown: one decimal (a tenth of a point is already below any CI's width), the
    three p-values side by side (the notes say which one is the headline), the per-seed differences."""
    if stats.empty:
        return stats
    v = pd.DataFrame({"view": stats["view"], "pair": stats["candidate"] + " - " + stats["baseline"], "task": stats["task"]})
    v["problems x seeds"] = [f"{p} x {s}" for p, s in zip(stats["n_problems"], stats["n_seeds"], strict=True)]
    v["candidate / baseline (%)"] = [f"{c:.1f} / {b:.1f}" for c, b in zip(stats["candidate_pct"], stats["baseline_pct"], strict=True)]
    v["difference [95% CI] (pts)"] = [f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]" for d, lo, hi in zip(stats["diff_pct"], stats["ci95_low_pct"], stats["ci95_high_pct"], strict=True)]
    v["p: sign-flip over seeds"] = stats["p_signflip"].map(_p_seeds)
    v["p: t-test over seeds"] = stats["p_t"].map(_p_seeds)
    v["p: bootstrap"] = stats["p_bootstrap"].map(lambda p: _p(p, n_boot))
    v["per-seed differences (pts)"] = [", ".join(x.split("; ")) if isinstance(x, str) else "" for x in stats["seed_diffs_pct"]]
    v["held equal (candidate / baseline)"] = [_matched_text(r) for r in stats.to_dict("records")]
    if "flops_ratio" in stats:  # tokens are not compute: what each side cost in FLOPs (harness.flops)
        v["FLOPs candidate / baseline"] = stats["flops_ratio"].map(lambda x: "" if x != x else f"{x:.2f}x")
    v["newly solved / regressed"] = [f"{n} / {r}" for n, r in zip(stats["newly_solved"], stats["regressed"], strict=True)]
    return v


def _paired_notes(stats: pd.DataFrame, n_boot: int, run: CompareRun | None = None) -> list[str]:
    """The table note: what each view holds equal (with the achieved totals), how the CI was drawn and
    which p-value is the headline."""
    from reports.leaderboard import arm_note

    if stats.empty:
        return []
    notes = []
    first = stats.drop_duplicates(["view", "candidate", "baseline"])
    for r in first.to_dict("records"):
        pair = f"{r['candidate']} - {r['baseline']}"
        if str(r["view"]).startswith("equal FLOPs"):
            notes.append(f"{pair} ({r['view']}): holds the training FLOPs equal (generation with prefill + forward and "
                         f"backward, from the model's shape), to within one RL step; achieved {r['candidate_train_flops']:.3g} vs "
                         f"{r['baseline_train_flops']:.3g} FLOPs, RL steps {_steps(r['candidate_rl_steps'])} vs "
                         f"{_steps(r['baseline_rl_steps'])}." + ("" if r.get("flops_matched_within_one_step") else
                                                                 " NOT MATCHED: the totals differ by more than one RL step."))
        elif str(r["view"]).startswith("equal generated tokens"):
            notes.append(f"{pair} ({r['view']}): holds the required generated training tokens equal, to within one RL step "
                         f"(the last step may overshoot); achieved {_fmt(r['candidate_train_tokens_generated'], 0)} vs "
                         f"{_fmt(r['baseline_train_tokens_generated'], 0)} tokens, RL steps {_steps(r['candidate_rl_steps'])} "
                         f"vs {_steps(r['baseline_rl_steps'])}.")  # fmt: skip
            if r.get("tokens_matched_within_one_step") is False:
                notes[-1] += (" NOT MATCHED: the totals differ by more than one RL step (the step cap stopped training "
                              "first, or the budget was spent before RL); read this view as unequal compute.")
        else:
            notes.append(f"{pair} ({r['view']}): holds the number of RL steps equal ({_steps(r['candidate_rl_steps'])} vs "
                         f"{_steps(r['baseline_rl_steps'])}); generated training tokens differ: "
                         f"{_fmt(r['candidate_train_tokens_generated'], 0)} vs {_fmt(r['baseline_train_tokens_generated'], 0)}.")  # fmt: skip
        for side in ("candidate", "baseline") if run is not None else ():
            what = arm_note(run, r[side])
            if what and run.role_of(r[side]) == "compute-matched":
                notes[-1] += f" {r[side]} is {what}."
    hier = stats[stats["ci_method"] == CI_SEEDS]
    if not hier.empty:
        n_s = ", ".join(str(n) for n in sorted(hier["n_seeds"].unique()))
        n_p = ", ".join(f"{t} {n}" for t, n in hier.groupby("task", sort=False)["n_problems"].max().items())
        notes.append(f"CI: hierarchical paired bootstrap ({n_boot:,} draws) resampling training seeds "
                     f"(n seeds = {n_s}, paired by seed) and then problems (n problems: {n_p}).")  # fmt: skip
    flat = stats[stats["ci_method"] != CI_SEEDS]
    if not flat.empty:
        n_p = ", ".join(f"{t} {n}" for t, n in flat.groupby("task", sort=False)["n_problems"].max().items())
        notes.append(f"CI{' of one-seed pairs' if not hier.empty else ''}: paired bootstrap over problems "
                     f"({n_boot:,} draws; n problems: {n_p}; accuracy averaged over seeds).")  # fmt: skip
    seeded = stats[stats["p_method"] == P_SIGNFLIP]
    if not seeded.empty:
        floors = ", ".join(f"{n} seeds: {p:.3g}" for n, p in seeded.groupby("n_seed_pairs")["p_signflip_min"].first().items())
        notes.append("Headline p-value (the verdict's): the exact sign-flip permutation test over the per-seed differences, "
                     "two-sided -- distribution-free, it asks whether the difference survives training randomness, and it "
                     f"cannot go below 2 / 2^seeds ({floors}). Beside it: the paired t-test over the same per-seed differences "
                     "(assumes they are normal) and the bootstrap's p (resamples seeds and problems; with few seeds it cannot "
                     "see that seeds disagree). docs/methodology.md says when each holds.")  # fmt: skip
    if not stats[stats["p_method"] != P_SIGNFLIP].empty:
        notes.append(f"{'Pairs with one seed: ' if not seeded.empty else ''}the headline p-value is the paired bootstrap's over "
                     "problems (two-sided): it generalises over problems for this one training run, not over training "
                     "randomness; the seed-level tests need two or more seeds.")  # fmt: skip
    return notes


def grader_line(meta: dict[str, Any]) -> str:
    """Which grader scored the evaluation and -- in a comparison -- graded InT's filters and the RL reward."""
    protocol = meta.get("protocol") or {}
    judge = protocol.get("judge") or {}
    name = protocol.get("grader") or "math-verify"
    return name + (f" (judge {judge.get('model')} via {judge.get('backend', 'openai')})" if judge.get("model") else "")


def _protocol_view(meta: dict[str, Any]) -> pd.DataFrame:
    """The frozen protocol as setting/value rows (one row per evaluated problem set)."""
    protocol = dict(meta.get("protocol") or {})
    rows = []
    for ps in protocol.pop("problems", None) or []:
        rule = ", ".join(f"{k} {v}" for k, v in ps.items() if k not in ("task", "exclude_ids") and v not in (None, False, []))
        excluded = len(ps.get("exclude_ids") or [])
        rows.append({"setting": f"problems: {ps.get('task')}", "value": rule + (f", {excluded} excluded (train/eval overlap)" if excluded else "")})
    rows += [{"setting": k, "value": v} for k, v in protocol.items()]
    config = meta.get("config") or {}
    if config:
        rows.append({"setting": "compute matching", "value": "on" if config.get("match_compute") else "off"})
    return pd.DataFrame(rows, columns=["setting", "value"])


def overlap_info(meta: dict[str, Any]) -> dict[str, Any]:
    """The train/eval overlap check as the report shows it: warnings (the report's first lines when a
    run was allowed to proceed with overlap), the method, a per-task table and notes."""
    ov = meta.get("overlap")
    if not ov:
        return {"recorded": False, "warnings": [], "method": "", "table": None, "notes": []}
    tasks = ov.get("tasks") or []
    rows, notes = [], []
    for t in tasks:
        if not t.get("checked", True):
            doc = t.get("documented_overlap")
            notes.append(f"{t.get('task')}: not checked (data not available when the comparison was planned)"
                         + (f"; its data card documents {doc} overlapping problems" if doc else ""))
            continue
        rows.append({"task": t.get("task"), "eval problems": t.get("eval_problems"), "train problems": t.get("train_problems"),
                     "exact": t.get("exact"), "near": t.get("near"), "overlapping": len(t.get("overlapping") or []),
                     "held out": t.get("held_out")})  # fmt: skip
    mode, allowed = ov.get("mode", "refuse"), bool(ov.get("allowed"))
    warnings = []
    if allowed and ov.get("has_overlap"):
        counts = "; ".join(f"{t.get('task')}: {len(t.get('overlapping') or [])} of {t.get('eval_problems')} evaluation problems "
                           f"({t.get('exact', 0)} exact, {t.get('near', 0)} near)" for t in tasks if t.get("overlapping"))  # fmt: skip
        excluded = mode == "exclude" and ov.get("exclude")
        warnings.append(f"WARNING: training and evaluation problems overlap and this run was allowed to proceed (allow_overlap): "
                        f"{counts}. " + ("They were excluded from evaluation." if excluded else
                                         "They were evaluated: accuracy on these tasks is not a held-out measurement."))  # fmt: skip
    if mode == "exclude" and ov.get("exclude"):
        notes.append("Overlapping problems were excluded: every arm was evaluated on the held-out problems only ("
                     + "; ".join(f"{task}: {len(ids)} excluded" for task, ids in ov["exclude"].items()) + ").")
    elif ov.get("has_overlap") and not allowed:
        notes.append(f"On overlap this comparison {mode}s.")
    notes += [str(line) for line in ov.get("lines") or []]
    return {"recorded": True, "warnings": warnings, "method": ov.get("method", ""), "mode": mode, "allowed": allowed,
            "table": table(pd.DataFrame(rows)) if rows else None, "notes": notes}  # fmt: skip


INT_COLUMNS = ("n_problems", "k", "n_seeds", "n_seed_pairs", "newly_solved", "regressed", "candidate_correct", "candidate_samples",
               "baseline_correct", "baseline_samples")  # fmt: skip
INTEGRAL_IF_WHOLE = ("train_tokens_generated", "train_tokens_generated_diagnostic", "train_tokens_trained", "train_rl_steps",
                     "eval_tokens_generated", "candidate_train_tokens_generated", "baseline_train_tokens_generated",
                     "candidate_rl_steps", "baseline_rl_steps")  # fmt: skip


def integer_columns(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Counts as integers for the CSVs (pandas makes a column with a missing value float): ``columns`` become
    nullable ``Int64``; compute columns (means over seeds) too when every value is whole, e.g. the same
    token total in every seed."""
    out = df.copy()
    for col in out.columns:
        if col not in columns and col not in INTEGRAL_IF_WHOLE:
            continue
        values = pd.to_numeric(out[col], errors="coerce")
        known = values.dropna()
        if len(known) == values.notna().sum() == out[col].notna().sum() and (col in columns or (known == known.round()).all()):
            out[col] = values.round().astype("Int64")
    return out


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


def build_report(compare_dir: str | Path, out_dir: str | Path | None = None, *, n_boot: int = 10_000,
                 figures: bool = True) -> Path:  # fmt: skip
    """Write the report folder (default ``<compare>/report``) and return it.

    Contents: leaderboard.csv (measured and eval-only rows), paired.csv, problems_changed.csv, reported.csv
    (the paper's numbers, models x benchmarks, each once; never in leaderboard.csv), samples.parquet (one
    row per graded sample, with its response text and gold answer), figures/*.pdf|png, report.md,
    index.html and report.json (the paired rows and the verdict, machine-readable). Count columns are
    integers in the CSVs (nullable where a row has none).
    ``figures=False`` skips the figures (most of the build time; `harness plot` draws them later).
    """
    t0 = time.perf_counter()
    run = CompareRun(compare_dir)
    out = Path(out_dir) if out_dir is not None else run.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    board = leaderboard(run, n_boot=n_boot)
    integer_columns(board[board["kind"] != "reported"].drop(columns=["source"]), INT_COLUMNS).to_csv(out / "leaderboard.csv", index=False)
    stats, changed = paired_tables(run, n_boot=n_boot)
    integer_columns(stats, INT_COLUMNS).to_csv(out / "paired.csv", index=False)
    integer_columns(changed, INT_COLUMNS).to_csv(out / "problems_changed.csv", index=False)
    reported = reported_view(run.reported)
    reported.to_csv(out / "reported.csv")
    run.write_samples(out / "samples.parquet")
    verdict = build_verdict(stats, n_boot, run)

    from reports.figures import FIGURES, plot

    fig_results = plot(run, out_dir=out / "figures") if figures else dict.fromkeys(FIGURES, "not requested (figures=False)")
    shown, missing = _figure_entries(fig_results)
    categories = board[(board["scope"] == "category")][["model", "task", "category", "n_problems", "n_seeds", "accuracy_pct", "ci95_low_pct", "ci95_high_pct", "seed_std_pct"]]
    categories = categories.assign(model=[f"{m} *" if run.protocol_differs(m) else m for m in categories["model"]])
    categories = categories.astype({"n_problems": int, "n_seeds": int}).rename(columns={
        "n_problems": "problems", "n_seeds": "seeds", "accuracy_pct": "avg@k (%)", "ci95_low_pct": "CI low", "ci95_high_pct": "CI high", "seed_std_pct": "seed std"})
    t1 = _optional(artifacts.table1_summary, run)
    sft = _optional(artifacts.sft_stats_frame, run)
    stage_view, sources = _stage_view(run), _int_sources_view(run)
    meta = run.meta
    overlap = overlap_info(meta)
    tuning = _tuning_view(run)
    ctx = {
        "tuning": tuning,
        "title": "InT harness comparison: " + " vs ".join(run.recipes or run.models),
        "warnings": overlap["warnings"],
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "protocol_hash": meta.get("protocol_hash", ""),
        "protocol": table(_protocol_view(meta)),
        "base_model": meta.get("base_model", ""),
        "grader": grader_line(meta),
        "seeds": ", ".join(str(s) for s in meta.get("seeds", [])),
        "leaderboard": table(_leaderboard_view(run, board), _leaderboard_caption(run, board), index=True),
        "verdict": verdict,
        "paired": table(_paired_view(stats, n_boot), "Paired per-problem difference candidate - baseline (points); see the notes above for "
                        "each view and for which p-value is the headline.", wrap=PAIRED_WRAP),
        "paired_notes": _paired_notes(stats, n_boot, run),
        "changed_counts": table(changed.groupby(["view", "candidate", "baseline", "task", "change"], sort=False).size().rename("problems").reset_index()) if not changed.empty else None,
        "examples": _examples(run, changed) if not changed.empty else [],
        "categories": table(categories, "Per category (avg@k %, 95% CI as in the leaderboard, seed std).") if not categories.empty else None,
        "stages": table(stage_view, "Compute per arm and step, mean over seeds. Generated tokens: required (what the method needs, each "
                        "sample counted once) vs diagnostic (only for measurements, e.g. InT's Table-1 controls).", digits=1) if not stage_view.empty else None,
        "int_sources": table(sources, "Tokens the InT step generated, by source (mean over seeds). Required: rollouts, the proposer's "
                             "turns and the intervention continuations the correctness filter reads; diagnostic: the Table-1 "
                             "controls (original step, prefix only, from scratch).") if not sources.empty else None,
        "overlap": overlap,
        "table1": table(t1[["model", "proposer", "label", "coverage", "accuracy_pct", "samples", "n_seeds"]].rename(columns={"label": "conditioning", "accuracy_pct": "accuracy (%)", "n_seeds": "seeds"}),
                        "Continuations per conditioning (paper Table 1); seeds pooled; coverage counts the problems each condition was run on.", digits=3) if not t1.empty else None,
        "yields": table(*yv) if (yv := yields_view(run)) else None,
        "sft_stats": table(sft[["source", "model", "seed", "rows", "tokens", "nll_mean", "entropy_mean"]].rename(columns={"nll_mean": "NLL / token", "entropy_mean": "entropy / token"}),
                           "SFT data under the base model (mean over rows, nats).", digits=3) if not sft.empty else None,
        "reported": table(reported, "Numbers reported in the InT paper (arXiv 2601.14209), pass@1 (%) from 128 samples -- not measured "
                          "here. Rows of Table 3 that repeat a Table 4 number are shown once. " + AVERAGE_NOTE, index=True) if not reported.empty else None,
        "figures": shown,
        "missing_figures": missing,
        "sort_script": SORT_SCRIPT,
        "script_hash": base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode("ascii"),
    }
    env = environment()
    atomic_write_text(out / "report.md", env.get_template("report.md.jinja").render(**ctx))
    atomic_write_text(out / "index.html", env.get_template("index.html.jinja").render(**ctx))
    atomic_write_json(out / "report.json", {
        "compare_dir": str(run.root), "warnings": overlap["warnings"], "verdict": verdict, "paired": stats.to_dict("records"),
        "paired_notes": ctx["paired_notes"],
        "figures": {k: v if isinstance(v, str) else [str(p) for p in v] for k, v in fig_results.items()},
        "seconds": round(time.perf_counter() - t0, 2),
    })  # fmt: skip
    return out
