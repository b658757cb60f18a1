"""The rule set: extracted answer + gold -> decision, and `grade` (one response, any thread).

Order of rules (first that decides wins):
1. equal canonical strings -> correct (cheap; also the only way to match golds math-verify cannot
   parse, such as ``\\underbrace{2\\cdots2}_{n}1``);
2. gold a plain integer / integer fraction, prediction plain rational arithmetic (``025``, ``\\frac{7}{2}``,
   ``2^{10}-1``, ``\\frac{1}{\\frac{1}{2}}`` nested any depth: `exact.exact_rational`) -> compare exactly
   (AIME "025" == 25; identical to math-verify's verdict, without its parse, and bounded);
3. gold kind ``text`` (prose such as "odd $n$") -> `normalize.text_key` equality;
4. gold kind ``core`` ("$X$ for some $a>0$") -> math-verify on the maths before the qualifier, the
   prediction's own qualifier stripped too;
5. otherwise math-verify (`mv.compare`) on the normalised gold and prediction.
Rules 1-3 are pure string work (`quick_decide`), so a pool decides them without a worker round trip.

Digits are ASCII ``0-9`` only: full-width (``２５``), Arabic-Indic (``٢٥``) and math-bold (``𝟐𝟓``) digits
are not numbers here, because math-verify does not read them as numbers (it returns the raw string,
which equals nothing). Python's ``\\d`` and ``int()`` do accept them, which made the fast path of rule 2
call ``\\boxed{２５}`` correct for gold 25 while math-verify called it wrong (boxed-v1); now both say wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.grading import mv
from harness.grading.exact import exact_rational
from harness.grading.normalize import (
    as_rational,
    canonical,
    clean_math,
    expand_pm,
    gold_spec,
    strip_qualifier,
    text_key,
)
from harness.grading.timeouts import GradingTimeout, deadline
from harness.grading.verdict import Status, Verdict

__all__ = ["GRADER_VERSION", "Decision", "decide", "grader_id", "quick_decide", "verdict_for"]

# Our rule-set version; part of every Verdict.grader and of each eval's protocol hash. Bump it whenever
# a rule above, the normalisation or the extraction changes a verdict.
# boxed-v2: ASCII-only digits; exact rational arithmetic for predictions (nested fractions); magnitude
# guard over sums/products/integrals (issue 12).
GRADER_VERSION = "boxed-v2"
GRADER_NAME = "math-verify"


def grader_id() -> str:
    """``math-verify==<math-verify version>/<GRADER_VERSION>``, e.g. ``math-verify==0.9.0/boxed-v2``."""
    return f"{GRADER_NAME}=={mv.version()}/{GRADER_VERSION}"


@dataclass(frozen=True)
class Decision:
    """What the rules concluded about one (gold, extracted answer) pair; ``reason`` names the rule that
    decided (or the error / time limit)."""

    correct: bool
    status: Status = "ok"
    reason: str = ""


def quick_decide(extracted: str, gold: str) -> Decision | None:
    """Rules 1-3 (string work only); None when math-verify has to decide."""
    pred = clean_math(extracted)
    if not pred:
        return Decision(False, "no_answer", "empty \\boxed{}")
    spec = gold_spec(gold)
    if canonical(pred) == spec.canonical:
        return Decision(True, reason="canonical string match")
    if spec.rational is not None:
        value = as_rational(pred, prediction=True)
        if value is None:
            value = exact_rational(pred)
        if value is not None:
            return Decision(value == spec.rational, reason="exact number comparison")
    if spec.kind == "text":
        key = text_key(pred)
        # An answer with no words and no maths left (a bare variable "n") never matches prose.
        return Decision(bool(key[0] or key[1]) and key == spec.key, reason="text-answer comparison")
    return None


def decide(extracted: str, gold: str) -> Decision:
    """All rules. May be slow (sympy); run it under a deadline."""
    quick = quick_decide(extracted, gold)
    if quick is not None:
        return quick
    spec = gold_spec(gold)
    pred = clean_math(extracted)
    if spec.kind == "core":
        pred = strip_qualifier(pred)
    pred = expand_pm(pred)
    reason = ""
    for variant in spec.variants:
        ok, reason = mv.compare(expand_pm(variant), pred)
        if ok:
            return Decision(True, reason=reason)
    return Decision(False, reason=reason)


def verdict_for(extracted: str | None, decision: Decision) -> Verdict:
    return Verdict(
        correct=decision.correct and decision.status == "ok",
        extracted=extracted,
        status=decision.status,
        reason=decision.reason,
        grader=grader_id(),
    )


def decide_with_timeout(extracted: str, gold: str, timeout: float | None) -> Decision:
    """`decide` that never raises: an overrun is status ``timeout``, any exception status ``error``."""
    start = time.monotonic()
    try:
        with deadline(timeout):
            return decide(extracted, gold)
    except GradingTimeout:
        return Decision(False, "timeout", f"grading exceeded {timeout:g}s (stopped after {time.monotonic() - start:.2f}s)")
    except RecursionError:
        return Decision(False, "error", "RecursionError: expression nested too deeply")
    except Exception as exc:  # noqa: BLE001 - one bad answer must never kill a run
        return Decision(False, "error", f"{type(exc).__name__}: {str(exc)[:300]}")
