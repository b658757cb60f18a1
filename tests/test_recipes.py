"""Recipes are data: built-ins load, user YAML adds or shadows one, bad recipes name their file."""

import pytest

from harness.compare import CompareConfig, plan, validate
from harness.recipes import list_recipes, load_recipe


def test_builtin_recipes():
    recipes = list_recipes()
    assert {"base", "rl-baseline", "int", "sft-reference-rl"} <= set(recipes)
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
        ("name: x\nsteps:\n  - sft: {data: int}\n", "needs an earlier 'int' step"),
        ("name: x\nsteps:\n  - sft: {data: web}\n", "sft data must be one of"),
        ("name: x\nsteps:\n  - distill: {}\n", "distill"),
    ],
)
def test_bad_recipe_names_file(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(ValueError, match="bad.yaml") as err:
        list_recipes([tmp_path])
    assert message in str(err.value)


def test_unknown_recipe():
    with pytest.raises(LookupError, match="known: "):
        load_recipe("nope")


def test_plan_shares_keys_and_seeds_differ():
    cfg = CompareConfig(seeds=2)
    arms = plan([load_recipe("int"), load_recipe("rl-baseline"), load_recipe("base")], cfg)
    assert [(a["recipe"], a["seed"]) for a in arms][:2] == [("int", 0), ("int", 1)]
    int0, int1, rl0 = arms[0], arms[1], arms[2]
    assert int0["steps"][0]["key"] != int1["steps"][0]["key"]  # seeds are separate runs
    assert int0["steps"][-1]["key"] != rl0["steps"][-1]["key"]  # RL from a different start model
    assert plan([load_recipe("int")], cfg)[0]["steps"] == int0["steps"]  # deterministic keys = cache hits
    assert arms[-1]["steps"] == []


def test_validate_catches_bad_settings_before_work():
    recipes = [load_recipe("int"), load_recipe("rl-baseline")]
    lines = validate(recipes, CompareConfig())
    assert any("trainer trl" in line for line in lines)
    with pytest.raises(LookupError):
        validate(recipes, CompareConfig(eval_tasks=["no-such-task"]))
    with pytest.raises(ValueError, match="unknown RLConfig field"):
        validate(recipes, CompareConfig(rl={"warp_speed": 9}))
    warn = validate([load_recipe("rl-baseline"), load_recipe("int")], CompareConfig())
    assert not any("WARNING" in line for line in warn)
