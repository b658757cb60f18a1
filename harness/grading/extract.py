"""Answer extraction: the content of the last ``\\boxed{...}`` (the InT paper's rule).

Only the *last* box opener counts, as in the paper's grader: if the response was cut off inside it
(unbalanced braces) there is no answer, rather than silently falling back to an earlier draft answer.
Unlike a raw brace count, escaped braces (``\\{``, ``\\}``) and ``\\\\`` are skipped, so set answers such
as ``\\boxed{\\left\\{1,2\\right.}`` still close where LaTeX closes them.
"""

from __future__ import annotations

import re

__all__ = ["extract_boxed"]

# \boxed{, \boxed {, \fbox{ -- what models actually emit for a final answer.
_OPENER = re.compile(r"\\(?:boxed|fbox)\s*\{")
_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)
_NAMES = ("\\boxed", "\\fbox")


def _last_opener(text: str) -> re.Match[str] | None:
    """Search backwards so a 60 kB response costs one ``rfind`` rather than a full regex scan.

    Linear in ``len(text)`` however many openers lack their brace: each name's next ``rfind`` starts where
    its previous one stopped. (Searching every name again from the last candidate, as this once did,
    rescanned the whole text for a name that is absent -- 150,000 brace-less ``\\boxed`` in a 1 MB answer
    took 33 s, past any grading deadline, in the parent process where no deadline applies.)"""
    found = {name: text.rfind(name) for name in _NAMES}
    while True:
        name = max(found, key=found.__getitem__)
        pos = found[name]
        if pos < 0:
            return None
        m = _OPENER.match(text, pos)
        if m:
            return m
        found[name] = text.rfind(name, 0, pos)  # e.g. "\boxed" mentioned in prose without a brace


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}``/``\\fbox{...}``, stripped; None if there is none or it never
    closes. An empty box gives ``""`` (the caller decides that this is no answer)."""
    if not text:
        return None
    m = _last_opener(text)
    if m is None:
        return None
    depth = 1
    for tok in _TOKEN.finditer(text, m.end()):
        t = tok.group()
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth == 0:
                return text[m.end() : tok.start()].strip()
    return None
