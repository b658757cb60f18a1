"""Step kinds are registered units: a plugin's kind runs inside `harness compare`; every setting a step
reads is in its cache key; unknown options fail before anything runs; steps run in their own process and
a step that dies leaves a resumable folder, never a half-marked one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from plugin_support import PLUGINS, install_dist

from harness.compare.config import CompareConfig
from harness.compare.plan import make_plan
from harness.compare.run import Runner, run_compare
from harness.compare.steps import get_step_kind, step_kind_names
from harness.compare.worker import StepFailed
from harness.recipes import Recipe, load_recipe

pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture
def toy_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_dist(tmp_path / "site", "harness_toy_steps", {"harness.steps": {
        "noise": "toy_step:NoiseStep", "probe": "toy_step:ProbeStep", "sample": "toy_step:SampleStep"}})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGINS))


def test_builtin_kinds_are_entry_points_with_documented_options():
    assert {"int", "sft", "rl"} <= set(step_kind_names())
    for name in ("int", "sft", "rl"):
        kind = get_step_kind(name)
        assert kind.description
        for field_name, f in kind.Options.model_fields.items():
            assert f.description, f"{name}.{field_name} has no description"


def test_plugin_kind_is_found_and_its_options_are_typed(toy_steps):
    assert {"noise", "probe"} <= set(step_kind_names())
    r = Recipe(name="noisy", steps=[{"noise": {"scale": 0.05}}])
    assert r.steps[0].options == {"scale": 0.05}
    with pytest.raises(ValueError, match="Valid options: scale"):
        Recipe(name="noisy", steps=[{"noise": {"scael": 0.05}}])


def _keys(cfg: CompareConfig, recipe: str = "int") -> list[str]:
    return [s.key for s in make_plan([load_recipe(recipe)], cfg.model_copy(update={"include_base": False}), "k0").arms[0].steps]


BASE = CompareConfig()


@pytest.mark.parametrize("recipe, index, change", [
    # int: every field of the InT config it runs with, the training problems, the backend, the seed
    ("int", 0, {"int_overrides": {"continue.n": 4}}),
    ("int", 0, {"int_preset": "paper"}),
    ("int", 0, {"steps": {"int": {"proposer": "oracle"}}}),
    ("int", 0, {"train": {"task": "world@hard", "split": "test", "per_category": 16}}),
    ("int", 0, {"train": {"task": "world@hard", "split": "train", "per_category": 8}}),
    ("int", 0, {"data_dir": "/elsewhere"}),
    ("int", 0, {"backend_options": {"batch_size": 8}}),
    ("int", 0, {"seeds": 2}),  # seed 1's arm differs from seed 0's (checked below on arm 1)
    # sft: trainer, preset, overrides
    ("int", 1, {"sft": {"num_epochs": 3}}),
    ("int", 1, {"steps": {"sft": {"learning_rate": 3e-4}}}),
    ("int", 1, {"trainer_preset": "paper"}),
    ("int", 1, {"trainer": "openrlhf"}),
    # rl: overrides, problems, preset
    ("rl-baseline", 0, {"rl": {"learning_rate": 3e-4}}),
    ("rl-baseline", 0, {"train": {"task": "world@hard", "split": "train", "per_category": 8}}),
    ("rl-baseline", 0, {"train": {"task": "world@hard", "split": "train", "per_category": 16}, "data_dir": "/x"}),
    ("rl-baseline", 0, {"trainer_preset": "paper", "rl": {"prompts_per_step": 8, "mini_batch_prompts": 8}}),
])
def test_changing_any_setting_a_step_reads_changes_its_key(recipe, index, change):
    before = _keys(BASE, recipe)
    cfg = CompareConfig(**change)  # BASE is every default: the change on top of them
    if "seeds" in change:
        plan = make_plan([load_recipe(recipe)], cfg.model_copy(update={"include_base": False}), "k0")
        after = [s.key for s in plan.arms[1].steps]
    else:
        after = _keys(cfg, recipe)
    assert after[index] != before[index]
    assert after[:index] == before[:index]  # earlier steps are unaffected (shared work stays shared)


def test_step_options_change_the_key():
    (a,) = make_plan([Recipe(name="a", steps=[{"rl": {"max_steps": 3}}])], BASE.model_copy(update={"include_base": False}), "k").arms
    (b,) = make_plan([Recipe(name="b", steps=[{"rl": {"max_steps": 4}}])], BASE.model_copy(update={"include_base": False}), "k").arms
    (c,) = make_plan([Recipe(name="c", steps=[{"rl": {"max_steps": 3, "hint_fraction": 0.5}}])], BASE.model_copy(update={"include_base": False}), "k").arms
    assert len({a.steps[0].key, b.steps[0].key, c.steps[0].key}) == 3


def test_auto_isolation_is_inline_on_a_cpu_and_process_with_a_gpu(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert not Runner(CompareConfig(base_model=str(tmp_path)), tmp_path / "a", show_progress=False).isolated
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert Runner(CompareConfig(base_model=str(tmp_path)), tmp_path / "b", show_progress=False).isolated
    assert Runner(CompareConfig(base_model=str(tmp_path), isolation="inline"), tmp_path / "c", show_progress=False).isolated is False


def test_steps_run_in_their_own_process_with_the_parents_environment(toy_steps, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data-dir-seen-by-the-child"))
    runner = Runner(CompareConfig(base_model=str(tmp_path), isolation="process"), tmp_path / "cmp", show_progress=False)
    rec = runner.run_step("probe", "k1", {"crash": False}, str(tmp_path), {}, label="t")
    summary = rec["output"]["summary"]
    assert summary["pid"] != os.getpid()
    assert summary["data_dir"] == str(tmp_path / "data-dir-seen-by-the-child")
    assert (tmp_path / "cmp" / "cache" / "probe-k1" / "step.json").is_file()


def test_a_step_that_dies_leaves_a_resumable_folder_and_a_clear_error(toy_steps, tmp_path):
    runner = Runner(CompareConfig(base_model=str(tmp_path), isolation="process"), tmp_path / "cmp", show_progress=False)
    with pytest.raises(StepFailed, match="died .exit code 9"):
        runner.run_step("probe", "k2", {"crash": True}, str(tmp_path), {}, label="crashing step")
    folder = tmp_path / "cmp" / "cache" / "probe-k2"
    assert (folder / "partial.txt").is_file() and not (folder / "step.json").exists()


@pytest.mark.slow
def test_a_plugin_step_kind_runs_inside_compare(toy_steps, tmp_path):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "noisy.yaml").write_text("name: noisy\ndescription: the base model with noisy weights\nsteps:\n  - noise: {scale: 0.5}\n")
    cfg = CompareConfig(
        out=str(tmp_path / "cmp"), base_model="world:test", recipes_dirs=[str(recipes)], reported=False,
        train={"task": "world@hard", "split": "train", "per_category": 2},
        eval={"tasks": ["world"], "split": "test", "per_category": 2, "limit": 4, "samples": 2, "sampling": {"max_tokens": 48}},
        isolation="process",
    )
    summary = run_compare(["noisy"], cfg, show_progress=False)
    compare = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    arms = {a["recipe"]: a for a in compare["arms"]}
    assert {"noisy", "base"} <= set(arms)
    assert arms["noisy"]["model"] != arms["base"]["model"] and Path(arms["noisy"]["model"]).name == "checkpoint"
    stages = json.loads((tmp_path / "cmp" / "arms" / "noisy" / "seed-0" / "stages.json").read_text())
    assert [s["stage"] for s in stages] == ["noise", "eval"]
    assert Path(summary["report_dir"], "leaderboard.csv").is_file()


def test_dashboard_settings_stay_out_of_the_key_but_reach_the_trainer():
    """Turning on TensorBoard (or naming a log folder) must not retrain cached arms: report_to, run_name and
    backend_args.logging_dir are left out of the sft/rl keys, yet the step still gets them; keys made before
    the exclusion (report_to none, no run_name) are unchanged, so existing caches stay valid."""
    from harness.compare.plan import step_key

    watched = CompareConfig(rl={"report_to": "tensorboard", "backend_args": {"logging_dir": "/tmp/tb"}},
                            sft={"report_to": "tensorboard"}, include_base=False)  # fmt: skip
    assert _keys(watched, "int") == _keys(BASE, "int")
    assert _keys(CompareConfig(rl={"report_to": "tensorboard", "learning_rate": 3e-4}), "int")[2] != _keys(BASE, "int")[2]
    plan = make_plan([load_recipe("int")], watched, "k0")
    _, sft, rl = plan.arms[0].steps
    assert rl.settings["config"]["report_to"] == "tensorboard" and rl.settings["config"]["backend_args"] == {"logging_dir": "/tmp/tb"}
    assert (sft.settings["config"]["run_name"], rl.settings["config"]["run_name"]) == ("int/seed-0/2-sft", "int/seed-0/3-rl")
    old = {**rl.settings, "config": {k: v for k, v in rl.settings["config"].items() if k not in ("run_name", "reward_judge")}
           | {"report_to": "none", "backend_args": {}}}  # as keyed before run_name and reward_judge existed
    assert step_key(sft.key, "rl", old) == rl.key


TOY = dict(base_model="world:test", include_base=False, reported=False, match_compute=True,
           train={"task": "world@hard", "split": "train", "per_category": 2},
           eval={"tasks": ["world"], "split": "test", "per_category": 2, "limit": 4, "samples": 2, "sampling": {"max_tokens": 48}},
           rl={"max_steps": 1, "prompts_per_step": 8, "mini_batch_prompts": 8, "group_size": 2, "max_new_tokens": 24})


def test_plugin_kinds_estimate_themselves_and_a_budgetable_one_is_compute_matched(toy_steps):
    """The contract has no privileged kinds: the toy ``sample`` kind gets a preflight estimate and, like
    ``rl``, a compute-matched twin (``sampler@rl-baseline-compute``, budgeted by rl-baseline's tokens); the
    first recipe stops its last budgetable step at the sampler's tokens. ``noise`` cannot be budgeted."""
    from harness.compare.plan import derived_recipes
    from harness.compare.preflight import estimate

    cfg = CompareConfig(**TOY, steps={"sample": {"max_tokens": 40}})
    sampler = Recipe(name="sampler", description="samples the policy", steps=[{"sample": {"rounds": 1}}])
    recipes = [load_recipe("rl-baseline"), sampler]
    plan = make_plan(recipes, cfg, "k0")
    arms = {a.name: a for a in plan.arms}
    assert set(arms) == {"rl-baseline", "sampler", "sampler@rl-baseline-compute", "rl-baseline@sampler-compute"}
    twin = arms["sampler@rl-baseline-compute"]
    assert twin.depends_on == ("rl-baseline",) and twin.steps[0].key is None  # resolved once rl-baseline ran
    assert (twin.steps[0].options.match_compute_of, twin.steps[0].options.rounds) == ("rl-baseline", 1)
    assert arms["rl-baseline@sampler-compute"].steps[0].options.match_compute_of == "sampler"
    # per-kind defaults from the comparison, parsed by the kind's own options; the recipe's win
    assert arms["sampler"].steps[0].settings["max_tokens"] == 40 and arms["sampler"].steps[0].settings["rounds"] == 1
    pre = estimate(plan, cfg, n_train=8, n_eval={"world": 4})
    rows = {(s.arm, s.stage): s for s in pre.stages}
    assert rows[("sampler", "sample")].generations == 8 and rows[("sampler", "sample")].tokens_generated > 0
    assert "compute-matched" in rows[("sampler@rl-baseline-compute", "sample")].notes[0]
    assert not any("declares no estimate" in n for s in pre.stages for n in s.notes)
    noisy = Recipe(name="noisy", steps=[{"noise": {"scale": 0.1}}])
    noise_plan = make_plan([noisy], cfg.model_copy(update={"match_compute": False}), "k")
    (noise_row,) = [s for s in estimate(noise_plan, cfg, 8, {"world": 4}).stages if s.stage == "noise"]
    assert "no generation" in noise_row.notes[0]
    with pytest.raises(ValueError, match=r"recipe 'noisy' has no step that can extend or stop .*budgetable kinds: rl, sample"):
        derived_recipes([noisy, load_recipe("rl-baseline")], cfg)
    with pytest.raises(ValueError, match="step 'sample': rounds"):
        make_plan([sampler], CompareConfig(**TOY, steps={"sample": {"rounds": 0}}), "k")


def test_flops_matching_goes_through_the_contract(toy_steps):
    """``match_flops`` adds ``<second>@<first>-flops``: its last FLOPs-budgetable step (``rl``) gets the FLOPs
    target and the rate arm (its own equal-steps arm), the arm waits for both, and the budget is the target's
    FLOPs left after the earlier steps, at the rate arm's measured FLOPs per generated token. A kind that can
    be budgeted by tokens but not by FLOPs (the toy ``sample``) is refused by name."""
    from harness.compare.plan import derived_recipes
    from harness.compare.steps import ResolveContext

    cfg = CompareConfig(**TOY, match_flops=True)
    plan = make_plan([load_recipe("int"), load_recipe("rl-baseline")], cfg, "k0")
    arms = {a.name: a for a in plan.arms}
    assert set(arms) == {"int", "rl-baseline", "rl-baseline@int-compute", "int@rl-baseline-compute", "rl-baseline@int-flops"}
    twin = arms["rl-baseline@int-flops"]
    step = twin.steps[-1]
    assert (step.options.match_flops_of, step.options.flops_rate_of, step.options.match_compute_of) == ("int", "rl-baseline", None)
    assert twin.depends_on == ("int", "rl-baseline") and step.key is None and twin.matched_to == "int"
    rl = get_step_kind("rl")
    computes = {"int": [{"tokens_generated": 900, "flops_generated": 6e6, "flops_trained": 0.0},
                        {"tokens_generated": 0, "flops_generated": 0.0, "flops_trained": 3e6},
                        {"tokens_generated": 500, "flops_generated": 2e6, "flops_trained": 1e6}],
                "rl-baseline": [{"tokens_generated": 1000, "flops_generated": 1e6, "flops_trained": 1e6}]}
    ctx = ResolveContext(config=cfg, seed=0, recipe=twin.name, index=0, earlier=(),
                         arm_compute=lambda name, seed: computes.get(name), spent_flops=2e6)
    settings = rl.resolve(step.options, ctx)
    assert settings["config"]["max_generated_tokens"] == (12e6 - 2e6) / 2e3 and settings["match_flops_of"] == "int"
    assert settings["config"]["max_steps"] == 10 * 1  # BUDGET_STEP_CAP x the comparison's steps.rl max_steps
    sampler = Recipe(name="sampler", steps=[{"sample": {"rounds": 1}}])
    with pytest.raises(ValueError, match=r"match_flops: recipe 'sampler' has no step that can extend or stop on a FLOPs budget"):
        derived_recipes([load_recipe("rl-baseline"), sampler], cfg)


def test_generic_compare_code_names_no_built_in_kind():
    """plan.py, preflight.py and run.py reach step kinds only through the contract (`StepKind`)."""
    import re

    root = Path(__file__).resolve().parents[1] / "harness" / "compare"
    for name in ("plan.py", "preflight.py", "run.py"):
        found = re.findall(r"""["'](int|sft|rl|reflect)["']""", (root / name).read_text())
        assert not found, (name, found)


@pytest.mark.slow
def test_a_budgetable_plugin_kind_runs_compute_matched(toy_steps, tmp_path):
    """`--match-compute` with the toy kind, for real: the sampler's twin samples until its tokens reach
    rl-baseline's (the round that reaches them is the last), RL-only stops at the sampler's tokens."""
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "sampler.yaml").write_text("name: sampler\nsteps:\n  - sample: {rounds: 1, max_tokens: 8}\n")
    cfg = CompareConfig(**TOY, out=str(tmp_path / "cmp"), recipes_dirs=[str(recipes)], isolation="process")
    run_compare(["rl-baseline", "sampler"], cfg, show_progress=False)

    def stages(arm):
        return json.loads((tmp_path / "cmp" / "arms" / arm / "seed-0" / "stages.json").read_text())

    rl_tokens = stages("rl-baseline")[0]["tokens_generated"]
    one_round = stages("sampler")[0]["tokens_generated"]
    twin = json.loads((tmp_path / "cmp" / "arms" / "sampler@rl-baseline-compute" / "seed-0" / "sample" / "step.json").read_text())
    summary = twin["output"]["summary"]
    assert summary["budget"] == rl_tokens and summary["rounds"] > 1
    assert rl_tokens <= twin["output"]["compute"]["tokens_generated"] < rl_tokens + 2 * one_round
    rl_twin = json.loads((tmp_path / "cmp" / "arms" / "rl-baseline@sampler-compute" / "seed-0" / "rl" / "step.json").read_text())
    assert rl_twin["output"]["summary"]["config"]["max_generated_tokens"] == one_round
