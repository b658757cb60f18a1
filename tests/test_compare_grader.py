"""One grader per comparison: `harness compare --grader llm-judge --judge-model M` grades evaluation, InT's
rollouts and the continuations its correctness filter reads, and the RL reward with that judge -- the
judge here is a backend plugin (tests/plugins/toy_backend.py) that logs which part of the harness asked."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from plugin_support import PLUGINS, install_dist

from harness.compare.config import CompareConfig
from harness.compare.plan import make_plan
from harness.recipes import Recipe, load_recipe

pytestmark = pytest.mark.usefixtures("data_dir")

JUDGE = {"backend": "rule-judge", "model": "judge-7b", "options": {}}


@pytest.fixture
def rule_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = install_dist(tmp_path / "site", "harness_toy_backend", {"harness.backends": {"rule-judge": "toy_backend:RuleJudge"}})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGINS))
    log = tmp_path / "judge.jsonl"
    monkeypatch.setenv("RULE_JUDGE_LOG", str(log))
    return log


def test_the_comparisons_grader_reaches_every_step_and_its_key():
    """The plan gives the int step and every rl step the comparison's grader; a default comparison keys them
    as before (math-verify, no judge), a judged one keys them apart."""
    plain = CompareConfig(include_base=False)
    judged = plain.model_copy(update={"eval": plain.eval.model_copy(update={"grader": "llm-judge", "judge": JUDGE})})
    (a,) = make_plan([load_recipe("int")], plain, "k").arms
    (b,) = make_plan([load_recipe("int")], judged, "k").arms
    int_a, _, rl_a = a.steps
    int_b, sft_b, rl_b = b.steps
    assert int_a.settings["int_config"]["grader"] == "math-verify" and "judge" not in int_a.settings["int_config"]
    assert (int_b.settings["int_config"]["grader"], int_b.settings["int_config"]["judge"]) == ("llm-judge", JUDGE)
    assert (rl_a.settings["config"]["reward"], rl_a.settings["config"]["reward_judge"]) == ("math-verify", None)
    assert (rl_b.settings["config"]["reward"], rl_b.settings["config"]["reward_judge"]) == ("llm-judge", JUDGE)
    assert int_a.key != int_b.key and rl_a.key != rl_b.key


@pytest.mark.parametrize("change", [{"rl": {"reward": "llm-judge"}}, {"int_overrides": {"grader": "llm-judge"}},
                                    {"steps": {"rl": {"reward_judge": JUDGE}}}])
def test_a_second_grader_in_one_comparison_is_refused(change):
    with pytest.raises(ValueError, match="one grader; set eval.grader"):
        make_plan([load_recipe("int")], CompareConfig(**change), "k")
    with pytest.raises(ValueError, match="one grader; set eval.grader"):
        make_plan([Recipe(name="judged", steps=[{"rl": {"reward": "llm-judge"}}])], CompareConfig(), "k")


TINY_YAML = """\
base_model: world:test
train: {task: world@hard, split: train, per_category: 4, limit: 12}
eval: {tasks: [world], split: test, per_category: 2, limit: 8, samples: 2, sampling: {max_tokens: 96}}
sft: {num_epochs: 1}
rl: {max_steps: 2}
int_overrides: {continue.n: 2}
isolation: process
reported: false
"""


@pytest.mark.slow
def test_compare_with_a_judge_grades_evaluation_int_filter_and_rl_reward(rule_judge, tmp_path, monkeypatch, capsys):
    from cli_support import run_main

    out = tmp_path / "cmp"
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    code, output = run_main(["compare", "int", "rl-baseline", "--config", tmp_path / "tiny.yaml", "--out", out, "--no-progress",
                             "--grader", "llm-judge", "--judge-model", "judge-7b", "--judge-backend", "rule-judge"],
                            monkeypatch, capsys)  # fmt: skip
    assert code == 0, output
    calls = [json.loads(line) for line in rule_judge.read_text().splitlines()]
    by_caller = Counter(c["caller"] for c in calls)
    # all three consumers reached the judge -- each from its own step process -- and nothing else graded
    assert by_caller["harness.evaluate"] > 0, by_caller
    assert by_caller["harness.intervention.continuation"] > 0, by_caller  # what InT's correctness filter reads
    assert by_caller["trainers.reward"] > 0, by_caller  # the RL reward of both arms
    assert by_caller["harness.intervention.rollout"] > 0 and "unknown" not in by_caller, by_caller
    assert len({c["pid"] for c in calls}) > 1

    judge_id = "rule-judge:judge-7b"
    evals = list((out / "cache").glob("eval-*/world@default/samples.jsonl"))
    assert len(evals) == 3  # base, int, rl-baseline
    for path in [*evals, *(out / "cache").glob("int-*/continue-self/samples.jsonl"), *(out / "cache").glob("int-*/rollout/samples.jsonl")]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert records and all(r["grader"].startswith("llm-judge==") and judge_id in r["grader"] for r in records), path
        assert all(r["reason"].startswith("judge: ") for r in records)
    # the correctness filter kept exactly the interventions with a continuation the judge called correct
    (cont_dir,) = (out / "cache").glob("int-*/continue-self")
    conts = [json.loads(line) for line in (cont_dir / "samples.jsonl").read_text().splitlines()]
    judged_ok = {r["problem_id"].split(":", 1)[1] for r in conts if r["problem_id"].startswith("intervention:") and r["correct"]}
    rows = [json.loads(line) for line in (cont_dir.parent / "build-sft-self" / "sft.jsonl").read_text().splitlines()]
    assert judged_ok and {r["id"].split(":", 1)[1] for r in rows} == judged_ok
    rl_steps = [json.loads((p.parent / "settings.json").read_text())["settings"]["config"] for p in (out / "cache").glob("rl-*/step.json")]
    assert len(rl_steps) == 2 and all(c["reward"] == "llm-judge" and c["reward_judge"]["model"] == "judge-7b" for c in rl_steps)
    compare = json.loads((out / "compare.json").read_text())
    assert compare["protocol"]["grader"] == "llm-judge" and compare["protocol"]["judge"]["model"] == "judge-7b"
    report = (out / "report" / "report.md").read_text()
    assert "Grader: `llm-judge (judge judge-7b via rule-judge)` (evaluation, InT's filters and" in report
