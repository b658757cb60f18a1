"""Write lm-eval task YAMLs: the shipped ones (`shipped_task_yaml`, loading through our loaders at run
time) and self-contained folders (frozen prompt rows as jsonl read through ``dataset_path: json``).

Why a writer next to the shipped YAMLs: the shipped ones load problems through our loaders at run time
(needs ``$HARNESS_DATA_DIR``); a written folder freezes the rendered prompts, so ``lm_eval
--include_path DIR`` runs offline anywhere the package is installed, and the exact prompts are on disk.
Both take the token budget from the task definition (`tasks.Task.max_tokens`) when it has one, so a task
for a small-context model runs as shipped; the shipped files are generated here and a test keeps them so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.ecosystem.common import ExportedTask, exported_tasks, identifier, max_tokens_of, problem_rows
from harness.ecosystem.lm_eval_tasks import TASKS_DIR
from harness.rundir import atomic_write_text

TEMPLATE = "_int_template.yaml"
UTILS_MODULE = "harness.ecosystem.lm_eval_tasks.utils"


class _TagLoader(yaml.SafeLoader):
    """Reads the shipped template with ``!function`` references kept as plain strings."""


_TagLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


def template_config() -> dict[str, Any]:
    """The shipped shared config (``!function`` values as their dotted names)."""
    return yaml.load((TASKS_DIR / TEMPLATE).read_text(encoding="utf-8"), Loader=_TagLoader)  # noqa: S506


def generation_kwargs(max_gen_toks: int) -> dict[str, Any]:
    """The template's sampling settings with another token budget (a task's ``generation_kwargs``
    replaces the included template's whole mapping, so every key is repeated)."""
    return {**template_config()["generation_kwargs"], "max_gen_toks": int(max_gen_toks)}


def _own_budget(task: str, version: str | None) -> int | None:
    """The task's token budget when it differs from the template's (16,384), else None."""
    budget = max_tokens_of(task, version)
    return None if budget == template_config()["generation_kwargs"]["max_gen_toks"] else budget


def shipped_task_yaml(exp: ExportedTask) -> str:
    """The text of ``lm_eval_tasks/int_<export>.yaml``: our loader at run time, the task's token budget."""
    text = (
        f"# {exp.spec} through our loader (data: $HARNESS_DATA_DIR or dataset_kwargs.int_data_dir).\n"
        f"include: {TEMPLATE}\n"
        f"task: int_{exp.export}\n"
        "custom_dataset: !function utils.load_benchmark\n"
        + yaml.safe_dump(
            {"dataset_kwargs": {"int_task": exp.task, "int_version": exp.version}}, sort_keys=False
        )
    )
    budget = _own_budget(exp.task, exp.version)
    if budget is not None:
        text += "# The task's own token budget (tasks.Task.max_tokens), not the template's.\n"
        text += yaml.safe_dump({"generation_kwargs": generation_kwargs(budget)}, sort_keys=False)
    return text


def write_shipped_tasks(folder: str | Path = TASKS_DIR) -> list[Path]:
    """(Re)write the shipped YAML of every exported benchmark (run after changing a task definition)."""
    paths = []
    for exp in exported_tasks():
        path = Path(folder) / f"int_{exp.export}.yaml"
        atomic_write_text(path, shipped_task_yaml(exp))
        paths.append(path)
    return paths


def _resolve(specs: Sequence[str] | None) -> list[ExportedTask]:
    """Exported names for ``name``/``name@version`` specs, every one checked before anything is written."""
    from tasks import get_task

    if not specs:
        return exported_tasks()
    out = []
    for spec in specs:
        name, _, version = spec.partition("@")
        get_task(name, version or None)  # an unknown name or version fails here, listing the known ones
        export = identifier(f"{name}_{version}" if version else name)
        out.append(ExportedTask(export, name, version or None))
    return out


def _write_template(out: Path) -> None:
    # The template's hooks point at the installed module, so the folder needs no copy of utils.py.
    text = (
        (TASKS_DIR / TEMPLATE)
        .read_text(encoding="utf-8")
        .replace("!function utils.", f"!function {UTILS_MODULE}.")
    )
    (out / TEMPLATE).write_text(text, encoding="utf-8")


def write_lm_eval_task(
    out_dir: str | Path,
    name: str,
    rows: Sequence[dict[str, Any]],
    *,
    repeats: int | None = None,
    max_gen_toks: int | None = None,
    note: str = "",
) -> Path:
    """Write one task (``<name>.jsonl`` + ``<name>.yaml``, template alongside) from `problem_rows` rows.

    Returns the YAML path. Rows are used as given, so callers can freeze any selection of problems.
    """
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not rows:
        raise ValueError(f"{name}: no problems to export")
    if repeats is not None and repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    _write_template(out)
    data = out / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    config: dict[str, Any] = {
        "include": TEMPLATE,
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
    }
    if repeats is not None:
        config["repeats"] = int(repeats)
    if max_gen_toks is not None:
        config["generation_kwargs"] = generation_kwargs(max_gen_toks)
    header = f"# {note or name} ({len(rows)} problems), written by harness.ecosystem.write_lm_eval_task\n"
    path = out / f"{name}.yaml"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_lm_eval_tasks(
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    tasks: Sequence[str] | None = None,
    repeats: int | None = None,
    max_gen_toks: int | None = None,
    split: str = "test",
) -> Path:
    """Write ``int_<task>.jsonl`` + ``int_<task>.yaml`` per benchmark and the shared template into ``out_dir``.

    Args:
        out_dir: folder to pass to ``lm_eval --include_path``.
        data_dir: our benchmark data directory (default ``$HARNESS_DATA_DIR``).
        tasks: ``name`` or ``name@version`` specs; default every exported benchmark.
        repeats: samples per problem (default: the template's); every one is scored.
        max_gen_toks: token budget per sample (default: the task's ``max_tokens``, else the template's).
        split: dataset split to export.

    Returns:
        ``out_dir`` as a resolved path.
    """
    out = Path(out_dir).resolve()
    for exp in _resolve(tasks):
        rows = problem_rows(exp.task, exp.version, data_dir=data_dir, split=split)
        note = f"{rows[0]['task']}@{rows[0]['version']} ({split})" if rows else exp.spec
        budget = max_gen_toks or _own_budget(exp.task, exp.version)
        write_lm_eval_task(out, f"int_{exp.export}", rows, repeats=repeats, max_gen_toks=budget, note=note)
    return out
