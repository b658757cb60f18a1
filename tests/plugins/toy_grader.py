"""A grader from a plugin package: the worked example of docs/adding-a-grader.md.

``last-number`` reads the last integer the response writes -- boxed or not -- and compares it with an
integer gold answer: a lenient grader for models that state answers in prose. It needs no worker pool
(string work only, bounded: the response is scanned once); ``version`` is part of every protocol it
grades, so changing the rule means bumping it. Registered through the package's entry point
(``[project.entry-points."harness.graders"] last-number = "toy_grader:LastNumberGrader"``), it is then
the grader of `harness eval --grader last-number`, of the InT stages and of the RL reward alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.grading import Verdict

NUMBER = re.compile(r"-?\d+")


class LastNumberGrader:
    name = "last-number"
    version = "1"

    def __init__(self, workers: int = 0, timeout: float = 10.0) -> None:
        pass  # nothing to start: the rule runs in the caller (no judge model: open_grader refuses one)

    def grade_many(self, items: Sequence[tuple[str, ...]]) -> list[Verdict]:
        return [self._grade(item[0], item[1]) for item in items]

    def _grade(self, response: str, gold: str) -> Verdict:
        grader = f"{self.name}=={self.version}"
        numbers = NUMBER.findall(response[-2000:])  # the answer is at the end; a bounded scan
        if not numbers:
            return Verdict(correct=False, extracted=None, status="no_answer", reason="no integer in the response", grader=grader)
        last = numbers[-1]
        try:
            correct = int(last) == int(gold.strip())
        except ValueError:  # not an integer gold answer: this grader cannot say it matches
            correct = False
        return Verdict(correct=correct, extracted=last, status="ok", reason="last integer " + ("matches" if correct else "differs"),
                       grader=grader)

    def close(self) -> None:
        pass
