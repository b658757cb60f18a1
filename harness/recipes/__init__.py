"""Recipes as data: a recipe is a named list of steps applied to the base model, then evaluated.

Built-in recipes are the YAML files beside this module (``base``, ``rl-baseline``, ``int``,
``sft-reference-rl``). A user adds one without code by dropping a YAML file in a folder passed with
``--recipes DIR`` (or listed in ``$HARNESS_RECIPES``)::

    name: hint-rl
    description: RL with the first half of the reference solution as a hint
    steps:
      - rl: {hint_fraction: 0.5}

Each step names a registered step kind (`harness.compare.steps`; `harness recipes` lists them with
their options) and its options; each consumes the model the previous step produced. Built-in kinds:

* ``int``: run the InT protocol stages with the current model as policy and proposer; yields SFT data.
* ``sft``: ``{data: int | reference, ...SFTConfig fields}``: fine-tune on that data.
* ``rl``: ``{...RLConfig fields, hint_fraction, hint_length, match_compute_of}``: outcome-reward RL.

A recipe is validated against the registered kinds when it is read: an unknown kind or option, or a
step that needs an artifact no earlier step produces, fails naming the file and listing what is valid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

BUILTIN_DIR = Path(__file__).parent


class Step(BaseModel):
    """One step: its kind and the options it overrides (validated again by the step's own config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str
    options: dict[str, Any] = Field(default_factory=dict)


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    steps: list[Step] = Field(default_factory=list)
    source: str = ""  # the YAML file it came from

    @field_validator("steps", mode="before")
    @classmethod
    def _parse_steps(cls, raw: Any) -> Any:
        """Accept the YAML shorthand ``- rl: {...}`` as well as ``{kind: rl, options: {...}}``."""
        steps = []
        for item in raw or []:
            if isinstance(item, dict) and len(item) == 1 and "kind" not in item:
                (kind, options), = item.items()
                item = {"kind": kind, "options": options or {}}
            steps.append(item)
        return steps

    def model_post_init(self, _context: Any) -> None:
        """Check every step against its registered kind: known kind, valid options, artifacts available."""
        from harness.compare.steps import get_step_kind

        produced: set[str] = set()
        for i, step in enumerate(self.steps):
            where = f"recipe {self.name!r} step {i + 1}: "
            kind = get_step_kind(step.kind)
            options = kind.parse_options(step.options, where)
            missing = [a for a in kind.requires(options) if a not in produced]
            if missing:
                raise ValueError(f"{where}{step.kind!r} needs {', '.join(missing)} from an earlier step "
                                 f"(e.g. an 'int' step before 'sft: {{data: int}}')")
            produced |= set(kind.produces(options))

    @property
    def trains(self) -> bool:
        return bool(self.steps)


def recipe_dirs(extra: list[str | Path] | None = None) -> list[Path]:
    """Search order: explicit folders, then $HARNESS_RECIPES (os.pathsep-separated), then built-ins."""
    dirs = [Path(d) for d in extra or []]
    dirs += [Path(d) for d in os.environ.get("HARNESS_RECIPES", "").split(os.pathsep) if d]
    return dirs + [BUILTIN_DIR]


def _read(path: Path) -> Recipe:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Recipe(**data, source=str(path))
    except Exception as exc:  # name the file: a recipe is user-written data
        raise ValueError(f"{path}: invalid recipe ({exc})") from exc


def list_recipes(extra: list[str | Path] | None = None) -> dict[str, Recipe]:
    """Every recipe by name; earlier folders shadow later ones (a user may redefine ``int``)."""
    found: dict[str, Recipe] = {}
    for folder in reversed(recipe_dirs(extra)):
        for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            recipe = _read(path)
            found[recipe.name] = recipe
    return found


def load_recipe(name: str, extra: list[str | Path] | None = None) -> Recipe:
    recipes = list_recipes(extra)
    if name not in recipes:
        raise LookupError(f"unknown recipe {name!r}; known: {', '.join(sorted(recipes))} (add one with --recipes DIR)")
    return recipes[name]
