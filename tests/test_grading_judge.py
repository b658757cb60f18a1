"""LLM judge: prompt rendering and judgement parsing, through a scripted in-test backend."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from harness.backends import Backend, GenerationRequest, Sample, SamplingParams
from harness.grading import get_grader
from harness.grading.judge import LLMJudgeGrader, parse_judgement


class ScriptedJudge(Backend):
    """Answers each judge prompt by looking up the model's final answer in a script; records prompts."""

    name = "scripted"

    def __init__(self, script: dict[str, str]) -> None:
        super().__init__("scripted-judge")
        self.script = script
        self.prompts: list[str] = []
        self.params: list[SamplingParams] = []

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        self.params.append(params)
        out = []
        for req in requests:
            prompt = req.messages[-1]["content"]
            self.prompts.append(prompt)
            solution = prompt.split("## Solution to grade", 1)[1].split("## How to decide", 1)[0]
            boxed = re.findall(r"\\boxed\{([^{}]*)\}", solution)
            key = boxed[-1] if boxed else "<none>"
            out.append([Sample(text=self.script.get(key, "I am not sure."))])
        return out


JUDGEMENTS = {
    "n=2k+1": "Reference: odd n. Model: n = 2k+1, the odd numbers.\n\\boxed{Correct}",
    "n=2k": "Reference: odd n. Model: even numbers. They differ.\n\\boxed{Incorrect}",
    "<none>": "No clear final answer found.\n\\boxed{\\text{Incorrect}}",
    "7": "Hmm, maybe \\boxed{Correct}? Actually no: the answer is not equivalent.\n\n\\boxed{Incorrect}.",
}


@pytest.fixture
def judge() -> tuple[LLMJudgeGrader, ScriptedJudge]:
    backend = ScriptedJudge(JUDGEMENTS)
    grader = get_grader("llm-judge", backend=backend)
    assert isinstance(grader, LLMJudgeGrader)
    return grader, backend


def test_verdicts_from_judgements(judge) -> None:
    grader, backend = judge
    items = [
        ("So all odd numbers work: \\boxed{n=2k+1}", "odd $n$", "Find all n such that ..."),
        ("\\boxed{n=2k}", "odd $n$", "Find all n such that ..."),
        ("I give up.", "odd $n$"),
        ("\\boxed{7}", "8"),
        ("\\boxed{9}", "8"),  # the scripted judge rambles without a verdict
    ]
    out = grader.grade_many(items)
    assert [(v.correct, v.status) for v in out] == [(True, "ok"), (False, "ok"), (False, "ok"), (False, "ok"), (False, "error")]
    assert out[0].extracted == "n=2k+1" and out[2].extracted is None
    assert "unparseable judgement" in out[4].reason
    assert all(v.grader == f"llm-judge=={grader.version}" for v in out)
    assert grader.version.startswith("judge-v1+") and grader.version.endswith("/scripted:scripted-judge")
    assert backend.params[0].n == 1 and backend.params[0].temperature == 0.0


def test_prompt_rendering(judge) -> None:
    grader, backend = judge
    grader.grade_many([("Work...\n\\boxed{n=2k+1}", "odd $n$", "Find all positive integers n with property P.")])
    prompt = backend.prompts[-1]
    flat = " ".join(prompt.split()).lower()
    assert "Find all positive integers n with property P." in prompt
    assert "odd $n$" in prompt and "\\boxed{n=2k+1}" in prompt
    for rule in ("order does not matter", "no partial credit", "no clear final answer", "\\boxed{Correct}", "\\boxed{Incorrect}"):
        assert rule.lower() in flat, rule
    # Without a problem statement the template says so instead of leaving a hole.
    assert "not provided" in grader.render("\\boxed{1}", "1")


def test_long_responses_keep_their_end(judge) -> None:
    grader, _ = judge
    prompt = grader.render("x" * 50_000 + " final \\boxed{42}", "42")
    assert "\\boxed{42}" in prompt and "earlier characters omitted" in prompt
    assert len(prompt) < 20_000


def test_memoised_and_item_shapes(judge) -> None:
    grader, backend = judge
    items = [("\\boxed{n=2k}", "odd $n$", "P")] * 5
    grader.grade_many(items)
    grader.grade_many(items)
    assert grader.calls == 1 and len(backend.prompts) == 1
    with pytest.raises(ValueError):
        grader.grade_many([("only response",)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("... \\boxed{Correct}", True),
        ("\\boxed{ incorrect }", False),
        ("\\boxed{\\text{Correct}}", True),
        ("\\boxed{\\textbf{Incorrect}}.", False),
        ("\\boxed{Correct} wait \\boxed{Incorrect}", False),
        ("Correct", None),
        ("\\boxed{Partially correct}", None),
        ("", None),
    ],
)
def test_parse_judgement(text: str, expected: bool | None) -> None:
    assert parse_judgement(text) is expected


def test_judge_needs_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        get_grader("llm-judge")
