"""Named SFT/RL settings: the paper's here; others (the embedded world's scaled-down ``embedded``) from plugins.

Why presets: the paper's settings (lr 1e-6, effective batch 64, 16K tokens, group 8, 400 steps) are the
defaults of `SFTConfig`/`RLConfig`; the embedded world (a ~1M-parameter model on 2 CPU cores) needs the
same *algorithm* with sizes that finish in minutes and a learning rate a tiny model can move with in a
few dozen steps. Only sizes and the learning rate change; advantage, KL, entropy, temperature do not.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from typing import Any, get_type_hints

from harness.registry import Registry
from trainers.base import RLConfig, SFTConfig

PRESET_STAGES = ("sft", "rl")  # the trainer stages a preset configures


def _preset(obj: Any, name: str) -> dict[str, dict[str, Any]]:
    if not (isinstance(obj, dict) and set(obj) <= {"sft", "rl"}):
        raise TypeError("a trainer preset is a mapping {sft: {field: value}, rl: {field: value}}")
    return {"sft": dict(obj.get("sft") or {}), "rl": dict(obj.get("rl") or {})}


# name -> {"sft": overrides, "rl": overrides}. The paper's here; a package adds its own through the
# ``harness.trainer_presets`` entry-point group (the embedded world's ``embedded``: harness/world/plugin.py).
PRESETS: Registry[dict[str, dict[str, Any]]] = Registry("trainer preset", "harness.trainer_presets", load=_preset)
# The paper's algorithm; sizes chosen so that a 4B model trains on one 80-141 GB GPU (harness.compare.preflight):
# one sequence per forward pass (16K-token logits are ~15 GB each), accumulation for the effective batch.
PRESETS.register("paper", {"sft": {"per_device_batch_size": 1}, "rl": {"per_device_batch_size": 1}})


def preset_names() -> list[str]:
    return sorted(PRESETS.names())


def _coerce(config_cls: type, name: str, raw: Any) -> Any:
    """Turn a CLI string into the field's type (``1e-6`` -> float, ``true`` -> bool, JSON for dicts)."""
    if not isinstance(raw, str):
        return raw
    hint_obj = get_type_hints(config_cls)[name]
    hint = hint_obj.__name__ if isinstance(hint_obj, type) else str(hint_obj)  # "float", "bool | None", "dict[...]"
    if raw.lower() in ("none", "null") and "None" in hint:
        return None
    if hint.startswith("bool"):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"{name}: expected true/false, got {raw!r}")
        return raw.lower() in ("1", "true", "yes")
    try:
        if hint.startswith("int"):
            return int(raw)
        if hint.startswith("float"):
            return float(raw)
        if hint.startswith("dict"):
            return json.loads(raw)
    except ValueError:  # name the field: "could not convert string to float: 'abc'" names nothing
        raise ValueError(f"{config_cls.__name__} field {name}: expected {hint}, got {raw!r}") from None
    return raw


def with_overrides(config: SFTConfig | RLConfig, overrides: dict[str, Any]) -> SFTConfig | RLConfig:
    """A copy of ``config`` with fields replaced; unknown names are an error that lists the valid ones."""
    cls = type(config)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
    return replace(config, **{k: _coerce(cls, k, v) for k, v in overrides.items()})


def get_config(preset: str, stage: str, **overrides: Any) -> SFTConfig | RLConfig:
    """The ``stage`` ('sft' or 'rl') config of a preset, with optional field overrides on top."""
    presets = PRESETS.get(preset)  # an unknown name lists the known ones
    if stage not in ("sft", "rl"):
        raise ValueError(f"stage must be 'sft' or 'rl', got {stage!r}")
    base = SFTConfig() if stage == "sft" else RLConfig()
    return with_overrides(base, {**presets[stage], **overrides})


def check_stage_overrides(preset: str, stage: str, overrides: dict[str, Any]) -> None:
    """Build the ``stage`` config of ``preset`` with those of ``overrides`` that are fields of it (a wrong value
    fails naming the field and value); other names and stages that are not trainer stages are not checked here
    (a step kind's own options, e.g. rl's ``hint_fraction``)."""
    if stage not in PRESET_STAGES:
        return
    names = {f.name for f in fields(SFTConfig if stage == "sft" else RLConfig)}
    get_config(preset, stage, **{k: v for k, v in (overrides or {}).items() if k in names and v is not None})


def parse_set_options(items: list[str]) -> dict[str, str]:
    """``["lr=1e-6", "max_steps=3"]`` (the CLI's repeated ``--set``) -> dict."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out
