"""A generation backend from a plugin package: the worked example of docs/adding-a-backend.md.

``rule-judge`` stands in for a judge model (`--grader llm-judge --judge-backend rule-judge`): it reads the
judge prompt (harness/grading/judge_prompt.jinja), answers ``\\boxed{Correct}`` when the solution's last
``\\boxed{}`` equals the reference answer and ``\\boxed{Incorrect}`` otherwise, and -- with ``log`` --
appends one line per request (``log``, else ``$RULE_JUDGE_LOG``) saying which part of the harness asked (evaluation, an InT stage, the RL
reward), so a test can show that every consumer of the comparison's grader reaches the judge, from any
process. A real backend would call a model here; everything else is the same.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from harness.backends import Backend, GenerationRequest, Sample, SamplingParams
from harness.grading import extract_boxed

# The harness modules that grade, innermost first as the call stack is walked outward.
CALLERS = ("trainers.reward", "harness.intervention.rollout", "harness.intervention.continuation",
           "harness.intervention.reflect", "harness.evaluate")


class RuleJudge(Backend):
    name = "rule-judge"
    loads_weights = False  # the model name is a served name, not a local folder

    def __init__(self, model: str, log: str | None = None) -> None:
        super().__init__(model, log=log)
        self.log = log or os.environ.get("RULE_JUDGE_LOG")  # the environment reaches every step's process

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        out, lines = [], []
        caller = _caller()
        for req in requests:
            prompt = req.messages[-1]["content"]
            gold = _section(prompt, "## Reference answer")
            answer = extract_boxed(_section(prompt, "## Solution to grade"))
            verdict = "Correct" if answer is not None and answer.strip() == gold else "Incorrect"
            out.append([Sample(text=f"Reference {gold}, solution {answer}. \\boxed{{{verdict}}}")] * params.n)
            lines.append(json.dumps({"caller": caller, "pid": os.getpid(), "gold": gold, "verdict": verdict}) + "\n")
        if self.log:
            with open(self.log, "a", encoding="utf-8") as fh:  # one write per batch: whole lines, O_APPEND
                fh.write("".join(lines))
        return out


def _section(prompt: str, heading: str) -> str:
    """The text under a ``## heading`` of the judge prompt, up to the next heading."""
    body = prompt.split(heading + "\n", 1)[1]
    return body.split("\n## ", 1)[0].strip()


def _caller() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") in CALLERS:
            return frame.f_globals["__name__"]
        frame = frame.f_back
    return "unknown"
