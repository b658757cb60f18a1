"""The proposer's prompts: jinja2 templates rendered into the chat turns of a proposal conversation.

Two template sets. ``paper`` is the paper's two-turn conversation for instruct models (turn 1: solve the
problem guided by the reference; turn 2: verify the numbered attempt and write the intervention).
``compact`` is one turn for the embedded world's tiny model, which was trained on exactly that prompt.
The wording is ours (int-paper.md §2.3 gives the structure); templates are files so that a prompt change
is a reviewable diff and its hash goes into the run's protocol.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.intervention.steps import number_substeps, split_substeps

PROMPT_DIR = Path(__file__).parent


@dataclass(frozen=True)
class TemplateSet:
    """A proposal conversation: an optional solve turn, then the verify turn."""

    name: str
    solve: str | None  # template file for turn 1, or None for a one-turn conversation
    verify: str


TEMPLATE_SETS: dict[str, TemplateSet] = {
    "paper": TemplateSet("paper", "paper_solve.jinja", "paper_verify.jinja"),
    "compact": TemplateSet("compact", None, "compact_verify.jinja"),
}


def get_template_set(name: str) -> TemplateSet:
    if name not in TEMPLATE_SETS:
        raise ValueError(f"unknown proposal template {name!r}; choose one of {sorted(TEMPLATE_SETS)}")
    return TEMPLATE_SETS[name]


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROMPT_DIR)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def render(template: str, **slots: Any) -> str:
    """Render one template file; a missing slot is an error, never an empty string."""
    text = _environment().get_template(template).render(**slots).strip()
    if not text:
        raise ValueError(f"template {template} rendered an empty prompt")
    return text


def slots_for(item: dict[str, Any]) -> dict[str, Any]:
    """Template slots from a failed-attempt record (see `harness.intervention.rollout`)."""
    attempt = item["attempt"]
    return {
        "problem": item["problem"],
        "reference_solution": item["reference_solution"],
        "answer": item["answer"],
        "attempt": attempt,
        "numbered_attempt": number_substeps(attempt),
        "n_substeps": len(split_substeps(attempt)),
    }


def solve_messages(tset: TemplateSet, item: dict[str, Any]) -> list[dict[str, str]] | None:
    """Turn 1 (user) of the conversation, or None when the set has no solve turn."""
    if tset.solve is None:
        return None
    return [{"role": "user", "content": render(tset.solve, **slots_for(item))}]


def verify_messages(tset: TemplateSet, item: dict[str, Any], solve_text: str | None) -> list[dict[str, str]]:
    """The full conversation that ends with the verify turn (turn 1 and the proposer's own answer first)."""
    verify = {"role": "user", "content": render(tset.verify, **slots_for(item))}
    first = solve_messages(tset, item)
    if first is None:
        return [verify]
    if solve_text is None:
        raise ValueError(f"template set {tset.name!r} needs the proposer's solve-turn answer")
    return [*first, {"role": "assistant", "content": solve_text}, verify]


def template_hash(tset: TemplateSet) -> str:
    """Hash of the template files' text: part of the propose stage's protocol."""
    h = hashlib.sha256()
    for name in (tset.solve, tset.verify):
        if name:
            h.update((PROMPT_DIR / name).read_bytes())
    return h.hexdigest()[:16]
