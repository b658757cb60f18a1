"""Context budgets: every request is checked against the backend's window before it is sent; an over-long
one is skipped with its reason recorded and never fails its batch -- or, where a stage allows it (the InT
stages' ``min_new_tokens``), generated with the room left; the proposer's view of an attempt is cut at a
substep boundary to a budget in tokens."""

from __future__ import annotations

import pytest

from harness.backends import Backend, GenerationRequest, Sample, SamplingParams
from harness.grading import get_grader
from harness.intervention.proposers import generate_fitting
from harness.intervention.steps import cut_to_fit, split_substeps
from harness.sampling import Unit, open_records, sample_and_grade


class FakeBackend(Backend):
    """A model with a small context window; a prompt's tokens are its characters / 4; it answers \\boxed{1}."""

    name = "fake"

    def __init__(self, window: int = 300) -> None:
        super().__init__("fake-model")
        self.window, self.sent = window, []

    def context_window(self) -> int:
        return self.window

    def count_prompt_tokens(self, request: GenerationRequest) -> int:
        return sum(len(m["content"]) for m in request.messages) // 4

    def generate(self, requests, params):
        for r in requests:  # the contract the driver must keep: nothing over the window is ever sent
            assert self.count_prompt_tokens(r) + params.max_tokens <= self.window
        self.sent += list(requests)
        return [[Sample(text="so \\boxed{1}", completion_tokens=4) for _ in range(params.n)] for _ in requests]


def _unit(uid: str, chars: int) -> Unit:
    return Unit(id=uid, request=GenerationRequest(messages=({"role": "user", "content": "x" * chars},)), gold="1")


def test_an_over_long_request_is_skipped_with_its_reason_and_the_batch_completes(tmp_path):
    backend = FakeBackend(window=300)
    units = [_unit("short", 400), _unit("long", 2000), _unit("short2", 200)]  # 100, 500, 50 prompt tokens
    records = open_records(tmp_path / "samples.jsonl")
    stats = sample_and_grade(units, k=2, params=SamplingParams(max_tokens=100), records=records, backend=backend,
                             grader=get_grader("math-verify", workers=0), batch_size=8, show_progress=False)
    rows = {(r["problem_id"], r["sample_index"]): r for r in records.read()}
    assert len(rows) == 6 and stats.skipped == 2 and stats.new_generations == 4
    assert rows[("long", 0)]["status"] == "skipped" and "context window 300" in rows[("long", 0)]["reason"]
    assert rows[("long", 0)]["correct"] is False and rows[("short", 1)]["correct"] is True
    sent = len(backend.sent)
    again = sample_and_grade(units, k=2, params=SamplingParams(max_tokens=100), records=open_records(records.path),
                             backend=backend, grader=get_grader("math-verify", workers=0), batch_size=8, show_progress=False)
    assert len(backend.sent) == sent and again.reused_samples == 6  # a skipped unit is done, not retried


def test_a_budget_that_leaves_no_room_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="leaves no room for a prompt"):
        sample_and_grade([_unit("a", 40)], k=1, params=SamplingParams(max_tokens=300), records=open_records(tmp_path / "s.jsonl"),
                         backend=FakeBackend(window=300), grader=get_grader("math-verify", workers=0), batch_size=1,
                         show_progress=False)


def test_proposer_requests_that_do_not_fit_are_skipped_not_sent():
    backend = FakeBackend(window=300)
    reqs = [GenerationRequest(messages=({"role": "user", "content": "y" * c},)) for c in (100, 5000, 300)]
    out = generate_fitting(backend, reqs, SamplingParams(n=2, max_tokens=50))
    assert [len(o) for o in out] == [2, 2, 2]
    assert out[1][0].finish_reason == "skipped" and "context" in out[1][0].extra["reason"]
    assert out[0][0].text and len(backend.sent) == 2


def test_a_request_over_the_window_is_shortened_down_to_the_minimum_then_skipped():
    backend = FakeBackend(window=300)
    # 25, 275 and 290 prompt tokens; budget 100, at least 20 new tokens
    reqs = [GenerationRequest(messages=({"role": "user", "content": "y" * c},)) for c in (100, 1100, 1160)]
    out = generate_fitting(backend, reqs, SamplingParams(n=1, max_tokens=100), min_tokens=20)
    assert "shortened" not in out[0][0].extra and out[0][0].finish_reason == "stop"
    assert out[1][0].extra["max_tokens"] == 25 and "generating 25" in out[1][0].extra["shortened"]
    assert out[2][0].finish_reason == "skipped" and "min_new_tokens 20" in out[2][0].extra["reason"]
    assert len(backend.sent) == 2  # FakeBackend.generate asserts prompt + budget <= window for each


def test_continuations_are_shortened_and_recorded(tmp_path):
    backend = FakeBackend(window=300)
    units = [_unit("short", 400), _unit("long", 1000), _unit("huge", 2000)]  # 100, 250, 500 prompt tokens
    records = open_records(tmp_path / "samples.jsonl")
    stats = sample_and_grade(units, k=2, params=SamplingParams(max_tokens=100), records=records, backend=backend,
                             grader=get_grader("math-verify", workers=0), batch_size=8, show_progress=False,
                             min_new_tokens=30)
    rows = {(r["problem_id"], r["sample_index"]): r for r in records.read()}
    assert rows[("long", 1)]["shortened_to"] == 50 and rows[("long", 1)]["status"] != "skipped"
    assert "shortened_to" not in rows[("short", 0)] and rows[("huge", 0)]["status"] == "skipped"
    assert stats.shortened == 2 and stats.skipped == 2 and stats.new_generations == 4


def test_the_attempt_shown_to_the_proposer_is_cut_at_a_substep_boundary():
    attempt = "\n\n".join(f"step {i}: " + "z" * 40 for i in range(1, 11))
    head, kept = cut_to_fit(attempt, lambda text: len(text) <= 200)
    assert 1 <= kept < 10 and len(head) <= 200 and attempt.startswith(head)
    assert split_substeps(head) == split_substeps(attempt)[:kept]  # whole substeps only
    assert len("\n\n".join(split_substeps(attempt)[: kept + 1])) > 200  # the longest head that fits
    assert cut_to_fit(attempt, lambda text: True) == (attempt, 10)
    assert cut_to_fit(attempt, lambda text: len(text) < 10) is None  # not even one substep fits


def test_a_location_past_what_the_proposer_saw_is_out_of_range():
    from harness.intervention.filters import select_interventions

    attempt = "\n\n".join(["a", "b", "c", "d"])
    attempts = {"x#0": {"attempt_id": "x#0", "problem_id": "x", "order": 0, "attempt": attempt, "answer": "9"}}
    props = [{"attempt_id": "x#0", "proposal_index": 0, "shown_substeps": 2, "n_substeps": 4,
              "parse": {"ok": True, "content": "fixed", "location": 3, "reason": ""}}]
    kept, counts = select_interventions(props, attempts)
    assert kept == [] and counts["location_out_of_range"] == 1


def test_the_prompt_budget_leaves_room_for_the_generation_not_more():
    from harness.intervention.prompts import get_template_set
    from harness.intervention.proposers import ModelProposer

    proposer = ModelProposer(FakeBackend(window=300), get_template_set("compact"), max_prompt_tokens=30000, min_new_tokens=1024)
    # a 50-token budget needs 50 tokens of room even though min_new_tokens exceeds the whole window
    assert proposer.prompt_budget(50) == 250
    assert ModelProposer(FakeBackend(window=3000), get_template_set("compact"), max_prompt_tokens=2000,
                         min_new_tokens=256).prompt_budget(4096) == 2000  # max_prompt_tokens binds first
    assert ModelProposer(FakeBackend(window=3000), get_template_set("compact"), max_prompt_tokens=30000,
                         min_new_tokens=256).prompt_budget(4096) == 3000 - 256
