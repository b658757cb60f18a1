"""`harness compare` end to end on the embedded world (test preset): real InT stages, real TRL SFT and
GRPO steps in their own processes, real evaluation, a report with both recipes and their compute-matched
arms whose verdict ends the terminal output; a warm re-run only rebuilds the report."""

import csv
import html
import json
import time

import pytest
from typer.testing import CliRunner

from harness.cli import app

pytestmark = pytest.mark.usefixtures("data_dir")


def test_dry_run_prints_plan_for_the_paper_config():
    result = CliRunner().invoke(app, ["compare", "int", "rl-baseline", "--config", "configs/paper.yaml", "--dry-run"])
    assert result.exit_code == 0, result.output
    for text in ("Qwen/Qwen3-4B-Instruct-2507", "imo-answerbench@v1", "gpt-oss-20b", "rl config valid", "overlap"):
        assert text in result.output


TINY_YAML = """\
base_model: world:test
train: {task: world@hard, split: train, per_category: 4, limit: 12}
eval: {tasks: [world], split: test, per_category: 2, limit: 8, samples: 2, sampling: {max_tokens: 96}}
sft: {num_epochs: 1}
rl: {max_steps: 2}
int_overrides: {continue.n: 2}
isolation: process
"""


@pytest.mark.slow
def test_compare_int_vs_rl_on_the_world(tmp_path, monkeypatch, capsys):
    """`harness compare int rl-baseline --seeds 2 --match-compute` through the console entry point: the
    report's files, and the terminal's last lines are the verdict of every view -- equal RL steps and
    equal generated tokens in both directions -- as report.json states it, then the report's path."""
    from cli_support import run_main
    from reports_support import check_verdict_output

    out = tmp_path / "cmp"
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    argv = ["compare", "int", "rl-baseline", "--config", tmp_path / "tiny.yaml", "--seeds", "2", "--match-compute", "--out", out,
            "--no-progress"]  # fmt: skip
    code, output = run_main(argv, monkeypatch, capsys)
    assert code == 0, output
    report = out / "report"
    for name in ("leaderboard.csv", "report.md", "index.html", "samples.parquet", "report.json"):
        assert (report / name).is_file(), name
    verdict = check_verdict_output(output, report)
    views = json.loads((report / "report.json").read_text())["verdict"]["views"]
    assert [v["label"].split(":")[0] for v in views] == ["equal RL steps", "equal generated tokens", "equal generated tokens"]
    assert {v["baseline"] for v in views} == {"rl-baseline", "rl-baseline@int-compute"} and views[2]["candidate"] == "int@rl-baseline-compute"
    assert all(v["n_seeds"] == 2 and v["p_method"] == "exact sign-flip test over seeds" for v in views)
    page = (report / "index.html").read_text()
    assert all(v["text"] in html.unescape(page) for v in views)
    print("\n".join(verdict))  # shown with -s: the verdict of a real run
    rows = list(csv.DictReader(open(report / "leaderboard.csv")))
    measured = {r["model"] for r in rows if r["kind"] == "measured"}
    assert {"int", "rl-baseline", "base", "rl-baseline@int-compute", "int@rl-baseline-compute"} <= measured
    assert not any(r["kind"] == "reported" for r in rows) and (report / "reported.csv").is_file()  # the paper's numbers apart
    assert (report / "paired.csv").is_file()
    assert any(f.suffix == ".pdf" for f in (report / "figures").iterdir())
    compare = json.loads((out / "compare.json").read_text())
    int_stages = json.loads((out / "arms" / "int" / "seed-0" / "stages.json").read_text())
    assert [s["stage"] for s in int_stages] == ["int", "sft", "rl", "eval"]
    assert all(s["wall_time"] >= 0 for s in int_stages)
    assert int_stages[0]["tokens_generated"] > 0 and int_stages[0]["tokens_generated_diagnostic"] > 0
    assert (out / "arms" / "int" / "seed-0" / "rl" / "train_log.jsonl").is_file()
    assert (out / "arms" / "int" / "seed-0" / "int" / "rollout" / "attempts.jsonl").is_file()

    t0 = time.perf_counter()
    code, again = run_main(argv, monkeypatch, capsys)
    assert code == 0 and time.perf_counter() - t0 < 120  # only the report is rebuilt (generous bound for a loaded CI box)
    assert check_verdict_output(again, report) == verdict
    assert json.loads((out / "compare.json").read_text())["protocol_hash"] == compare["protocol_hash"]
    steps = sorted(p.parent.name for p in (out / "cache").glob("*/step.json"))
    # per seed: int, sft and rl of int (int@rl-baseline-compute reuses int and sft), rl of the three other
    # arms, an evaluation of each of the four arms; plus one evaluation of the base model
    assert len(steps) == len(set(steps)) == 2 * (3 + 3 + 4) + 1
