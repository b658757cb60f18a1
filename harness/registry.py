"""One registry type for every pluggable concept: tasks, trainers, step kinds, backends, graders, model
sources and report figures.

A `Registry` maps names to things, found three ways, in this order:

1. registered in-process (`Registry.register`, usable as a decorator: notebooks, tests, a module's own
   built-ins such as ``@figure``);
2. built-in *targets* -- ``"module:attr"`` strings imported only when the name is asked for, so an optional
   stack (vLLM, OpenRLHF) costs nothing until it is selected;
3. the package's entry-point group (``[project.entry-points."harness.<group>"]``): a plugin package adds
   a thing exactly as the built-ins could. An entry point names either the object (``pkg.mod:Thing``) or a
   module that registers its things when imported (``pkg.mod``, the pytest/inspect_ai pattern; a task
   module registers several versions).

Lookups of an unknown name fail with one error for every concept, `UnknownName` (a `KeyError` and a
`ValueError`, so callers that caught either keep working): ``unknown step kind 'rll' (did you mean rl?);
known: int, reflect, rl, sft``. Entry points naming an object are read on every lookup, registering modules
once and again when a name is not found (a plugin installed mid-process counts); imports are cached by Python.

WHY hand-written: ``importlib.metadata`` gives entry points but no registry; inspect_ai's registry is
internal to it. This is the ~150 lines the seven concepts shared in four different shapes before.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "UnknownName"]


class UnknownName(KeyError, ValueError):
    """A name no registry entry has; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Names -> things of one concept (``what``: "grader", "step kind", ...).

    ``group``: the entry-point group plugins register under. ``builtins``: name -> ``"module:attr"``,
    imported on first use (the mapping is kept by reference, so a module's dict stays the source of
    truth). ``modules``: modules imported before the first listing or unknown lookup, which register their
    things on import (a module missing from a trimmed install is skipped; one that fails to import raises).
    ``load``: turns what a target or entry point names into the registered thing and checks it (e.g.
    "a StepKind subclass"); in-process registrations are stored as given. ``unique``: a second
    registration of a name is an error instead of a replacement. ``error``: the exception class for
    unknown names (a subclass of `UnknownName`); ``hint``: appended to its message (where plugins register).
    """

    def __init__(
        self,
        what: str,
        group: str | None = None,
        *,
        builtins: MutableMapping[str, str] | None = None,
        modules: list[str] | None = None,
        load: Callable[[Any, str], T] | None = None,
        unique: bool = False,
        error: type[UnknownName] = UnknownName,
        hint: str = "",
    ) -> None:
        self.what, self.group = what, group
        self.builtins: MutableMapping[str, str] = builtins if builtins is not None else {}
        self.modules: list[str] = modules if modules is not None else []
        self._load = load
        self.unique, self.error = unique, error
        self.hint = hint or (f"plugins register under [project.entry-points.\"{group}\"]" if group else "")
        self._entries: dict[str, T] = {}
        self._modules_loaded = False
        self._loaded_eps: set[str] = set()  # module-valued entry points imported (a plugin added later still counts)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, group={self.group!r})"

    # -- registration -------------------------------------------------------------------------------
    def register(self, name: str, thing: T | None = None) -> Any:
        """Add ``thing`` under ``name``; without ``thing``, a decorator that registers what it decorates."""
        if thing is None:
            def wrap(obj: T) -> T:
                self.register(name, obj)
                return obj

            return wrap
        if not name:
            raise ValueError(f"a {self.what} needs a name")
        if self.unique and name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = thing
        return thing

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (tests)."""
        self._entries.pop(name, None)

    # -- discovery ----------------------------------------------------------------------------------
    def entry_points(self) -> dict[str, EntryPoint]:
        """Name -> entry point of the group; the first one on sys.path wins, as for imports."""
        found: dict[str, EntryPoint] = {}
        if self.group:
            for ep in entry_points(group=self.group):
                found.setdefault(ep.name, ep)
        return found

    def load_modules(self, rescan: bool = False) -> None:
        """Import the registering modules -- ``modules``, then every module-valued entry point -- once;
        ``rescan`` (a lookup that found nothing) imports entry points added since. A failure is raised and
        retried on the next call, never half-hidden."""
        if self._modules_loaded and not rescan:
            return
        if not self._modules_loaded:
            self._modules_loaded = True  # set first: the modules call register() while we import them
            try:
                for module in self.modules:
                    try:
                        importlib.import_module(module)
                    except ModuleNotFoundError as exc:
                        if exc.name != module:  # a missing dependency inside the module is a real error
                            raise
            except BaseException:
                self._modules_loaded = False
                raise
        for ep in self.entry_points().values():
            if not ep.attr and ep.value not in self._loaded_eps:
                self._loaded_eps.add(ep.value)
                try:
                    ep.load()
                except Exception as exc:
                    self._loaded_eps.discard(ep.value)
                    raise ImportError(f"{self.what} plugin {ep.name!r} ({self.group} = {ep.value!r}) failed: {exc}") from exc

    def names(self) -> list[str]:
        """Every name: in-process registrations, built-ins, then entry points (in that order)."""
        self.load_modules()
        eps = [n for n, ep in self.entry_points().items() if ep.attr]
        return list(dict.fromkeys([*self._entries, *self.builtins, *eps]))

    def targets(self) -> dict[str, str]:
        """Name -> where it comes from (``module:attr`` or ``(registered)``), for listings."""
        eps = {n: ep.value for n, ep in self.entry_points().items() if ep.attr}
        out = {n: "(registered)" for n in self._entries}
        for name, target in [*self.builtins.items(), *eps.items()]:
            out.setdefault(name, target)
        return out

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name not in self.names():
            self.load_modules(rescan=True)  # a plugin installed since the first listing
        return name in self.names()

    # -- lookup -------------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """The thing registered as ``name`` (imported now if it is a target or entry point)."""
        if name in self._entries:
            return self._entries[name]
        if name in self.builtins:
            return self._loaded(self._import(self.builtins[name]), name, self.builtins[name])
        ep = self.entry_points().get(name)
        if ep is not None and ep.attr:
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin names itself
                raise ImportError(f"{self.what} {name!r} ({ep.value}) failed to load: {exc}") from exc
            return self._loaded(obj, name, ep.value)
        self.load_modules(rescan=True)
        if name in self._entries:
            return self._entries[name]
        raise self.unknown(name)

    def unknown(self, name: str, known: str | None = None) -> UnknownName:
        """The one error for a name nobody registered: the close matches, then every known name."""
        names = sorted(self.names())
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        tail = f"; {self.hint}" if self.hint else ""
        return self.error(f"unknown {self.what} {name!r}{hint}; known: {known if known is not None else ', '.join(names) or '(none)'}{tail}")

    def _import(self, target: str) -> Any:
        module, _, attr = target.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj

    def _loaded(self, obj: Any, name: str, where: str) -> T:
        if self._load is None:
            return obj
        try:
            return self._load(obj, name)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self.what} {name!r} ({where}): {exc}") from None

    # -- a read-only mapping view (name -> thing), in `names` order ---------------------------------
    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def keys(self) -> list[str]:
        return self.names()

    def items(self) -> list[tuple[str, T]]:
        return [(n, self.get(n)) for n in self.names()]

    def values(self) -> list[T]:
        return [self.get(n) for n in self.names()]

    def as_dict(self) -> Mapping[str, T]:
        return dict(self.items())
