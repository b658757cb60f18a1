"""The task registry: one `register_task` call per benchmark version, looked up by name (and version).

Built-in task modules are imported lazily on first lookup, so ``import tasks`` stays cheap and a broken
benchmark file cannot break unrelated commands at import time. Third-party packages add tasks through
the ``harness.tasks`` entry-point group, whose value is a module that calls `register_task` on import
(the inspect_ai / pytest plugin pattern). Such a task brings its prompt template with it (``template_dirs``
or ``template_source`` on `Task`); adapters that mirror the registry elsewhere (``int_harness`` for
inspect_ai) follow later registrations through `on_register`.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.registry import Registry, UnknownName
from tasks.base import CAPABILITIES, LoadedTask, Problem, Task
from tasks.data import DataResolver

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "harness.tasks"
TEMPLATE_DIR = Path(__file__).parent / "templates"

_BUILTIN_MODULES = [
    "tasks.imo_answerbench",
    "tasks.aime",
    "tasks.aime_train",
    "tasks.hmmt",
    "tasks.math500",
    "tasks.amc23",
    "tasks.brumo",
    "tasks.amo_bench",
    "tasks.apex_shortlist",
    "tasks.int_sets",
    "tasks.world",
]

_LISTENERS: list[Callable[[Task], None]] = []


class UnknownTaskError(UnknownName):
    """A name or version that is not registered; the message lists what is."""


# "name@version" -> Task. The built-in modules and every entry point's module register on first lookup.
TASKS: Registry[Task] = Registry("task", ENTRY_POINT_GROUP, modules=_BUILTIN_MODULES, unique=True, error=UnknownTaskError)


def _tasks() -> dict[tuple[str, str], Task]:
    return {(t.name, t.version): t for t in TASKS._entries.values()}


def register_task(task: Task) -> Task:
    """Add a task version; a second registration of the same (name, version) is an error, not an override."""
    key = (task.name, task.version)
    if key in _tasks():
        raise ValueError(f"task {task.name!r} version {task.version!r} is already registered")
    if task.is_default:
        for (name, version), other in _tasks().items():
            if name == task.name and other.is_default:
                raise ValueError(
                    f"task {task.name!r}: versions {version!r} and {task.version!r} both claim default"
                )
    if not task.splits:
        raise ValueError(f"task {task.name!r} version {task.version!r} declares no splits")
    unknown = sorted(set(task.capabilities) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"task {task.name!r}: unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}")
    TASKS.register(f"{task.name}@{task.version}", task)
    for listener in _LISTENERS:
        listener(task)
    return task


def on_register(listener: Callable[[Task], None]) -> Callable[[Task], None]:
    """Call ``listener(task)`` for every task registered from now on (not for those already registered:
    read `list_tasks` first). Adapters that mirror the registry use it to see plugin tasks added later."""
    _LISTENERS.append(listener)
    return listener


def _ensure_loaded() -> None:
    """Import the built-in task modules and the plugins' (once; a failure is retried on the next call)."""
    TASKS.load_modules()


def _versions(name: str) -> list[Task]:
    return sorted((t for (n, _), t in _tasks().items() if n == name), key=lambda t: t.version)


def _known() -> str:
    names = sorted({n for n, _ in _tasks()})
    return ", ".join(
        f"{n} ({', '.join(t.version + ('*' if t.is_default else '') for t in _versions(n))})" for n in names
    )


def get_task(name: str, version: str | None = None) -> Task:
    """Look up a task; ``version=None`` means the version marked default (or the only one).

    ``name`` may carry the version as ``name@version`` (the spelling configs and the CLI use)."""
    _ensure_loaded()
    if "@" in name:
        name, _, at_version = name.partition("@")
        if version is not None and version != at_version:
            raise UnknownTaskError(f"task {name!r}: version given twice ({at_version!r} and {version!r})")
        version = at_version or None
    versions = _versions(name)
    if not versions:
        TASKS.load_modules(rescan=True)  # a task plugin installed since the first lookup
        versions = _versions(name)
    if not versions:
        close = difflib.get_close_matches(name, sorted({n for n, _ in _tasks()}), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownTaskError(f"unknown task {name!r}.{hint} Known tasks (* = default version): {_known()}")
    if version is None:
        defaults = [t for t in versions if t.is_default]
        if defaults:
            return defaults[0]
        if len(versions) == 1:
            return versions[0]
        raise UnknownTaskError(
            f"task {name!r} has several versions ({', '.join(t.version for t in versions)}) and none is "
            "marked default; pass a version"
        )
    for task in versions:
        if task.version == version:
            return task
    raise UnknownTaskError(
        f"task {name!r} has no version {version!r}; known versions: {', '.join(t.version for t in versions)}"
    )


def list_tasks() -> list[Task]:
    """Every registered (name, version), sorted by name then version."""
    _ensure_loaded()
    registered = _tasks()
    return [registered[k] for k in sorted(registered)]


def default_split(task: Task) -> str:
    """``test`` when the task has it (benchmarks), else its first split (training sets)."""
    return "test" if "test" in task.splits else task.splits[0]


def load_task(
    name: str,
    version: str | None = None,
    *,
    data_dir: str | Path | None = None,
    split: str | None = None,
    resolver: DataResolver | None = None,
) -> LoadedTask:
    """Resolve the task's data (data dir, cache, canonical source) and return its problems.

    ``split=None`` picks `default_split`. ``resolver`` overrides ``data_dir`` (tests inject a hub loader).
    """
    task = get_task(name, version)
    split = split or default_split(task)
    if split not in task.splits:
        raise ValueError(f"task {task.name!r} has no split {split!r}; available: {', '.join(task.splits)}")
    resolver = resolver or DataResolver(data_dir)
    params = inspect.signature(task.loader).parameters
    if "split" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        loaded = task.loader(resolver, split=split)
    elif len(task.splits) > 1:
        raise TypeError(
            f"task {task.name!r} has splits {task.splits} but its loader takes no 'split' argument"
        )
    else:
        loaded = task.loader(resolver)
    _check_unique_ids(task, loaded)
    return loaded


def _check_unique_ids(task: Task, loaded: LoadedTask) -> None:
    """Every loader's problems, plugins' included, have distinct ids: records are keyed by id, so two
    problems sharing one would silently count as one. The built-in file loaders already name the file
    and both lines (`tasks.readers.UniqueIds`); this catches any other loader, naming both positions."""
    seen: dict[str, int] = {}
    for i, problem in enumerate(loaded.problems):
        first = seen.setdefault(problem.id, i)
        if first != i:
            raise ValueError(f"{loaded.origin or task.name}: problems {first} and {i} (0-based, as loaded) share the "
                             f"id {problem.id!r} (task {task.name!r}; problem ids must be unique)")


def _search_path(task: Task) -> tuple[str, ...]:
    """The task's own template folders, then the built-in ``tasks/templates``."""
    own = (os.fspath(d) if isinstance(d, os.PathLike) else str(d) for d in task.template_dirs)
    return (*own, str(TEMPLATE_DIR))


@lru_cache(maxsize=32)
def _environment(search_path: tuple[str, ...]) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search_path)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=32)
def _inline_template(search_path: tuple[str, ...], source: str) -> Any:
    return _environment(search_path).from_string(source)


def _template(task: Task) -> Any:
    import jinja2

    search_path = _search_path(task)
    if task.template_source is not None:
        return _inline_template(search_path, task.template_source)
    try:
        return _environment(search_path).get_template(f"{task.prompt_template}.jinja")
    except jinja2.TemplateNotFound as exc:
        available = sorted({p.stem for d in search_path for p in Path(d).glob("*.jinja")})
        raise ValueError(
            f"task {task.name!r}: no prompt template {task.prompt_template!r}; available: {', '.join(available)} "
            f"(searched {', '.join(search_path)})"
        ) from exc


def render_prompt(task: Task, problem: Problem) -> list[dict[str, str]]:
    """Chat messages from the task's template: ``template_source`` if it has one, else
    ``<task.prompt_template>.jinja`` from ``task.template_dirs`` or ``tasks/templates``.

    The template sees ``problem`` (the statement text), ``item`` (the whole `Problem`) and ``task``.
    A template may ``{% set system = "..." %}`` at top level to add a system message.
    """
    module = _template(task).make_module({"problem": problem.problem, "item": problem, "task": task})
    name = "its template_source" if task.template_source is not None else f"template {task.prompt_template!r}"
    content = str(module).strip()
    if not content:
        raise ValueError(f"task {task.name!r}: {name} rendered an empty prompt")
    messages = []
    system = getattr(module, "system", None)
    if system:
        messages.append({"role": "system", "content": str(system).strip()})
    messages.append({"role": "user", "content": content})
    return messages
