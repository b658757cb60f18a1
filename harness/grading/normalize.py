"""String-level normalisation of gold and predicted answers, before (or instead of) math-verify.

Each rule exists because a real gold answer in IMO-AnswerBench / AIME or a common model output form
broke the plain rule; the rule's comment names the case. Everything here is pure string work: cheap,
deterministic and safe to run in the parent process of a grading pool.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

__all__ = [
    "GoldSpec",
    "as_rational",
    "canonical",
    "clean_math",
    "expand_pm",
    "gold_spec",
    "split_top_level",
    "strip_qualifier",
    "text_key",
]

# Unicode that models emit instead of LaTeX (-, ×, ≤, ≥, ≠, ∞, …, ·).
_UNICODE = {"\u2212": "-", "\u00d7": "\\times ", "\u2264": "\\le ", "\u2265": "\\ge ", "\u2260": "\\ne ",
            "\u221e": "\\infty ", "\u2026": "\\ldots ", "\u22c5": "\\cdot ", "\u00b7": "\\cdot "}
_DOLLAR = re.compile(r"(?<!\\)\$")
# 1{,}000 and 1\,000 are thousands separators (AIME/AnswerBench style); plain "1,000" is left to
# math-verify, which already reads \d{1,3}(,\d{3})+ as one number.
_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|\\,|\\ |\\!)(?=\d{3}(?!\d))", re.ASCII)
# "1, 2, \dots, 1235": math-verify reads \ldots in a list but turns \dots / \cdots / ... into garbage.
_ELLIPSIS = re.compile(r"(?<=,)\s*(?:\\ldots|\\dots[bc]?|\\cdots|\.\.\.)\s*(?=,)")
_LETTER_SUP = re.compile(r"\^([A-Za-z])")
_TEXT_WRAP = re.compile(r"\\(?:text|textnormal|textrm|textit|textbf|mbox|mathrm|operatorname)\s*\{([^{}]*)\}")
_WS = re.compile(r"\s+")


def clean_math(s: str) -> str:
    """Normalise one answer string the same way for gold and prediction: drop ``$``, a trailing period,
    unicode operators, thousands separators, and spell list ellipses as ``\\ldots``."""
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = _DOLLAR.sub(" ", s)
    s = _WS.sub(" ", s).strip()
    s = _strip_trailing_periods(s)
    s = _THOUSANDS.sub("", s)
    s = _ELLIPSIS.sub(r"\\ldots", s)
    # "7^d p" is 7^{d}*p in LaTeX; latex2sympy reads the exponent as the symbol "dp" (number_theory-010).
    s = _LETTER_SUP.sub(r"^{\1}", s)
    # A lone \text{5} / \text{No solution}: unwrap the whole answer, never part of one.
    m = _TEXT_WRAP.fullmatch(s)
    if m:
        s = m.group(1).strip()
    return s


def _strip_trailing_periods(s: str) -> str:
    """Trailing periods of a sentence-style gold ("...$." / "and 6.", "6 . ."), but not the end of
    "1, 2, ..." (a period right after a period stops it). One backward pass: cutting one period per pass
    (``s = s[:-1].rstrip()``) copied the string each time, quadratic on a 1 MB answer of " ." repeats."""
    end = len(s)
    while end and s[end - 1] == "." and not (end > 1 and s[end - 2] == "."):
        end -= 1
        while end and s[end - 1].isspace():
            end -= 1
    return s[:end]


_ONE_CHAR_GROUP = re.compile(r"([\^_])\{(\w)\}")
_CANON_DROP = re.compile(r"\\left|\\right|\\displaystyle|\\!|\\,|\\;|\\:|\\ |\s")


def canonical(s: str) -> str:
    """A conservative canonical spelling: two answers with equal canonical forms are the same answer.
    Used as a cheap first check and for golds that math-verify cannot parse (``\\underbrace``)."""
    s = _CANON_DROP.sub("", s)
    s = _ONE_CHAR_GROUP.sub(r"\1\2", s)  # e^{3} == e^3, a_{1} == a_1
    return s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\geq", "\\ge").replace("\\leq", "\\le")


# re.ASCII: \d is 0-9 only. Python's \d and int() also read full-width, Arabic-Indic and math-bold digits,
# which math-verify does not; a fast path must never say "equal" where math-verify would not.
_RATIONAL = re.compile(r"([+-]?)(?:(\d{1,1000})|\\[dt]?frac\{(\d{1,300})\}\{(\d{1,300})\}|(\d{1,300})/(\d{1,300}))", re.ASCII)
_ASSIGNED = re.compile(r"^[A-Za-z]=")
_POINT_ZERO = re.compile(r"^([+-]?\d+)\.0+$", re.ASCII)


def as_rational(s: str, *, prediction: bool = False) -> Fraction | None:
    """The exact rational an answer spells plainly ("025", "-3", "\\frac{7}{2}", "7/2"), else None.

    Comparing two of these as fractions gives exactly math-verify's verdict (AIME "025" == 25), so the
    pool decides them in the parent. For a prediction, "n = 902" and "902.0" count too (math-verify
    compares the right-hand side of an assignment, and rounds floats to 6 decimals). The length caps keep
    int() away from Python's 4300-digit conversion limit."""
    s = s.replace(" ", "")
    if prediction:
        s = _POINT_ZERO.sub(r"\1", _ASSIGNED.sub("", s))
    m = _RATIONAL.fullmatch(s)
    if not m:
        return None
    sign = -1 if m.group(1) == "-" else 1
    if m.group(2) is not None:
        return Fraction(sign * int(m.group(2)))
    num, den = (m.group(3), m.group(4)) if m.group(3) is not None else (m.group(5), m.group(6))
    return Fraction(sign * int(num), int(den)) if int(den) else None


def split_top_level(s: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside (), [], {} -- so tuples and intervals stay whole."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def expand_pm(s: str) -> str:
    """``g(x)=\\pm 2x^3+c`` -> ``g(x)=+ 2x^3+c, g(x)=- 2x^3+c``: math-verify parses ``\\pm`` as garbage.
    Only items with exactly one ``\\pm`` are expanded (two would need sign combinations)."""
    if "\\pm" not in s:
        return s
    out: list[str] = []
    for item in split_top_level(s):
        if item.count("\\pm") == 1:
            out += [item.replace("\\pm", "+"), item.replace("\\pm", "-")]
        else:
            out.append(item)
    return ", ".join(out)


# ---- text-qualified answers -------------------------------------------------------------------

# Words that mark a gold as prose rather than maths when they appear inside $...$ (e.g. "0 if ..., otherwise").
_ENGLISH = {"if", "otherwise", "for", "some", "all", "where", "and", "or", "with", "when", "odd", "even",
            "prime", "primes", "is", "are", "any", "every", "integer", "integers", "nonnegative", "positive",
            "negative", "real", "number", "numbers", "of", "the", "no", "not", "excluding", "except", "form"}
_MATH_NAMES = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "lg", "exp", "max", "min", "gcd", "lcm",
               "mod", "bmod", "pmod", "deg", "det", "lim", "sup", "inf", "arcsin", "arccos", "arctan"}
_CMD = re.compile(r"\\[A-Za-z]+")
_RUN = re.compile(r"[A-Za-z]{2,}")
_QUALIFIER = re.compile(r"^\s*[,;]?\s*(?:for|where|with)\b", re.IGNORECASE)


def _words(segment: str, in_math: bool) -> list[str]:
    texts = [m.group(1) for m in _TEXT_WRAP.finditer(segment)]
    rest = _CMD.sub(" ", _TEXT_WRAP.sub(" ", segment))
    found = [w for t in texts for w in _RUN.findall(t)]
    for w in _RUN.findall(rest):
        if w.lower() in _MATH_NAMES:
            continue
        if not in_math or w.lower() in _ENGLISH:
            found.append(w)
    return found


# Gold typos / synonyms that only the text comparison needs (kept tiny and explicit).
_SPELLING = {"isoceles": "isosceles"}
_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}
_STOP = {"all", "the", "a", "an", "is", "are", "be", "of", "for", "any", "every", "each", "and", "or", "such",
         "that", "which", "number", "integer", "value", "answer", "those", "form", "it", "its", "we", "have", "in"}
_SYNONYMS = [
    (re.compile(r"\\mathbb\s*\{?N\}?(?:\^\{?\*\}?)?|\\mathbb\s*\{?Z\}?\s*(?:\^\{?\+\}?|_\{?\s*(?:>\s*0|\+)\s*\}?)"), " positive integers "),
    (re.compile(r"\\emptyset|\\varnothing|\\\{\s*\\\}"), " none "),
    (re.compile(r"\\geq?\b"), " >= "),
    (re.compile(r"\\leq?\b"), " <= "),
    (re.compile(r"\\neq?\b"), " != "),
]
# Words an "there is no answer" answer may consist of: "No positive integers", "no such n", "none".
_EMPTY_WORDS = {"no", "none", "empty", "set", "solution", "such", "exist", "exists", "there", "positive", "integer",
                "real", "natural", "pair", "triple", "tuple", "function", "polynomial", "value", "number"}
_TOKEN = re.compile(r"\\[a-z]+|[a-z]+|\d+(?:\.\d+)?|>=|<=|!=|[=<>+\-*/^!]")
TextKey = tuple[tuple[tuple[str, int], ...], tuple[str, ...]]


def text_key(s: str) -> TextKey:
    """Order-free words plus ordered maths tokens of a prose answer, for golds math-verify cannot read
    ("odd $n$", "n is prime", "1 if triangle is isoceles, otherwise 2").

    Words are lower-cased, singularised and stripped of filler ("all", "the", "is"); single-letter
    variable names are dropped ("odd n" == "n odd" == "odd"); numbers and operators keep their order, so
    "1 if ..., otherwise 2" never equals "2 if ..., otherwise 1". Any "no ..."/"none"/``\\emptyset``
    answer is the empty answer."""
    s = _DOLLAR.sub(" ", s)
    s = _TEXT_WRAP.sub(r" \1 ", s)
    for pat, rep in _SYNONYMS:
        s = pat.sub(rep, s)
    words: list[str] = []
    maths: list[str] = []
    for tok in _TOKEN.findall(s.lower()):
        if tok[0].isalpha() and len(tok) >= 2:
            tok = _SPELLING.get(tok, tok)
            if tok in _NUMBER_WORDS:
                maths.append(_NUMBER_WORDS[tok])
                continue
            if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
                tok = tok[:-1]
            if tok not in _STOP:
                words.append(tok)
        elif not tok[0].isalpha():
            maths.append(tok)
    # "n = 4k+3" states the same thing as "4k+3" once the variable name is dropped.
    if maths[:1] == ["="]:
        maths = maths[1:]
    if not maths and words and set(words) <= _EMPTY_WORDS and {"no", "none", "empty"} & set(words):
        return (("<empty>", 1),), ()
    return tuple(sorted(Counter(words).items())), tuple(maths)


def strip_qualifier(s: str) -> str:
    """``X for some a>0`` / ``X, where c != -1`` -> ``X``: the maths before a parameter qualifier."""
    flat = _TEXT_WRAP.sub(r" \1 ", s).replace("\\quad", " ").replace("\\qquad", " ")
    m = re.search(r"[,;]?\s*\b(?:for|where|with)\b", flat, re.IGNORECASE)
    return flat[: m.start()].strip() if m and m.start() > 0 else flat.strip()


@dataclass(frozen=True)
class GoldSpec:
    """A gold answer prepared once: which comparison applies and its precomputed keys.

    kind: ``math`` (math-verify decides), ``core`` (math core + parameter qualifier such as
    ``$X$ for some $a>0$``: math-verify on the core), ``text`` (prose / piecewise answers: `text_key`).
    """

    raw: str
    clean: str
    kind: Literal["math", "core", "text"]
    variants: tuple[str, ...] = ()  # latex strings math-verify compares against (core, substituted core)
    canonical: str = ""
    rational: Fraction | None = None
    key: TextKey | None = None


def _prose_words(raw: str) -> list[str]:
    parts = _DOLLAR.split(raw)
    if len(parts) == 1:
        return _words(raw, in_math=False)
    return [w for i, p in enumerate(parts) for w in _words(p, in_math=i % 2 == 1)]


def _where_substitution(core: str, qualifier: str) -> str | None:
    """``\\lfloor\\varphi n\\rfloor, where \\varphi = \\frac{\\sqrt5+1}{2}`` -> the core with the value
    put in, so a prediction that writes the number instead of the name also matches (algebra-097)."""
    m = re.fullmatch(r"\s*[,;]?\s*where\s+(\\[A-Za-z]+|[A-Za-z])\s*=\s*(.+)", qualifier, re.IGNORECASE)
    if not m:
        return None
    name, value = m.group(1), m.group(2).strip()
    pattern = re.escape(name) + (r"(?![A-Za-z])" if name.startswith("\\") else r"(?<![\\A-Za-z])(?![A-Za-z])")
    out = re.sub(pattern, lambda _: "{\\left(" + value + "\\right)}", core)
    return out if out != core else None


@lru_cache(maxsize=4096)
def gold_spec(gold: str) -> GoldSpec:
    """Classify and normalise a gold answer (cached: a run has a few hundred distinct golds)."""
    raw = gold.strip()
    clean = clean_math(raw)
    words = _prose_words(raw)
    multiline = "\n" in raw  # "$a^2-a+1$ ( $a \ge 2$)\n0 ($a=1$)": a piecewise answer
    base = {"raw": raw, "clean": clean, "canonical": canonical(clean), "rational": as_rational(clean)}
    parts = _DOLLAR.split(raw)
    if (words or multiline) and raw.startswith("$") and len(parts) >= 3:
        core, rest = parts[1].strip(), "".join(parts[2:])
        if core and not _prose_words("$" + core + "$") and _QUALIFIER.match(rest):
            qualifier = clean_math(rest)
            variants = [clean_math(core)]
            sub = _where_substitution(variants[0], qualifier)
            if sub:
                variants.append(sub)
            return GoldSpec(kind="core", variants=tuple(variants), **base)
    if words or multiline:
        return GoldSpec(kind="text", key=text_key(clean), **base)
    return GoldSpec(kind="math", variants=(clean,), **base)
