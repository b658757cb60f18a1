"""The verdict and the seed-level statistics of the report (issues 19 and 20), on synthetic compare folders.

The verdict -- one entry per paired view with the difference, its CI, the headline p, n problems x seeds
and MATCHED / NOT MATCHED with the achieved totals -- ends the terminal output (checked against
report.json by `reports_support.check_verdict_output`) and opens report.md and index.html. The paired
table carries an exact sign-flip test and a paired t-test over the per-seed differences, checked here
against hand computations where seeds agree and where they disagree. A compute-matched arm whose RL was
skipped is labelled by what ran. (The same verdict on a real tiny comparison: tests/test_compare.py.)
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reports_support import INT, INT_AT_RL, RL, RL_AT_INT, RL_SKIPPED, check_verdict_output, make_compare
from rich.console import Console

from harness.metrics import paired_t_test, sign_flip_test
from reports.load import CompareRun
from reports.paired import P_SIGNFLIP, POOLED, paired_tables

N_BOOT = 500


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seeds, compute matching; InT stopped at RL-only's budget before any RL (its RL step skipped)."""
    from reports import build_report

    root = make_compare(tmp_path_factory.mktemp("stopped") / "c", rl_steps={INT_AT_RL: 0}, eval_only=False)
    return build_report(root, n_boot=N_BOOT, figures=False)


def _printed(report_dir: Path, width: int = 200) -> str:
    from reports import print_leaderboard
    from reports.verdict import print_verdict

    console = Console(width=width, record=True)
    print_leaderboard(report_dir, console=console)
    print_verdict(report_dir, console=console)
    return console.export_text()


def test_terminal_ends_with_the_verdict_of_report_json(stopped: Path) -> None:
    for width in (80, 200):  # the verdict keeps to 80 columns whatever the terminal's width
        verdict = check_verdict_output(_printed(stopped, width), stopped)
    text = "\n".join(verdict)
    assert "equal RL steps: int - rl-baseline\n  +" in text
    assert re.search(r"MATCHED 30/30 RL steps", text) and "MATCHED 150k/151k tokens" in text
    # the stopped arm: NOT MATCHED, with its achieved totals and what it is (no RL ran)
    assert f"equal generated tokens: {INT_AT_RL} (int + sft only, rl skipped)" in text
    assert re.search(r"p=0\.25  n=48x3  NOT MATCHED 30k/126k tokens", text)
    assert "smallest possible p with 3 seeds: 0.25" in " ".join(text.split())


def test_report_md_and_index_html_open_with_the_verdict(stopped: Path) -> None:
    import json

    views = json.loads((stopped / "report.json").read_text())["verdict"]["views"]
    md = (stopped / "report.md").read_text()
    head = md.split("\n## ", 1)[0]  # before the first section
    for v in views:
        assert f"- {v['text']}\n" in head, v["text"]
    assert md.index("**Verdict: ") < md.index("## Leaderboard")
    page = (stopped / "index.html").read_text()
    body = page.split("<body>", 1)[1]
    section = body.split('<section class="verdict" id="verdict">', 1)[1].split("</section>", 1)[0]
    assert body.index("<h1>") < body.index('class="verdict"') < body.index('id="leaderboard"')
    assert [html.unescape(t) for t in re.findall(r"<li>(.*?)</li>", section)] == [v["text"] for v in views]


def test_stopped_arm_is_labelled_by_what_ran(stopped: Path) -> None:
    md = (stopped / "report.md").read_text()
    role = (f"| {INT_AT_RL} | compute-matched: int stopped at rl-baseline's tokens: int + sft only; rl skipped: {RL_SKIPPED} |")
    assert role in md
    board = pd.read_csv(stopped / "leaderboard.csv")
    row = board[(board["model"] == INT_AT_RL) & (board["scope"] == "task")].iloc[0]
    assert row["train_rl_steps"] == 0 and f"rl skipped: {RL_SKIPPED}" in row["note"]
    # the NOT MATCHED note says 0 RL steps, never "?"; the skipped column names the reason, never nan
    assert "RL steps 0 vs 30. NOT MATCHED" in md and "?" not in md.split("## Paired comparison")[1].split("## Figures")[0]
    compute = md.split("## Compute per step", 1)[1].split("\n## ", 1)[0]
    assert not re.search(r"\bnan\b", compute) and f"| {INT_AT_RL} | 3. rl | 3 | 0 | 0 | 0 | 0.0 | {RL_SKIPPED} |" in compute
    assert f"| {INT} | 3. rl | 3 |" in compute and compute.count(RL_SKIPPED) == 1


def test_markdown_is_not_html_escaped(stopped: Path) -> None:
    md = (stopped / "report.md").read_text()
    assert "&lt; " not in md and "&amp;" not in md and re.search(r"\| < 2e-03 \|", md)
    assert "int's tokens" in md  # apostrophes as written


def _per_seed_diffs(run: CompareRun, cand: str, base: str) -> list[float]:
    s = run.samples
    acc = s.groupby(["model", "seed"])["correct"].mean()
    return [acc[(cand, seed)] - acc[(base, seed)] for seed in sorted(s.loc[s["model"] == cand, "seed"].unique())]


@pytest.mark.parametrize("case", ["agree", "disagree"])
def test_seed_level_tests_where_seeds_agree_and_disagree(tmp_path: Path, case: str) -> None:
    """Six seeds. Agreeing seeds (no seed effect): every per-seed difference positive, the sign-flip p at
    its floor 2/2^6 and a small t-test p. Disagreeing seeds (a logit shift of +-2.5 that grows with the
    seed, opposite in the two arms): differences of both signs, both p-values large."""
    spread = 0.0 if case == "agree" else 2.5
    run = CompareRun(make_compare(tmp_path, seeds=tuple(range(6)), tasks=("alpha",), n_problems=40, seed_spread=spread,
                                  eval_only=False, match_compute=False))  # fmt: skip
    stats, _ = paired_tables(run, n_boot=N_BOOT)
    row = stats[(stats["candidate"] == INT) & (stats["baseline"] == RL)].iloc[0]
    diffs = _per_seed_diffs(run, INT, RL)
    assert row["seed_diffs_pct"] == "; ".join(f"{100 * d:+.2f}" for d in diffs)
    flip, t = sign_flip_test(diffs), paired_t_test(diffs)
    assert row["p_signflip"] == pytest.approx(flip["p_value"]) and row["p_t"] == pytest.approx(t["p_value"])
    assert row["p_value"] == row["p_signflip"] and row["p_method"] == P_SIGNFLIP and row["p_signflip_min"] == pytest.approx(2 / 64)
    tstat = np.mean(diffs) / (np.std(diffs, ddof=1) / np.sqrt(6))
    assert row["t_stat"] == pytest.approx(tstat)
    if case == "agree":
        assert all(d > 0 for d in diffs)
        assert row["p_signflip"] == pytest.approx(2 / 64) and row["p_t"] < 0.01
    else:
        assert min(diffs) < 0 < max(diffs)
        assert row["p_signflip"] > 0.2 and row["p_t"] > 0.2
    # the bootstrap's p is kept beside them
    assert 0 <= row["p_bootstrap"] <= 1


def test_verdict_with_one_seed_uses_the_bootstrap(tmp_path: Path) -> None:
    from reports import build_report

    out = build_report(make_compare(tmp_path / "c", seeds=(0,), tasks=("alpha",), eval_only=False), n_boot=N_BOOT, figures=False)
    verdict = check_verdict_output(_printed(out), out)
    assert "paired bootstrap over problems" in " ".join(" ".join(verdict).split())
    stats = pd.read_csv(out / "paired.csv")
    assert (stats["task"] != POOLED).all() and set(stats["p_method"]) == {"paired bootstrap"}
    md = (out / "report.md").read_text()
    assert "the seed-level tests need two or more seeds" in md


def test_three_recipes_give_one_entry_per_pair_with_the_first(tmp_path: Path) -> None:
    """Generic over arm names: a third recipe gives its pair with the first recipe an entry; a pair of two
    controls is in the paired table but not in the verdict (the verdict is about the first recipe)."""
    import json

    from reports import build_report

    root = make_compare(tmp_path / "c", seeds=(0, 1), tasks=("alpha",), eval_only=False)
    meta = json.loads((root / "compare.json").read_text())
    meta["recipes"] = [INT, RL, RL_AT_INT]  # pretend the matched arm were a named recipe
    for a in meta["arms"]:
        if a["recipe"] == RL_AT_INT:
            a["role"], a["matched_to"] = "measured", None
    (root / "compare.json").write_text(json.dumps(meta))
    out = build_report(root, n_boot=N_BOOT, figures=False)
    verdict = check_verdict_output(_printed(out), out)
    labels = [line for line in verdict if line.startswith("equal ")]
    assert labels[:2] == [f"equal RL steps: {INT} - {RL}", f"equal RL steps: {INT} - {RL_AT_INT}"]
    assert f"equal RL steps: {RL} - {RL_AT_INT}" not in labels
    assert f"| equal RL steps | {RL} - {RL_AT_INT} |" in (out / "report.md").read_text()  # still in the paired table


def test_a_step_skipped_in_some_seeds_is_named_with_its_count(tmp_path: Path) -> None:
    import json

    from reports.leaderboard import arm_note
    from reports.render import role_text

    root = make_compare(tmp_path / "c", tasks=("alpha",), eval_only=False, match_compute=False)
    stages = root / "arms" / INT / "seed-1" / "stages.json"
    rows = json.loads(stages.read_text())
    rows[1]["skipped"] = "no SFT rows in x.jsonl"  # int, sft, rl, eval: SFT found nothing to train on in seed 1
    stages.write_text(json.dumps(rows))
    run = CompareRun(root)
    assert arm_note(run, INT) == "sft skipped in 1 of 3 seeds: no SFT rows in x.jsonl"
    assert arm_note(run, INT, short=True) == ""  # nothing was skipped in every seed
    assert role_text(run, INT) == "trained: sft skipped in 1 of 3 seeds: no SFT rows in x.jsonl"
    assert role_text(run, RL) == "trained" and arm_note(run, RL_AT_INT) == ""
