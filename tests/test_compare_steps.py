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
        "noise": "toy_step:NoiseStep", "probe": "toy_step:ProbeStep"}})
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
    ("int", 0, {"train": {"task": "world@hard", "split": "test", "per_category": 16}}),
    ("int", 0, {"train": {"task": "world@hard", "split": "train", "per_category": 8}}),
    ("int", 0, {"data_dir": "/elsewhere"}),
    ("int", 0, {"backend_options": {"batch_size": 8}}),
    ("int", 0, {"seeds": 2}),  # seed 1's arm differs from seed 0's (checked below on arm 1)
    # sft: trainer, preset, overrides
    ("int", 1, {"sft": {"num_epochs": 3}}),
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
    cfg = BASE.model_copy(update={k: (type(getattr(BASE, k)).model_validate(v) if hasattr(getattr(BASE, k), "model_validate") else v)
                                  for k, v in change.items()})
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

    watched = BASE.model_copy(update={"rl": {"report_to": "tensorboard", "backend_args": {"logging_dir": "/tmp/tb"}},
                                      "sft": {"report_to": "tensorboard"}, "include_base": False})  # fmt: skip
    assert _keys(watched, "int") == _keys(BASE, "int")
    assert _keys(watched.model_copy(update={"rl": {"report_to": "tensorboard", "learning_rate": 3e-4}}), "int")[2] != _keys(BASE, "int")[2]
    plan = make_plan([load_recipe("int")], watched, "k0")
    _, sft, rl = plan.arms[0].steps
    assert rl.settings["config"]["report_to"] == "tensorboard" and rl.settings["config"]["backend_args"] == {"logging_dir": "/tmp/tb"}
    assert (sft.settings["config"]["run_name"], rl.settings["config"]["run_name"]) == ("int/seed-0/2-sft", "int/seed-0/3-rl")
    old = {**rl.settings, "config": {k: v for k, v in rl.settings["config"].items() if k not in ("run_name", "reward_judge")}
           | {"report_to": "none", "backend_args": {}}}  # as keyed before run_name and reward_judge existed
    assert step_key(sft.key, "rl", old) == rl.key
