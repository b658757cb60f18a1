"""Grading: answer extraction, math-verify equivalence with hard timeouts, a memoising worker pool and
an optional LLM judge. Everything returns `Verdict`; ``Verdict.grader`` names the grader and version.

    from harness.grading import GradingPool, grade, get_grader
    grade(response, gold)                      # one answer, in-process, any thread
    with GradingPool(workers=2) as pool:       # a whole run
        verdicts = pool.grade_many([(response, gold), ...])
"""

from harness.grading.extract import extract_boxed
from harness.grading.pool import GradingPool, PoolStats
from harness.grading.registry import Grader, MathVerifyGrader, available_graders, get_grader, register_grader
from harness.grading.rules import GRADER_VERSION, grade, grader_id
from harness.grading.verdict import Verdict

__all__ = [
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
    "register_grader",
]
