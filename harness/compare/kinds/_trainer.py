"""Options models for the trainer steps, generated from the neutral `SFTConfig`/`RLConfig` dataclasses.

WHY generated: a recipe may override any trainer field (``- rl: {max_steps: 40}``); writing the fields a
second time by hand would drift from `trainers.base`. Each dataclass field becomes an optional option
with the dataclass's own help text, so ``harness recipes`` documents them and unknown names fail.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, get_type_hints

from pydantic import Field, create_model

from harness.compare.steps import StepOptions


def options_model(name: str, config_cls: type, extra: dict[str, tuple[Any, Any]], skip: tuple[str, ...] = ()) -> type[StepOptions]:
    """A `StepOptions` subclass with ``extra`` fields first, then every field of ``config_cls`` as optional."""
    hints = get_type_hints(config_cls)
    defs: dict[str, Any] = dict(extra)
    for f in fields(config_cls):
        if f.name in skip or f.name in defs:
            continue
        defs[f.name] = (hints[f.name] | None, Field(None, description=f.metadata.get("help", "") + " (None: preset/comparison value)"))
    return create_model(name, __base__=StepOptions, **defs)


def overrides(options: StepOptions, *, exclude: tuple[str, ...]) -> dict[str, Any]:
    """The trainer fields a recipe set explicitly (None means "not overridden")."""
    return {k: v for k, v in options.model_dump().items() if k not in exclude and v is not None}


def trainer(name: str) -> Any:
    from trainers.registry import get_trainer

    return get_trainer(name)
