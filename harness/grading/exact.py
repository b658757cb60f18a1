"""Exact values of plain rational arithmetic (``\\frac{1}{\\frac{1}{2}}``, ``2^{10}-1``, ``\\frac{3}{4}+1``).

Why hand-written: such an answer is exact arithmetic, but sympy handles deep nesting badly -- the
numeric pre-check's ``evalf`` retries with doubled precision at every level (``\\frac{1}{\\frac{1}{...2}}``
20 deep ran past the 10 s limit) and at a few hundred levels it lost precision and called an equal answer
different. This evaluator is an iterative shunting-yard over ASCII integers, ``\\frac``/``\\dfrac``/
``\\tfrac``, ``+ - * / ^``, ``\\cdot``, ``\\times``, ``\\div`` and brackets, so nesting depth costs nothing
and no recursion limit applies. It answers None -- "ask math-verify" -- for anything else: a letter, a
decimal point, implicit multiplication, an exponent LaTeX would read differently (``2^32``), a number past
`MAX_BITS`, input longer than `MAX_CHARS`. For what it does answer, math-verify computes the same
rational exactly, so the verdict is unchanged, only bounded (it runs in the parent, with no deadline).
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["MAX_BITS", "MAX_CHARS", "exact_rational"]

MAX_CHARS = 10_000
# Numerators/denominators beyond this many bits are left to math-verify (2^{2024}+1 needs 2,025).
MAX_BITS = 16_384

_SKIP = re.compile(r"\s+|\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\[,;:! ]|\\displaystyle(?![A-Za-z])")
_NUMBER = re.compile(r"[0-9]+")
_FRAC = re.compile(r"\\[dt]?frac(?![A-Za-z])\s*\{")
_OPS = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "^", "\\cdot": "*", "\\times": "*", "\\div": "/"}
_OP = re.compile(r"\\(?:cdot|times|div)(?![A-Za-z])|[-+*/^]")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "^": 4}


class _GiveUp(Exception):
    """Not plain rational arithmetic (or too big): math-verify decides."""


def _tokens(s: str) -> list[str | int]:
    """Numbers as ints; ``\\frac{a}{b}`` as ``( ( a ) / ( b ) )``; braces as brackets; one stack for all
    brackets so ``\\frac{(1}{2)}`` is refused rather than read some way."""
    out: list[str | int] = []
    stack: list[str] = []  # "num", "den", "group", "paren"
    pos, n = 0, len(s)
    while pos < n:
        m = _SKIP.match(s, pos)
        if m:
            pos = m.end()
            continue
        m = _NUMBER.match(s, pos)
        if m:
            if len(m.group()) > 4000:  # int() refuses more than 4300 digits; far past MAX_BITS anyway
                raise _GiveUp
            out.append(int(m.group()))
            pos = m.end()
            continue
        m = _FRAC.match(s, pos)
        if m:
            stack.append("num")
            out += ["(", "("]
            pos = m.end()
            continue
        ch = s[pos]
        if ch == "{":
            stack.append("group")
            out.append("(")
        elif ch == "(":
            stack.append("paren")
            out.append("(")
        elif ch == "}":
            kind = stack.pop() if stack else None
            if kind == "num":
                m = re.compile(r"\s*\{").match(s, pos + 1)
                if not m:
                    raise _GiveUp  # \frac{1}2 and friends: leave them to math-verify
                stack.append("den")
                out += [")", "/", "("]
                pos = m.end()
                continue
            if kind == "den":
                out += [")", ")"]
            elif kind == "group":
                out.append(")")
            else:
                raise _GiveUp
        elif ch == ")":
            if not stack or stack.pop() != "paren":
                raise _GiveUp
            out.append(")")
        else:
            m = _OP.match(s, pos)
            if not m:
                raise _GiveUp
            op = _OPS[m.group()]
            if op == "^":
                # LaTeX reads 2^32 as 2^3 followed by 2: only a braced exponent or a single digit.
                nxt = s[m.end() : m.end() + 2]
                if not (nxt[:1] == "{" or (nxt[:1].isascii() and nxt[:1].isdigit() and not nxt[1:2].isdigit())):
                    raise _GiveUp
            out.append(op)
            pos = m.end()
            continue
        pos += 1
    if stack:
        raise _GiveUp
    return out


def _check(x: Fraction) -> Fraction:
    if max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_BITS:
        raise _GiveUp
    return x


def _apply(op: str, values: list[Fraction]) -> None:
    if op == "neg":
        values.append(-values.pop())
        return
    b, a = values.pop(), values.pop()
    if op == "+":
        values.append(_check(a + b))
    elif op == "-":
        values.append(_check(a - b))
    elif op == "*":
        values.append(_check(a * b))
    elif op == "/":
        if b == 0:
            raise _GiveUp
        values.append(_check(a / b))
    else:  # "^": an integer exponent whose result stays within MAX_BITS, decided before computing it
        if b.denominator != 1 or (a == 0 and b < 0):
            raise _GiveUp
        size = max(a.numerator.bit_length(), a.denominator.bit_length())
        if size > 1 and abs(b.numerator) * size > MAX_BITS:
            raise _GiveUp
        values.append(_check(a ** int(b)))


def exact_rational(s: str) -> Fraction | None:
    """The exact rational value of ``s`` if it is plain rational arithmetic (see module docstring),
    else None. Never raises; cost is linear in ``len(s)`` with numbers capped at `MAX_BITS`."""
    if len(s) > MAX_CHARS:
        return None
    try:
        tokens = _tokens(s)
        values: list[Fraction] = []
        ops: list[str] = []
        expect_operand = True
        for tok in tokens:
            if isinstance(tok, int):
                if not expect_operand:
                    raise _GiveUp  # implicit multiplication: "2 3", ")2"
                values.append(Fraction(tok))
                expect_operand = False
            elif tok == "(":
                if not expect_operand:
                    raise _GiveUp
                ops.append(tok)
            elif tok == ")":
                if expect_operand:
                    raise _GiveUp
                while ops and ops[-1] != "(":
                    _apply(ops.pop(), values)
                if not ops:
                    raise _GiveUp
                ops.pop()
            elif expect_operand:
                if tok == "-":
                    ops.append("neg")
                elif tok != "+":
                    raise _GiveUp
            else:
                if tok == "^" and ops and ops[-1] == "^":
                    raise _GiveUp  # a^{b}^{c}: LaTeX refuses it, readers disagree on it
                prec = _PRECEDENCE[tok]
                while ops and ops[-1] != "(" and (
                    _PRECEDENCE[ops[-1]] > prec or (_PRECEDENCE[ops[-1]] == prec and tok != "^")
                ):
                    _apply(ops.pop(), values)
                ops.append(tok)
                expect_operand = True
        if expect_operand:
            raise _GiveUp
        while ops:
            op = ops.pop()
            if op == "(":
                raise _GiveUp
            _apply(op, values)
        if len(values) != 1:
            raise _GiveUp
        return values[0]
    except (_GiveUp, IndexError, ValueError, ZeroDivisionError, OverflowError):
        return None
