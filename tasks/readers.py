"""Small readers shared by the task files: JSONL/JSON, MatHArena's answers.csv + problems/<id>.tex layout.

They live in one place so every loader fails the same way on bad input: a ValueError naming the file,
the row and the field, instead of a bare KeyError deep inside a list comprehension.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.rundir import read_jsonl as _read_jsonl
from harness.safepath import safe_component
from tasks.base import LoadedTask, Problem
from tasks.data import DataResolver

logger = logging.getLogger(__name__)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object per line; a bad line raises naming the file and line (shared implementation)."""
    return _read_jsonl(path)


def read_json_array(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON array of objects, got {type(data).__name__}")
    return data


def field(row: Mapping[str, Any], name: str, where: str) -> Any:
    """``row[name]``, or a ValueError naming where (file/row) and the missing/empty field."""
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{where}: field '{name}' is missing or empty")
    return value


def number_to_str(value: Any) -> str:
    """Render a numeric answer canonically: ``27.0`` -> ``"27"``, ``2.5`` -> ``"2.5"``, strings unchanged."""
    if isinstance(value, bool):
        raise ValueError(f"boolean is not a numeric answer: {value!r}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class UniqueIds:
    """Refuses a second row with an id already seen, naming the file and both rows.

    Why every loader needs it: every record of a run is keyed by problem id, so two problems sharing an id
    silently become one (``--limit 3`` evaluated 2 problems and exited 0). ``add(pid, where)`` with
    ``where`` the row's place (``line 7``, ``item 3``); ``field`` names the column the id comes from."""

    def __init__(self, path: Any, field: str = "id") -> None:
        self.path, self.field = path, field
        self._seen: dict[str, str] = {}

    def add(self, pid: str, where: str) -> str:
        if pid in self._seen:
            raise ValueError(f"{self.path}: {where}: field '{self.field}' gives problem id {pid!r}, which "
                             f"{self._seen[pid]} already has (problem ids must be unique)")
        self._seen[pid] = where
        return pid


def expect_count(items: list[Any], expected: int, where: str) -> None:
    """Fail loudly when a copy is truncated or padded; a silent 29/30 would skew every metric."""
    if len(items) != expected:
        raise ValueError(f"{where}: expected {expected} problems, found {len(items)}")


def read_matharena_contest(
    resolver: DataResolver, task: str, folder: str, url_base: str | None, n_problems: int
) -> tuple[list[tuple[str, str, str]], Path]:
    """Join ``<folder>/answers.csv`` (id,answer) with ``<folder>/problems/<id>.tex``.

    This is MatHArena's pre-Hub GitHub layout (AIME 2025, HMMT Feb 2025). Returns
    ``[(id, problem, answer)]`` in numeric id order and the answers.csv path actually read.
    """

    def url(rel: str) -> str | None:
        return f"{url_base}/{rel}" if url_base else None

    answers_path = resolver.local_file(task, f"{folder}/answers.csv", url("answers.csv"))
    with answers_path.open(newline="", encoding="utf-8") as fh:
        answers = list(csv.DictReader(fh))
    out = []
    ids = UniqueIds(answers_path)
    for lineno, row in enumerate(answers, 2):
        where = f"{answers_path}: line {lineno}"
        pid = safe_component(str(field(row, "id", where)).strip(), where=where, field="id")  # names a .tex file
        ids.add(pid, f"line {lineno}")
        answer = str(field(row, "answer", f"{where} (id {pid})")).strip()
        tex = resolver.local_file(task, f"{folder}/problems/{pid}.tex", url(f"problems/{pid}.tex"))
        problem = tex.read_text(encoding="utf-8").strip()
        if not problem:
            raise ValueError(f"{tex}: problem {pid}: field 'problem' is empty")
        out.append((pid, problem, answer))
    out.sort(key=lambda item: (0, int(item[0]), "") if item[0].isdigit() else (1, 0, item[0]))
    expect_count(out, n_problems, str(answers_path))
    return out, answers_path


def load_hub_task(
    resolver: DataResolver,
    task: str,
    hub_id: str,
    hub_split: str,
    split: str,
    to_problem: Callable[[Mapping[str, Any], int, str], Problem],
    expected: int | None = None,
) -> LoadedTask:
    """Load a hub-only split and map each row with ``to_problem(row, index, where)``.

    ``expected`` is the documented size; a different count is logged rather than fatal because hub
    datasets get corrected upstream, and tests feed small in-memory datasets of the same schema.
    """
    got = resolver.hub_rows(task, hub_id, hub_split, relpath=f"{task}/{split}.jsonl")
    problems = [to_problem(row, i, f"{got.origin}: row {i}") for i, row in enumerate(got.rows)]
    ids = UniqueIds(got.origin)
    for i, p in enumerate(problems):
        ids.add(p.id, f"row {i}")
    if expected is not None and len(problems) != expected:
        logger.warning("%s: %s has %d rows, documented size is %d", task, got.origin, len(problems), expected)
    return LoadedTask(problems=problems, origin=got.origin)


def matharena_problem(row: Mapping[str, Any], index: int, where: str) -> Problem:
    """MatHArena Hub schema: ``problem``, ``answer``, ``problem_idx``, optional ``problem_type``/``source``.

    ``problem_type`` is a list (several labels per problem); the joined labels become the category.
    """
    types = row.get("problem_type") or []
    if isinstance(types, str):
        types = [types]
    metadata: dict[str, Any] = {"problem_type": list(types)}
    if row.get("source"):
        metadata["source"] = row["source"]
    idx = row.get("problem_idx")  # documented on every MatHArena card seen; 1-based row order otherwise
    return Problem(
        id=str(idx) if idx not in (None, "") else str(index + 1),
        problem=str(field(row, "problem", where)).strip(),
        answer=number_to_str(field(row, "answer", where)),
        category=" / ".join(types) or None,
        metadata=metadata,
    )
