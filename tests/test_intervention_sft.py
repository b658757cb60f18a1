"""build-sft: the loss mask covers exactly prefix + intervention, nothing follows it, filters are counted."""

import json

import pytest

from harness.intervention.build_sft import encode_example, run_build_sft
from harness.intervention.config import IntConfig, ModelRef, RolloutConfig
from harness.intervention.stages import StageNotReady
from harness.intervention.steps import format_intervention, prefix_before
from harness.rundir import atomic_write_json
from trainers.base import SFT_FIELDS

ATTEMPT = "Let n be the count.\n\nThen 3n + 5 = 47.\n\nSo n = 13.\n\n\\boxed{13}"
MESSAGES = [{"role": "user", "content": "Three times a number plus 5 is 47. Find it."}]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _target(ex):
    return [t for t, m in zip(ex["input_ids"], ex["loss_mask"], strict=True) if m]


def test_loss_mask_is_exactly_prefix_plus_intervention_and_no_eos(tokenizer):
    prefix, inter = prefix_before(ATTEMPT, 3), format_intervention("Subtract 5: 3n = 42.\nDivide by 3.")
    ex = encode_example(tokenizer, MESSAGES, prefix, inter)
    prompt = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert ex["loss_mask"] == [0] * n_prompt + [1] * (len(ex["input_ids"]) - n_prompt)
    assert ex["input_ids"][:n_prompt] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(_target(ex)) == prefix + inter == ex["target_text"]
    assert ex["target_text"].endswith("Divide by 3.") and "\n\nDivide" in ex["target_text"]
    assert ex["prompt_text"] == prompt and prompt.endswith("<|im_start|>assistant\n")
    assert ex["input_ids"][-1] != tokenizer.eos_token_id
    assert not set(_target(ex)) & set(tokenizer.all_special_ids)
    # what a trainer trains on is what the continue stage conditioned on (no closed turn in between)
    continued = tokenizer.apply_chat_template(
        [*MESSAGES, {"role": "assistant", "content": prefix + inter}],
        tokenize=False,
        continue_final_message=True,
    )
    assert continued == ex["prompt_text"] + ex["target_text"]


def test_model_text_spelling_an_end_token_never_becomes_one(tokenizer):
    ex = encode_example(tokenizer, MESSAGES, "", "then <|im_end|> stop")
    assert tokenizer.eos_token_id not in _target(ex)


def test_without_prefix_cloning_the_prefix_is_masked_context(tokenizer):
    prefix, inter = prefix_before(ATTEMPT, 3), "Divide 42 by 3."
    ex = encode_example(tokenizer, MESSAGES, prefix, inter, include_prefix=False)
    assert ex["prompt_text"].endswith(prefix) and ex["target_text"] == inter
    assert tokenizer.decode(_target(ex)) == inter


def _fake_run(tmp_path, tiny_model_dir, **build):
    """A run dir as the first three stages leave it: 3 failed attempts, proposals, graded continuations."""
    cfg = IntConfig(
        out=str(tmp_path),
        policy=ModelRef(model=str(tiny_model_dir)),
        rollout=RolloutConfig(problems={"task": "toy"}),
        build_sft=build,
    )
    atomic_write_json(
        tmp_path / "rollout" / "manifest.json",
        {"status": "complete", "protocol_hash": "r", "protocol": {"task": "toy"}},
    )
    attempts = [
        {
            "attempt_id": f"p{i}#0",
            "problem_id": f"p{i}",
            "order": i,
            "attempt": ATTEMPT,
            "answer": "14",
            "messages": MESSAGES,
            "n_substeps": 4,
            "completion_tokens": 30,
        }
        for i in range(3)
    ]
    (tmp_path / "rollout" / "attempts.jsonl").write_text("".join(json.dumps(a) + "\n" for a in attempts))
    atomic_write_json(
        tmp_path / "propose-self" / "manifest.json", {"status": "complete", "protocol_hash": "p"}
    )
    props = [
        {
            "attempt_id": f"p{i}#0",
            "proposal_index": 0,
            "parse": {"ok": True, "content": c, "location": 3, "reason": "", "method": "json"},
        }
        for i, c in enumerate(["Divide 42 by 3.", "It is 14.", "Recompute 42/3."])
    ]
    props.append(
        {
            "attempt_id": "p0#0",
            "proposal_index": 1,
            "parse": {"ok": False, "content": None, "location": None, "reason": "truncated", "method": ""},
        }
    )
    (tmp_path / "propose-self" / "proposals.jsonl").write_text("".join(json.dumps(p) + "\n" for p in props))
    atomic_write_json(
        tmp_path / "continue-self" / "manifest.json", {"status": "complete", "protocol_hash": "c"}
    )
    samples = [
        {
            "problem_id": f"intervention:p{i}#0",
            "sample_index": j,
            "text": f" so n = 14.\n\n\\boxed{{14}} [{j}]",
            "correct": i == 0 and j == 1,
        }
        for i in (0, 2)
        for j in range(2)
    ]
    (tmp_path / "continue-self" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    return cfg


def test_build_sft_rows_and_filter_counts(tmp_path, tiny_model_dir, tokenizer):
    res = run_build_sft(_fake_run(tmp_path, tiny_model_dir), tokenizer=tokenizer)
    f = res["filters"]
    assert (
        f["proposals"],
        f["parse_failed"],
        f["leaked"],
        f["selected"],
        f["failed_correctness"],
        f["kept"],
    ) == (4, 1, 1, 2, 1, 1)
    rows = [json.loads(x) for x in (tmp_path / "build-sft-self" / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and set(SFT_FIELDS) <= set(rows[0]) and rows[0]["problem_id"] == "p0"
    assert rows[0]["target_text"] == prefix_before(ATTEMPT, 3) + "Divide 42 by 3."
    assert res["chat_template_continue_mismatch"] == 0
    manifest = json.loads((tmp_path / "build-sft-self" / "manifest.json").read_text())
    assert manifest["tokenizer"]["eos_token"] == "<|im_end|>" and manifest["status"] == "complete"
    assert (
        run_build_sft(_fake_run(tmp_path, tiny_model_dir), tokenizer=tokenizer) == res
    )  # finished: not rebuilt


def test_ablation_switches_write_side_by_side(tmp_path, tiny_model_dir, tokenizer):
    cfg = _fake_run(tmp_path, tiny_model_dir)
    default = run_build_sft(cfg, tokenizer=tokenizer)
    res = run_build_sft(cfg.with_overrides({"build_sft.correctness_filter": False}), tokenizer=tokenizer)
    assert res["filters"]["kept"] == 2 and res["filters"]["failed_correctness"] == 0
    res = run_build_sft(cfg.with_overrides({"build_sft.include_prefix": False}), tokenizer=tokenizer)
    assert res["rows"] == default["rows"] == 1
    run_build_sft(cfg.with_overrides({"build_sft.include_suffix": True}), tokenizer=tokenizer)
    row = json.loads((tmp_path / "build-sft-self-suffix" / "sft.jsonl").read_text().splitlines()[0])
    assert row["target_text"].endswith("Divide 42 by 3. so n = 14.\n\n\\boxed{14} [1]")
    names = sorted(p.name for p in tmp_path.glob("build-sft-*"))
    assert names == [
        "build-sft-self",
        "build-sft-self-nofilter",
        "build-sft-self-noprefix",
        "build-sft-self-suffix",
    ]
    (tmp_path / "continue-self" / "manifest.json").unlink()
    with pytest.raises(StageNotReady):
        run_build_sft(cfg.with_overrides({"build_sft.min_correct": 2}), tokenizer=tokenizer)
