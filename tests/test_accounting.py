"""Compute accounting: a hand-made InT run folder, counted by hand -- every generated sample once (the
failed rollouts copied into attempts.jsonl are not counted again), Table-1 controls apart as diagnostic."""

from __future__ import annotations

import json
from pathlib import Path

from harness.intervention.compute import int_compute


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_int_compute_counts_each_sample_once_and_separates_controls(tmp_path):
    run = tmp_path / "int"
    # 2 problems x 2 rollouts: 10 + 20 + 30 + 40 = 100 tokens; the two failed ones are copied into attempts
    _write(run / "rollout" / "samples.jsonl", [
        {"problem_id": "p1", "sample_index": 0, "completion_tokens": 10, "correct": True},
        {"problem_id": "p1", "sample_index": 1, "completion_tokens": 20, "correct": False},
        {"problem_id": "p2", "sample_index": 0, "completion_tokens": 30, "correct": False},
        {"problem_id": "p2", "sample_index": 1, "completion_tokens": 40, "correct": True},
    ])
    _write(run / "rollout" / "attempts.jsonl", [
        {"attempt_id": "p1#1", "completion_tokens": 20}, {"attempt_id": "p2#0", "completion_tokens": 30},
    ])
    _write(run / "propose-self" / "solves.jsonl", [{"attempt_id": "p1#1", "completion_tokens": 7}])
    _write(run / "propose-self" / "proposals.jsonl", [
        {"attempt_id": "p1#1", "proposal_index": 0, "completion_tokens": 5},
        {"attempt_id": "p2#0", "proposal_index": 0, "completion_tokens": 6},
    ])
    _write(run / "continue-self" / "samples.jsonl", [
        {"problem_id": "intervention:p1#1", "sample_index": 0, "completion_tokens": 11},
        {"problem_id": "intervention:p1#1", "sample_index": 1, "completion_tokens": 12},
        {"problem_id": "original:p1#1", "sample_index": 0, "completion_tokens": 100},
        {"problem_id": "prefix:p1#1", "sample_index": 0, "completion_tokens": 200},
        {"problem_id": "scratch:p1", "sample_index": 0, "completion_tokens": 300},
    ])
    (run / "build-sft-self").mkdir()
    _write(run / "build-sft-self" / "sft.jsonl", [{"id": "x", "completion_tokens": 10_000}])  # not generated

    counted = int_compute(run, "self")
    assert counted["by_source"] == {"rollout": 100, "propose_solve": 7, "propose": 11, "continue_intervention": 23,
                                    "continue_controls": 600}
    assert counted["tokens_generated"] == 100 + 7 + 11 + 23  # required: rollouts, proposer turns, filter continuations
    assert counted["tokens_generated_diagnostic"] == 600  # Table-1 controls only
    # without the correctness filter nothing reads the intervention continuations: they are diagnostic too
    loose = int_compute(run, "self", continuations_required=False)
    assert loose["tokens_generated"] == 118 and loose["tokens_generated_diagnostic"] == 623


def test_another_proposers_turns_are_charged_at_its_own_shape(tmp_path):
    """The proposer ablation: the proposer's solve and proposal turns cost the *proposer's* FLOPs, every other
    source the policy's; an unknown proposer shape leaves its FLOPs out and says so instead of charging the policy's."""
    from harness.flops import ModelShape, generation_flops

    run = tmp_path / "int"
    rollouts = [{"problem_id": "p1", "sample_index": 0, "prompt_tokens": 20, "completion_tokens": 10}]
    solves = [{"attempt_id": "p1#0", "prompt_tokens": 50, "completion_tokens": 7}]
    proposals = [{"attempt_id": "p1#0", "proposal_index": 0, "prompt_tokens": 80, "completion_tokens": 5}]
    conts = [{"problem_id": "intervention:p1#0", "sample_index": 0, "prompt_tokens": 30, "completion_tokens": 11}]
    _write(run / "rollout" / "samples.jsonl", rollouts)
    _write(run / "propose-model-large" / "solves.jsonl", solves)
    _write(run / "propose-model-large" / "proposals.jsonl", proposals)
    _write(run / "continue-model-large" / "samples.jsonl", conts)
    small = ModelShape(layers=2, hidden=64, intermediate=128, heads=4, kv_heads=4, head_dim=16, vocab=100)
    large = ModelShape(layers=4, hidden=128, intermediate=256, heads=4, kv_heads=4, head_dim=32, vocab=100)

    same = int_compute(run, "model-large", shape=small)
    other = int_compute(run, "model-large", shape=small, proposer_shape=large)
    policy_part = generation_flops(small, rollouts) + generation_flops(small, conts)
    assert same["flops_generated"] == policy_part + generation_flops(small, solves + proposals)
    assert other["flops_generated"] == policy_part + generation_flops(large, solves + proposals) > same["flops_generated"]
    assert other["tokens_generated"] == same["tokens_generated"] == 10 + 7 + 5 + 11  # tokens do not depend on who wrote them
    unknown = int_compute(run, "model-large", shape=small, proposer_shape=None)
    assert unknown["flops_generated"] == policy_part and unknown["proposer_flops_unknown"] is True
    assert "proposer_flops_unknown" not in other
