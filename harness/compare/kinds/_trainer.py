"""Options models for the trainer steps, generated from the neutral `SFTConfig`/`RLConfig` dataclasses.

WHY generated: a recipe may override any trainer field (``- rl: {max_steps: 40}``); writing the fields a
second time by hand would drift from `trainers.base`. Each dataclass field becomes an optional option
with the dataclass's own help text, so ``harness recipes`` documents them and unknown names fail.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar, get_type_hints

from pydantic import Field, create_model

from harness.compare.steps import StepOptions

B = TypeVar("B", bound=StepOptions)


def options_model(name: str, config_cls: type, base: type[B], skip: tuple[str, ...] = ()) -> type[B]:
    """A subclass of ``base`` (the kind's own options, declared as a class so they are typed) with every field
    of ``config_cls`` after them, as optional."""
    hints = get_type_hints(config_cls)
    defs: dict[str, Any] = {}
    for f in fields(config_cls):
        if f.name in skip or f.name in base.model_fields:
            continue
        defs[f.name] = (hints[f.name] | None, Field(None, description=f.metadata.get("help", "") + " (None: preset/comparison value)"))
    return create_model(name, __base__=base, **defs)


def overrides(options: StepOptions, *, exclude: tuple[str, ...]) -> dict[str, Any]:
    """The trainer fields a recipe set explicitly (None means "not overridden")."""
    return {k: v for k, v in options.model_dump().items() if k not in exclude and v is not None}


def comparison_overrides(kind: Any, config: Any, *, exclude: tuple[str, ...]) -> dict[str, Any]:
    """The trainer fields the comparison's ``steps.<kind>`` sets for every step of the kind: checked by the
    kind's options (`StepKind.defaults`), passed as written (the trainer config types them, so an integer
    stays one in the cache key, as before the options were typed)."""
    kind.defaults(config)
    raw = dict(config.steps.get(kind.name) or {})
    return {k: v for k, v in raw.items() if k not in exclude and v is not None}


def check_trainer_defaults(kind: Any, config: Any, *, exclude: tuple[str, ...]) -> None:
    """The comparison's ``steps.<kind>`` of a trainer kind: parsed by the kind's options (unknown names, types;
    the error names the option and value), then every trainer field built into the preset's config
    (`trainers.presets.get_config`: the dataclass's own checks)."""
    from trainers.presets import get_config

    kind.defaults(config)
    raw = {k: v for k, v in (config.steps.get(kind.name) or {}).items() if k not in exclude and v is not None}
    get_config(config.trainer_preset, kind.name, **raw)


# Trainer settings that change how a run is watched, never what it produces: excluded from the step's cache
# key (turning on TensorBoard must not retrain a cached arm) but still passed to the trainer.
UNKEYED_FIELDS = {"report_to": "none", "run_name": None}  # field -> the value the key records (its old default)
UNKEYED_BACKEND_ARGS = ("report_to", "run_name", "logging_dir")


# Trainer fields added after cache keys existed: left out of the key while at their default, so a key made
# before the field existed stays valid (the run is the same); any other value is keyed.
LATER_FIELDS = {"reward_judge": None}


def keyed_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings of an sft/rl step as its cache key sees them: `UNKEYED_FIELDS` at their defaults (so
    keys made before the exclusion, with ``report_to: none``, stay valid; a None default is dropped, as
    before the field existed), `LATER_FIELDS` dropped while at their defaults, and `UNKEYED_BACKEND_ARGS`
    removed from ``backend_args``."""
    config = dict(settings["config"])
    for name, default in UNKEYED_FIELDS.items():
        if default is None:
            config.pop(name, None)
        elif name in config:
            config[name] = default
    for name, default in LATER_FIELDS.items():
        if config.get(name, default) == default:
            config.pop(name, None)
    config["backend_args"] = {k: v for k, v in (config.get("backend_args") or {}).items() if k not in UNKEYED_BACKEND_ARGS}
    return {**settings, "config": config}


def run_name(ctx: Any, kind: str) -> str:
    """``<arm>/seed-<s>/<position>-<kind>``, e.g. ``int/seed-0/3-rl``: what a dashboard lists."""
    return f"{ctx.recipe}/seed-{ctx.seed}/{ctx.index + 1}-{kind}"


def trainer(name: str) -> Any:
    from trainers.registry import get_trainer

    return get_trainer(name)
