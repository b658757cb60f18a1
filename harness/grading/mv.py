"""The math-verify layer: parse both sides the paper's way and compare, gold first.

Both answers are re-wrapped as ``\\boxed{...}`` and parsed with ``LatexExtractionConfig`` +
``ExprExtractionConfig`` (InT's ``grader.py``). math-verify's signal-based timeouts are switched off
(``parsing_timeout=None``, ``timeout_seconds=None``) because they break off the main thread; the caller
runs this under `harness.grading.timeouts.deadline` instead. Deviations from the plain rule, each for a
real gold answer, are listed in `compare`.
"""

from __future__ import annotations

import importlib.metadata
import math
import re
from functools import lru_cache
from typing import Any

import math_verify
import math_verify.grader
import math_verify.parser
import sympy
from latex2sympy2_extended.latex2sympy2 import NormalizationConfig
from latex2sympy2_extended.math_normalization import normalize_latex
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from harness.grading.numeric import clearly_different

__all__ = ["MAGNITUDE_LIMIT_DIGITS", "NESTING_LIMIT", "compare", "magnitude_digits", "nesting_depth", "parse_answer"]

# We disable math-verify's timeouts on purpose; silence its one-time "you must handle timeouts" warning.
math_verify.parser.TIMEOUT_WARNING_SHOWN = True
math_verify.grader.TIMEOUT_WARNING_SHOWN = True

# A prediction whose numeric value has more decimal digits than this is refused before sympy touches
# it (``9^{9^{9^{9}}}`` would spin for minutes). AnswerBench's largest gold, 2^{2024}+1, has 610 digits.
MAGNITUDE_LIMIT_DIGITS = 100_000
# Brace nesting past this is refused with its own reason: sympy recurses per level and, at a few hundred
# levels, math-verify's verdict is a swallowed RecursionError (False) rather than a comparison. Exact
# rational answers of any depth never get here (`exact.exact_rational` in rule 2).
NESTING_LIMIT = 100
_BRACE = re.compile(r"\\[{}]|[{}]")


def nesting_depth(latex: str) -> int:
    """Deepest ``{`` nesting in ``latex`` (escaped braces ignored)."""
    depth = worst = 0
    for m in _BRACE.finditer(latex):
        tok = m.group()
        if tok == "{":
            depth += 1
            worst = max(worst, depth)
        elif tok == "}":
            depth -= 1
    return worst


def _normalization(units: bool) -> NormalizationConfig:
    return NormalizationConfig(basic_latex=True, units=units, malformed_operators=True, nits=True, boxed="all", equations=False)


@lru_cache(maxsize=2)
def _configs(units: bool) -> tuple[Any, ...]:
    return (LatexExtractionConfig(normalization_config=_normalization(units)), ExprExtractionConfig())


_INT = re.compile(r"-?\d{1,300}", re.ASCII)  # ASCII digits only, like math-verify (see normalize._RATIONAL)
_FRAC = re.compile(r"(-?)(?:\\[dt]?frac\{(\d{1,100})\}\{(\d{1,100})\}|(\d{1,100})/(\d{1,100}))", re.ASCII)


def _literal(latex: str) -> tuple[Any, ...] | None:
    """Integers and integer fractions, built directly: exactly what math-verify's parse returns for them
    (``Integer``/``Rational`` plus the normalised string), without the ~5-20 ms ANTLR parse."""
    s = latex.strip()
    if _INT.fullmatch(s):
        return (sympy.Integer(int(s)), s)
    m = _FRAC.fullmatch(s)
    if m:
        num, den = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
        if int(den) != 0:
            return (sympy.Rational(int(m.group(1) + num), int(den)), f"{m.group(1)}\\frac{{{num}}}{{{den}}}")
    return None


@lru_cache(maxsize=8192)
def parse_answer(latex: str, units: bool = True) -> tuple[Any, ...]:
    """math-verify's parse of ``\\boxed{latex}``, cached per process (identical answers repeat a lot)."""
    literal = _literal(latex)
    if literal is not None:
        return literal
    return tuple(parse("\\boxed{" + latex + "}", _configs(units), parsing_timeout=None))


@lru_cache(maxsize=4096)
def _units_mode(gold: str) -> bool:
    """Unit stripping (the paper's default) unless it changes the gold itself: it reads the parameter
    answer ``2-2m`` as ``2-2`` metres, after which any prediction equal to 0 would pass. Decided on the
    normalised strings, so it costs no parse."""
    boxed = "\\boxed{" + gold + "}"
    return normalize_latex(boxed, _normalization(True)) == normalize_latex(boxed, _normalization(False))


def _case_collisions(gold: str) -> frozenset[str]:
    """Letters used both upper- and lower-case in the gold (``R-2r``, ``\\frac{R^2+Rr}{...}``).
    latex2sympy lower-cases every symbol, so ``R-2r`` would become ``-r``."""
    stripped = re.sub(r"\\[A-Za-z]+", " ", gold)
    letters = set(re.findall(r"[A-Za-z]", stripped))
    return frozenset(ch for ch in letters if ch.isupper() and ch.lower() in letters)


def _protect_case(s: str, letters: frozenset[str]) -> str:
    if not letters:
        return s
    out, pos = [], 0
    for m in re.finditer(r"\\[A-Za-z]+|[A-Za-z]", s):
        out.append(s[pos : m.start()])
        tok = m.group()
        out.append(tok + "_{0}" if tok in letters else tok)
        pos = m.end()
    out.append(s[pos:])
    return "".join(out)


def _approx_log10(e: sympy.Basic, env: dict[sympy.Symbol, float] | None = None) -> float | None:
    """log10 of |e| for a purely numeric (unevaluated) tree, inf when astronomically large; None when
    it has symbols or we cannot tell cheaply. Never evaluates the tree itself. ``env`` bounds the
    log10 of a summation/product/integration variable (the largest value it takes)."""
    env = env or {}
    if isinstance(e, sympy.Symbol):
        return env.get(e)
    if e.is_Integer:
        n = abs(int(e.p))
        if n < 2:
            return 0.0  # 0 and 1: a tower on top of them stays small
        return math.log10(n) if n.bit_length() < 1000 else n.bit_length() * math.log10(2)
    if e.is_Number:
        if e.is_infinite:
            return None
        try:
            return math.log10(abs(float(e))) if e != 0 else 0.0
        except (OverflowError, ValueError, TypeError):
            return math.inf
    if isinstance(e, sympy.Pow):
        lb, lx = _approx_log10(e.base, env), _approx_log10(e.exp, env)
        if lb is None or lx is None:
            return None
        if lb <= 0:
            return 0.0  # |base| <= 1: bounded
        if lx > 300:
            return math.inf
        return lb * 10**lx if not e.exp.could_extract_minus_sign() else 0.0
    if isinstance(e, sympy.factorial):
        ln = _approx_log10(e.args[0], env)
        if ln is None:
            return None
        if ln > 300:
            return math.inf
        n = 10**ln
        return n * math.log10(max(n, 1) / math.e) + 1
    if isinstance(e, sympy.NumberSymbol):  # pi, E
        return math.log10(float(e))
    if isinstance(e, sympy.exp):
        lx = _approx_log10(e.args[0], env)
        if lx is None:
            return None
        return math.inf if lx > 300 else 10**lx * math.log10(math.e)
    if isinstance(e, sympy.binomial):
        ln = _approx_log10(e.args[0], env)
        return None if ln is None else (math.inf if ln > 300 else 10**ln * math.log10(2))
    if isinstance(e, (sympy.floor, sympy.ceiling, sympy.Abs)):
        return _approx_log10(e.args[0], env)
    if isinstance(e, (sympy.Add, sympy.Mul)):
        parts = [_approx_log10(a, env) for a in e.args]
        if any(p is None for p in parts):
            return None
        return sum(p for p in parts if p is not None) + len(parts)
    if isinstance(e, (sympy.Sum, sympy.Product, sympy.Integral)) and len(e.limits) == 1 and len(e.limits[0]) == 3:
        # \sum_{n=1}^{10^{12}} n^n: the term at the far end of the range is what sympy's
        # Euler-Maclaurin step computes exactly (one C-level power nothing can interrupt).
        var, lo, hi = e.limits[0]
        bounds = [_approx_log10(lo, env), _approx_log10(hi, env)]
        if any(b is None for b in bounds):
            return None
        reach = max(b for b in bounds if b is not None)
        term = _approx_log10(e.function, {**env, var: reach})
        if term is None:
            return None
        if isinstance(e, sympy.Product):
            return math.inf if reach > 300 else max(term, 0.0) * 10**reach
        return term + reach + 1
    return None


_GUARDED = (sympy.Pow, sympy.factorial, sympy.exp, sympy.binomial, sympy.Sum, sympy.Product, sympy.Integral)


def magnitude_digits(expr: Any) -> float:
    """The largest number of decimal digits any numeric power/factorial inside ``expr`` (or any term of
    a sum, product or integral over a numeric range) would have."""
    if not isinstance(expr, sympy.Basic):
        return 0.0
    worst = 0.0
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, _GUARDED):
            est = _approx_log10(node)
            if est is not None and est > worst:
                worst = est
    return worst


@lru_cache(maxsize=4096)
def _gold_limit(gold: tuple[Any, ...]) -> float:
    """The guard never refuses a prediction smaller than the gold itself."""
    return max(MAGNITUDE_LIMIT_DIGITS, max(magnitude_digits(g) for g in gold))


def compare(gold_latex: str, pred_latex: str) -> tuple[bool, str]:
    """math-verify equivalence, ``verify(gold, pred)`` in that order. Returns (equal, rule/reason).

    Deviations from the bare paper rule, each for a real case:
    - unit stripping only when it leaves the gold unchanged (``2-2m``, see `_units_mode`);
    - letters that the gold uses in both cases are kept apart (``R-2r``, see `_case_collisions`);
    - ``allow_set_relation_comp=True``: ``x \\le 0`` equals the gold interval ``(-\\infty, 0]``
      (math-verify only allows it when the *prediction* is the set);
    - a magnitude guard refuses power towers (and sums/products/integrals of huge terms) before sympy
      evaluates them, and a nesting guard refuses answers nested past `NESTING_LIMIT`;
    - a numeric pre-check (`numeric.clearly_different`) returns math-verify's own False early.
    """
    depth = nesting_depth(pred_latex)
    if depth > NESTING_LIMIT:
        return False, f"nesting guard: prediction nested {depth} levels deep (limit {NESTING_LIMIT}); not evaluated"
    letters = _case_collisions(gold_latex)
    gold_latex, pred_latex = _protect_case(gold_latex, letters), _protect_case(pred_latex, letters)
    units = _units_mode(gold_latex)
    gold, pred = parse_answer(gold_latex, units), parse_answer(pred_latex, units)
    if not gold:
        return False, "gold not parseable"
    if not pred:
        return False, "prediction not parseable"
    limit = _gold_limit(gold)
    digits = max(magnitude_digits(p) for p in pred)
    if digits > limit:
        return False, f"magnitude guard: prediction has ~{digits:.3g} digits (limit {limit:.3g}); not evaluated"
    if "%" not in pred_latex and clearly_different(gold, pred):
        return False, "numerically different"
    ok = verify(list(gold), list(pred), timeout_seconds=None, allow_set_relation_comp=True)
    return ok, "math-verify"


@lru_cache(maxsize=1)
def version() -> str:
    """The installed math-verify version (cached: every Verdict records it)."""
    try:
        return importlib.metadata.version("math-verify")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(math_verify, "__version__", "unknown"))
