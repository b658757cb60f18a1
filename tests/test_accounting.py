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
