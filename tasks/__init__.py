"""Benchmark tasks: the registry, data resolution and per-benchmark loaders.

Importing this package is cheap (no ``datasets``/``pandas``); benchmark modules load on first lookup.
"""

from tasks.base import LoadedTask, Problem, Repair, Task, subset
from tasks.data import DataNotFoundError, DataResolver
from tasks.problemset import ProblemSet, Selection
from tasks.registry import (
    UnknownTaskError,
    get_task,
    list_tasks,
    load_task,
    on_register,
    register_task,
    render_prompt,
)

__all__ = [
    "DataNotFoundError",
    "DataResolver",
    "LoadedTask",
    "Problem",
    "ProblemSet",
    "Repair",
    "Selection",
    "Task",
    "UnknownTaskError",
    "get_task",
    "list_tasks",
    "load_task",
    "on_register",
    "register_task",
    "render_prompt",
    "subset",
]
