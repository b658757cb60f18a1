"""Report tables and files: loader, leaderboard (seeds, CIs, compute, reported rows), paired statistics,
the report folder, escaping of untrusted model text, the CLI, and cheap imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reports_support import INJECTED, INJECTED_ANSWER, make_compare

from harness.metrics import bootstrap_ci, paired_bootstrap
from reports.leaderboard import leaderboard, pivot
from reports.load import CompareRun, MissingData
from reports.paired import POOLED, paired_tables
from reports.reported import AVERAGE_TASK, TABLE4, reported_rows

N_BOOT = 500


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_compare(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="module")
def run(compare_dir: Path) -> CompareRun:
    return CompareRun(compare_dir)


@pytest.fixture(scope="module")
def report_dir(compare_dir: Path) -> Path:
    from reports import build_report

    return build_report(compare_dir, n_boot=N_BOOT)


def _acc(run: CompareRun, model: str, seed: int, task: str) -> pd.Series:
    s = run.samples
    s = s[(s["model"] == model) & (s["seed"] == seed) & (s["task"] == task)]
    return s.groupby("problem_id")["correct"].mean()


def test_loader_reads_every_arm_without_texts(run: CompareRun) -> None:
    s = run.samples
    # 2 recipes x 3 seeds + 1 eval-only arm, 2 tasks, 24 problems, k = 8
    assert len(s) == 7 * 2 * 24 * 8
    assert set(s["task"]) == {"alpha", "beta"} and set(s["task_version"]) == {"alpha@v1", "beta@v1"}
    assert "text" not in s.columns
    assert run.recipes == ["int", "rl-baseline"] and run.models == ["int", "rl-baseline", "big-model"]
    assert run.kind_of("big-model") == "eval-only"
    assert len(run.problems[("int", 2, "beta")]) == 24
    texts = run.sample_texts({("int", "alpha", "alpha-000"), ("rl-baseline", "beta", "beta-001")})
    assert len(texts[("int", "alpha", "alpha-000")]) == 24 and texts[("int", "alpha", "alpha-000")][0]["text"]
    assert {r["train_seed"] for r in texts[("rl-baseline", "beta", "beta-001")]} == {0, 1, 2}


def test_jsonl_reader_skips_a_torn_tail_but_not_inner_damage(tmp_path: Path) -> None:
    from reports.load import iter_jsonl

    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    assert [r["a"] for r in iter_jsonl(path)] == [1, 2]
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(ValueError, match="x.jsonl:2"):
        list(iter_jsonl(path))


def test_resolve_run_accepts_report_folder(compare_dir: Path, report_dir: Path) -> None:
    assert CompareRun(report_dir).root == compare_dir
    with pytest.raises(FileNotFoundError, match="compare.json"):
        CompareRun(compare_dir / "arms" / "int")


def test_leaderboard_aggregates_seeds_from_per_problem_accuracy(run: CompareRun) -> None:
    board = leaderboard(run, n_boot=N_BOOT)
    row = board[(board["model"] == "int") & (board["task"] == "alpha") & (board["scope"] == "task")].iloc[0]
    per_seed = [_acc(run, "int", s, "alpha") for s in (0, 1, 2)]
    averaged = pd.concat(per_seed, axis=1).mean(axis=1)
    assert row["accuracy_pct"] == pytest.approx(100 * averaged.mean())
    lo, hi = bootstrap_ci(averaged.to_numpy(), n_boot=N_BOOT, seed=0)
    assert (row["ci95_low_pct"], row["ci95_high_pct"]) == pytest.approx((100 * lo, 100 * hi))
    assert row["seed_std_pct"] == pytest.approx(100 * np.std([a.mean() for a in per_seed], ddof=1))
    assert row["n_seeds"] == 3 and row["k"] == 8 and row["n_problems"] == 24
    assert len(row["per_seed_pct"].split(";")) == 3
    # pass@k at k = n is the share of problems with at least one correct sample (mean over seeds)
    assert row["pass@k_pct"] == pytest.approx(100 * np.mean([(a > 0).mean() for a in per_seed]))


def test_leaderboard_categories_mean_compute_and_eval_only(run: CompareRun) -> None:
    board = leaderboard(run, n_boot=N_BOOT)
    cats = board[(board["model"] == "rl-baseline") & (board["scope"] == "category") & (board["task"] == "beta")]
    assert sorted(cats["category"]) == ["level-0", "level-1", "level-2"]
    assert cats["n_problems"].sum() == 24
    mean = board[(board["model"] == "int") & (board["scope"] == "mean")].iloc[0]
    tasks = board[(board["model"] == "int") & (board["scope"] == "task")]
    assert mean["accuracy_pct"] == pytest.approx(tasks["accuracy_pct"].mean())
    assert "CI not defined" in mean["note"]
    intr = board[board["model"] == "int"].iloc[0]
    # training compute: every non-eval stage of stages.json (int + sft + rl); eval kept apart
    assert intr["train_tokens_generated"] == 90_000 + 300_000
    assert intr["train_tokens_trained"] == 12_000 + 250_000
    assert intr["train_wall_time_s"] == pytest.approx(175.0)
    assert intr["eval_tokens_generated"] == 20_000
    big = board[board["model"] == "big-model"].iloc[0]
    assert big["kind"] == "eval-only" and big["train_tokens_generated"] == 0 and big["n_seeds"] == 1


def test_reported_rows_are_labelled_and_never_measured(run: CompareRun) -> None:
    board = leaderboard(run, n_boot=N_BOOT)
    rep = board[board["kind"] == "reported"]
    assert len(rep) == len(reported_rows()) and rep["source"].str.contains("InT paper").all()
    assert rep["ci95_low_pct"].isna().all() and rep["n_seeds"].isna().all()
    avg = rep[rep["task"] == AVERAGE_TASK]
    assert avg["note"].str.contains("not the mean").all()
    # the discrepancy the note documents: Table 4's Average is not the mean of the four columns
    for _, _, values in TABLE4:
        assert abs(np.mean(values[:4]) - values[4]) > 0.1
    assert "+ InT + RL" not in pivot(board).index and "+ InT + RL" in pivot(board, ["reported"]).index


def test_paired_bootstrap_uses_seed_averaged_problems(run: CompareRun) -> None:
    stats, changed = paired_tables(run, n_boot=N_BOOT)
    row = stats[(stats["candidate"] == "int") & (stats["task"] == "alpha")].iloc[0]
    cand = pd.concat([_acc(run, "int", s, "alpha") for s in (0, 1, 2)], axis=1).mean(axis=1)
    base = pd.concat([_acc(run, "rl-baseline", s, "alpha") for s in (0, 1, 2)], axis=1).mean(axis=1)
    ref = paired_bootstrap(base.to_numpy(), cand.to_numpy(), n_boot=N_BOOT, seed=0)
    assert row["diff_pct"] == pytest.approx(100 * ref["diff"])
    assert (row["ci95_low_pct"], row["ci95_high_pct"], row["p_value"]) == pytest.approx(
        (100 * ref["ci_low"], 100 * ref["ci_high"], ref["p_value"])
    )
    seed_diffs = [_acc(run, "int", s, "alpha").mean() - _acc(run, "rl-baseline", s, "alpha").mean() for s in (0, 1, 2)]
    assert row["seed_diff_mean_pct"] == pytest.approx(100 * np.mean(seed_diffs))
    assert row["seed_diff_std_pct"] == pytest.approx(100 * np.std(seed_diffs, ddof=1))
    pooled = stats[stats["task"] == POOLED].iloc[0]
    assert pooled["n_problems"] == 48 and pooled["diff_pct"] > 0
    # only the measured pair; the eval-only model is a leaderboard row, not a paired candidate
    assert set(zip(stats["candidate"], stats["baseline"], strict=True)) == {("int", "rl-baseline")}


def test_newly_solved_and_regressed_lists(run: CompareRun) -> None:
    _, changed = paired_tables(run, n_boot=N_BOOT)
    new = changed[changed["change"] == "newly solved"]
    reg = changed[changed["change"] == "regressed"]
    assert {"alpha-000", "beta-000"} <= set(new["problem_id"])
    assert {"alpha-001", "beta-001"} <= set(reg["problem_id"])
    r = new[new["problem_id"] == "alpha-000"].iloc[0]
    assert r["baseline_correct"] == 0 and r["candidate_correct"] > 0 and r["candidate_samples"] == 24
    # a listed problem really changed: no solved-by-both problem sneaks in
    s = run.samples
    for pid in new["problem_id"]:
        solved = s[(s["problem_id"] == pid) & (s["model"] == "rl-baseline")]["correct"].any()
        assert not solved


def test_build_report_writes_every_artifact(report_dir: Path, run: CompareRun) -> None:
    for name in ("leaderboard.csv", "report.md", "index.html", "samples.parquet", "paired.csv", "problems_changed.csv", "report.json"):
        assert (report_dir / name).stat().st_size > 0, name
    from reports.figures import FIGURES

    for name in FIGURES:
        assert (report_dir / "figures" / f"{name}.png").exists() and (report_dir / "figures" / f"{name}.pdf").exists()
    samples = pd.read_parquet(report_dir / "samples.parquet")
    assert len(samples) == len(run.samples) and {"model", "seed", "kind", "task", "problem_id", "correct"} <= set(samples.columns)
    board = pd.read_csv(report_dir / "leaderboard.csv")
    assert set(board["kind"]) == {"measured", "eval-only", "reported"}
    md = (report_dir / "report.md").read_text()
    assert "Reported in the InT paper (not measured here)" in md and "InT paper (arXiv 2601.14209) Table 4" in md
    assert "Compute per stage" in md and "![accuracy](figures/accuracy.png)" in md
    assert json.loads((report_dir / "report.json").read_text())["paired"]


def test_untrusted_model_text_is_escaped(report_dir: Path) -> None:
    page = (report_dir / "index.html").read_text()
    assert INJECTED not in page and INJECTED_ANSWER not in page
    assert "&lt;script&gt;console.error(&#34;INJECTED&#34;)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # only the page's own (CSP-hashed) sort script
    md = (report_dir / "report.md").read_text()
    assert INJECTED_ANSWER not in md and "&lt;img src=x" in md
    # the excerpt keeps its text inside a fence longer than the ``` it contains
    assert "````text\nLet me write" in md


def test_html_environment_autoescapes_html_jinja_templates() -> None:
    from reports.render import environment

    env = environment()
    assert env.get_template("index.html.jinja").render  # loads
    assert env.autoescape("index.html.jinja") is True and env.autoescape("report.md.jinja") is False


def test_report_without_training_artifacts_lists_missing_figures(tmp_path: Path) -> None:
    from reports import build_report, plot

    root = make_compare(tmp_path, seeds=(0,), with_training=False, eval_only=False, tasks=("alpha",))
    out = build_report(root, n_boot=N_BOOT)
    report = json.loads((out / "report.json").read_text())
    assert isinstance(report["figures"]["accuracy"], list)
    assert "no rl train_log.jsonl" in report["figures"]["rl_dynamics"]
    assert "not drawn" in (out / "index.html").read_text()
    with pytest.raises(MissingData):
        plot(root, "counterfactual")
    with pytest.raises(KeyError, match="choose from"):
        plot(root, "no-such-figure")


def test_cli_plot_and_report_commands(compare_dir: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from reports.cli import plot_cmd, report_cmd

    app = typer.Typer()
    app.command("plot")(plot_cmd)
    app.command("report")(report_cmd)
    runner = CliRunner()
    res = runner.invoke(app, ["plot", str(compare_dir), "--figure", "rl_dynamics", "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["rl_dynamics.pdf", "rl_dynamics.png"]
    res = runner.invoke(app, ["plot", str(compare_dir), "--list"])
    assert res.exit_code == 0 and "counterfactual" in res.output
    res = runner.invoke(app, ["report", str(compare_dir), "--out", str(tmp_path / "r"), "--n-boot", "200"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "index.html").exists()


def test_importing_reports_and_cli_is_cheap() -> None:
    code = (
        "import sys, reports, reports.cli, reports.reported\n"
        "heavy = [m for m in ('matplotlib', 'torch', 'pandas', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(reports.build_report) and callable(reports.plot)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
