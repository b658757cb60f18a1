"""Substeps: how a solution is cut into steps, numbered for the verifier, and spliced with an intervention.

The paper cuts a response on ``"\\n\\n"`` and shows the verifier ``**Substep i:** <chunk>`` (1-indexed,
every chunk numbered, empty ones too). The same cut must be used for numbering *and* splicing, otherwise
a proposer's ``location`` points at a different step than the one replaced. ``"\\n\\n".join`` of the
chunks gives back the text exactly, so the prefix is the model's own text byte for byte -- which is
what keeps the SFT data on-policy. The embedded world's `first_error` numbers substeps the same way.
"""

from __future__ import annotations

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
