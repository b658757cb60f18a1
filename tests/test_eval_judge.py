"""`harness eval --grader llm-judge` grades with the judge: the configured grader is the one that runs, and
its id is what the records and the protocol say."""

import json

import pytest
from backend_support import AlwaysCorrectJudge
from typer.testing import CliRunner

from harness.cli import app

pytestmark = pytest.mark.usefixtures("data_dir")


def test_eval_with_the_llm_judge_uses_its_verdicts(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("harness.backends", fromlist=["_BUILTIN"])._BUILTIN, "fake-judge", "backend_support:AlwaysCorrectJudge")
    base = ["eval", "--model", str(tiny_model_dir), "--task", "aime24", "--samples", "2", "--limit", "3", "--max-tokens", "8", "--no-progress"]
    plain = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "mv")])
    assert plain.exit_code == 0, plain.output
    judged = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "judge"), "--grader", "llm-judge",
                                      "--judge-backend", "fake-judge", "--judge-model", "judge-7b"])
    assert judged.exit_code == 0, judged.output
    mv = [json.loads(x) for x in (tmp_path / "mv" / "aime24@default" / "samples.jsonl").read_text().splitlines()]
    jd = [json.loads(x) for x in (tmp_path / "judge" / "aime24@default" / "samples.jsonl").read_text().splitlines()]
    assert sum(r["correct"] for r in mv) == 0  # a random tiny model: math-verify finds nothing right
    assert all(r["correct"] and r["reason"] == "judge: Correct" for r in jd)  # the judge's verdicts, not math-verify's
    assert all(r["grader"].startswith("llm-judge==") and "always-correct-judge:judge-7b" in r["grader"] for r in jd)
    assert AlwaysCorrectJudge.asked == len({(r["text"], r["problem_id"]) for r in jd})  # memoised per distinct item
    results = json.loads((tmp_path / "judge" / "results.json").read_text())
    assert results["protocol"]["grader"].startswith("llm-judge==")
    assert results["tasks"]["aime24@default"]["metrics"]["avg@k"] == 1.0


def test_llm_judge_without_a_judge_model_is_one_clear_error(tiny_model_dir, tmp_path):
    res = CliRunner().invoke(app, ["eval", "--model", str(tiny_model_dir), "--task", "aime24", "--limit", "1",
                                   "--grader", "llm-judge", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "judge" in str(res.exception)
    assert not (tmp_path / "x").exists()
