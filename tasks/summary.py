"""A JSON-ready description of a loaded task, for ``harness tasks show`` and report headers.

The answer-format mix matters because it tells you how much of a benchmark a rule-based grader can
score at all: integers and closed-form numbers are safe for math-verify, while function families and
text-qualified answers (about 10% of IMO-AnswerBench) usually need an LLM judge.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict
from typing import Any

from tasks.base import LoadedTask, Task

ANSWER_FORMATS = (
    "integer",
    "closed-form number",
    "expression in a parameter",
    "tuple/list/set",
    "function family",
    "interval/union",
    "text-qualified",
)

_MATH = re.compile(r"(?<!\\)\$(.*?)(?<!\\)\$", re.S)
_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")
_FUNCTION = re.compile(r"[A-Za-z]\s*\(\s*[A-Za-z]\s*(,\s*[A-Za-z]\s*)*\)\s*=")
_INTEGER = re.compile(r"[+-]?\d+")


def _top_level_comma(text: str) -> bool:
    """A comma outside braces: ``4, 5`` is a list, ``\\frac{1,2}`` or ``f_{a,b}`` is not."""
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False


def classify_answer(answer: str) -> str:
    """Heuristic answer-format label (see `ANSWER_FORMATS`); good for a mix, not for grading decisions."""
    text = answer.strip().rstrip(".").strip()
    outside_math = _MATH.sub(" ", text) if "$" in text else text
    if _WORD.search(_COMMAND.sub(" ", outside_math)):
        return "text-qualified"
    body = text.replace("$", "").strip()
    if _FUNCTION.search(body):
        return "function family"
    mixed_brackets = len(body) > 1 and body[0] + body[-1] in {"[)", "(]"} and "," in body
    if "\\cup" in body or "\\infty" in body or mixed_brackets:
        return "interval/union"
    if _top_level_comma(body) or "\\{" in body or "\\ldots" in body or "\\dots" in body:
        return "tuple/list/set"
    compact = body.replace(" ", "").replace("{,}", "").replace("\\,", "")
    if _INTEGER.fullmatch(compact):
        return "integer"
    if not re.search(r"[A-Za-z]", _COMMAND.sub("", compact)):
        return "closed-form number"
    return "expression in a parameter"


def summarize(task: Task, loaded: LoadedTask) -> dict[str, Any]:
    """Everything ``harness tasks show`` prints, as plain JSON-serialisable data."""
    categories = Counter(p.category or "(none)" for p in loaded.problems)
    formats = Counter(classify_answer(p.answer) for p in loaded.problems)
    return {
        "name": task.name,
        "version": task.version,
        "description": task.description,
        "size": len(loaded.problems),
        "categories": dict(sorted(categories.items())),
        "answer_formats": {f: formats[f] for f in ANSWER_FORMATS if formats[f]},
        "with_solution": sum(1 for p in loaded.problems if p.solution),
        "prompt_template": "(inline template_source)" if task.template_source is not None else task.prompt_template,
        "grader": task.grader,
        "source": task.source,
        "hub_id": task.hub_id,
        "license": task.license,
        "origin": loaded.origin,
        "repairs": [asdict(r) for r in loaded.repairs],
        "hub_only": task.hub_only,
    }
