"""Recipes are data: built-ins load, user YAML adds or shadows one, bad recipes name their file; plans
share keys where arms share steps and validate every step's options before anything runs."""

import pytest

from harness.compare.config import CompareConfig
from harness.compare.plan import make_plan
from harness.recipes import list_recipes, load_recipe

pytestmark = pytest.mark.usefixtures("data_dir")


def test_builtin_recipes():
    recipes = list_recipes()
    assert {"base", "rl-baseline", "int", "sft-reference-rl", "hint-rl"} <= set(recipes)
    assert [s.kind for s in recipes["int"].steps] == ["int", "sft", "rl"]
    assert recipes["base"].steps == []


def test_user_recipe_without_code(tmp_path):
    (tmp_path / "hint.yaml").write_text("name: rl-long\ndescription: more RL\nsteps:\n  - rl: {max_steps: 8}\n")
    r = load_recipe("rl-long", [tmp_path])
    assert r.steps[0].kind == "rl" and r.steps[0].options == {"max_steps": 8}
    (tmp_path / "int.yaml").write_text("name: int\nsteps:\n  - rl: {}\n")  # shadows the built-in
    assert [s.kind for s in load_recipe("int", [tmp_path]).steps] == ["rl"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("name: x\nsteps:\n  - sft: {data: int}\n", "needs sft_data from an earlier step"),
        ("name: x\nsteps:\n  - sft: {data: web}\n", "Valid options: "),
        ("name: x\nsteps:\n  - distill: {}\n", "unknown step kind 'distill'"),
        ("name: x\nsteps:\n  - int: {continue.n: 8, anything: 1}\n", "Valid options: overrides, preset, proposer"),
        ("name: x\nsteps:\n  - rl: {warp_speed: 9}\n", "warp_speed"),
    ],
)
def test_bad_recipe_names_file(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(ValueError, match="bad.yaml") as err:
        list_recipes([tmp_path])
    assert message in str(err.value)


def test_the_recipe_docstring_example_is_valid():
    """The module docstring shows `rl: {hint_fraction: 0.5}`; it must load."""
    from harness.recipes import Recipe

    r = Recipe(name="hint-rl", steps=[{"rl": {"hint_fraction": 0.5}}])
    assert r.steps[0].options == {"hint_fraction": 0.5}


def test_unknown_recipe():
    with pytest.raises(LookupError, match="known: "):
        load_recipe("nope")


def test_plan_shares_keys_and_seeds_differ():
    cfg = CompareConfig(seeds=2, include_base=False)
    plan = make_plan([load_recipe("int"), load_recipe("rl-baseline"), load_recipe("base")], cfg, "base-key")
    arms = plan.arms
    assert [(a.name, a.seed) for a in arms][:2] == [("int", 0), ("int", 1)]
    int0, int1, rl0 = arms[0], arms[1], arms[2]
    assert int0.steps[0].key != int1.steps[0].key  # seeds are separate runs
    assert int0.steps[-1].key != rl0.steps[-1].key  # RL from a different start model
    again = make_plan([load_recipe("int")], cfg, "base-key").arms[0]
    assert [s.key for s in again.steps] == [s.key for s in int0.steps]  # deterministic keys = cache hits
    assert arms[-1].steps == [] and arms[-1].model_key == "base-key"


def test_base_row_is_added_once_and_shares_its_evaluation():
    plan = make_plan([load_recipe("int"), load_recipe("rl-baseline")], CompareConfig(seeds=2), "k0")
    base = [a for a in plan.arms if a.name == "base"]
    assert len(base) == 2 and {a.role for a in base} == {"base"} and {a.model_key for a in base} == {"k0"}


def test_validation_catches_bad_settings_before_work():
    recipes = [load_recipe("int"), load_recipe("rl-baseline")]
    plan = make_plan(recipes, CompareConfig(), "k")
    assert any("rl config valid" in line for line in plan.checks)
    with pytest.raises(LookupError):
        make_plan(recipes, CompareConfig(eval={"tasks": ["no-such-task"]}, train={"task": "no-such-task"}), "k")
    with pytest.raises(ValueError, match="comparison steps.rl: step 'rl': warp_speed: Extra inputs .* Valid options: advantage"):
        make_plan(recipes, CompareConfig(rl={"warp_speed": 9}), "k")  # parsed by the rl kind's options
    with pytest.raises(ValueError, match="unknown step kind 'distill'"):
        make_plan(recipes, CompareConfig(steps={"distill": {}}), "k")
    with pytest.raises(ValueError, match="invalid InT settings"):
        make_plan(recipes, CompareConfig(int_overrides={"continue.warp": 1}), "k")


def test_recipes_command_lists_recipes_and_step_kinds() -> None:
    """`harness recipes` prints every built-in recipe and each step kind's options (markup escaped)."""
    from typer.testing import CliRunner

    from harness.cli import app

    res = CliRunner().invoke(app, ["recipes"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in ("int", "rl-baseline", "rl-4x", "hint-rl"):
        assert name in res.output
