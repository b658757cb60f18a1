"""The paper's proposer budget, in tokens: a long failed attempt with a long reference is shown to the proposer
cut -- whole substeps from the start -- until the chat-templated verify prompt fits ``max_prompt_tokens``; the
instructions and the generation prompt after the attempt stay, the request is sent (not skipped), and the
stage manifest and the report's stage-yield table count it as cut. Real tokenizer, chat template and
generation (the tiny model), real stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends import GenerationRequest, get_backend
from harness.intervention.config import IntConfig, ModelRef, ProposeConfig, RolloutConfig
from harness.intervention.prompts import get_template_set, verify_messages
from harness.intervention.propose import run_propose
from harness.intervention.rollout import run_rollout
from harness.intervention.steps import split_substeps
from reports.yields import frame, int_run_yields
from tasks.problemset import ProblemSet

REFERENCE = "\n\n".join(f"Reference step {i}: since {i} + {i} = {2 * i}, the running total grows by {2 * i}." for i in range(1, 21))
ATTEMPT = "\n\n".join(f"Step {i}: I add {i} to the total and get {i * (i + 1) // 2}, which I check twice." for i in range(1, 201))


@pytest.fixture(scope="module")
def long_window_model(tmp_path_factory) -> Path:
    """The tiny chat model with a 16K window (its byte-level tokenizer spends ~1 token per character)."""
    from harness.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-16k"), seed=0, max_position_embeddings=16384)


@pytest.fixture(scope="module")
def long_task():
    from tasks import LoadedTask, Problem, Task, UnknownTaskError, get_task, register_task

    try:
        get_task("int-budget")
    except UnknownTaskError:
        problem = Problem(id="long-1", problem="Sum the first 200 positive integers, one at a time.", answer="20100",
                          solution=REFERENCE)
        register_task(Task(name="int-budget", version="default", description="one long problem (budget test)",
                           loader=lambda resolver, split="train": LoadedTask([problem]), splits=("train",)))
    return "int-budget"


def test_a_long_attempt_is_cut_in_tokens_keeps_the_generation_prompt_and_is_sent(long_window_model: Path, long_task, tmp_path):
    backend = get_backend("hf", str(long_window_model), batch_size=4)
    sent = []
    generate = backend.generate
    backend.generate = lambda requests, params: (sent.extend((r, params.max_tokens) for r in requests), generate(requests, params))[1]
    budget = 6000  # tokens of the templated prompt: the reference and the instructions take ~3,000
    cfg = IntConfig(out=str(tmp_path), policy=ModelRef(model=str(long_window_model)), grader_workers=0,
                    rollout=RolloutConfig(problems=ProblemSet(task=long_task), k=1, sampling={"max_tokens": 4}),
                    propose=ProposeConfig(template="paper", n=1, max_prompt_tokens=budget, min_new_tokens=16,
                                          sampling={"seed": 1000, "max_tokens": 24}))
    run_rollout(cfg, backend=backend, show_progress=False)
    attempts_file = tmp_path / "rollout" / "attempts.jsonl"
    [attempt] = [json.loads(x) for x in attempts_file.read_text().splitlines()]  # 4 random tokens: wrong
    # the failed attempt as a long-winded model writes it: 200 substeps, far beyond the budget
    attempt |= {"attempt": ATTEMPT, "n_substeps": 200}
    attempts_file.write_text(json.dumps(attempt) + "\n")
    sent.clear()

    counts = run_propose(cfg, backend=backend, show_progress=False)
    [proposal] = [json.loads(x) for x in (tmp_path / "propose-self" / "proposals.jsonl").read_text().splitlines()]
    assert proposal["finish_reason"] != "skipped", proposal["skip_reason"]
    assert proposal["completion_tokens"] > 0  # sent and answered
    assert proposal["attempt_cut"] and 1 <= proposal["shown_substeps"] < 200
    assert proposal["prompt_tokens_full"] > budget >= proposal["prompt_tokens"]  # cut in tokens of the real prompt
    verify, max_tokens = sent[-1]  # the request as sent: turn 1, the proposer's answer, turn 2
    text = backend.render(verify)
    assert len(backend.prompt_token_ids(verify)) == proposal["prompt_tokens"] and max_tokens == 24
    assert text.endswith("</intervention><|im_end|>\n<|im_start|>assistant\n")  # instructions + generation prompt kept
    shown = split_substeps(ATTEMPT)[: proposal["shown_substeps"]]
    assert f"**Substep {len(shown)}:** {shown[-1]}" in text and f"**Substep {len(shown) + 1}:**" not in text
    assert REFERENCE in text  # the reference is never cut
    # one substep more would not have fit: the cut is the longest head of whole substeps within the budget
    longer = {**attempt, "attempt": "\n\n".join(split_substeps(ATTEMPT)[: len(shown) + 1])}
    solve = json.loads((tmp_path / "propose-self" / "solves.jsonl").read_text())["text"]
    over = GenerationRequest(messages=tuple(verify_messages(get_template_set("paper"), longer, solve)))
    assert backend.count_prompt_tokens(over) > budget

    assert counts["budget"]["verify_cut"] == 1 and counts["budget"]["verify_skipped"] == 0
    table = frame({"int seed 0": int_run_yields(tmp_path)}).set_index("yield")["int seed 0"]
    assert table["turn 2 cut to the prompt budget"] == "1" and table["turn 2 skipped (no room)"] == "0"
    backend.close()
