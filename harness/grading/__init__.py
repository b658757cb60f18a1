"""Grading: answer extraction, math-verify equivalence with hard timeouts, a memoising worker pool and
an optional LLM judge. Everything returns `Verdict`; ``Verdict.grader`` names the grader and version.

    from harness.grading import GradingPool, grade, get_grader
    grade(response, gold)                      # one answer, any thread
    with GradingPool(workers=2) as pool:       # a whole run
        verdicts = pool.grade_many([(response, gold), ...])

Limits that hold: string rules run in the caller; math-verify always runs in a worker process (the
pool's, or for `grade` / the RL reward the process's shared one) that is killed past ``timeout +
max(2, timeout/2)`` s, so no answer can hang a caller, not even one stuck in a single C call. Inside the
worker a watchdog re-raises `GradingTimeout` until the answer's block exits, and guards refuse absurd
answers before sympy sees them (power towers, sums of huge terms, nesting past 100 levels). Scripts
need no ``if __name__ == "__main__":`` guard: workers are not started through multiprocessing.

Digits are ASCII ``0-9`` only, as in math-verify: full-width, Arabic-Indic and math-bold digits are not
read as numbers, so ``\\boxed{２５}`` is wrong for gold 25 (see `harness.grading.rules`).
"""

from harness.grading.extract import extract_boxed
from harness.grading.pool import GradingPool, PoolStats, grade
from harness.grading.registry import (
    GRADERS,
    Grader,
    MathVerifyGrader,
    available_graders,
    get_grader,
    open_grader,
    register_grader,
)
from harness.grading.rules import GRADER_VERSION, grader_id
from harness.grading.verdict import Verdict

__all__ = [
    "GRADERS",
    "GRADER_VERSION",
    "Grader",
    "GradingPool",
    "MathVerifyGrader",
    "PoolStats",
    "Verdict",
    "available_graders",
    "extract_boxed",
    "get_grader",
    "grade",
    "grader_id",
    "open_grader",
    "register_grader",
]
