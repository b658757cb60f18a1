"""The worked examples of docs/adding-a-grader.md, docs/adding-a-backend.md and docs/adding-a-figure.md, each
installed the way pip would (a dist-info with entry points) and used through the real commands: a grader
that grades `harness eval`, the InT stages and the RL reward; a backend serving as a judge model; a figure
drawn into the report with the built-in ones."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from plugin_support import PLUGINS, install_dist
from typer.testing import CliRunner

from harness.cli import app

pytestmark = pytest.mark.usefixtures("data_dir")


def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, groups: dict[str, dict[str, str]]) -> None:
    monkeypatch.syspath_prepend(str(install_dist(tmp_path / "site", name, groups)))
    monkeypatch.syspath_prepend(str(PLUGINS))


EVAL = ["eval", "--task", "aime24", "--samples", "2", "--limit", "3", "--max-tokens", "8", "--no-progress"]


# -- a grader (docs/adding-a-grader.md) --------------------------------------------------------------------
@pytest.fixture
def last_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "harness_toy_grader", {"harness.graders": {"last-number": "toy_grader:LastNumberGrader"}})


def test_a_plugin_grader_grades_eval_int_and_the_rl_reward(last_number, tiny_model_dir, tmp_path):
    from harness.grading import available_graders, open_grader
    from harness.intervention.config import preset
    from harness.intervention.stages import open_grader as int_grader
    from trainers.reward import grade_responses

    assert "last-number" in available_graders()
    res = CliRunner().invoke(app, [*EVAL, "--model", str(tiny_model_dir), "--grader", "last-number", "--out", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (tmp_path / "ev" / "aime24@default" / "samples.jsonl").read_text().splitlines()]
    assert records and all(r["grader"] == "last-number==1" for r in records)
    assert json.loads((tmp_path / "ev" / "results.json").read_text())["protocol"]["grader"] == "last-number==1"
    # the RL reward and the InT stages open the same grader by name
    verdicts = grade_responses(["so the answer is 12.", "\\boxed{3} then 4"], ["12", "3"], grader="last-number")
    assert [v.correct for v in verdicts] == [True, False] and verdicts[0].grader == "last-number==1"
    icfg = preset("paper", str(tmp_path / "int"), {"policy.model": str(tiny_model_dir), "rollout.problems.task": "aime24",
                                                   "grader": "last-number"})
    assert type(int_grader(icfg)).__name__ == "LastNumberGrader"
    with pytest.raises(ValueError, match="takes no judge model"):
        open_grader("last-number", judge={"model": "m"})


def test_an_unknown_grader_lists_the_plugin_one(last_number, tiny_model_dir, tmp_path):
    res = CliRunner().invoke(app, [*EVAL, "--model", str(tiny_model_dir), "--grader", "last-numbr", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "did you mean last-number" in str(res.exception)
    assert not (tmp_path / "x").exists()


# -- a backend (docs/adding-a-backend.md) ------------------------------------------------------------------
@pytest.fixture
def rule_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _install(tmp_path, monkeypatch, "harness_toy_backend", {"harness.backends": {"rule-judge": "toy_backend:RuleJudge"}})
    log = tmp_path / "judge.jsonl"
    monkeypatch.setenv("RULE_JUDGE_LOG", str(log))
    return log


def test_a_plugin_backend_serves_as_the_judge_model(rule_judge, tiny_model_dir, tmp_path):
    from harness.backends import available_backends, get_backend
    from harness.grading import get_grader

    assert available_backends()["rule-judge"] == "toy_backend:RuleJudge"
    judge = get_grader("llm-judge", backend=get_backend("rule-judge", "judge-7b"))
    right, wrong = judge.grade_many([("so \\boxed{5}", "5", "2+3?"), ("so \\boxed{6}", "5", "2+3?")])
    assert (right.correct, wrong.correct, right.reason) == (True, False, "judge: Correct")
    assert "rule-judge:judge-7b" in right.grader
    res = CliRunner().invoke(app, [*EVAL, "--model", str(tiny_model_dir), "--out", str(tmp_path / "ev"), "--grader", "llm-judge",
                                   "--judge-backend", "rule-judge", "--judge-model", "judge-7b"])
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (tmp_path / "ev" / "aime24@default" / "samples.jsonl").read_text().splitlines()]
    assert all(r["reason"] in ("judge: Correct", "judge: Incorrect") for r in records)
    callers = Counter(json.loads(x)["caller"] for x in rule_judge.read_text().splitlines())
    # the two direct requests above come from this test; every other one from the evaluation, once per distinct item
    assert callers == {"unknown": 2, "harness.evaluate": len({(r["text"], r["problem_id"]) for r in records})}


# -- a report figure (docs/adding-a-figure.md) -------------------------------------------------------------
@pytest.fixture
def train_tokens_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from reports.figures import FIGURES

    _install(tmp_path, monkeypatch, "harness_toy_figure", {"harness.figures": {"toy": "toy_figure"}})
    yield
    FIGURES.unregister("train_tokens")  # nothing leaks into the other tests' figure list
    FIGURES._loaded_eps.discard("toy_figure")
    sys.modules.pop("toy_figure", None)


def test_a_plugin_figure_is_drawn_into_the_report(train_tokens_figure, tmp_path):
    from reports_support import make_compare

    from reports import build_report
    from reports.figures import FIGURES, plot

    root = make_compare(tmp_path / "cmp", seeds=(0, 1))
    assert "train_tokens" in FIGURES and FIGURES["train_tokens"][1].startswith("Required generated training tokens")
    pdf, png = plot(root, "train_tokens", out_dir=tmp_path / "one")["train_tokens"]
    assert pdf.suffix == ".pdf" and png.stat().st_size > 0
    report = build_report(root, n_boot=200)
    assert (report / "figures" / "train_tokens.png").is_file()
    assert "Required generated training tokens per arm" in (report / "index.html").read_text()
    res = CliRunner().invoke(app, ["plot", str(root), "--list"])
    assert res.exit_code == 0 and "train_tokens" in res.output, res.output
