"""Trainer discovery through the ``harness.trainers`` entry-point group.

Why entry points: a training stack can live in another package (or a test) and still show up in
`harness trainers list`, exactly like the built-in TRL and OpenRLHF backends declared in pyproject.toml.
Why lazy: loading an entry point imports only the plugin module, and plugin modules import their stack
(torch, trl, ray) inside methods, so a missing optional stack is a status line, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from trainers.base import TrainerPlugin

ENTRY_POINT_GROUP = "harness.trainers"


class UnknownTrainerError(KeyError):
    """No plugin of that name is registered; the message lists the ones that are."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


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


def _entry_points() -> dict[str, EntryPoint]:
    """Name -> entry point. Not cached: a plugin installed (or a test dist-info added) mid-process counts."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # first on sys.path wins, as for imports
    return found


def trainer_names() -> list[str]:
    return sorted(_entry_points())


def _instantiate(ep: EntryPoint) -> TrainerPlugin:
    obj = ep.load()
    plugin = obj() if isinstance(obj, type) else obj
    if not isinstance(plugin, TrainerPlugin):
        raise TypeError(f"{ep.value} is not a TrainerPlugin (got {type(plugin).__name__})")
    return plugin


def get_trainer(name: str) -> TrainerPlugin:
    """The plugin registered under ``name`` (its stack is not imported until an operation runs)."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise UnknownTrainerError(
            f"no trainer named {name!r}; registered: {known}. Plugins register under the "
            f"[project.entry-points.\"{ENTRY_POINT_GROUP}\"] table of their package (see docs/adding-a-trainer.md)."
        )
    return _instantiate(eps[name])


def list_trainers() -> list[TrainerInfo]:
    """Every registered plugin with its availability; a plugin that fails to load is reported, not raised."""
    rows = []
    for name, ep in sorted(_entry_points().items()):
        dist = getattr(getattr(ep, "dist", None), "name", "") or ""
        try:
            plugin = _instantiate(ep)
        except Exception as exc:  # a broken third-party plugin must not break the listing
            rows.append(TrainerInfo(name, ep.value, False, f"failed to load: {type(exc).__name__}: {exc}", distribution=dist))
            continue
        installed, detail = plugin.availability()
        rows.append(
            TrainerInfo(
                name=name,
                target=ep.value,
                installed=installed,
                detail=detail,
                supports=tuple(sorted(plugin.supports)),
                description=plugin.description,
                distribution=dist,
            )
        )
    return rows
