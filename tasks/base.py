"""The data model every benchmark shares: a Problem, a Repair log entry, and a Task definition.

A task is data plus a loader: where its rows come from, how a row becomes a `Problem`, which prompt
template renders it, and how its answers are graded. Keeping this one small dataclass means a new
benchmark is one short file (see `tasks/aime.py`), in the spirit of lm-eval's tasks-as-data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One benchmark item, normalised across sources."""

    id: str
    problem: str
    answer: str
    solution: str | None = None  # a worked reference solution, when the source has one (InT needs it)
    category: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Repair:
    """A documented fix the loader applied to upstream data (listed by `harness tasks show`)."""

    problem_id: str
    field: str
    before: str
    after: str
    reason: str


@dataclass
class LoadedTask:
    """What a loader returns: the problems plus the repairs it had to make and where it read them."""

    problems: list[Problem]
    repairs: list[Repair] = field(default_factory=list)
    origin: str = ""  # the file path or hub id actually read


def subset(problems: list[Problem], per_category: int | None = None, limit: int | None = None) -> list[Problem]:
    """The first ``per_category`` problems of each category (order kept), then the first ``limit``.

    WHY per category: tasks list problems grouped (the world easiest level first), so a bare ``limit``
    would silently evaluate or train on the easiest category only."""
    if per_category:
        seen: dict[str, int] = {}
        kept = []
        for p in problems:
            seen[p.category] = seen.get(p.category, 0) + 1
            if seen[p.category] <= per_category:
                kept.append(p)
        problems = kept
    return problems[:limit] if limit else list(problems)


@dataclass(frozen=True)
class Task:
    """A registered benchmark.

    Attributes:
        name: registry name, e.g. ``"aime25"``.
        version: dataset version (``"v1"``/``"v2"`` for IMO-AnswerBench, ``"default"`` elsewhere).
        description: one line for `harness tasks list`.
        loader: ``loader(resolver, split) -> LoadedTask`` (a loader without a ``split`` parameter is
            called as ``loader(resolver)``); the resolver finds local files or downloads them.
        prompt_template: name of a jinja2 template (``<name>.jinja``), looked up in ``template_dirs`` first,
            then in ``tasks/templates`` (``paper`` = raw problem).
        template_dirs: folders a task brings its own templates in, searched before ``tasks/templates``: a
            plugin package passes ``importlib.resources.files("my_plugin") / "templates"`` (or any path).
        template_source: the template's jinja2 text itself; when set it is used instead of
            ``prompt_template`` (it may still ``{% include %}`` templates from the search path).
        answer_format: a short tag (``integer``, ``latex``, ``mixed``) shown in listings.
        grader: grader name from ``harness.grading`` (``math-verify`` by default).
        source: canonical origin (GitHub raw URL or hub id) for users with network access.
        license: the data license as published.
        categories: expected categories, for listings and per-category metrics.
        splits: available splits (``test`` for benchmarks; the synthetic world also has ``train``).
        hub_only: True when no GitHub copy exists, so the Hugging Face Hub is the only online source.
        hub_id: the Hugging Face Hub dataset id real users can load (documentation for local tasks).
        is_default: the version `get_task(name)` returns when a name has several versions.
        max_tokens: the generation budget per sample this task needs, in tokens; ``None`` means the
            protocol default (the paper's 16,384). The lm-eval and inspect_ai adapters use it as their
            default, so a task for a small-context model (the world: 1,024 positions) runs as shipped.
        size: the documented number of problems (hub-only data), for planning before the data is loaded.
        overlaps: documented counts of this task's problems that also appear in other tasks, by task name
            (from a data card); `harness.decontam` reports them when the data cannot be checked here.
        capabilities: optional functions a task can offer beyond its data, by name (see `CAPABILITIES`);
            generic code asks ``task.capability(name)`` and never tests which task it has.
    """

    name: str
    version: str
    description: str
    loader: Callable[..., LoadedTask]
    prompt_template: str = "paper"
    template_dirs: tuple[str | os.PathLike[str], ...] = ()
    template_source: str | None = None
    answer_format: str = "mixed"
    grader: str = "math-verify"
    source: str = ""
    license: str = ""
    categories: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("test",)
    hub_only: bool = False
    hub_id: str = ""
    is_default: bool = False
    max_tokens: int | None = None
    size: int | None = None
    overlaps: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    capabilities: Mapping[str, Callable[..., Any]] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"task {self.name!r}: max_tokens must be >= 1, got {self.max_tokens}")

    def capability(self, name: str) -> Callable[..., Any] | None:
        """The function registered for capability ``name``, or None when the task has none."""
        if name not in CAPABILITIES:
            raise ValueError(f"unknown task capability {name!r}; known: {', '.join(sorted(CAPABILITIES))}")
        return self.capabilities.get(name)


# What a task may know beyond its data. Each takes ``(item, attempt)``: ``item`` is a failed-attempt record
# (the problem's fields, ``metadata`` included, see harness/intervention/rollout.py) and ``attempt`` the text.
CAPABILITIES: dict[str, str] = {
    "first_error": "item, attempt -> the 1-indexed substep of the attempt's TRUE first error (None if correct); "
    "lets reports score how well a proposer localises errors",
    "oracle_intervention": "item, attempt -> proposer-format text holding the true first error and its corrected "
    "step; an upper bound on proposers, never InT itself",
}
