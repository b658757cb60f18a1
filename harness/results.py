"""Run directories as pandas DataFrames: `load_samples(run_dir)`, one row per graded sample.

Why a loader instead of ``pd.read_json(path, lines=True)``: that guesses each column's type from its
values, so ``gold`` ("27") becomes int64 and ``extracted`` ("025", "27", None) float64 -- "025" reads back
as 25.0 and no longer equals its gold. Here every known field has a declared dtype (answers, ids and texts
as pandas ``string``, ``correct`` as bool, token counts and indices as nullable ``Int64``), fields this
module does not know (added by newer writers or importers) are kept, as ``string`` when they hold text,
and the frame round-trips through ``to_parquet``/``read_parquet`` unchanged.

Layout read (written by ``harness eval``, ``harness ecosystem import`` and every eval step of ``harness
compare``)::

    <run_dir>/<task>@<version>/samples.jsonl
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.rundir import iter_jsonl

STRING_FIELDS = (
    "task", "version", "problem_id", "category", "prompt_hash", "prompt", "text", "gold", "extracted",
    "status", "reason", "grader", "finish_reason", "source",
)  # fmt: skip
INT_FIELDS = ("sample_index", "seed", "prompt_tokens", "completion_tokens")
BOOL_FIELDS = ("correct",)


def sample_files(run_dir: str | Path, tasks: Sequence[str] | None = None) -> list[Path]:
    """``<task>@<version>/samples.jsonl`` files of a run, sorted; ``tasks`` keeps ``name`` or ``name@version``."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run directory")
    files = sorted(root.glob("*@*/samples.jsonl"))
    if tasks:
        wanted = set(tasks)
        files = [f for f in files if f.parent.name in wanted or f.parent.name.split("@")[0] in wanted]
    if not files:
        which = f" for {', '.join(tasks)}" if tasks else ""
        raise FileNotFoundError(f"{root}: no <task>@<version>/samples.jsonl{which} (is this a `harness eval` run?)")
    return files


def _checked(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The record with declared fields validated: bool ``correct``, whole-number counts."""
    row = dict(record)
    for name in BOOL_FIELDS:
        if not isinstance(row.get(name), bool):
            raise ValueError(f"{where}: field {name!r} must be true or false, got {row.get(name)!r}")
    for name in INT_FIELDS:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            row[name] = int(value)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: field {name!r} must be a whole number, got {value!r}")
    return row


def _inferred(column: pd.Series) -> pd.Series:
    """A column this module does not declare: ``string`` for text, ``boolean``/``Int64`` for flags and
    counts, left as it is otherwise (floats, nested lists and mappings)."""
    values = column.dropna()
    if values.empty:
        return column
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return column.astype("string")
    if kinds == {bool}:
        return column.astype("boolean")
    if kinds == {int}:
        return column.astype("Int64")
    return column


def samples_frame(records: Iterable[Mapping[str, Any]], *, source: str = "records") -> pd.DataFrame:
    """Per-sample records (as ``samples.jsonl`` holds them) as a typed DataFrame; see the module docstring."""
    return _typed([_checked(r, f"{source}: record {i}") for i, r in enumerate(records, 1)])


def _typed(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=[*STRING_FIELDS, *INT_FIELDS, *BOOL_FIELDS])
    for name in frame.columns:
        if name in STRING_FIELDS:
            frame[name] = frame[name].map(lambda v: v if v is None or isinstance(v, str) else str(v), na_action="ignore")
            frame[name] = frame[name].astype("string")
        elif name in INT_FIELDS:
            frame[name] = frame[name].astype("Int64")
        elif name in BOOL_FIELDS:
            frame[name] = frame[name].astype(bool)
        else:
            frame[name] = _inferred(frame[name])
    return frame


def load_samples(run_dir: str | Path, *, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Every graded sample of a run directory, one row each, every field the records have.

    Args:
        run_dir: a ``harness eval`` (or ``harness ecosystem import``) output folder.
        tasks: only these tasks (``name`` or ``name@version``); default all.

    Returns:
        A DataFrame with ``string`` ids, answers and texts (``gold``, ``extracted`` exactly as written),
        bool ``correct`` and nullable ``Int64`` indices and token counts; ``df.to_parquet(path)`` keeps
        them. A torn last line (a run still writing, or killed mid-append) is skipped.

    Raises:
        FileNotFoundError: no such folder, or it holds no ``<task>@<version>/samples.jsonl``.
        ValueError: a record breaks the schema (the message names the file, record and field).
    """
    rows = [
        _checked(record, f"{path}: record {i}")
        for path in sample_files(run_dir, tasks)
        for i, record in enumerate(iter_jsonl(path, allow_torn_tail=True), 1)
    ]
    return _typed(rows)
