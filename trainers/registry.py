"""Trainer discovery through the ``harness.trainers`` entry-point group.

Why entry points: a training stack can live in another package (or a test) and still show up in
`harness trainers list`, exactly like the built-in TRL and OpenRLHF backends declared in pyproject.toml.
Why lazy: loading an entry point imports only the plugin module, and plugin modules import their stack
(torch, trl, ray) inside methods, so a missing optional stack is a status line, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.registry import Registry, UnknownName
from trainers.base import TrainerPlugin

ENTRY_POINT_GROUP = "harness.trainers"


class UnknownTrainerError(UnknownName):
    """No plugin of that name is registered; the message lists the ones that are."""


@dataclass(frozen=True)
class TrainerInfo:
    """One row of `harness trainers list`."""

    name: str
    target: str  # "module:attr" the entry point names
    installed: bool  # the plugin loaded and its stack is importable
    detail: str  # "ok", what is missing, or why the plugin failed to load
    supports: tuple[str, ...] = ()
    description: str = ""
    distribution: str = ""  # the package that declared the entry point
    extra: dict[str, str] = field(default_factory=dict)


def _instantiate(obj: Any, name: str) -> TrainerPlugin:
    plugin = obj() if isinstance(obj, type) else obj
    if not isinstance(plugin, TrainerPlugin):
        raise TypeError(f"{getattr(obj, '__name__', obj)!r} is not a TrainerPlugin (got {type(plugin).__name__})")
    return plugin


# Not cached beyond Python's imports: a plugin installed (or a test dist-info added) mid-process counts.
TRAINERS: Registry[TrainerPlugin] = Registry(
    "trainer", ENTRY_POINT_GROUP, load=_instantiate, error=UnknownTrainerError,
    hint=f"plugins register under the [project.entry-points.\"{ENTRY_POINT_GROUP}\"] table of their package "
         "(see docs/adding-a-trainer.md)",
)


def trainer_names() -> list[str]:
    return sorted(TRAINERS.names())


def get_trainer(name: str) -> TrainerPlugin:
    """The plugin registered under ``name`` (its stack is not imported until an operation runs)."""
    return TRAINERS.get(name)


def list_trainers() -> list[TrainerInfo]:
    """Every registered plugin with its availability; a plugin that fails to load is reported, not raised."""
    rows = []
    eps = TRAINERS.entry_points()
    for name, target in sorted(TRAINERS.targets().items()):
        ep = eps.get(name)
        dist = getattr(getattr(ep, "dist", None), "name", "") or ""
        try:
            plugin = TRAINERS.get(name)
        except Exception as exc:  # a broken third-party plugin must not break the listing
            rows.append(TrainerInfo(name, target, False, f"failed to load: {type(exc).__name__}: {exc}", distribution=dist))
            continue
        installed, detail = plugin.availability()
        rows.append(
            TrainerInfo(
                name=name,
                target=target,
                installed=installed,
                detail=detail,
                supports=tuple(sorted(plugin.supports)),
                description=plugin.description,
                distribution=dist,
            )
        )
    return rows
