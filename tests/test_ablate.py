"""`harness ablate`: the paper's ablations and figures, one command each.

Every new switch is in the cache key of the step that reads it (and a switch added later leaves the keys of
steps cached before it unchanged); every study runs end to end on the embedded world's test preset (real InT
stages, real TRL SFT/GRPO, real evaluation) and writes its table as Markdown, CSV and LaTeX and its figure as
PDF + PNG, from its JSON alone; a re-run reuses every step; bad input is one line."""

from __future__ import annotations

import csv
import json

import pytest

from harness.compare.config import CompareConfig
from harness.compare.plan import make_plan
from harness.recipes import Recipe, load_recipe

pytestmark = pytest.mark.usefixtures("data_dir")

BASE = CompareConfig(include_base=False)


def _keys(recipe: Recipe, cfg: CompareConfig = BASE) -> list[str]:
    return [s.key for s in make_plan([recipe], cfg, "k0").arms[0].steps]


def _int_then(build: dict) -> Recipe:
    return Recipe(name="x", steps=[{"int": {}}, {"build-sft": build}, {"sft": {"data": "int"}}])


@pytest.mark.parametrize("build", [
    {"include_prefix": False}, {"include_intervention": False}, {"include_suffix": True},
    {"correctness_filter": False}, {"min_correct": 2},
])
def test_each_build_sft_switch_changes_its_key_and_only_from_there_on(build):
    before, after = _keys(_int_then({})), _keys(_int_then(build))
    assert after[0] == before[0]  # the int step (rollouts, proposals, continuations) is shared by every design
    assert after[1] != before[1] and after[2] != before[2]


@pytest.mark.parametrize("options", [
    {"proposer_model": "world:offref-large"},
    {"overrides": {"continue.controls": ["original", "prefix", "scratch", "hint", "hint_intervention"]}},
    {"overrides": {"continue.hint_length": 0.25}},
    {"overrides": {"build_sft.include_intervention": False}},
])
def test_each_new_int_option_changes_the_int_key(options):
    default = _keys(load_recipe("int"))
    changed = _keys(Recipe(name="x", steps=[{"int": options}, {"sft": {"data": "int"}}, {"rl": {}}]))
    assert changed[0] != default[0]


def test_options_added_later_leave_cached_keys_alone():
    """A comparison cached before hint_length / include_intervention existed keeps its int keys: at their
    defaults they are not hashed (harness.intervention.config.ADDED_LATER)."""
    from harness.compare.kinds.int import IntStep
    from harness.intervention.config import ADDED_LATER, BuildSFTConfig

    plan = make_plan([load_recipe("int")], BASE, "k0")
    settings = plan.arms[0].steps[0].settings
    hashed = IntStep().key_settings(settings)["int_config"]
    for section, name in ADDED_LATER:
        assert name in settings["int_config"][section] and name not in hashed[section]
    assert "include_intervention" not in BuildSFTConfig().protocol()
    assert BuildSFTConfig(include_intervention=False).protocol()["include_intervention"] is False


def test_bad_designs_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="nothing to train on"):
        make_plan([_int_then({"include_prefix": False, "include_intervention": False})], BASE, "k0")
    with pytest.raises(ValueError, match="needs sft_data from an earlier step"):
        Recipe(name="y", steps=[{"build-sft": {}}, {"sft": {"data": "int"}}])


def test_ablation_recipes_are_registered_with_their_designs():
    for name, build in [("int-sft-nofilter", {"correctness_filter": False}), ("int-nofilter", {"correctness_filter": False}),
                        ("int-sft-noprefix", {"include_prefix": False}), ("int-sft-prefixonly", {"include_intervention": False}),
                        ("int-sft-suffix", {"include_suffix": True})]:
        steps = load_recipe(name).steps
        assert [s.kind for s in steps][:3] == ["int", "build-sft", "sft"] and steps[1].options == build
    assert [s.kind for s in load_recipe("int-sft").steps] == ["int", "sft"]


# --- every study end to end on the test world ----------------------------------------------------------------

def tiny_yaml() -> str:
    """test_compare's tiny world comparison, its steps run inline (this module runs six studies in one process)."""
    from test_compare import TINY_YAML

    return TINY_YAML.replace("isolation: process", "isolation: inline")


# study -> (extra CLI options, its tables, its figures)
STUDIES = {
    "sft-design": (["--samples", "4"], ["table2"], ["table2_sft_design"]),
    "hints": ([], ["table1_hints"], ["table1_hints"]),
    "internalization": (["--problems", "2"], ["fig7_internalization"], ["fig7_internalization"]),
    "sft-sources": (["--samples", "16"], ["fig8_fig9_sft_sources"], ["fig8_fig9_sft_sources"]),
    "pass-at-k": (["--k", "16", "--problems", "1"], ["fig6_pass_at_k"], ["fig6_pass_at_k"]),
    "proposer": (["--proposer-model", "world:test"], ["proposer"], []),
}


@pytest.fixture(scope="module")
def studies(tmp_path_factory, world_model, shared_data_dir):
    """Every study run once through `harness ablate <study>` (the console entry point) into one root."""
    import os
    import sys

    from harness.cli import main

    root = tmp_path_factory.mktemp("ablate")
    (root / "tiny.yaml").write_text(tiny_yaml())
    os.environ["HARNESS_DATA_DIR"] = str(shared_data_dir)
    outputs = {}
    for name, (extra, _, _) in STUDIES.items():
        argv = ["harness", "ablate", name, "--config", str(root / "tiny.yaml"), "--out", str(root / "out"), "--no-progress", *extra]
        old, sys.argv = sys.argv, argv
        try:
            with pytest.raises(SystemExit) as stop:
                main()
        finally:
            sys.argv = old
        assert stop.value.code in (0, None), name
        outputs[name] = root / "out" / name
    return root


@pytest.mark.parametrize("name", list(STUDIES))
def test_each_study_writes_its_tables_and_figures_from_its_json(studies, name):
    _, tables, figures = STUDIES[name]
    folder = studies / "out" / name
    result = json.loads((folder / f"{name}.json").read_text())
    assert result["study"] == name and result["seeds"] == [0] and result["wall_time_s"] >= 0
    assert result["config"]["base_model"] == "world:test" and result["versions"] and result["load_average"]["start"]
    assert result["findings"], "every study says where the world agrees with the paper and where not"
    by_name = {t["name"]: t for t in result["tables"]}
    assert sorted(by_name) == sorted(tables)
    for t in tables:
        spec = by_name[t]
        md = (folder / f"{t}.md").read_text()
        rows = list(csv.reader(open(folder / f"{t}.csv")))
        assert rows[0] == spec["columns"] and rows[1:] == [[str(v) for v in r] for r in spec["rows"]]
        for r in spec["rows"]:  # every formatted cell of the JSON is in the Markdown table
            assert all(str(v).replace("|", "\\|") in md for v in r if str(v))
        tex = (folder / f"{t}.tex").read_text()
        assert "\\toprule" in tex and "\\bottomrule" in tex and tex.count("\\\\") == len(spec["rows"]) + 1
    for f in figures:
        for ext in ("pdf", "png"):
            path = folder / f"{f}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
    page = (folder / f"{name}.md").read_text()
    assert all(f"({f}.png)" in page for f in figures) and "## Against the paper" in page


def test_render_redraws_a_study_from_its_json_alone(studies, monkeypatch, capsys):
    from cli_support import run_main

    folder = studies / "out" / "sft-design"
    before = (folder / "table2.md").read_text()
    (folder / "table2.md").unlink()
    (folder / "table2_sft_design.png").unlink()
    code, output = run_main(["ablate", "render", folder], monkeypatch, capsys)
    assert code == 0, output
    assert (folder / "table2.md").read_text() == before and (folder / "table2_sft_design.png").is_file()


def test_sft_design_rows_come_from_one_int_step_and_differ_by_design(studies):
    result = json.loads((studies / "out" / "sft-design" / "sft-design.json").read_text())
    by = {r["recipe"]: r for r in result["rows"]}
    assert set(by) == {"base", "int-sft", "int-sft-nofilter", "int-sft-noprefix", "int-sft-suffix", "int-sft-prefixonly"}
    # no filter keeps at least the filtered rows; the paper's values sit beside the four designs it reports
    assert int(by["int-sft-nofilter"]["sft_rows"]) >= int(by["int-sft"]["sft_rows"]) > 0
    assert by["int-sft"]["paper"]["covered"] == 202 and by["int-sft-prefixonly"]["paper"] is None
    compare = json.loads((studies / "out" / "sft-design" / "compare" / "compare.json").read_text())
    int_keys = {json.loads((studies / "out" / "sft-design" / "compare" / a["dir"] / "int" / "step.json").read_text())["key"]
                for a in compare["arms"] if a["recipe"] != "base"}
    assert len(int_keys) == 1  # rollouts, proposals and continuations done once for every design
    for r in result["rows"]:
        assert 0 <= r["coverage_pct"] <= 100 and r["coverage_ci95_pct"][0] <= r["coverage_pct"] <= r["coverage_ci95_pct"][1]


def test_proposer_rows_score_each_proposers_interventions_under_the_policy(studies):
    """The on-policy measure of the proposer study: each arm's SFT interventions scored under the policy. Here the
    'other' proposer is the policy's own model, so both arms propose, select and score the same steps."""
    result = json.loads((studies / "out" / "proposer" / "proposer.json").read_text())
    a, b = (r["intervention_nll"] for r in result["rows"])
    assert a["n"] == result["rows"][0]["sft_rows"] > 0 and 0 < a["mean"] < 20
    assert a == b and a["ci95"][0] <= a["mean"] <= a["ci95"][1]
    assert any("NLL" in f for f in result["findings"])


def test_a_second_run_reuses_every_step(studies, monkeypatch, capsys):
    from cli_support import run_main

    cache = studies / "out" / "cache"
    steps = sorted(p.name for p in cache.iterdir())
    code, output = run_main(["ablate", "hints", "--config", studies / "tiny.yaml", "--out", studies / "out", "--no-progress"],
                            monkeypatch, capsys)
    assert code == 0, output
    assert sorted(p.name for p in cache.iterdir()) == steps and "running in" not in output
    result = json.loads((studies / "out" / "hints" / "hints.json").read_text())
    first, again = result["invocations"]  # the re-run is recorded beside the first run, never over it
    assert result["wall_time_s"] == round(first["wall_time_s"] + again["wall_time_s"], 1)


def test_a_missing_config_is_one_line(tmp_path, monkeypatch, capsys):
    from cli_support import output_lines, run_main

    code, output = run_main(["ablate", "sft-design", "--config", tmp_path / "nope.yaml", "--out", tmp_path / "o"], monkeypatch, capsys)
    assert code != 0 and len(output_lines(output)) == 1 and "nope.yaml" in output, output


@pytest.mark.parametrize("study, extra", [("sft-design", []), ("hints", []), ("sft-sources", []), ("internalization", []),
                                          ("pass-at-k", []), ("proposer", ["--proposer-model", "Qwen/Qwen3-30B-A3B-Instruct-2507"])])
def test_every_study_plans_on_the_real_model_config_without_writing(study, extra, tmp_path, monkeypatch, capsys):
    """The paper's configuration (Qwen3-4B, vLLM, IMO-AnswerBench held out): each study's comparison validates and
    prints its plan and preflight, and nothing is written under the study root."""
    from cli_support import run_main

    root = tmp_path / ("a-long-folder-name-so-the-planned-line-exceeds-80-columns" * 2) / "root"  # stays one line
    code, output = run_main(["ablate", study, "--config", "configs/paper.yaml", "--out", root, "--dry-run", *extra], monkeypatch, capsys)
    assert code == 0, output
    assert "Qwen/Qwen3-4B-Instruct-2507" in output and f"{study}: planned" in output and "nothing run" in output
    assert f"-> {root}/{study}; nothing run" in output  # the planned line is never broken at the console width
    assert not root.exists()


def test_learning_rates_from_a_tuned_comparison_reach_every_sft_and_rl_step(tmp_path, monkeypatch, capsys):
    from cli_support import output_lines, run_main

    from harness.ablate.registry import StudyOptions, study_config

    tuning = {"recipes": {"int": {"steps": [{"kind": "sft", "step": 2, "chosen": 3e-5}, {"kind": "rl", "step": 3, "chosen": 1e-5}]},
                          "rl-baseline": {"steps": [{"kind": "rl", "step": 1, "chosen": 3e-4}]}}}
    (tmp_path / "tuning.json").write_text(json.dumps(tuning))
    cfg = study_config(StudyOptions(learning_rates_from=str(tmp_path)))
    assert cfg.steps["sft"]["learning_rate"] == 3e-5 and cfg.steps["rl"]["learning_rate"] == 1e-5  # InT's, not RL-only's
    plain, tuned = _keys(load_recipe("int-sft-nofilter")), _keys(load_recipe("int-sft-nofilter"), cfg.model_copy(update={"include_base": False}))
    assert plain[:2] == tuned[:2] and plain[2] != tuned[2]  # only the SFT step changes
    code, output = run_main(["ablate", "hints", "--learning-rates-from", tmp_path / "nothing", "--out", tmp_path / "o"], monkeypatch, capsys)
    assert code != 0 and len(output_lines(output)) == 1 and "no tuning.json" in output, output
