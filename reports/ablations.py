"""The ablation studies' outputs (`harness ablate`): each table as Markdown, CSV and a LaTeX booktabs table, each
figure as PDF + PNG in the report style of `reports.figures`, and one Markdown page per study -- all drawn from
the study's ``<study>.json`` only (``render_study`` rebuilds them at any time; nothing is re-run).

The tables arrive formatted (every number is formatted once, by the study that measured it), so the three
table formats can never disagree; the figures read the raw values kept beside them in the JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from harness.rundir import atomic_write_text
from reports.figures import FULL, GREYS, OKABE_ITO, STYLE, save
from reports.render import md_cell

NUMERIC = re.compile(r"^[<+\-−]?\s?[\d.,]")
LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                 "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "≥": r"$\geq$",
                 "≤": r"$\leq$", "→": r"$\rightarrow$", "−": "-"}


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "| " + " | ".join(md_cell(c) for c in columns) + " |"
    rule = "|" + "|".join("---:" if _numeric_column(rows, i) else "---" for i in range(len(columns))) + "|"
    body = ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def csv_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def latex_escape(text: Any) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str, label: str) -> str:
    """A booktabs table (``\\usepackage{booktabs}``): text columns left-aligned, numeric ones right-aligned."""
    spec = "".join("r" if _numeric_column(rows, i) else "l" for i in range(len(columns)))
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{latex_escape(caption)}}}",
             rf"\label{{tab:{label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(latex_escape(c) for c in columns) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _numeric_column(rows: Sequence[Sequence[Any]], i: int) -> bool:
    cells = [str(r[i]) for r in rows if i < len(r) and str(r[i])]
    return bool(cells) and all(NUMERIC.match(c) for c in cells)


# -- figures ---------------------------------------------------------------------------------------------
FigureFn = Callable[[dict[str, Any]], Figure]
FIGURE_KINDS: dict[str, FigureFn] = {}


def figure_kind(name: str) -> Callable[[FigureFn], FigureFn]:
    def wrap(fn: FigureFn) -> FigureFn:
        FIGURE_KINDS[name] = fn
        return fn

    return wrap


@figure_kind("pass_at_k")
def pass_at_k_figure(data: dict[str, Any]) -> Figure:
    """Figure 6: one panel per problem set, pass@k vs k (log2) for each model, band = 95% CI over problems."""
    fig = Figure(figsize=(min(FULL, 0.4 + 2.4 * len(data)), 2.3))
    axes = fig.subplots(1, len(data), squeeze=False)[0]
    for ax, (name, curves) in zip(axes, data.items(), strict=True):
        for i, (model, c) in enumerate(curves.items()):
            colour = "#000000" if model == "base" else OKABE_ITO[i % len(OKABE_ITO)]
            ax.plot(c["ks"], c["mean"], marker="o", markersize=2.5, color=colour,
                    label=f"{model} ({c['problems']} problems, {c['seeds']} seed{'s' if c['seeds'] > 1 else ''})")
            ax.fill_between(c["ks"], c["lo"], c["hi"], color=colour, alpha=0.15, linewidth=0)
        ks = next(iter(curves.values()))["ks"]
        ax.set_xscale("log", base=2)
        shown = ks if len(ks) <= 6 else ks[::-2][::-1]  # every other k (from the largest) when they would collide
        ax.set_xticks(shown, [str(k) for k in shown], fontsize=6)
        ax.minorticks_off()
        ax.minorticks_off()
        ax.set(title=name, xlabel="k", ylabel="pass@k (%)", ylim=(-2, 102))
        ax.legend(loc="lower right")
    return fig


@figure_kind("internalization")
def internalization_figure(data: dict[str, Any]) -> Figure:
    """Figure 7: per set, the distribution of per-intervention mean log-likelihood per token before and after SFT."""
    fig = Figure(figsize=(min(FULL, 0.4 + 2.6 * len(data)), 2.3))
    axes = fig.subplots(1, len(data), squeeze=False, sharey=True)[0]
    names = sorted(data, key=lambda n: not n.startswith("seen"))  # seen first, then held-out
    for ax, (name, e) in zip(axes, [(n, data[n]) for n in names], strict=True):
        before, after = -np.asarray(e["before"]), -np.asarray(e["after"])
        lo, hi = float(min(before.min(), after.min())), float(max(before.max(), after.max(), 0.0))
        bins = np.linspace(lo, hi + 1e-9, 25)
        for vals, colour, what in ((before, GREYS[0], "base (before)"), (after, OKABE_ITO[0], "after InT-SFT")):
            ax.hist(vals, bins=bins, weights=np.full(len(vals), 100.0 / len(vals)), color=colour, alpha=0.6,
                    label=f"{what}: mean {vals.mean():.2f}")
            ax.axvline(vals.mean(), color=colour, linestyle="--", linewidth=0.9)
        ax.set(title=f"{name} (n={e['interventions']})", xlabel="log-likelihood per token (nats)", ylabel="% of interventions")
        ax.legend(loc="upper left")
    return fig


SOURCE_COLOURS = {"base": "#000000", "int": OKABE_ITO[0], "reflection": OKABE_ITO[2], "reference": OKABE_ITO[1]}


@figure_kind("sft_sources")
def sft_sources_figure(data: dict[str, Any]) -> Figure:
    """Figures 9 (NLL under the base model) and 8 (entropy after SFT), one bar per source, the paper's as markers."""
    ENTROPY, LABELS = data.get("paper_entropy") or {}, data.get("labels") or {}  # noqa: N806 (constants of this figure)
    fig = Figure(figsize=(FULL * 0.85, 2.2))
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, key, title in ((axes[0], "nll", "Fig. 9: NLL under the base model"), (axes[1], "entropy", "Fig. 8: entropy after SFT")):
        vals = data.get(key) or {}
        names = [s for s in ("base", "int", "reflection", "reference") if s in vals]
        for y, s in enumerate(names):
            v = vals[s]
            ax.barh(y, v["mean"], xerr=[[v["mean"] - v["ci95"][0]], [v["ci95"][1] - v["mean"]]], height=0.6,
                    color=SOURCE_COLOURS.get(s, GREYS[0]), error_kw={"elinewidth": 0.8, "capsize": 2})
            ax.text(v["ci95"][1], y, f"  {v['mean']:.3f}", va="center", fontsize=6)
            if key == "entropy" and s in ENTROPY:
                ax.scatter([ENTROPY[s]], [y], marker="o", facecolors="none", edgecolors="#555555", zorder=3,
                           label="paper" if y == 0 else None)
        ax.set_yticks(range(len(names)), [LABELS.get(s, s) for s in names])
        ax.set(title=title, xlabel="nats per token")
        ax.margins(x=0.2)
        ax.grid(axis="y", visible=False)
        if key == "entropy" and any(s in ENTROPY for s in names):
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=1)
    return fig


@figure_kind("bars_vs_paper")
def bars_vs_paper(data: dict[str, Any]) -> Figure:
    """Tables 1-2 as bars: one panel per measure, the world's value with its CI and the paper's value beside it."""
    panels = data["panels"]
    labels = data["labels"]
    fig = Figure(figsize=(FULL, 0.9 + 0.3 * len(labels)))
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    y = np.arange(len(labels))[::-1]
    for ax, panel in zip(axes, panels, strict=True):
        vals = np.array([np.nan if v is None else v for v in panel["values"]], dtype=float)
        lo = np.array([np.nan if c is None else c[0] for c in panel["ci"]], dtype=float)
        hi = np.array([np.nan if c is None else c[1] for c in panel["ci"]], dtype=float)
        ax.barh(y + 0.18, vals, height=0.36, color=OKABE_ITO[1], label="world (this run)",
                xerr=[np.nan_to_num(vals - lo), np.nan_to_num(hi - vals)], error_kw={"elinewidth": 0.8, "capsize": 2})
        paper = np.array([np.nan if v is None else v for v in panel["paper"]], dtype=float)
        if not np.all(np.isnan(paper)):
            ax.barh(y - 0.18, paper, height=0.36, color="white", edgecolor=GREYS[2], hatch="xxx", label="paper (reported)")
        for yi, v, h in zip(y, vals, hi, strict=True):
            if not np.isnan(v):  # right of the error bar, never on it
                ax.text(v if np.isnan(h) else max(v, h), yi + 0.18, f"  {v:.1f}", va="center", fontsize=6)
        ax.set(title=panel["title"], xlabel=panel.get("xlabel", "%"))
        ax.margins(x=0.15)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, labels)
    handles, names = axes[-1].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(names))
    return fig


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path


def draw(spec: dict[str, Any], folder: Path) -> list[Path]:
    fn = FIGURE_KINDS[spec["kind"]]
    with rc_context(STYLE):
        return save(fn(spec["data"]), folder, spec["name"])


# -- the study page --------------------------------------------------------------------------------------
def render_study(path: str | Path) -> list[Path]:
    """Write every table (``.md``, ``.csv``, ``.tex``), every figure (``.pdf``, ``.png``) and the study's page
    ``<study>.md`` beside ``<study>.json``; returns the files written."""
    path = Path(path)
    result = json.loads(path.read_text(encoding="utf-8"))
    folder = path.parent
    written: list[Path] = []
    page = [f"# {result['study']}: {result['description']}", "",
            f"Base model `{result['base_model']}`, {len(result['seeds'])} training seed(s); wall time "
            f"{result['wall_time_s']:,.0f} s over {len(result.get('invocations') or [1])} invocation(s) on "
            f"{result['cpu_count']} CPU(s), load average {result['load_average']['start'][0]:.1f} at the start, "
            f"{result['load_average']['end'][0]:.1f} at the end of the last; "
            f"config `{result['options'].get('config') or '(default)'}`; n: `{json.dumps(result.get('n', {}))}`.", ""]
    for t in result.get("tables", []):
        md = markdown_table(t["columns"], t["rows"])
        written.append(_write(folder / f"{t['name']}.md", f"{t['title']}\n\n{md}\n\n{t['caption']}\n"))
        written.append(_write(folder / f"{t['name']}.csv", csv_table(t["columns"], t["rows"])))
        written.append(_write(folder / f"{t['name']}.tex",
                                         latex_table(t["columns"], t["rows"], caption=f"{t['title']}. {t['caption']}",
                                                     label=t["name"].replace("_", "-"))))
        page += [f"## {t['title']}", "", md, "", t["caption"], ""] + [f"- {md_cell(n)}" for n in t.get("notes", [])] + [""]
    for spec in result.get("figures", []):
        files = draw(spec, folder)
        written += files
        page += [f"![{spec['name']}]({files[1].name})", "", spec.get("caption", ""), ""]
    if result.get("findings"):
        page += ["## Against the paper", ""] + [f"- {md_cell(f)}" for f in result["findings"]] + [""]
    written.append(_write(folder / f"{result['study']}.md", "\n".join(page)))
    return written
