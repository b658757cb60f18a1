"""Figures: the registry, vector PDF + PNG output, what each figure draws, and reproducible regeneration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from reports_support import (
    INT,
    INT_AT_RL,
    INT_PRE_RL,
    RL,
    RL_AT_INT,
    RL_STEPS,
    RL_TOKENS_PER_STEP,
    make_compare,
)

from reports import artifacts
from reports.figures import (
    FIGURES,
    OKABE_ITO,
    STYLE,
    accuracy_bars,
    first_error_hist,
    palette,
    plot,
    rl_dynamics,
)
from reports.load import CompareRun

EXPECTED = {"accuracy", "rl_dynamics", "first_error", "pass_at_k", "intervention_length", "sft_nll_entropy", "counterfactual"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> CompareRun:
    return CompareRun(make_compare(tmp_path_factory.mktemp("fig"), tasks=("imo-answerbench", "amo-bench"), n_problems=16))


@pytest.fixture(scope="module")
def drawn(run: CompareRun, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return plot(run, out_dir=tmp_path_factory.mktemp("figs"))


def test_registry_names_every_paper_figure() -> None:
    assert set(FIGURES) == EXPECTED
    assert all(caption for _, caption in FIGURES.values())


def test_every_figure_is_a_vector_pdf_and_a_png(drawn: dict) -> None:
    assert set(drawn) == EXPECTED
    for name, (pdf, png) in drawn.items():
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF"), name
        assert b"/Subtype /Image" not in data, f"{name}: raster content in the PDF"
        assert b"/FontFile2" in data, f"{name}: fonts not embedded as TrueType"
        h, w = imread(png).shape[:2]
        assert w >= 600 and h >= 250, (name, w, h)


def test_regenerating_a_figure_is_byte_identical(run: CompareRun, tmp_path: Path) -> None:
    a = plot(run, "rl_dynamics", out_dir=tmp_path / "a")["rl_dynamics"][0].read_bytes()
    b = plot(run, "rl_dynamics", out_dir=tmp_path / "b")["rl_dynamics"][0].read_bytes()
    assert a == b


def test_accuracy_bars_tell_measured_and_reported_apart(run: CompareRun) -> None:
    from matplotlib import rc_context

    with rc_context(STYLE):
        fig = accuracy_bars(run)
    imo, amo = fig.axes
    hatches = [p.get_hatch() for p in imo.patches]
    rep = run.reported
    assert hatches.count("xxx") == rep[rep["task"] == "imo-answerbench"]["value"].nunique()
    assert hatches.count("//") == 1  # the eval-only model
    labels = [t.get_text() for t in imo.get_yticklabels()]
    assert "int" in labels and "+ InT + RL (reported)" in labels and "gpt-oss-20b (reported)" in labels
    assert "Qwen3-4B-Instruct-2507 (reported)" not in labels  # Table 3's copy of Table 4's base row is drawn once
    assert "base" in labels and RL_AT_INT in labels
    assert hatches.count("..") == 2  # the compute-matched arms
    assert amo.get_title() == "amo-bench (avg@8)"


def test_colours_follow_the_model_across_figures(run: CompareRun) -> None:
    colours = palette(run)
    assert colours["int"] == OKABE_ITO[0] and colours["rl-baseline"] == OKABE_ITO[1]
    assert colours[RL_AT_INT] == colours[RL] and colours[INT_AT_RL] == colours[INT]  # a recipe keeps its colour
    fig = rl_dynamics(run)
    lines = {ln.get_label(): (ln.get_color(), ln.get_linestyle()) for ln in fig.axes[0].get_lines()}
    assert lines == {INT: (colours[INT], "-"), RL: (colours[RL], "-"), RL_AT_INT: (colours[RL], "--"), INT_AT_RL: (colours[INT], "--")}


def test_rl_dynamics_puts_every_arm_on_one_generated_tokens_axis(run: CompareRun) -> None:
    """x = the arm's required pre-RL tokens (InT's rollouts, proposals, continuations) + its RL tokens so
    far: InT's curve starts to the right by what its InT step generated, and every arm ends at its total."""
    fig = rl_dynamics(run)
    reward, zero_adv = fig.axes[0], fig.axes[1]
    assert "generated tokens" in reward.get_xlabel()
    for ax in (reward, zero_adv):
        xs = {ln.get_label(): ln.get_xdata() for ln in ax.get_lines()}
        assert xs[RL][0] == RL_TOKENS_PER_STEP[RL] and xs[INT][0] == INT_PRE_RL + RL_TOKENS_PER_STEP[INT]
        for model in (INT, RL, RL_AT_INT, INT_AT_RL):
            total = (INT_PRE_RL if model in (INT, INT_AT_RL) else 0) + RL_STEPS[model] * RL_TOKENS_PER_STEP[model]
            assert xs[model][-1] == total and len(xs[model]) == RL_STEPS[model]
        # compute matching: RL-only trained to InT's budget ends within one RL step of InT's total
        assert 0 <= xs[RL_AT_INT][-1] - xs[INT][-1] < RL_TOKENS_PER_STEP[RL_AT_INT]
    step = rl_dynamics(run, x="step")
    assert step.axes[0].get_xlabel() == "RL step"
    assert {ln.get_label(): ln.get_xdata()[-1] for ln in step.axes[0].get_lines()}[RL_AT_INT] == RL_STEPS[RL_AT_INT]
    with pytest.raises(ValueError, match="choose from"):
        rl_dynamics(run, x="wallclock")


def test_first_error_histogram_is_in_percent(run: CompareRun) -> None:
    fig = first_error_hist(run)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert sum(heights) == pytest.approx(100.0)
    located = artifacts.first_error_locations(run)
    assert (located["location"] >= 1).all() and located["location_rel"].between(0, 1).all()


def test_intervention_lengths_use_base_model_tokens_when_available(tiny_model_dir: Path, tmp_path: Path) -> None:
    with_tok = CompareRun(make_compare(tmp_path / "a", tasks=("alpha",), seeds=(0,), base_model=str(tiny_model_dir)))
    df, unit = artifacts.intervention_lengths(with_tok)
    assert unit == "tokens" and set(df["what"]) == {"intervention", "rollout"}
    without = CompareRun(make_compare(tmp_path / "b", tasks=("alpha",), seeds=(0,)))
    df2, unit2 = artifacts.intervention_lengths(without)
    assert unit2 == "characters"
    assert np.median(df2[df2["what"] == "intervention"]["length"]) > np.median(df[df["what"] == "intervention"]["length"])


def test_counterfactual_summary_matches_table1_json(run: CompareRun) -> None:
    t = artifacts.table1_summary(run)
    raw = artifacts.table1_frame(run)
    row = t[t["condition"] == "intervention"].iloc[0]
    sub = raw[raw["condition"] == "intervention"]
    assert row["accuracy_pct"] == pytest.approx(100 * sub["correct"].sum() / sub["samples"].sum())
    assert row["n_seeds"] == 3 and row["coverage"] == f"{sub['covered'].sum()}/{sub['problems'].sum()}"


def test_rl_band_draws_only_steps_every_seed_reached() -> None:
    """Seeds of a budget-stopped arm run different step counts; the mean line stops at the shortest seed
    instead of jumping back to one seed's token position."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from reports.figures import _band

    rows = [{"seed": 0, "step": s, "x": 1000 * s, "r": 0.1} for s in range(1, 6)]
    rows += [{"seed": 1, "step": s, "x": 500 * s, "r": 0.2} for s in range(1, 11)]  # shorter steps, more of them
    fig, ax = plt.subplots()
    _band(ax, pd.DataFrame(rows), "step", "r", "C0", "arm", x="x")
    xs = ax.lines[0].get_xdata()
    assert len(xs) == 5 and list(xs) == sorted(xs)
    plt.close(fig)
