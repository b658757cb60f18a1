"""The proposer's prompts: jinja2 templates rendered into the chat turns of a proposal conversation.

Template sets are registered by name (`PROMPT_SETS`, a `harness.registry.Registry`). ``paper`` ships
here: the paper's two-turn conversation for instruct models (turn 1: solve the problem guided by the
reference; turn 2: verify the numbered attempt and write the intervention), plus its self-reflection
prompt. A package adds its own through the ``harness.proposal_templates`` entry-point group -- the
embedded world's one-turn ``compact`` set, which its tiny model was trained on, comes that way
(harness/world/plugin.py). The wording is ours (int-paper.md §2.3 gives the structure); templates are
files so that a prompt change is a reviewable diff and its hash goes into the run's protocol.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.intervention.steps import number_substeps, split_substeps
from harness.registry import Registry

PROMPT_DIR = Path(__file__).parent


@dataclass(frozen=True)
class TemplateSet:
    """A proposal conversation: an optional solve turn, then the verify turn; and the self-reflection prompt."""

    name: str
    solve: str | None  # template file for turn 1, or None for a one-turn conversation
    verify: str
    reflect: str | None = None  # template file of the self-reflection baseline (harness.intervention.reflect)
    folder: Path = PROMPT_DIR  # where the files are


def _template_set(obj: Any, name: str) -> TemplateSet:
    """An entry point names a TemplateSet or a mapping of its fields ({folder, solve, verify, reflect})."""
    if isinstance(obj, TemplateSet):
        return obj
    if not isinstance(obj, dict) or "verify" not in obj:
        raise TypeError("a proposal template set is a TemplateSet or a mapping {folder, solve, verify, reflect}")
    return TemplateSet(name=name, solve=obj.get("solve"), verify=obj["verify"], reflect=obj.get("reflect"),
                       folder=Path(obj.get("folder") or PROMPT_DIR))


PROMPT_SETS: Registry[TemplateSet] = Registry("proposal template", "harness.proposal_templates", load=_template_set)
PROMPT_SETS.register("paper", TemplateSet("paper", "paper_solve.jinja", "paper_verify.jinja", "paper_reflect.jinja"))
TEMPLATE_SETS = PROMPT_SETS  # the name -> TemplateSet mapping under its earlier name


def get_template_set(name: str) -> TemplateSet:
    return PROMPT_SETS.get(name)


@lru_cache(maxsize=8)
def _environment(folder: Path = PROMPT_DIR) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def render(template: str, *, folder: Path = PROMPT_DIR, **slots: Any) -> str:
    """Render one template file of ``folder`` (a set's `TemplateSet.folder`); a missing slot is an error,
    never an empty string."""
    text = _environment(Path(folder)).get_template(template).render(**slots).strip()
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
    return [{"role": "user", "content": render(tset.solve, folder=tset.folder, **slots_for(item))}]


def verify_messages(tset: TemplateSet, item: dict[str, Any], solve_text: str | None) -> list[dict[str, str]]:
    """The full conversation that ends with the verify turn (turn 1 and the proposer's own answer first)."""
    verify = {"role": "user", "content": render(tset.verify, folder=tset.folder, **slots_for(item))}
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
            h.update((tset.folder / name).read_bytes())
    return h.hexdigest()[:16]
