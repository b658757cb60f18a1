"""Learning-rate tuning (`harness.compare.tune`): every recipe swept the same way on a validation split
disjoint from the test problems and from the training problems, the choice used by the reported arms."""

from __future__ import annotations

import json

import pytest

from harness.compare.config import CompareConfig
from harness.compare.tune import (
    TuneConfig,
    drop_overlap,
    tunable_steps,
    validation_settings,
    with_learning_rates,
)
from harness.recipes import load_recipe


def test_tunable_steps_and_explicit_learning_rates():
    int_recipe = load_recipe("int")
    assert [int_recipe.steps[i].kind for i in tunable_steps(int_recipe)] == ["sft", "rl"]  # the int step has none
    tuned = with_learning_rates(int_recipe, {1: 3e-5, 2: 1e-5})
    assert tuned.steps[1].options["learning_rate"] == 3e-5 and tuned.steps[2].options["learning_rate"] == 1e-5
    assert tuned.steps[1].options["data"] == "int" and tuned.steps[0] == int_recipe.steps[0]
    assert tunable_steps(load_recipe("base")) == []


def test_default_validation_is_the_train_split_minus_training_problems():
    cfg = CompareConfig(tune=TuneConfig())
    train_ids = {p.id for p in cfg.train_set().load()[1]}
    val = validation_settings(cfg, train_ids)
    (ps,) = val.problem_sets()
    _, problems = ps.load()
    ids = {p.id for p in problems}
    assert ps.resolved_split() == "train" and not ids & train_ids
    test_ids = {p.id for s in cfg.eval_settings().problem_sets() for p in s.load()[1]}
    assert not ids & test_ids  # the world's splits are disjoint by content hash
    levels = {p.metadata["difficulty"] for p in problems}
    assert levels == set(range(1, 9))  # the hard levels are still validated, on other problems
    # near duplicates of test problems (the short levels have few distinct statements) are dropped too
    clean, dropped = drop_overlap(val, cfg)
    from harness.decontam import check_overlap

    for test_set in cfg.eval_settings().problem_sets():
        report = check_overlap(test_set.model_copy(update={"per_category": None}), clean.problem_sets(), mode="exclude")
        kept = {p.id for p in clean.problem_sets()[0].load()[1]}
        assert not kept & {i for ids in report.exclude.values() for i in ids}
    assert dropped >= 0 and len(clean.problem_sets()[0].load()[1]) == len(problems)


@pytest.mark.slow
def test_sweep_picks_per_recipe_and_the_arms_use_it(tmp_path):
    from harness.compare.run import run_compare

    cfg = CompareConfig(
        out=str(tmp_path / "cmp"), base_model="world:test", isolation="inline", reported=False, include_base=False,
        train={"task": "world@hard", "split": "train", "per_category": 2, "limit": 8},
        eval={"tasks": ["world"], "split": "test", "per_category": 2, "limit": 6, "samples": 2, "sampling": {"max_tokens": 64}},
        rl={"max_steps": 1, "prompts_per_step": 4, "mini_batch_prompts": 4, "max_new_tokens": 48},
        tune={"learning_rates": [1e-5, 1e-3]},
    )
    summary = run_compare(["rl-baseline"], cfg, show_progress=False)
    tuning = json.loads((tmp_path / "cmp" / "tuning.json").read_text())
    rec = tuning["recipes"]["rl-baseline"]
    (step,) = rec["steps"]
    assert set(step["validation_avg"]) == {"1e-05", "0.001"} and step["chosen"] in (1e-5, 1e-3)
    assert rec["cost"]["runs"] == 2 and rec["cost"]["tokens_generated"] > 0 and rec["cost"]["eval_tokens"] > 0
    assert summary["recipe_steps"]["rl-baseline"][0]["options"]["learning_rate"] == step["chosen"]
    (arm,) = [a for a in summary["arms"] if a["recipe"] == "rl-baseline"]
    settings = json.loads(next((tmp_path / "cmp" / "cache").glob(f"rl-{arm['steps'][0]['key']}/settings.json")).read_text())
    assert settings["settings"]["config"]["learning_rate"] == step["chosen"]
    assert settings["settings"]["config"]["seed"] == 0  # the reported arm keeps its seed; the sweep ran seed 1000
    # resumed from its cache, the sweep reports what it cost when it ran (recorded wall times), not ~0 s
    assert rec["cost"]["wall_time"] > 0.5
    run_compare(["rl-baseline"], cfg, show_progress=False)
    again = json.loads((tmp_path / "cmp" / "tuning.json").read_text())["recipes"]["rl-baseline"]["cost"]
    assert again == rec["cost"]
