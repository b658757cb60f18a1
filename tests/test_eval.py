"""End-to-end `harness eval` with a real tiny model on real benchmark files: run dir, resume, crash."""

import json

import pytest
from backend_support import KillAfter
from typer.testing import CliRunner

from harness.backends import get_backend
from harness.cli import app
from harness.evaluate import EvalConfig, run_eval
from harness.rundir import RecordLog

pytestmark = pytest.mark.usefixtures("data_dir")


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_cli_eval_writes_run_dir_and_resumes(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    args = [
        "eval", "--model", str(tiny_model_dir), "--task", "aime25", "--task", "imo-answerbench@v1",
        "--samples", "2", "--limit", "3", "--max-tokens", "12", "--out", str(out), "--no-progress",
    ]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    samples = _lines(out / "aime25@default" / "samples.jsonl")
    assert len(samples) == 6 and len(_lines(out / "imo-answerbench@v1" / "samples.jsonl")) == 6
    rec = samples[0]
    for field in ("task", "problem_id", "sample_index", "prompt_hash", "text", "extracted", "correct", "grader", "completion_tokens", "status"):
        assert field in rec
    results = json.loads((out / "results.json").read_text())
    assert results["run_stats"]["new_generations"] == 12
    assert set(results["tasks"]) == {"aime25@default", "imo-answerbench@v1"}
    m = results["tasks"]["aime25@default"]["metrics"]
    assert m["n_problems"] == 3 and m["samples_per_problem"] == 2 and "avg@k_ci95" in m
    assert results["versions"]["transformers"] and results["protocol_hash"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["protocol"]["sampling"]["temperature"] == 0.7

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "new generations: 0" in second.output
    assert json.loads((out / "results.json").read_text())["run_stats"]["new_generations"] == 0
    assert len(_lines(out / "aime25@default" / "samples.jsonl")) == 6


def test_changed_protocol_is_refused(tiny_model_dir, tmp_path):
    base = dict(model=str(tiny_model_dir), tasks=["aime24"], samples=1, limit=1, out=str(tmp_path / "r"), sampling={"max_tokens": 4})
    run_eval(EvalConfig(**base), show_progress=False)
    with pytest.raises(ValueError, match="protocol"):
        run_eval(EvalConfig(**{**base, "sampling": {"max_tokens": 4, "temperature": 1.0}}), show_progress=False)


def test_crash_mid_run_loses_only_the_inflight_batch(tiny_model_dir, tmp_path):
    cfg = EvalConfig(model=str(tiny_model_dir), tasks=["amc23"], samples=2, limit=6, batch_problems=2, out=str(tmp_path / "r"), sampling={"max_tokens": 6})
    inner = get_backend("hf", str(tiny_model_dir))
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg, backend=KillAfter(inner, calls=2), show_progress=False)
    log = RecordLog(tmp_path / "r" / "amc23@default" / "samples.jsonl", key=lambda r: (r["problem_id"], r["sample_index"]))
    assert len(log) == 8  # two finished batches of 2 problems x 2 samples
    res = run_eval(cfg, backend=inner, show_progress=False)
    assert res["run_stats"]["new_generations"] == 4 and res["run_stats"]["reused_samples"] == 8
    rows = list(RecordLog(log.path, key=log.key).read())
    keys = [(r["problem_id"], r["sample_index"]) for r in rows]
    assert len(keys) == len(set(keys)) == 12
