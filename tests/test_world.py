"""The embedded world: generator, splits, checker/first_error, prompts, tokenizer, task, test-preset build."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest

from harness.world.corpus import NoiseSpec, expected_step_accuracy, teacher_attempt
from harness.world.problems import (
    REGIMES,
    WorldProblem,
    WorldSpec,
    corrected_step,
    first_error,
    generate_problems,
    guided_prefix,
    is_correct,
    level_space,
    number_substeps,
    parse_intervention,
    parse_problem_text,
    random_problem,
    render_verification_prompt,
    render_verification_target,
    split_of,
    split_steps,
    to_task_problem,
)

# start 4 mod 11: +9 -> 2, +7 -> 9, -5 -> 4, -6 -> 9
HAND = WorldProblem(start=4, ops=(("+", 9), ("+", 7), ("-", 5), ("-", 6)), modulus=11)
S1, S2, S3, S4 = (
    "Step 1: +9 on 4 = 13 ≡ 2",
    "Step 2: +7 on 2 = 9 ≡ 9",
    "Step 3: -5 on 9 = 4 ≡ 4",
    "Step 4: -6 on 4 = -2 ≡ 9",
)


def _join(*chunks: str) -> str:
    return "\n\n".join(chunks)


# --- generator and splits -------------------------------------------------------------------------


def test_hand_problem_reference() -> None:
    assert HAND.values == [4, 2, 9, 4, 9]
    assert HAND.solution == _join(S1, S2, S3, S4, "\\boxed{9}")
    assert parse_problem_text(HAND.text) == HAND


def test_generator_is_deterministic_and_seeded() -> None:
    a = generate_problems(5, 30, "train", seed=3)
    b = generate_problems(5, 30, "train", seed=3)
    c = generate_problems(5, 30, "train", seed=4)
    assert a == b and len(a) == 30
    assert [p.id for p in a] != [p.id for p in c]
    assert all(p.level == 5 and p.modulus == WorldSpec().modulus for p in a)
    assert len({p.key for p in a}) == 30  # unique within a split
    # ids are content hashes: the same problem has the same id whatever seed or order produced it
    assert to_task_problem(a[0]).id == to_task_problem(WorldProblem(a[0].start, a[0].ops, 11)).id


def test_splits_are_disjoint_across_seeds() -> None:
    for level in (1, 2, 3):
        train = {p.key for s in (0, 1) for p in generate_problems(level, 400, "train", seed=s)}
        test = {p.key for s in (0, 1) for p in generate_problems(level, 400, "test", seed=s)}
        assert train and test and not train & test
    # level 1 is small enough to enumerate: the two splits partition it, about 20% test
    spec = WorldSpec()
    space = level_space([1], spec.modulus)[1]
    tr, te = generate_problems(1, 10_000, "train"), generate_problems(1, 10_000, "test")
    assert len(tr) + len(te) == space
    assert 0.1 < len(te) / space < 0.3
    assert all(split_of(p, spec) == "test" for p in te)


def test_reference_solutions_are_graded_correct_and_split_on_blank_lines() -> None:
    from harness.grading import grade

    for level in (1, 4, 8):
        for wp in generate_problems(level, 5, "test", seed=1):
            chunks = split_steps(wp.solution)
            assert len(chunks) == level + 1 and chunks[-1] == f"\\boxed{{{wp.answer}}}"
            assert all(c.startswith(f"Step {i}: {op}{k} on ") for i, (c, (op, k)) in enumerate(zip(chunks, wp.ops, strict=False), 1))
            assert grade(wp.solution, str(wp.answer)).correct
            assert not grade(wp.solution.replace(f"{{{wp.answer}}}", f"{{{wp.answer + 1}}}"), str(wp.answer)).correct
            assert first_error(wp, wp.solution) is None


# --- the checker ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        (_join(S1, S2, S3, S4, "\\boxed{9}"), None),  # correct
        (_join("Step 1:+9 on 4=13≡2", S2, S3, S4, "\\boxed{9}"), None),  # spacing does not matter
        (_join(S1, S2, "Step 3: -5 on 9 = 4 ≡ 5", "Step 4: -6 on 5 = -1 ≡ 10", "\\boxed{10}"), 3),
        (_join("Step 1: +9 on 4 = 13 ≡ 3", "Step 2: +7 on 3 = 10 ≡ 10", "Step 3: -5 on 10 = 5 ≡ 5",
               "Step 4: -6 on 5 = -1 ≡ 10", "\\boxed{10}"), 1),  # fmt: skip
        (_join(S1, "Step 2: +7 on 2 = 10 ≡ 10", S3, S4, "\\boxed{9}"), None),  # lucky: right answer wins
        (_join(S1, "Step 2: +6 on 2 = 8 ≡ 8", "\\boxed{8}"), 2),  # misread operand, then early stop
        (_join(S1, "Step 2: +7 on 2 is 9", S3, S4, "\\boxed{5}"), 2),  # malformed line
        (_join(S1, S2, "\\boxed{8}"), 3),  # premature final answer
        (_join(S1, S2), 3),  # stops without answering: the missing next substep
        (_join(S1, S2, S3, S4, "\\boxed{5}"), 5),  # every step right, wrong final answer
        (_join(S1, S2, S3, S4), 5),  # every step right, no final answer
        (_join(S1, S3, S4, "\\boxed{9}"), None),  # right answer: graded correct, so no error to find
        (_join(S1, S3, S4, "\\boxed{2}"), 2),  # skipped a step
        ("", 1),
    ],
)
def test_first_error_on_hand_made_attempts(attempt: str, expected: int | None) -> None:
    assert first_error(HAND, attempt) == expected


def test_first_error_accepts_task_problem_and_text() -> None:
    bad = _join(S1, S2, "Step 3: -5 on 9 = 4 ≡ 5", "\\boxed{5}")
    assert first_error(to_task_problem(HAND), bad) == 3
    assert first_error(HAND.text, bad) == 3
    assert first_error(to_task_problem(HAND).metadata | {"problem": HAND.text}, bad) == 3


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_corrected_step_rescues_teacher_failures(regime: str) -> None:
    """InT's mechanism holds by construction: prefix + corrected step + the rest of the reference is right."""
    rng = random.Random(0)
    spec, n_failed = REGIMES[regime], 0
    for _ in range(300):
        level = rng.randint(1, 8)
        wp = random_problem(level, rng, spec.modulus, spec.novel_at(level))
        attempt = teacher_attempt(wp, NoiseSpec(), rng)
        loc = first_error(wp, attempt)
        if loc is None:
            continue
        n_failed += 1
        iv = parse_intervention(render_verification_target(wp, attempt))
        assert iv is not None and iv.location == loc and iv.content == corrected_step(wp, loc)
        rest = split_steps(wp.solution)[loc:]
        assert is_correct(wp, _join(guided_prefix(attempt, iv), *rest))
        assert first_error(wp, _join(guided_prefix(attempt, iv), *rest)) is None
    assert n_failed > 50


def test_teacher_error_rate_matches_its_plan() -> None:
    rng = random.Random(1)
    q = expected_step_accuracy(WorldSpec().modulus, NoiseSpec())
    probs = generate_problems(1, 10_000, "train")
    wins = [is_correct(wp, teacher_attempt(wp, NoiseSpec(), rng)) for wp in probs * 20]
    assert abs(sum(wins) / len(wins) - q) < 0.03
    assert 0.6 < q < 0.8


# --- regimes -----------------------------------------------------------------------------------------


def test_default_regime_data_is_unchanged() -> None:
    """The default world model's inputs, pinned: its corpus (every random draw of generator and teacher)
    and its vocabulary. A change here changes the default model's weights (and every number quoted for
    it); regimes must add their data without touching these. The reflection transcripts (added for the
    paper's self-reflection baseline) come after every solve and verify draw: without them the corpus is
    byte-identical to the one before they existed."""
    import hashlib

    from harness.world.corpus import CorpusSpec, build_corpus, vocabulary_samples
    from harness.world.model import build_tokenizer

    def sha(obj: object) -> str:
        return hashlib.sha256(json.dumps(obj).encode()).hexdigest()[:16]

    assert REGIMES["default"] == WorldSpec()
    assert sha(build_corpus(WorldSpec(), NoiseSpec(), CorpusSpec(reflect_examples=0), 0)) == "9cb88de82227175f"
    assert sha(build_corpus(WorldSpec(), NoiseSpec(), CorpusSpec(), 0)) == "3e7e3b3c8ec35bc6"
    vocab = build_tokenizer(vocabulary_samples(WorldSpec())).get_vocab()
    assert sha(sorted(vocab.items(), key=lambda kv: kv[1])) == "5c94d31b445873b5" and len(vocab) == 1336


def test_blindspot_problems_carry_the_novel_op_once_at_hard_levels_only() -> None:
    spec = REGIMES["blindspot"]
    assert spec.novel == ("*", 2) and spec.hard_levels == (5, 6, 7, 8) and WorldSpec().hard_levels == (5, 6, 7, 8)
    positions = set()
    for level in spec.levels:
        probs = generate_problems(level, 40, "train", seed=0, spec=spec)
        for wp in probs:
            n_novel = sum(op == "*" for op, _ in wp.ops)
            assert n_novel == (1 if level >= 5 else 0) and wp.level == level
            assert first_error(wp, wp.solution) is None and parse_problem_text(wp.text) == wp
            positions |= {i for i, (op, _) in enumerate(wp.ops) if op == "*"}
            assert to_task_problem(wp).metadata["ops"] == [[op, c] for op, c in wp.ops]
        test = {p.key for p in generate_problems(level, 40, "test", seed=0, spec=spec)}
        assert not test & {p.key for p in probs}
    assert positions == set(range(8))  # the novel step can sit anywhere in a problem
    # levels without the novel op are the default regime's problems (same draws)
    assert generate_problems(3, 20, "train", spec=spec) == generate_problems(3, 20, "train")
    wp = WorldProblem(start=7, ops=(("+", 1), ("*", 2)), modulus=11)
    assert wp.values == [7, 8, 5] and wp.steps[1] == "Step 2: *2 on 8 = 16 ≡ 5"
    assert first_error(wp, _join(wp.steps[0], "Step 2: *2 on 8 = 17 ≡ 6", "\\boxed{6}")) == 2


def test_blindspot_teacher_never_samples_the_novel_fact() -> None:
    """The teacher writes c*v + 1 for the novel op (never congruent to c*v): no solve trace shows the fact,
    so hard problems fail (bar a rare cancelling operand slip); verification targets copy the right step
    from the reference."""
    from harness.world.build import make_recipe

    recipe = make_recipe("blindspot")
    spec, noise = recipe.world, recipe.noise
    rng = random.Random(0)
    at_novel = lucky = 0
    for level in (5, 8):
        for wp in generate_problems(level, 60, "train", spec=spec):
            attempt = teacher_attempt(wp, noise, rng)
            lucky += is_correct(wp, attempt)  # only a rare operand slip can cancel the novel error
            i = next(i for i, (op, _) in enumerate(wp.ops, 1) if op == "*")
            chunks = split_steps(attempt)
            if len(chunks) > i and chunks[i - 1].startswith(f"Step {i}: *2"):
                v = wp.values[i - 1] if first_error(wp, attempt) == i else None
                if v is not None:
                    at_novel += 1
                    assert chunks[i - 1] == f"Step {i}: *2 on {v} = {2 * v + 1} ≡ {(2 * v + 1) % 11}"
                    iv = parse_intervention(render_verification_target(wp, attempt))
                    assert iv is not None and iv.content == wp.steps[i - 1] and iv.location == i
    assert lucky <= 2 and at_novel > 60  # the first error is the novel step in most failed hard attempts


def test_regime_vocabularies_differ_only_by_the_novel_token() -> None:
    from harness.world.corpus import vocabulary_samples
    from harness.world.model import build_tokenizer

    default = build_tokenizer(vocabulary_samples(WorldSpec())).get_vocab()
    blind = build_tokenizer(vocabulary_samples(REGIMES["blindspot"]))
    assert set(blind.get_vocab()) - set(default) == {"Ġ*"}
    assert len(blind.encode("Step 3: *2 on 7 = 14 ≡ 3").ids) == 9


def test_world_spec_round_trips_through_a_recipe() -> None:
    from dataclasses import asdict

    from harness.world.build import PRESETS

    for name, recipe in PRESETS.items():
        rec = json.loads(json.dumps(recipe.to_dict(), default=list))
        assert WorldSpec.from_dict(rec["world"]) == recipe.world, name
    hashes = {r.hash for r in PRESETS.values()}
    assert len(hashes) == len(PRESETS)  # every preset has its own cache folder
    with pytest.raises(ValueError, match="novel_op"):
        _ = WorldSpec(novel_op="*11", novel_levels=(5,)).novel
    assert asdict(WorldSpec())["novel_op"] == ""


# --- verification prompt and target -----------------------------------------------------------------


def test_verification_prompt_numbers_substeps() -> None:
    attempt = _join(S1, "Step 2: +7 on 2 = 9 ≡ 10", "\\boxed{10}")
    prompt = render_verification_prompt(HAND, attempt)
    assert prompt.startswith("Problem:\n" + HAND.text)
    assert "Reference solution:\n" + HAND.solution in prompt
    assert "**Substep 1:** " + S1 in prompt and "**Substep 3:** \\boxed{10}" in prompt
    assert "**Substep 4:**" not in prompt
    assert number_substeps(attempt).count("**Substep") == 3
    target = render_verification_target(HAND, attempt)
    assert target.startswith("Substep 1: -2 on 2 = 0, correct\n\nSubstep 2: -9 on 10 = 1, wrong\n\n<intervention>")
    assert '"content": "Step 2: +7 on 2 = 9 ≡ 9"' in target  # readable JSON, as the model writes it
    iv = parse_intervention(target)
    assert iv is not None and (iv.location, iv.content) == (2, S2)


def test_verification_prompt_matches_the_pipeline_template() -> None:
    from harness.intervention import prompts
    attempt = _join(S1, "Step 2: +7 on 2 = 9 ≡ 10", "\\boxed{10}")
    item = {"problem": HAND.text, "reference_solution": HAND.solution, "answer": "6", "attempt": attempt}
    tset = prompts.get_template_set("compact")
    assert prompts.verify_messages(tset, item, None)[-1]["content"] == render_verification_prompt(HAND, attempt)


def test_pipeline_parser_reads_the_world_target() -> None:
    from harness.intervention import parsing
    res = parsing.parse_intervention(render_verification_target(HAND, _join(S1, S2, "\\boxed{8}")))
    assert res.ok and res.location == 3 and res.content == S3


def test_parse_intervention_rejects_garbage() -> None:
    assert parse_intervention("no block") is None
    assert parse_intervention("<intervention>{oops</intervention>") is None
    assert parse_intervention('<intervention>{"content": "x", "location": "Substep 4"}</intervention>').location == 4


# --- tokenizer and task -----------------------------------------------------------------------------


def test_tokenizer_single_token_numbers_and_lossless(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from harness.world.corpus import vocabulary_samples
    from harness.world.model import build_tokenizer, wrap_tokenizer

    tok = wrap_tokenizer(build_tokenizer(vocabulary_samples(WorldSpec())))
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    line = "Step 12: -7 on 3 = -4 ≡ 7"  # label, operation, "on", value, "=", integer, "≡", residue
    assert len(loaded(line).input_ids) == 8
    assert len(loaded("**Substep 12:** Substep 3: \\boxed{7}").input_ids) == 5
    for text in (HAND.solution, render_verification_prompt(HAND, HAND.solution), "ünïcode ∑ 12345 \n\n\n x"):
        ids = loaded(text, add_special_tokens=False).input_ids
        assert loaded.decode(ids) == text and ids == tok(text, add_special_tokens=False).input_ids


def test_blindspot_tasks_are_registered_and_load() -> None:
    import tasks

    full, hard = tasks.get_task("world@blindspot"), tasks.get_task("world@blindspot-hard")
    assert hard.categories == ("steps-5", "steps-6", "steps-7", "steps-8") and len(full.categories) == 8
    probs = tasks.load_task("world@blindspot-hard", split="train").problems
    assert {p.category for p in probs} == set(hard.categories)
    assert all(sum(op == "*" for op, _ in p.metadata["ops"]) == 1 for p in probs)
    assert all(first_error(p, p.solution) is None for p in probs)
    easy = [p for p in tasks.load_task("world@blindspot", split="test").problems if p.metadata["difficulty"] <= 4]
    assert easy and [p.id for p in easy] == [p.id for p in tasks.load_task("world", split="test").problems[: len(easy)]]


def test_abilities_cli_rejects_an_unknown_regime_in_one_line() -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    res = CliRunner().invoke(app, ["world", "abilities", "world:nope", "--regime", "nope"])
    assert res.exit_code == 2 and "unknown regime 'nope'" in res.output and "blindspot" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_world_task_is_registered_and_loads() -> None:
    import tasks

    task = tasks.get_task("world")
    assert set(task.splits) == {"train", "test"} and task.categories[0] == "steps-1"
    test = tasks.load_task("world", split="test").problems
    train = tasks.load_task("world", split="train").problems
    assert {p.category for p in test} == set(task.categories)
    assert not {p.id for p in test} & {p.id for p in train}
    assert len({p.id for p in test}) == len(test)
    p = test[-1]
    assert p.metadata["difficulty"] == 8 and p.solution and first_error(p, p.solution) is None
    assert tasks.render_prompt(task, p) == [{"role": "user", "content": p.problem}]
    assert tasks.load_task("world").problems[0] == test[0]  # deterministic


# --- the test preset build (slow) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    from rich.console import Console

    from harness.world.build import build_world

    cache = tmp_path_factory.mktemp("world-cache")
    old = os.environ.get("HARNESS_CACHE_DIR")
    os.environ["HARNESS_CACHE_DIR"] = str(cache)
    try:
        return build_world("test", console=Console(quiet=True))
    finally:
        if old is None:
            os.environ.pop("HARNESS_CACHE_DIR")
        else:
            os.environ["HARNESS_CACHE_DIR"] = old


@pytest.mark.slow
def test_test_preset_builds_with_recipe_and_cache(world_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from harness.world.build import build_world, make_recipe

    recipe = json.loads((world_dir / "world_recipe.json").read_text())
    assert recipe["preset"] == "test" and recipe["seed"] == 0 and recipe["hash"] == make_recipe("test").hash
    assert world_dir.name == recipe["hash"] and world_dir.parent.name == "world"
    assert {"torch", "transformers", "tokenizers"} <= set(recipe["versions"])
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(world_dir.parent.parent))
    t0 = time.time()
    assert build_world("test", console=Console(quiet=True)) == world_dir  # cached: no retraining
    assert time.time() - t0 < 20
    assert make_recipe("test", seed=1).hash != recipe["hash"]


@pytest.mark.slow
def test_test_preset_loads_like_a_hub_model(world_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(world_dir)
    model = AutoModelForCausalLM.from_pretrained(world_dir)
    wp = generate_problems(3, 1, "test")[0]
    first = wp.steps[0]
    msgs = [{"role": "user", "content": wp.text}, {"role": "assistant", "content": first}]
    cont = tok.apply_chat_template(msgs, tokenize=False, continue_final_message=True)
    assert cont.endswith("<|im_start|>assistant\n" + first)
    fresh = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert fresh.endswith("<|im_start|>assistant\n") and cont.startswith(fresh)
    ids = tok(cont, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=30, do_sample=False)
    text = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    # it continues the open assistant turn with the next step (the test preset learns the format only)
    assert text.startswith("\n\nStep 2:"), text


@pytest.mark.slow
def test_measure_abilities_table_is_well_formed(world_dir: Path) -> None:
    from harness.world.abilities import measure_abilities

    stored = json.loads((world_dir / "abilities.json").read_text())
    ab = measure_abilities(world_dir, n_per_level=6, samples=4, verify_max=12, continuation_max=4, continuation_k=2)
    for table in (stored, ab):
        assert [r["category"] for r in table["solve"]] == ["steps-1", "steps-2", "steps-3"]
        z = table["zero_advantage"]  # the RL start: groups of 8 on the hard TRAIN levels (test preset: 2-3)
        assert z["split"] == "train" and z["levels"] == [2, 3] and z["group_size"] == 8
        assert z["groups"] == sum(r["problems"] for r in z["by_level"]) > 0 and 0 <= z["all_wrong_share"] <= 1
        for r in table["solve"]:
            assert all(0.0 <= r[k] <= 1.0 for k in r if re.match(r"(avg|pass)@|all_wrong", k))
        v = table["verify"]
        assert 0 <= v["exact_location_rate"] <= v["parse_rate"] <= 1
        assert sum(v["off_by_k"].values()) == v["failed_attempts"]
    assert ab["backend"] and ab["grader"]


def test_cache_key_ignores_what_does_not_change_the_weights(monkeypatch) -> None:
    """Python's patch version and the CPU threads are provenance, not part of the world's cache key (a plain
    shell's python3 3.11.2 must reuse a 3.11.7 build: the weights are byte-identical); the minor version and
    the numerics libraries are part of it."""
    import platform

    from harness.world import build as world_build
    from harness.world.build import make_recipe

    key = make_recipe("test").hash
    monkeypatch.setattr(platform, "python_version", lambda: "3.11.2")
    monkeypatch.setattr(platform, "python_version_tuple", lambda: ("3", "11", "2"))
    assert make_recipe("test").hash == key
    assert make_recipe("test").to_dict()["versions"]["python"] == "3.11.2"  # still recorded
    monkeypatch.setattr(platform, "python_version_tuple", lambda: ("3", "12", "0"))
    assert make_recipe("test").hash != key
    monkeypatch.setattr(platform, "python_version_tuple", lambda: ("3", "11", "2"))
    versions = world_build._versions()
    monkeypatch.setattr(world_build, "_versions", lambda: {**versions, "torch": "9.9.9"})
    assert make_recipe("test").hash != key
    assert "threads" not in json.dumps(make_recipe("test").weight_key())


def test_a_cpu_without_fast_bf16_pretrains_in_float32_under_its_own_hash(monkeypatch):
    """bf16 autocast is emulated (~40x slower) on an AVX2-only CPU: there the world pretrains in float32, a
    different model, so under a different recipe hash; where bf16 is fast every preset keeps its hash (and
    cache); $HARNESS_WORLD_PRECISION insists on either, and a bad value is one clear error."""
    from dataclasses import replace

    from harness.world import build

    monkeypatch.delenv(build.PRECISION_ENV, raising=False)
    monkeypatch.setattr(build, "fast_bf16", lambda: True)
    native = build.make_recipe("test")
    assert native.train.bf16 and native.hash == replace(build.PRESETS["test"], seed=0).hash  # unchanged on bf16 CPUs
    monkeypatch.setattr(build, "fast_bf16", lambda: False)
    slow = build.make_recipe("test")
    assert not slow.train.bf16 and slow.hash != native.hash
    # the build's time estimate is the one measured at its precision (float32 builds take ~2-3x longer)
    assert build.expected_time(build.make_recipe("blindspot-large")) == build.EXPECTED_TIME_FP32["blindspot-large"]
    assert build.expected_time(slow) == build.EXPECTED_TIME["test"]  # no float32 measurement: the preset's own
    monkeypatch.setenv(build.PRECISION_ENV, "bf16")
    assert build.make_recipe("test").hash == native.hash
    assert build.expected_time(build.make_recipe("blindspot-large")) == build.EXPECTED_TIME["blindspot-large"]
    monkeypatch.setattr(build, "fast_bf16", lambda: True)
    monkeypatch.setenv(build.PRECISION_ENV, "fp32")
    assert build.make_recipe("test").hash == slow.hash
    monkeypatch.setenv(build.PRECISION_ENV, "half")
    with pytest.raises(ValueError, match=r"\$HARNESS_WORLD_PRECISION='half'"):
        build.make_recipe("test")


def test_a_world_code_edit_during_a_build_does_not_relabel_the_folder(tmp_path, monkeypatch):
    """The recipe (and its hash of the world code) is taken as the build starts: the code that trains is the
    code the process imported, so an edit saved while it runs must not be recorded -- else the folder's
    name and its recorded hash disagree and every later lookup rebuilds it."""
    from rich.console import Console

    from harness.world import build
    from harness.world.corpus import CorpusSpec

    edited = {"now": False}
    monkeypatch.setattr(build, "_code_hash", lambda: "after-edit" if edited["now"] else "as-started")
    real_train = build.train

    def train_then_edit(*args, **kwargs):
        out = real_train(*args, **kwargs)
        edited["now"] = True  # someone saves a world file while the build is still writing
        return out

    monkeypatch.setattr(build, "train", train_then_edit)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    recipe = build.make_recipe("test", corpus=CorpusSpec(solve_examples=60, verify_examples=20, solve_levels=(1,), verify_levels=(1,)))
    started = recipe.hash
    folder = build.build_world(recipe=recipe, measure=False, console=Console(quiet=True))
    assert folder.name == started
    assert json.loads((folder / build.RECIPE_FILE).read_text())["hash"] == started
    assert json.loads((folder / build.BUILD_LOG_FILE).read_text())["recipe_hash"] == started
