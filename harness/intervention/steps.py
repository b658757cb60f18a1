"""Substeps: how a solution is cut into steps, numbered for the verifier, and spliced with an intervention.

The paper cuts a response on ``"\\n\\n"`` and shows the verifier ``**Substep i:** <chunk>`` (1-indexed,
every chunk numbered, empty ones too). The same cut must be used for numbering *and* splicing, otherwise
a proposer's ``location`` points at a different step than the one replaced. ``"\\n\\n".join`` of the
chunks gives back the text exactly, so the prefix is the model's own text byte for byte -- which is
what keeps the SFT data on-policy. The embedded world's `first_error` numbers substeps the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

STEP_SEP = "\n\n"
_SINGLE_NEWLINE = re.compile(r"(?<!\n)\n(?!\n)")


def split_substeps(text: str) -> list[str]:
    """The attempt's substeps (chunks between ``"\\n\\n"``); substep ``i`` is ``result[i - 1]``."""
    return text.split(STEP_SEP)


def number_substeps(text: str) -> str:
    """The verifier's view of an attempt: ``**Substep i:** chunk`` joined by blank lines (paper §2.2)."""
    return STEP_SEP.join(f"**Substep {i}:** {chunk}" for i, chunk in enumerate(split_substeps(text), 1))


def valid_location(text: str, location: int) -> bool:
    """A location replaces substep 1..n, or is n + 1: "the step the attempt never wrote" (a truncated
    or answer-less attempt), where the intervention is appended after the whole attempt."""
    return 1 <= location <= len(split_substeps(text)) + 1


def prefix_before(text: str, location: int) -> str:
    """Substeps ``1..location-1`` with the separator after them ("" for location 1), so that appending
    a step continues the attempt exactly as the model formatted it."""
    if not valid_location(text, location):
        raise IndexError(f"location {location} outside 1..{len(split_substeps(text)) + 1}")
    chunks = split_substeps(text)[: location - 1]
    return STEP_SEP.join(chunks) + STEP_SEP if chunks else ""


def original_step(text: str, location: int) -> str:
    """Substep ``location`` as the model wrote it ("" for the never-written step n + 1)."""
    chunks = split_substeps(text)
    return chunks[location - 1] if location <= len(chunks) else ""


def format_intervention(content: str) -> str:
    """The intervention as spliced in: stripped, single newlines doubled so its lines become steps under
    the same convention (the paper's ``replace("\\n", "\\n\\n")`` without turning existing blank lines
    into double blank lines)."""
    return _SINGLE_NEWLINE.sub(STEP_SEP, content.strip())


def head_substeps(text: str, k: int) -> str:
    """The attempt's first ``k`` substeps, exactly as written (``"\\n\\n"``-joined)."""
    return STEP_SEP.join(split_substeps(text)[:k])


def cut_to_fit(text: str, fits: Callable[[str], bool]) -> tuple[str, int] | None:
    """The longest head of whole substeps of ``text`` for which ``fits`` holds: ``(head, substeps kept)``,
    the whole text when it fits, None when not even the first substep does.

    How the proposer's view of a long attempt is cut (`harness.intervention.proposers`): ``fits`` renders
    the chat-templated proposer prompt around a head and counts its tokens against the budget, so the cut
    is in tokens of the real prompt -- the paper's scripts cut the tokenised, templated prompt to 30,000
    tokens -- but falls on a substep boundary and never removes the instructions or the generation prompt
    that follow the attempt. Substep numbers mean the same in the head and the full text, so a location
    the proposer gives refers to a substep it saw. Binary search: the prompt grows with every substep."""
    n = len(split_substeps(text))
    if fits(text):
        return text, n
    lo, hi = 0, n - 1  # lo: most substeps known to fit (0 = none known); hi: most that may still fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(head_substeps(text, mid)):
            lo = mid
        else:
            hi = mid - 1
    return (head_substeps(text, lo), lo) if lo >= 1 else None


def hint_prefix(solution: str, length: float) -> str:
    """The first ``ceil(length * n)`` substeps of a reference solution, its final-answer substep excluded
    (a hint must never hand over the answer), joined as the model writes steps, ending with a separator.

    The hint of hint-guided RL (`harness.compare.kinds.rl`) and of the continue stage's ``hint`` and
    ``hint_intervention`` conditions: one definition, so both mean the same text."""
    from harness.grading import extract_boxed

    steps = [s for s in split_substeps(solution.strip()) if s.strip()]
    if steps and extract_boxed(steps[-1]) is not None:
        steps = steps[:-1]
    k = min(len(steps), math.ceil(length * len(steps)))
    return STEP_SEP.join(steps[:k]) + STEP_SEP if k else ""


def hint_then_intervention(hint: str, attempt: str, location: int, intervention: str) -> str:
    """Hint + intervention (the paper's 176-problem study): the hint stands in for the attempt's first ``h``
    substeps (``h`` = the hint's substeps), the attempt's own substeps ``h+1 .. location-1`` follow, then the
    intervention replaces its first error. Where the first error lies inside the hinted part (``location <=
    h``) the hint already replaces it and is continued alone.

    WHY positional: it needs no knowledge of the task -- the hint steers the start of the trace, the
    intervention fixes its middle, as the paper argues. It assumes the reference's substeps have the
    policy's granularity (true where references are written in the policy's format); a reference that
    packs several of the policy's steps into one substep covers more of the attempt than ``h`` says."""
    h = len(split_substeps(hint[: -len(STEP_SEP)])) if hint else 0
    if not hint or location <= h:
        return hint
    chunks = split_substeps(attempt)[h : location - 1]
    return hint + "".join(c + STEP_SEP for c in chunks) + intervention
