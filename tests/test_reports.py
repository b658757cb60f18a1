"""Report tables and files: loader (roles, shared base evaluation, old folders), leaderboard (seed-aware CIs,
compute accounting, reported rows once), paired statistics with equal-steps and equal-compute views, the
overlap warning and section, the report folder, escaping of untrusted model text, the terminal leaderboard
at 80 columns, the CLI, and cheap imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reports_support import (
    EXPECTED_TRAIN_TOKENS,
    INJECTED,
    INJECTED_ANSWER,
    INT,
    INT_AT_RL,
    INT_DIAGNOSTIC,
    INT_SOURCES,
    RL,
    RL_AT_INT,
    RL_STEPS,
    RL_TOKENS_PER_STEP,
    SFT_TRAINED,
    make_compare,
)
from rich.console import Console

from harness.metrics import (
    bootstrap_ci,
    hierarchical_bootstrap,
    paired_bootstrap,
    paired_hierarchical_bootstrap,
)
from reports.leaderboard import leaderboard, pivot, reported_view
from reports.load import CompareRun, MissingData
from reports.paired import EQUAL_STEPS, P_BOOTSTRAP, P_SIGNFLIP, POOLED, paired_tables
from reports.reported import AVERAGE_TASK, TABLE4, reported_rows

N_BOOT = 500


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_compare(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="module")
def run(compare_dir: Path) -> CompareRun:
    return CompareRun(compare_dir)


REPORT_WARNINGS: list[str] = []


@pytest.fixture(scope="module")
def report_dir(compare_dir: Path) -> Path:
    import warnings

    from reports import build_report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build_report(compare_dir, n_boot=N_BOOT)
    REPORT_WARNINGS.extend(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught)
    return out


def _acc(run: CompareRun, model: str, seed: int, task: str) -> pd.Series:
    s = run.samples
    s = s[(s["model"] == model) & (s["seed"] == seed) & (s["task"] == task)]
    return s.groupby("problem_id")["correct"].mean()


def test_loader_reads_every_arm_without_texts(run: CompareRun) -> None:
    s = run.samples
    # base (one evaluation shared by its 3 seeds: read once) + 4 trained arms x 3 seeds + 1 eval-only arm,
    # 2 tasks, 24 problems, k = 8
    assert len(s) == (1 + 4 * 3 + 1) * 2 * 24 * 8
    assert set(s["task"]) == {"alpha", "beta"} and set(s["task_version"]) == {"alpha@v1", "beta@v1"}
    assert "text" not in s.columns
    assert run.recipes == [INT, RL]
    assert run.models == ["base", INT, RL, RL_AT_INT, INT_AT_RL, "big-model"]
    assert [run.role_of(m) for m in run.models] == ["base", "measured", "measured", "compute-matched", "compute-matched", "eval-only"]
    assert run.kind_of("big-model") == "eval-only" and run.kind_of("base") == "measured"
    assert run.matched_to(RL_AT_INT) == INT and run.matched_recipe(RL_AT_INT) == RL and run.matched_recipe(INT_AT_RL) == INT
    assert set(s.loc[s["model"] == "base", "seed"]) == {0}
    assert len(run.problems[("int", 2, "beta")]) == 24
    texts = run.sample_texts({("int", "alpha", "alpha-000"), ("rl-baseline", "beta", "beta-001")})
    assert len(texts[("int", "alpha", "alpha-000")]) == 24 and texts[("int", "alpha", "alpha-000")][0]["text"]
    assert {r["train_seed"] for r in texts[("rl-baseline", "beta", "beta-001")]} == {0, 1, 2}


def test_tasks_follow_the_protocols_problem_sets(tmp_path: Path) -> None:
    root = make_compare(tmp_path, seeds=(0,), tasks=("alpha", "beta"), eval_only=False, match_compute=False)
    meta = json.loads((root / "compare.json").read_text())
    meta["protocol"]["problems"].reverse()  # the protocol's order wins over the order samples are read in
    (root / "compare.json").write_text(json.dumps(meta))
    assert CompareRun(root).tasks == ["beta", "alpha"]


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
    # three seeds: the CI resamples seeds, then problems
    lo, hi = hierarchical_bootstrap(np.array([a.to_numpy() for a in per_seed]), n_boot=N_BOOT, seed=0)
    assert (row["ci95_low_pct"], row["ci95_high_pct"]) == pytest.approx((100 * lo, 100 * hi))
    assert row["ci_method"] == "seeds+problems"
    base = board[(board["model"] == "base") & (board["task"] == "alpha") & (board["scope"] == "task")].iloc[0]
    lo, hi = bootstrap_ci(_acc(run, "base", 0, "alpha").to_numpy(), n_boot=N_BOOT, seed=0)
    assert base["ci_method"] == "problems" and base["n_seeds"] == 1 and base["role"] == "base"
    assert (base["ci95_low_pct"], base["ci95_high_pct"]) == pytest.approx((100 * lo, 100 * hi))
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
    intr = board[board["model"] == INT].iloc[0]
    # training compute: every non-eval step of stages.json (int + sft + rl), required and diagnostic apart
    assert intr["train_tokens_generated"] == EXPECTED_TRAIN_TOKENS[INT] == 30_000 + 30 * 4_000
    assert intr["train_tokens_generated_diagnostic"] == INT_DIAGNOSTIC
    assert intr["train_tokens_trained"] == SFT_TRAINED + int(0.8 * 30 * 4_000)
    assert intr["train_wall_time_s"] == pytest.approx(40.0 + 15.0 + 4.0 * 30)
    assert intr["train_rl_steps"] == 30 and intr["eval_tokens_generated"] == 20_000
    big = board[board["model"] == "big-model"].iloc[0]
    assert big["kind"] == "eval-only" and big["train_tokens_generated"] == 0 and big["n_seeds"] == 1
    assert not big["protocol_differs"]
    base = board[board["model"] == "base"].iloc[0]
    assert base["role"] == "base" and base["train_tokens_generated"] == 0 and pd.isna(base["train_rl_steps"])
    matched = board[board["model"] == RL_AT_INT].iloc[0]
    assert matched["role"] == "compute-matched" and matched["matched_to"] == INT
    assert matched["train_tokens_generated"] == EXPECTED_TRAIN_TOKENS[RL_AT_INT] and matched["train_rl_steps"] == RL_STEPS[RL_AT_INT]


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


def test_reported_view_shows_each_number_once(run: CompareRun) -> None:
    view = reported_view(run.reported)
    # Table 3 repeats Table 4's base (11.68) and InT + RL (25.62) on IMO-AnswerBench: merged, not repeated
    imo = view["imo-answerbench"].dropna()
    assert imo.tolist().count(11.68) == 1 and imo.tolist().count(25.62) == 1
    assert "Qwen3-4B-Instruct-2507" not in view.index and "Qwen3-4B-Instruct-2507 + InT + RL" not in view.index
    assert view.loc["+ InT + RL", "source"] == "Tables 3 and 4" and view.loc["+ RL", "source"] == "Table 4"
    assert view.loc["gpt-oss-20b", "token budget"] == "32K" and pd.isna(view.loc["gpt-oss-20b", "amo-bench"])
    assert len(view) == len(TABLE4) + 2  # + DeepSeek-R1-0528-Qwen3-8B and gpt-oss-20b


def test_paired_bootstrap_resamples_seeds_and_problems(run: CompareRun) -> None:
    stats, changed = paired_tables(run, n_boot=N_BOOT)
    row = stats[(stats["candidate"] == INT) & (stats["baseline"] == RL) & (stats["task"] == "alpha")].iloc[0]
    cand = np.array([_acc(run, INT, s, "alpha").to_numpy() for s in (0, 1, 2)])
    base = np.array([_acc(run, RL, s, "alpha").to_numpy() for s in (0, 1, 2)])
    ref = paired_hierarchical_bootstrap(base, cand, n_boot=N_BOOT, seed=0)
    assert row["diff_pct"] == pytest.approx(100 * ref["diff"]) == pytest.approx(100 * (cand.mean() - base.mean()))
    assert (row["ci95_low_pct"], row["ci95_high_pct"], row["p_bootstrap"]) == pytest.approx(
        (100 * ref["ci_low"], 100 * ref["ci_high"], ref["p_value"])
    )
    assert row["ci_method"] == "seeds+problems" and row["n_seeds"] == 3 and row["n_problems"] == 24
    assert row["view"] == EQUAL_STEPS
    seed_diffs = [_acc(run, "int", s, "alpha").mean() - _acc(run, "rl-baseline", s, "alpha").mean() for s in (0, 1, 2)]
    assert row["seed_diff_mean_pct"] == pytest.approx(100 * np.mean(seed_diffs))
    assert row["seed_diff_std_pct"] == pytest.approx(100 * np.std(seed_diffs, ddof=1))
    # the seed-level tests over those three differences; the headline p is the sign-flip test's
    assert all(d > 0 for d in seed_diffs) and row["p_signflip"] == row["p_value"] == row["p_signflip_min"] == 0.25
    assert row["p_method"] == P_SIGNFLIP
    t = np.mean(seed_diffs) / (np.std(seed_diffs, ddof=1) / np.sqrt(3))
    assert row["t_stat"] == pytest.approx(t) and row["p_t"] == pytest.approx(1 - t / np.sqrt(t * t + 2))  # df 2, closed form
    pooled = stats[stats["task"] == POOLED].iloc[0]
    assert pooled["n_problems"] == 48 and pooled["diff_pct"] > 0
    # the measured pair at equal steps and one pair per compute-matched arm; base and eval-only rows never pair
    views = dict(zip(zip(stats["candidate"], stats["baseline"], strict=True), stats["view"], strict=True))
    assert views == {
        (INT, RL): "equal RL steps",
        (INT, RL_AT_INT): "equal generated tokens: rl-baseline trained to int's budget",
        (INT_AT_RL, RL): "equal generated tokens: int stopped at rl-baseline's budget",
    }
    tok = stats[(stats["baseline"] == RL_AT_INT) & (stats["task"] == POOLED)].iloc[0]
    assert tok["candidate_train_tokens_generated"] == EXPECTED_TRAIN_TOKENS[INT] == 150_000
    assert tok["baseline_train_tokens_generated"] == EXPECTED_TRAIN_TOKENS[RL_AT_INT] == 151_200  # within one RL step
    assert tok["baseline_rl_steps"] == 36 and tok["candidate_rl_steps"] == 30


def test_compute_matching_that_missed_its_budget_is_flagged(tmp_path: Path) -> None:
    from reports import build_report

    stats, _ = paired_tables(CompareRun(make_compare(tmp_path / "ok", seeds=(0,), tasks=("alpha",), eval_only=False)), n_boot=N_BOOT)
    assert stats["tokens_matched_within_one_step"].dropna().astype(bool).all()
    # the step cap stopped RL-only after 20 steps (84,000 tokens), far from InT's 150,000
    root = make_compare(tmp_path / "capped", seeds=(0,), tasks=("alpha",), eval_only=False, rl_steps={RL_AT_INT: 20})
    stats, _ = paired_tables(CompareRun(root), n_boot=N_BOOT)
    flags = dict(zip(stats["baseline"], stats["tokens_matched_within_one_step"], strict=True))
    assert flags[RL_AT_INT] is False and flags[RL] is True  # int@rl-baseline-compute still matched
    md = (build_report(root, n_boot=N_BOOT, figures=False) / "report.md").read_text()
    assert "achieved 150,000 vs 84,000 tokens, RL steps 30 vs 20. NOT MATCHED" in md


def test_a_budget_stopped_arm_may_overshoot_by_its_longest_step(tmp_path: Path) -> None:
    """Matched within one RL step means within the arm's *longest* step: a last step longer than the mean
    (longer responses late in RL) is still one step of overshoot, not a missed budget."""
    from reports.paired import rl_tokens_per_step

    root = make_compare(tmp_path, seeds=(0,), tasks=("alpha",), eval_only=False)
    log = next(root.rglob(f"arms/{RL_AT_INT}/seed-0/rl/train_log.jsonl"))
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    per_step = RL_TOKENS_PER_STEP[RL_AT_INT]
    rows[-1]["tokens_generated"] = rows[-2]["tokens_generated"] + 3 * per_step  # the last step: 3x the others
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rl_tokens_per_step(CompareRun(root))[RL_AT_INT] == pytest.approx(3 * per_step)


def test_paired_with_one_seed_resamples_problems_only(tmp_path: Path) -> None:
    run = CompareRun(make_compare(tmp_path, seeds=(0,), tasks=("alpha",), eval_only=False))
    stats, _ = paired_tables(run, n_boot=N_BOOT)
    row = stats[(stats["candidate"] == INT) & (stats["baseline"] == RL)].iloc[0]
    ref = paired_bootstrap(_acc(run, RL, 0, "alpha").to_numpy(), _acc(run, INT, 0, "alpha").to_numpy(), n_boot=N_BOOT, seed=0)
    assert row["ci_method"] == "problems" and row["n_seeds"] == 1
    assert (row["diff_pct"], row["ci95_low_pct"], row["p_value"]) == pytest.approx((100 * ref["diff"], 100 * ref["ci_low"], ref["p_value"]))
    assert row["p_method"] == P_BOOTSTRAP and np.isnan(row["p_signflip"]) and np.isnan(row["p_t"])  # one seed: no seed-level test


def test_seed_aware_ci_is_wider_when_seeds_disagree(tmp_path: Path) -> None:
    """Seeds that disagree (a logit shift of +-1.5 between training seeds) widen the hierarchical CI well
    beyond the bootstrap over seed-averaged problems, which cannot see seed variation."""
    run = CompareRun(make_compare(tmp_path, tasks=("alpha",), n_problems=40, seed_spread=1.5, eval_only=False, match_compute=False))
    board = leaderboard(run, n_boot=2000)
    row = board[(board["model"] == INT) & (board["scope"] == "task")].iloc[0]
    per_seed = np.array([_acc(run, INT, s, "alpha").to_numpy() for s in (0, 1, 2)])
    assert np.ptp(per_seed.mean(axis=1)) > 0.2  # the seeds really disagree
    lo, hi = bootstrap_ci(per_seed.mean(axis=0), n_boot=2000, seed=0)
    seed_aware = row["ci95_high_pct"] - row["ci95_low_pct"]
    assert seed_aware > 1.5 * 100 * (hi - lo), (seed_aware, 100 * (hi - lo))
    # the paired test too: seed variation that does not cancel between arms widens the paired CI
    stats, _ = paired_tables(run, n_boot=2000)
    paired = stats[(stats["candidate"] == INT) & (stats["baseline"] == RL)].iloc[0]
    flat = paired_bootstrap(np.array([_acc(run, RL, s, "alpha") for s in (0, 1, 2)]).mean(0), per_seed.mean(0), n_boot=2000, seed=0)
    assert paired["ci95_high_pct"] - paired["ci95_low_pct"] > 100 * (flat["ci_high"] - flat["ci_low"])


def test_newly_solved_and_regressed_lists(run: CompareRun) -> None:
    _, changed = paired_tables(run, n_boot=N_BOOT)
    changed = changed[(changed["candidate"] == INT) & (changed["baseline"] == RL)]
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
    for name in ("leaderboard.csv", "report.md", "index.html", "samples.parquet", "paired.csv", "problems_changed.csv", "report.json",
                 "reported.csv"):
        assert (report_dir / name).stat().st_size > 0, name
    from reports.figures import FIGURES

    for name in FIGURES:
        assert (report_dir / "figures" / f"{name}.png").exists() and (report_dir / "figures" / f"{name}.pdf").exists()
    samples = pd.read_parquet(report_dir / "samples.parquet")
    assert len(samples) == len(run.samples) and {"model", "seed", "kind", "task", "problem_id", "correct"} <= set(samples.columns)
    assert {"text", "gold"} <= set(samples.columns) and samples["text"].str.contains("boxed").all() and set(samples["gold"]) == {"7"}
    assert str(samples["sample_index"].dtype) == "Int64" and str(samples["completion_tokens"].dtype) == "Int64"
    board = pd.read_csv(report_dir / "leaderboard.csv")
    assert set(board["kind"]) == {"measured", "eval-only"}  # the paper's numbers are in reported.csv, never here
    assert "source" not in board.columns and "+ InT + RL" not in set(board["model"])
    assert "+ InT + RL" in pd.read_csv(report_dir / "reported.csv", index_col=0).index
    # counts are written as integers (a missing one empty), never 24.0
    raw = (report_dir / "leaderboard.csv").read_text().splitlines()
    header = raw[0].split(",")
    first = dict(zip(header, next(line for line in raw[1:] if line.startswith("int,")).split(","), strict=False))
    assert (first["n_problems"], first["k"], first["n_seeds"], first["train_rl_steps"]) == ("24", "8", "3", "30")
    paired_raw = (report_dir / "paired.csv").read_text()
    assert ",24,3,seeds+problems," in paired_raw and ".0,seeds+problems" not in paired_raw
    md = (report_dir / "report.md").read_text()
    reported = _section(md, "## Reported in the InT paper (not measured here)")
    assert "InT paper (arXiv 2601.14209)" in reported and "| Table 4 |" in reported and "| Tables 3 and 4 |" in reported
    assert "Compute per step" in md and "![accuracy](figures/accuracy.png)" in md
    assert json.loads((report_dir / "report.json").read_text())["paired"]
    assert {"train_tokens_generated_diagnostic", "role", "matched_to", "protocol_differs", "ci_method"} <= set(board.columns)


def _section(md: str, heading: str) -> str:
    return md.split(heading, 1)[1].split("\n## ", 1)[0]


def test_report_accounts_compute_per_arm_and_step(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text()
    compute = _section(md, "## Compute per step")
    # per step, mean over seeds: InT's step with its required and diagnostic tokens, then sft, rl, eval
    assert f"| {INT} | 1. int | 3 | 30,000 | {INT_DIAGNOSTIC:,} | 0 |" in compute
    assert f"| {RL_AT_INT} | 1. rl | 3 | {EXPECTED_TRAIN_TOKENS[RL_AT_INT]:,} | 0 |" in compute
    # InT's generated tokens by source, each marked required or diagnostic
    by_source = _section(md, "### InT generated tokens by source")
    assert f"| {INT} | rollout | {INT_SOURCES['rollout']:,} | required | 3 |" in by_source
    assert f"| {INT} | continue_controls | {INT_DIAGNOSTIC:,} | diagnostic | 3 |" in by_source
    board = _section(md, "## Leaderboard (measured here)")
    assert "train tokens generated: required" in board and "... diagnostic" in board and "RL steps" in board
    assert f"| {INT} | trained |" in board and "| base | base model (untrained) |" in board
    assert f"compute-matched: {RL} trained to {INT}'s tokens ({RL_STEPS[RL_AT_INT]} RL steps)" in board
    assert f"compute-matched: {INT} stopped at {RL}'s tokens ({RL_STEPS[INT_AT_RL]} RL steps)" in board
    assert "hierarchical bootstrap resampling training seeds, then problems" in board and "Problems per task: alpha 24, beta 24" in board


def test_report_shows_both_views_with_their_notes(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text()
    paired = _section(md, "## Paired comparison")
    assert "| equal RL steps | int - rl-baseline | alpha |" in paired
    assert "| equal generated tokens: rl-baseline trained to int's budget | int - rl-baseline@int-compute |" in paired
    assert "| equal generated tokens: int stopped at rl-baseline's budget | int@rl-baseline-compute - rl-baseline |" in paired
    assert "tokens 150,000 / 151,200" in paired and "RL steps 30 / 30" in paired
    assert "holds the required generated training tokens equal, to within one RL step" in paired
    assert "achieved 150,000 vs 151,200 tokens" in paired and "achieved 126,000 vs 126,000 tokens" in paired
    assert "resampling training seeds (n seeds = 3, paired by seed) and then problems (n problems: alpha 24, beta 24" in paired


def test_overlap_section_is_always_there(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text()
    assert md.startswith("# InT harness comparison")  # no overlap: no warning first
    overlap = _section(md, "## Train/eval overlap")
    assert "Method: exact normalised text" in overlap and "| alpha@v1 | 24 | 64 | 0 | 0 | 0 | 24 |" in overlap


def test_allowed_overlap_is_the_reports_first_line(tmp_path: Path) -> None:
    from reports import build_report, print_leaderboard

    root = make_compare(tmp_path / "c", seeds=(0,), eval_only=False, match_compute=False, overlap="allowed")
    out = build_report(root, n_boot=N_BOOT, figures=False)
    md = (out / "report.md").read_text()
    first = md.splitlines()[0]
    assert first.startswith("> **WARNING: training and evaluation problems overlap") and "alpha@v1: 2 of 24" in first
    assert "(1 exact, 1 near)" in first and "not a held-out measurement" in first
    page = (out / "index.html").read_text()
    body = page.split("<body>", 1)[1]
    assert body.index('class="warning"') < body.index("<h1>")
    overlap = _section(md, "## Train/eval overlap")
    assert "| alpha@v1 | 24 | 64 | 1 | 1 | 2 | 22 |" in overlap and "(overlap allowed)" in overlap
    assert "beta@v1: not checked" in overlap and "documents 360 overlapping problems" in overlap
    console = Console(width=80, record=True)
    print_leaderboard(out, console=console)
    assert console.export_text().startswith("WARNING: training and evaluation problems overlap")


def test_excluded_overlap_is_reported_without_warning(tmp_path: Path) -> None:
    from reports import build_report

    root = make_compare(tmp_path / "c", seeds=(0,), eval_only=False, match_compute=False, overlap="excluded")
    md = (build_report(root, n_boot=N_BOOT, figures=False) / "report.md").read_text()
    assert md.startswith("# InT harness comparison")
    assert "every arm was evaluated on the held-out problems only (alpha: 2 excluded)" in md
    assert "| problems: alpha@v1 | split test, 2 excluded (train/eval overlap) |" in md
    assert "alpha-005" not in set(CompareRun(root).samples["problem_id"])


def test_rows_measured_under_other_settings_are_marked(tmp_path: Path) -> None:
    from reports import build_report, print_leaderboard

    root = make_compare(tmp_path / "c", seeds=(0,), tasks=("alpha",), match_compute=False, own_sampling=True)
    out = build_report(root, n_boot=N_BOOT, figures=False)
    board = pd.read_csv(out / "leaderboard.csv")
    big = board[board["model"] == "big-model"].iloc[0]
    assert big["protocol_differs"] and "own settings" in big["note"] and "32768" in big["note"]
    md = (out / "report.md").read_text()
    assert "| big-model * | eval-only, OWN SAMPLING SETTINGS (not the frozen protocol) |" in md
    assert "* evaluated under its own sampling settings" in md
    assert "| big-model * | alpha | level-0 |" in md  # the per-category table marks it too
    samples = pd.read_parquet(out / "samples.parquet")
    assert samples.loc[samples["model"] == "big-model", "protocol_differs"].all() and not samples.loc[samples["model"] == INT, "protocol_differs"].any()
    console = Console(width=80, record=True)
    print_leaderboard(out, console=console)
    text = console.export_text()
    assert "big-model *" in text and "* evaluated under its own sampling settings" in text


def test_terminal_leaderboard_keeps_names_whole_at_80_columns(report_dir: Path) -> None:
    from reports import print_leaderboard

    console = Console(width=80, record=True)
    print_leaderboard(report_dir, console=console)
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    for name in (RL_AT_INT, INT_AT_RL, "big-model", "Qwen3-4B-Instruct-2507 (base)", "+ SFT on self-reflections + RL",
                 "DeepSeek-R1-0528-Qwen3-8B", "gpt-oss-20b"):  # fmt: skip
        assert any(line.lstrip().startswith(name + " ") for line in lines), name
    # each reported number once: Tables 3 and 4 share the base model's 11.68 and InT + RL's 25.62
    assert text.count("11.68") == 1 and text.count("25.62") == 1
    assert "Qwen3-4B-Instruct-2507 + InT + RL" not in text


def test_old_compare_folders_still_build(tmp_path: Path) -> None:
    from reports import build_report

    root = make_compare(tmp_path / "c", seeds=(0, 1), tasks=("alpha",), legacy=True)
    run = CompareRun(root)
    assert run.models == [INT, RL, "big-model"] and run.tasks == ["alpha"]
    assert run.stages["tokens_generated_diagnostic"].eq(0).all()
    out = build_report(root, n_boot=N_BOOT, figures=False)
    md = (out / "report.md").read_text()
    assert "No overlap check recorded" in md and "| equal RL steps | int - rl-baseline |" in md
    from reports.figures import rl_dynamics

    assert rl_dynamics(run).axes[0].get_xlabel() == "RL step"  # logs without token counts: the step axis


def test_building_the_report_warns_nothing(report_dir: Path) -> None:
    """A warning printed by the report build lands in `harness compare`'s output (as a bare
    ``warnings.warn(`` line when the call spans lines): the build must emit none."""
    assert REPORT_WARNINGS == []


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
    assert "No compute recorded" not in (out / "report.md").read_text()  # the eval step is still accounted
    assert "not drawn" in (out / "index.html").read_text()
    with pytest.raises(MissingData):
        plot(root, "counterfactual")
    with pytest.raises(KeyError, match="unknown figure .no-such-figure.*known: accuracy"):
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
    res = runner.invoke(app, ["plot", str(compare_dir), "--figure", "rl_dynamics", "--x-axis", "step", "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["plot", str(compare_dir), "--figure", "rl_dynamics", "--x-axis", "wallclock"])
    assert res.exit_code != 0 and "--x-axis" in res.output
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
