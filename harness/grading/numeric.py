"""A numeric pre-check that returns math-verify's own ``False`` early, without ``simplify``.

Most predictions are wrong, and math-verify spends ~50-500 ms proving a wrong answer wrong (``simplify``
of the difference, ``solve`` for equations, symmetric differences of sets). Evaluating both sides at two
fixed points settles it in about a millisecond. The check is one-sided: it only ever says "clearly
different" when every way math-verify could match the two also fails numerically (difference far above
its rounding tolerance), and it stays silent on anything it does not model (intervals, inequalities,
general equations, symbol-name tricks), which then goes to math-verify unfiltered. It also stays silent
on trees nested deeper than `MAX_DEPTH`: evalf retries with doubled precision per level there (20 nested
fractions ran past 10 s) and at a few hundred levels it lost precision and called equal values different.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import mpmath
import sympy
from sympy.core.function import AppliedUndef

__all__ = ["clearly_different"]

# Two fixed, irrational-ish, positive evaluation points (one value per free symbol, sorted by name).
_POINTS = (
    (1.2345678901, 2.3456789012, 1.7182818285, 3.1415926536, 0.5772156649, 1.4142135624),
    (2.8182818285, 1.3247179572, 2.6651441427, 1.6180339887, 3.3598856662, 0.9159655942),
)
# Gaps math-verify's tolerance can never bridge: with a float involved it rounds to 6 decimals; exact
# values it compares exactly, so there only evalf's own error (20 digits) needs headroom.
_FLOAT_GAP = 1e-5
_EXACT_GAP = 1e-9
_EXACT_FLOOR = 1e-15

Atom = tuple[mpmath.mpc | None, ...]
MAX_DEPTH = 24


def _too_deep(e: sympy.Basic) -> bool:
    """Whether the expression tree is deeper than `MAX_DEPTH` (iterative: no recursion limit)."""
    stack = [(e, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        stack.extend((a, depth + 1) for a in node.args)
    return False


def _value(e: sympy.Expr, subs: dict[sympy.Symbol, sympy.Float]) -> mpmath.mpc | None:
    """e at a point, as an mpmath complex (no float overflow for values like (1+sqrt 2)^10000)."""
    try:
        v = e.evalf(20, subs=subs) if subs else e.evalf(20)
        if not v.is_number:
            return None
        re, im = v.as_real_imag()
        out = mpmath.mpc(sympy.Float(re, 20)._mpf_, sympy.Float(im, 20)._mpf_)
    except Exception:  # noqa: BLE001 - sympy raises all sorts here; undecided means "ask math-verify"
        return None
    return out if mpmath.isfinite(out) else None


def _is_assignment(e: Any) -> bool:
    """``x = ...`` / ``g(x) = ...``: math-verify compares only the right-hand side against a value."""
    return isinstance(e, sympy.Eq) and (isinstance(e.lhs, (sympy.Symbol, AppliedUndef)))


def _plain(e: Any) -> bool:
    if not isinstance(e, sympy.Expr) or isinstance(e, (sympy.Symbol, sympy.Tuple)) or e.has(AppliedUndef):
        return False
    if _too_deep(e):
        return False
    # A product of bare symbols may be a word ("odd" -> o*d*d), which math-verify matches by name.
    if isinstance(e, sympy.Mul) and all(isinstance(a, sympy.Symbol) for a in e.args):
        return False
    return not any(s.name.lower() == "e" for s in e.free_symbols)  # math-verify equates symbol e with E


def _atoms(obj: Any) -> list[sympy.Expr] | None:
    """The values an answer consists of: one for an expression or assignment, one per element of a
    finite set / tuple; None when the answer is anything else."""
    if _is_assignment(obj):
        obj = obj.rhs
    if isinstance(obj, (sympy.FiniteSet, sympy.Tuple)):
        elems = [e.rhs if _is_assignment(e) else e for e in obj.args]
        return elems if elems and all(_plain(e) for e in elems) else None
    return [obj] if _plain(obj) else None


def _close_at(a: Atom, b: Atom, floats: bool) -> bool:
    """Not provably different: equal (within the gap) wherever both could be evaluated."""
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            continue
        scale = max(abs(x), abs(y))
        limit = _FLOAT_GAP * max(1, scale) if floats else _EXACT_GAP * scale + _EXACT_FLOOR
        if abs(x - y) > limit:
            return False
    return True


@lru_cache(maxsize=4096)
def _atom_values(e: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> Atom:
    """Cached: the gold side is the same expression for every prediction of a problem."""
    points = [{s: sympy.Float(v, 20) for s, v in zip(symbols, p, strict=False)} for p in _POINTS]
    return tuple(_value(e, subs) for subs in points)


def _evaluate(exprs: list[sympy.Expr], symbols: list[sympy.Symbol]) -> list[Atom]:
    return [_atom_values(e, tuple(symbols)) for e in exprs]


def _pair_differs(g: Any, p: Any) -> bool:
    ga, pa = _atoms(g), _atoms(p)
    if ga is None or pa is None:
        return False
    symbols = sorted(set().union(*(e.free_symbols for e in ga + pa)), key=str)
    if len(symbols) > len(_POINTS[0]):
        return False
    gv, pv = _evaluate(ga, symbols), _evaluate(pa, symbols)
    floats = any(e.has(sympy.Float) for e in ga + pa)

    def _close(a: Atom, b: Atom) -> bool:
        return _close_at(a, b, floats)

    if len(gv) != len(pv) and (len(gv) > 1 or len(pv) > 1):
        # Sets are matched element by element only when their sizes agree; different sizes never match
        # unless one side holds numerically equal duplicates, which we leave to math-verify.
        if all(not any(_close(x, y) for y in gv if y is not x) for x in gv) and all(
            not any(_close(x, y) for y in pv if y is not x) for x in pv
        ):
            return True
        return False
    # Every element needs some possible partner on the other side, else no matching can exist.
    return not (all(any(_close(x, y) for y in pv) for x in gv) and all(any(_close(x, y) for x in gv) for y in pv))


def clearly_different(gold: tuple[Any, ...], pred: tuple[Any, ...]) -> bool:
    """True only if math-verify would also find no equal (gold, pred) pair. ``gold``/``pred`` are
    math-verify parse results (sympy objects plus the raw extracted string)."""
    gs = [g for g in gold if isinstance(g, sympy.Basic)]
    ps = [p for p in pred if isinstance(p, sympy.Basic)]
    if not gs or not ps:
        return False
    # math-verify also compares the raw strings; identical ones are a match we must not pre-empt.
    if {x.strip() for x in gold if isinstance(x, str)} & {x.strip() for x in pred if isinstance(x, str)}:
        return False
    return all(_pair_differs(g, p) for g in gs for p in ps)
