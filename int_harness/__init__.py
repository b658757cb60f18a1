"""inspect_ai's view of the harness: every registered task, built-in or from a plugin, as ``int_harness/<name>``.

``inspect eval int_harness/aime25``, ``int_harness/imo_answerbench_v2``, ``int_harness/world_hard``,
``int_harness/<a plugin's task>``; ``int_harness/benchmark -T task=NAME[@VERSION]`` takes the name at run
time. Task arguments (``-T``): ``epochs``, ``data_dir``, ``split``, ``grader_timeout``. Names are the
registry's with ``-``/``.`` as ``_``; a task with several versions also gets ``<name>_<version>``.

Why a top-level package: inspect names a ``@task`` after the top-level import package of the function that
defines it, when that package is installed (a wheel, or an editable install of the distribution of the same
name). This package is named like the ``int-harness`` distribution, so inspect's public `task` decorator
gives ``int_harness/<name>`` by itself, with no registry internals. Where inspect cannot tell (an editable
install whose in-tree ``int_harness.egg-info`` comes first on ``sys.path``, e.g. in a process started in
the repository root), the names are given in full instead -- checked with the public `registry_info`. The
``inspect_ai`` entry point names this package, so inspect imports it when a task name starts with
``int_harness/``. Tasks registered after the import (a plugin loaded later, a test) are added through
`tasks.on_register`.
"""

from __future__ import annotations

import logging

from inspect_ai import Task, task
from inspect_ai.util import registry_info

from harness.ecosystem.common import DEFAULT_GRADER_TIMEOUT, ExportedTask, exported_tasks, exports_of
from harness.ecosystem.inspect_tasks import build_task
from tasks import Task as HarnessTask
from tasks import list_tasks, on_register

log = logging.getLogger(__name__)
NAMESPACE = __name__

DEFINED: dict[str, str] = {"benchmark": "*"}  # inspect name -> the task spec it builds


def _benchmark(
    task: str = "aime25",
    version: str | None = None,
    epochs: int = 1,
    data_dir: str | None = None,
    split: str | None = None,
    grader_timeout: float = DEFAULT_GRADER_TIMEOUT,
) -> Task:
    """Any registered task by name (``-T task=imo-answerbench -T version=v2``), plugin tasks included."""
    return build_task(
        task, version, epochs=epochs, data_dir=data_dir, split=split, grader_timeout=grader_timeout
    )


benchmark = task(name="benchmark")(_benchmark)
# inspect prefixes the package name only when it sees the package installed; otherwise name in full.
FULL_NAMES = not registry_info(benchmark).name.startswith(f"{NAMESPACE}/")
if FULL_NAMES:
    benchmark = task(name=f"{NAMESPACE}/benchmark")(_benchmark)


def _define(exp: ExportedTask) -> None:
    """One ``@task`` named ``exp.export`` that builds ``exp.spec`` (the first definition of a name wins)."""
    if exp.export in DEFINED:
        if DEFINED[exp.export] != exp.spec:
            log.warning("int_harness/%s already builds %s; not redefined for %s", exp.export, DEFINED[exp.export], exp.spec)
        return

    def make(
        epochs: int = 1,
        data_dir: str | None = None,
        split: str | None = None,
        grader_timeout: float = DEFAULT_GRADER_TIMEOUT,
    ) -> Task:
        return build_task(
            exp.task, exp.version, epochs=epochs, data_dir=data_dir, split=split, grader_timeout=grader_timeout
        )

    make.__name__ = make.__qualname__ = exp.export
    make.__doc__ = f"{exp.spec} with our prompt and grader; -T epochs=N (or --epochs N) gives pass@k and maj@k."
    globals()[exp.export] = task(name=f"{NAMESPACE}/{exp.export}" if FULL_NAMES else exp.export)(make)
    DEFINED[exp.export] = exp.spec


def _on_register(new: HarnessTask) -> None:
    for exp in exports_of(new.name, [t for t in list_tasks() if t.name == new.name]):
        _define(exp)


for _exp in exported_tasks(None):
    _define(_exp)
on_register(_on_register)
