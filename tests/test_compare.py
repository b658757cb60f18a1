"""`harness compare` end to end on the embedded world (test preset): real InT stages, real TRL SFT and
GRPO steps in their own processes, real evaluation, a report with both recipes; a warm re-run only
rebuilds the report."""

import csv
import json
import time

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.compare.config import CompareConfig
from harness.compare.run import run_compare

pytestmark = pytest.mark.usefixtures("data_dir")


def test_dry_run_prints_plan_for_the_paper_config():
    result = CliRunner().invoke(app, ["compare", "int", "rl-baseline", "--config", "configs/paper.yaml", "--dry-run"])
    assert result.exit_code == 0, result.output
    for text in ("Qwen/Qwen3-4B-Instruct-2507", "imo-answerbench@v1", "gpt-oss-20b", "rl config valid", "overlap"):
        assert text in result.output


def tiny_config(out, **kw) -> CompareConfig:
    return CompareConfig(
        out=str(out),
        base_model="world:test",
        train={"task": "world@hard", "split": "train", "per_category": 4, "limit": 12},
        eval={"tasks": ["world"], "split": "test", "per_category": 2, "limit": 8, "samples": 2, "sampling": {"max_tokens": 96}},
        sft={"num_epochs": 1},
        rl={"max_steps": 2},
        int_overrides={"continue.n": 2},
        isolation="process",  # every step in its own process, as on a GPU
        **kw,
    )


@pytest.mark.slow
def test_compare_int_vs_rl_on_the_world(tmp_path):
    out = tmp_path / "cmp"
    summary = run_compare(["int", "rl-baseline"], tiny_config(out), show_progress=False)
    report = out / "report"
    for name in ("leaderboard.csv", "report.md", "index.html", "samples.parquet"):
        assert (report / name).is_file(), name
    rows = list(csv.DictReader(open(report / "leaderboard.csv")))
    measured = {r["model"] for r in rows if r["kind"] == "measured"}
    assert {"int", "rl-baseline", "base"} <= measured  # the base model is a row, not an arm
    assert any(r["kind"] == "reported" for r in rows)  # the paper's numbers, labelled
    assert (report / "paired.csv").is_file()
    assert any(f.suffix == ".pdf" for f in (report / "figures").iterdir())
    compare = json.loads((out / "compare.json").read_text())
    assert compare["protocol_hash"] == summary["protocol_hash"]
    int_stages = json.loads((out / "arms" / "int" / "seed-0" / "stages.json").read_text())
    assert [s["stage"] for s in int_stages] == ["int", "sft", "rl", "eval"]
    assert all(s["wall_time"] >= 0 for s in int_stages)
    assert int_stages[0]["tokens_generated"] > 0 and int_stages[0]["tokens_generated_diagnostic"] > 0
    assert (out / "arms" / "int" / "seed-0" / "rl" / "train_log.jsonl").is_file()
    assert (out / "arms" / "int" / "seed-0" / "int" / "rollout" / "attempts.jsonl").is_file()

    t0 = time.perf_counter()
    again = run_compare(["int", "rl-baseline"], tiny_config(out), show_progress=False)
    assert time.perf_counter() - t0 < 120  # only the report is rebuilt (generous bound for a loaded CI box)
    assert again["protocol_hash"] == summary["protocol_hash"]
    steps = sorted(p.parent.name for p in (out / "cache").glob("*/step.json"))
    assert len(steps) == len(set(steps)) == 7  # int, sft, rl (int arm) + rl (baseline) + three evals (base too)
