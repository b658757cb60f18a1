"""The record every grader returns, so eval, RL reward and reports read one shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "no_answer", "timeout", "error"]


@dataclass(frozen=True)
class Verdict:
    """A graded answer.

    Attributes:
        correct: the binary score (False for every non-``ok`` status).
        extracted: the answer pulled out of the response (content of the last ``\\boxed{}``), or None.
        status: ``ok`` (compared), ``no_answer`` (nothing to extract), ``timeout`` (hard limit hit),
            ``error`` (the parser or comparator raised).
        reason: human-readable detail for non-``ok`` statuses (exception text, time limit).
        grader: name and version of what produced the verdict, e.g. ``math-verify==0.9.0/boxed-v2``.
    """

    correct: bool
    extracted: str | None
    status: Status = "ok"
    reason: str = ""
    grader: str = ""

    @property
    def score(self) -> float:
        return 1.0 if self.correct else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
