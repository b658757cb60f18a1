"""Paper-ready figures, one function each, drawn from saved artifacts only (nothing is re-run).

Why this design: every figure shares one style (sizes for a two-column paper, Okabe-Ito colours that
survive colour-blindness and greyscale, TrueType fonts in PDFs) and one colour per model across all
figures, and is saved as vector PDF + PNG. Figures are built on `matplotlib.figure.Figure` directly
(no pyplot), so nothing touches global backend state. `plot(run, name)` regenerates any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness.metrics import bootstrap_ci, ks_for, pass_at_k
from harness.registry import Registry
from reports import artifacts
from reports.load import CompareRun, MissingData

FULL, HALF = 7.0, 3.4  # inches: two-column and one-column widths
OKABE_ITO = ("#D55E00", "#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442")
GREYS = ("#8C8C8C", "#B0B0B0", "#5E5E5E")
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.5, "axes.axisbelow": True, "lines.linewidth": 1.4,
    "legend.frameon": False, "pdf.fonttype": 42, "ps.fonttype": 42, "savefig.bbox": "tight", "savefig.pad_inches": 0.03,
    "figure.constrained_layout.use": True,
}  # fmt: skip

FigureFn = Callable[..., Figure]  # (run, **options) -> Figure


def _figure_entry(obj: Any, name: str) -> tuple[FigureFn, str]:
    """An entry point naming a figure function: its ``@figure`` caption (or its docstring's first line)."""
    if not callable(obj):
        raise TypeError("is not a figure function")
    return obj, getattr(obj, "figure_caption", None) or (obj.__doc__ or name).strip().splitlines()[0]


# name -> (function, caption), in registration order (the report's order); plugins add figures through the
# ``harness.figures`` entry-point group: a module whose ``@figure`` functions register on import
# (``mylab = "mylab.figures"``) or one function (``my_fig = "mylab.figures:my_fig"``). docs/adding-a-figure.md
FIGURES: Registry[tuple[FigureFn, str]] = Registry("figure", "harness.figures", load=_figure_entry)


def figure(name: str, caption: str) -> Callable[[FigureFn], FigureFn]:
    """Register a figure function under ``name`` (what `harness plot RUN --figure NAME` takes)."""

    def wrap(fn: FigureFn) -> FigureFn:
        fn.figure_caption = caption  # type: ignore[attr-defined]
        FIGURES.register(name, (fn, caption))
        return fn

    return wrap


BASE_COLOUR = "#000000"


def palette(run: CompareRun) -> dict[str, str]:
    """One colour per model for every figure: recipes in command-line order, a compute-matched arm in its
    recipe's colour (told apart by a dashed line or hatching), the base model black, eval-only models grey."""
    colours = {m: OKABE_ITO[i % len(OKABE_ITO)] for i, m in enumerate(run.recipes)}
    for m in run.models:
        if run.role_of(m) == "compute-matched":
            colours[m] = colours.get(run.matched_recipe(m), OKABE_ITO[len(colours) % len(OKABE_ITO)])
        elif run.role_of(m) == "base":
            colours[m] = BASE_COLOUR
    extra = [m for m in run.models if m not in colours]
    return colours | {m: GREYS[i % len(GREYS)] for i, m in enumerate(extra)}


def linestyle(run: CompareRun, model: str) -> str:
    return "--" if run.role_of(model) == "compute-matched" else "-"


def label(run: CompareRun, model: str) -> str:
    """A model's name in figures; an eval-only row measured under its own settings says so."""
    return f"{model} (own sampling settings)" if run.protocol_differs(model) else model


def _new(width: float, height: float, ncols: int = 1, **kw: Any) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, ncols, squeeze=False, **kw)[0]
    return fig, axes


@figure("accuracy", "avg@k with 95% CI per task; dots are seeds; outlined cross-hatched bars are the paper's reported numbers, "
        "dotted bars compute-matched arms, striped bars eval-only models.")
def accuracy_bars(run: CompareRun) -> Figure:
    """Table 3/4 style: horizontal bars per model, one panel per task; measured vs reported told apart."""
    from reports.leaderboard import any_leaderboard, reported_view

    board = any_leaderboard(run)
    tasks = list(run.tasks)
    board = board[board["task"].isin(tasks) & (board["scope"] == "task")]
    rep_recipe = {m: r for m, r in zip(run.reported["model"], run.reported["recipe"], strict=True) if r}
    # Tables 3 and 4 repeat two rows (base and InT on IMO-AnswerBench): reported_view keeps each once
    view = reported_view(run.reported)
    rep = pd.DataFrame([{"model": m, "task": t, "accuracy_pct": v} for m, r in view.iterrows() for t, v in r.items()
                        if t in tasks and pd.notna(v)], columns=["model", "task", "accuracy_pct"])  # fmt: skip
    meas = board[board["kind"] != "reported"].assign(model=lambda d: d["model"].map(lambda m: label(run, m)))
    rows = list(dict.fromkeys([*meas["model"], *(f"{m} (reported)" for m in rep["model"])]))
    colours = palette(run)
    colours |= {label(run, m): c for m, c in colours.items()}
    roles = {label(run, m): run.role_of(m) for m in run.models}
    fig, axes = _new(min(FULL, 2.0 + 1.9 * len(tasks)), 0.9 + 0.22 * len(rows), len(tasks), sharey=True)
    ypos = {m: i for i, m in enumerate(reversed(rows))}
    for ax, task in zip(axes, tasks, strict=True):
        for r in meas[meas["task"] == task].to_dict("records"):
            y, c = ypos[r["model"]], colours.get(r["model"], GREYS[1])
            err = [[r["accuracy_pct"] - r["ci95_low_pct"]], [r["ci95_high_pct"] - r["accuracy_pct"]]]
            hatch = {"eval-only": "//", "compute-matched": ".."}.get(roles.get(r["model"], ""))
            ax.barh(y, r["accuracy_pct"], color=c, height=0.7, hatch=hatch,
                    edgecolor="white", linewidth=0.5, xerr=err, error_kw={"elinewidth": 0.8, "capsize": 2})  # fmt: skip
            seeds = [float(v) for v in str(r["per_seed_pct"]).split(";") if v.strip()]
            if len(seeds) > 1:
                ax.scatter(seeds, [y] * len(seeds), s=6, color="black", zorder=3, linewidths=0)
            ax.text(r["ci95_high_pct"] + 0.5, y, f"{r['accuracy_pct']:.1f}", va="center", fontsize=6)
        for r in rep[rep["task"] == task].to_dict("records"):
            y, c = ypos[f"{r['model']} (reported)"], colours.get(rep_recipe.get(r["model"]) or "", GREYS[2])
            ax.barh(y, r["accuracy_pct"], color="white", edgecolor=c, hatch="xxx", height=0.7, linewidth=0.8)
            ax.text(r["accuracy_pct"] + 0.5, y, f"{r['accuracy_pct']:.2f}", va="center", fontsize=6, color="#555555")
        k = meas.loc[meas["task"] == task, "k"].max()
        ax.set_title(f"{task} (avg@{int(k)})" if pd.notna(k) else task)
        ax.set_xlabel("accuracy (%)")
        ax.set_xlim(0, min(100, 1.18 * max(1.0, board.loc[board["task"] == task, ["accuracy_pct", "ci95_high_pct"]].max().max())))
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(list(ypos.values()), list(ypos.keys()))
    return fig


def _band(ax: Any, df: pd.DataFrame, by: str, y: str, colour: str, label: str, *, x: str | None = None,
          linestyle: str = "-") -> None:
    """Mean over seeds as a line, min-max over seeds as a band (drawn only when there are >= 2 seeds).

    Rows are grouped by ``by`` (e.g. the RL step); the line's position is the group's mean of ``x``
    (default: ``by`` itself). Only groups every seed reached are drawn: past the shortest seed (a
    budget-stopped arm whose seeds ran different step counts) the mean would be one seed's, and its
    token position could fall behind the previous point."""
    d = df.dropna(subset=[y])
    d = d[d.groupby(by)["seed"].transform("nunique") == d["seed"].nunique()]
    g = d.groupby(by)
    mean = g[y].mean()
    if mean.empty:
        return
    xs = g[x].mean().to_numpy() if x else mean.index.to_numpy()
    ax.plot(xs, mean.values, color=colour, label=label, linestyle=linestyle)
    if d["seed"].nunique() > 1:
        ax.fill_between(xs, g[y].min().values, g[y].max().values, color=colour, alpha=0.18, linewidth=0)


RL_X = {"tokens": "required generated tokens", "step": "RL step"}


def rl_curves(run: CompareRun, x: str = "tokens") -> tuple[pd.DataFrame, str]:
    """The RL logs of every arm with an ``x`` column: the RL step, or the arm's cumulative *required*
    generated tokens -- what its steps before RL generated (e.g. InT's rollouts, proposals and
    intervention continuations, from stages.json) plus its RL rollouts so far (the log's cumulative
    ``tokens_generated``). Returns (frame, x-axis label); logs without token counts fall back to steps."""
    if x not in RL_X:
        raise ValueError(f"unknown x axis {x!r}; choose from: {', '.join(RL_X)}")
    log = run.train_log("rl")
    if x == "tokens" and log["tokens_generated"].notna().any():
        pre = run.pre_rl_tokens()
        offset = [pre.get((str(m), int(s)), 0) for m, s in zip(log["model"], log["seed"], strict=True)]
        return log.assign(x=log["tokens_generated"].astype(float) + offset), RL_X["tokens"]
    return log.assign(x=log["step"]), RL_X["step"]


def _thousands(value: float, _pos: Any) -> str:
    return f"{value / 1e6:g}M" if abs(value) >= 1e6 else f"{value / 1e3:g}k" if value else "0"


@figure("rl_dynamics", "RL training reward and zero-advantage ratio vs required generated tokens, including each arm's "
        "pre-RL steps (who is ahead at the same compute; mean over seeds; band: min-max; dashed: compute-matched arms).")
def rl_dynamics(run: CompareRun, x: str = "tokens") -> Figure:
    """Paper Fig. 11: does the recipe give RL a learning signal (fewer all-same-reward groups)?

    ``x="tokens"`` (the report's) puts every arm on one compute axis: an InT arm starts to the right by
    what its InT step generated; ``x="step"`` is the paper's per-step view. With token counts, seeds are
    averaged at each RL step (their token positions averaged too), since seeds never share exact counts."""
    log, xlabel = rl_curves(run, x)
    panels = [("reward_mean", "mean training reward"), ("frac_zero_advantage", "zero-advantage ratio")]
    if log["response_length_mean"].notna().any():
        panels.append(("response_length_mean", "mean response length (tokens)"))
    colours = palette(run)
    fig, axes = _new(FULL if len(panels) == 3 else 0.8 * FULL, 2.1, len(panels))
    for ax, (col, title) in zip(axes, panels, strict=True):
        for model, df in log.groupby("model", sort=False):
            _band(ax, df, "step", col, colours.get(str(model), GREYS[0]), label(run, str(model)), x="x",
                  linestyle=linestyle(run, str(model)))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if col != "response_length_mean":
            ax.set_ylim(-0.02, 1.02)
        if xlabel == RL_X["tokens"]:
            ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    axes[0].legend(loc="best")
    return fig


@figure("first_error", "Where proposers place the first critical error: absolute substep and relative position.")
def first_error_hist(run: CompareRun) -> Figure:
    """Paper Fig. 2: percent of located interventions per first-error substep (x-limit 250, as the paper)."""
    df = artifacts.first_error_locations(run)
    colours = palette(run)
    fig, axes = _new(FULL, 2.1, 2)
    groups = list(df.groupby(["model", "proposer"], sort=False))
    hi = int(min(250, max(10, df["location"].max())))
    bins = np.linspace(0.5, hi + 0.5, min(hi, 50) + 1)
    for i, ((model, proposer), g) in enumerate(groups):
        label = f"{model} ({proposer}, n={len(g)})"
        colour = colours.get(str(model), GREYS[0]) if len(groups) == 1 else OKABE_ITO[i % len(OKABE_ITO)]
        w = np.full(len(g), 100.0 / len(g))
        axes[0].hist(g["location"].clip(upper=hi), bins=bins, weights=w, color=colour, alpha=0.75, label=label)
        rel = g["location_rel"].dropna()
        if len(rel):
            axes[1].hist(rel, bins=np.linspace(0, 1, 21), weights=np.full(len(rel), 100.0 / len(rel)), color=colour, alpha=0.75)
    axes[0].set(xlabel=f"first-error substep (clipped at {hi})", ylabel="% of interventions", title="absolute location")
    axes[1].set(xlabel="first-error substep / substeps in attempt", ylabel="% of interventions", title="relative location")
    axes[0].legend(loc="upper right")
    return fig


@figure("pass_at_k", "Unbiased pass@k vs k per task (mean over seeds; band: 95% bootstrap CI over problems).")
def pass_at_k_curves(run: CompareRun) -> Figure:
    """Paper Fig. 6: does a recipe only sharpen pass@1, or also solve more problems at large k?"""
    tasks = run.tasks
    colours = palette(run)
    fig, axes = _new(min(FULL, 0.4 + 2.2 * len(tasks)), 2.2, len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        for model in run.models:
            per_seed = {s: ps for (m, s, t), ps in run.problems.items() if m == model and t == task}
            if not per_seed:
                continue
            n = min(p.n for ps in per_seed.values() for p in ps)
            ks = ks_for(n)
            by_problem: dict[str, list[list[float]]] = {}
            for ps in per_seed.values():
                for p in ps:
                    by_problem.setdefault(p.problem_id, []).append([pass_at_k(n, sum(p.correct[:n]), k) for k in ks])
            vals = np.array([np.mean(v, axis=0) for v in by_problem.values()])  # problems x ks, seeds averaged
            ci = np.array([bootstrap_ci(vals[:, j], n_boot=1000) for j in range(len(ks))])
            colour = colours.get(model, GREYS[0])
            ax.plot(ks, 100 * vals.mean(axis=0), marker="o", markersize=2.5, color=colour, label=label(run, model),
                    linestyle=linestyle(run, model))
            ax.fill_between(ks, 100 * ci[:, 0], 100 * ci[:, 1], color=colour, alpha=0.15, linewidth=0)
        ax.set_xscale("log", base=2)
        ticks = ks_for(max(p.n for ps in run.problems.values() for p in ps))
        ax.set_xticks(ticks, [str(k) for k in ticks])
        ax.minorticks_off()
        ax.set(title=task, xlabel="k", ylabel="pass@k (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    if len(labels) > 3:  # many rows would cover the curves: legend beside the panels
        fig.legend(handles, labels, loc="outside right center")
    else:
        axes[0].legend(loc="lower right")
    return fig


@figure("intervention_length", "Length of interventions vs the failed rollouts they repair (log scale).")
def intervention_length(run: CompareRun) -> Figure:
    """Paper Fig. 10: interventions are a short edit (~<200 tokens) of a long (~7k) rollout."""
    df, unit = artifacts.intervention_lengths(run)
    df = df[df["length"] > 0]
    fig, axes = _new(HALF + 0.6, 2.2)
    ax = axes[0]
    lo, hi = np.log10(df["length"].min()) - 0.05, np.log10(max(10, df["length"].max())) + 0.05
    bins = np.logspace(lo, hi, 40)
    for what, colour in (("intervention", OKABE_ITO[0]), ("rollout", OKABE_ITO[1])):
        x = df.loc[df["what"] == what, "length"]
        if x.empty:
            continue
        ax.hist(x, bins=bins, weights=np.full(len(x), 100.0 / len(x)), color=colour, alpha=0.7,
                label=f"{what}s (n={len(x)}, median {int(np.median(x))})")  # fmt: skip
        ax.axvline(np.median(x), color=colour, linestyle="--", linewidth=0.9)
    ax.set_xscale("log")
    ax.set(xlabel=f"length ({unit})", ylabel="% of items")
    ax.set_ylim(top=ax.get_ylim()[1] * 1.3)  # headroom for the legend
    ax.legend(loc="upper left")
    return fig


@figure("sft_nll_entropy", "Mean per-token NLL and entropy of each SFT data source under the base model (bars: mean over seeds; whiskers: 95% CI over rows, widest over seeds; dots: seeds).")
def sft_nll_entropy(run: CompareRun) -> Figure:
    """Paper Figs. 8-9: on-policy SFT data (InT) is likely under the base model; reference solutions are not."""
    df = artifacts.sft_stats_frame(run)
    order = df.groupby("source")["nll_mean"].mean().sort_values(ascending=False).index.tolist()
    fig, axes = _new(FULL * 0.75, 0.9 + 0.3 * len(order), 2, sharey=True)
    for ax, col, title in ((axes[0], "nll", "NLL per token (nats)"), (axes[1], "entropy", "next-token entropy (nats)")):
        for y, source in enumerate(order):
            g = df[df["source"] == source]
            vals = g[f"{col}_mean"].astype(float).to_numpy()
            cis = [c for c in g[f"{col}_ci95"] if isinstance(c, list | tuple) and len(c) == 2]
            m = float(vals.mean())
            lo, hi = (min(c[0] for c in cis), max(c[1] for c in cis)) if cis else (m, m)
            ax.barh(y, m, xerr=[[m - lo], [hi - m]], color=OKABE_ITO[5], height=0.6, error_kw={"elinewidth": 0.8, "capsize": 2})
            if len(vals) > 1:
                ax.scatter(vals, [y] * len(vals), s=6, color="black", zorder=3, linewidths=0)
            ax.text(hi, y, f"  {m:.2f}", va="center", fontsize=6)
        ax.margins(x=0.15)
        ax.set(title=title)
        ax.grid(axis="y", visible=False)
    tokens = df.groupby("source")["tokens"].mean()
    axes[0].set_yticks(range(len(order)), [f"{s}\n({int(tokens.get(s) or 0):,} tokens)" for s in order])
    return fig


@figure("counterfactual", "Table 1: continuations after the intervention vs controls (seeds pooled).")
def counterfactual(run: CompareRun) -> Figure:
    """Paper Table 1 as a figure: accuracy and coverage of continuations under each conditioning."""
    t = artifacts.table1_summary(run)
    groups = list(t.groupby(["model", "proposer"], sort=False))
    conds = list(dict.fromkeys(t["label"]))
    fig, axes = _new(FULL * 0.85, 0.8 + 0.3 * len(conds) * max(1, len(groups)) ** 0.5, 2, sharey=True)
    height = 0.8 / len(groups)
    for gi, ((model, proposer), g) in enumerate(groups):
        g = g.set_index("label").reindex(conds)
        y = np.arange(len(conds))[::-1] + (gi - (len(groups) - 1) / 2) * height
        colour = OKABE_ITO[gi % len(OKABE_ITO)]
        cov = 100 * g["covered"] / g["problems"]
        for ax, vals, texts in ((axes[0], g["accuracy_pct"], [f"{v:.2f}%" for v in g["accuracy_pct"]]), (axes[1], cov, list(g["coverage"]))):
            ax.barh(y, vals, height=height, color=colour, label=f"{model} ({proposer})")
            for yi, v, txt in zip(y, vals, texts, strict=True):
                ax.text(v, yi, f" {txt}", va="center", fontsize=6)
    axes[0].set(title="continuation accuracy (%)", xlabel="% correct continuations")
    axes[1].set(title="coverage", xlabel="% problems with ≥ 1 correct")
    for ax in axes:
        ax.margins(x=0.25)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(np.arange(len(conds))[::-1], conds)
    if len(groups) > 1:
        axes[1].legend(loc="lower right")
    return fig


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` (vector, reproducible: no creation date) and ``name.png`` (200 dpi)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf, png = out_dir / f"{name}.pdf", out_dir / f"{name}.png"
    fig.savefig(pdf, metadata={"CreationDate": None})
    fig.savefig(png, dpi=200, metadata={"Software": None})
    return [pdf, png]


def plot(run: CompareRun | str | Path, name: str | None = None, out_dir: str | Path | None = None,
         options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, list[Path] | str]:
    """Draw one figure (``name``) or all of them into ``out_dir`` (default ``<run>/report/figures``).

    ``options`` gives keyword arguments per figure, e.g. ``{"rl_dynamics": {"x": "step"}}``.
    Returns ``{name: [pdf, png]}`` for drawn figures and ``{name: reason}`` for those without data.
    Asking for a single figure whose data is missing raises `MissingData`.
    """
    run = run if isinstance(run, CompareRun) else CompareRun(run)
    if name is not None and name not in FIGURES:
        raise FIGURES.unknown(name)
    out = Path(out_dir) if out_dir is not None else run.root / "report" / "figures"
    results: dict[str, list[Path] | str] = {}
    for fig_name in [name] if name else list(FIGURES):
        fn = FIGURES[fig_name][0]
        with rc_context(STYLE):
            try:
                fig = fn(run, **dict((options or {}).get(fig_name, {})))
            except MissingData as exc:
                if name is not None:
                    raise
                results[fig_name] = str(exc)
                continue
            results[fig_name] = save(fig, out, fig_name)
    return results
