"""IMO-AnswerBench (Google DeepMind IMO-Bench): 400 short-answer olympiad problems, v1 and v2.

v1 (``answerbench.csv``) is what the IMO-Bench and InT papers measured; v2 (``answerbench_v2.csv``,
2026-02-12) is the current upstream file and our default. Upstream v2 has defects a naive CSV reader
turns into wrong gold answers, so this loader repairs them from the file's own text, records each fix
as a `Repair` (shown by ``harness tasks show``) and logs it:

- algebra-036 (v2): a missing ``"`` glues the answer onto the Problem text and shifts
  Category/Subcategory/Source one column left. Re-split at the glued ``\\n,`` and shift back. The PR #18
  copy of v2 does not need this, and gives the same 400 problems.
- geometry-004 (v2): Short Answer ``45752`` is a spreadsheet date serial of v1's ``4, 5``.
- number_theory-055 (v2): Problem text wrapped in stray CSV quotes (``"... ""good"" ..."``).
- algebra-097 (v1, v2) and geometry-096 (v2): answer opens ``$`` but never closes it.

After repairs the file must hold exactly 400 rows, 100 per category, and all six fields non-empty,
otherwise a ValueError names the file, the row (Problem ID and line) and the field.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tasks.base import LoadedTask, Problem, Repair, Task
from tasks.data import DataResolver
from tasks.registry import register_task

logger = logging.getLogger(__name__)

NAME = "imo-answerbench"
COLUMNS = ("Problem ID", "Problem", "Short Answer", "Category", "Subcategory", "Source")
CATEGORIES = ("Algebra", "Combinatorics", "Geometry", "Number theory")
EXPECTED_ROWS = 400
PER_CATEGORY = 100
FILES = {"v1": "answerbench.csv", "v2": "answerbench_v2.csv"}
COMMIT = "a02069ef66dbae4c5b0713ba0dc144a35375558f"
RAW_BASE = f"https://raw.githubusercontent.com/google-deepmind/superhuman/{COMMIT}/imobench"

# (Problem ID, corrupted value) -> (fixed value, reason). Applied only while upstream is still corrupted.
ANSWER_OVERRIDES = {
    ("imo-bench-geometry-004", "45752"): (
        "4, 5",
        "spreadsheet date serial (2025-04-05) of v1's answer '4, 5' (n = 4 or n = 5)",
    ),
}
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


@dataclass
class _Row:
    values: dict[str, str | None]
    line: int
    extra: list[str]

    @property
    def pid(self) -> str:
        return (self.values.get("Problem ID") or "").strip() or "<no Problem ID>"


def _read_rows(path: Path) -> list[_Row]:
    """csv.reader with newline='' so multi-line LaTeX fields stay one record; keeps each record's line."""
    rows: list[_Row] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise ValueError(f"{path}: line 1: header is {header!r}, expected {list(COLUMNS)!r}")
        end = reader.line_num
        for record in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            values: dict[str, str | None] = {
                c: (record[i] if i < len(record) else None) for i, c in enumerate(COLUMNS)
            }
            rows.append(_Row(values, start, record[len(COLUMNS) :]))
    return rows


def _where(path: Path, row: _Row) -> str:
    return f"{path}: row {row.pid} (line {row.line})"


def _repair_shifted_columns(path: Path, row: _Row) -> list[Repair]:
    """Undo the algebra-036 shift: Source missing and a category name sitting in Short Answer."""
    v = row.values
    if not (v["Source"] is None and not row.extra and (v["Short Answer"] or "").strip() in CATEGORIES):
        return []
    glued = v["Problem"] or ""
    head, sep, tail = glued.rpartition("\n,")
    answer = tail.strip().removeprefix('"').removesuffix('"').replace('""', '"').strip()
    if not sep or not answer:
        raise ValueError(
            f"{_where(path, row)}: field 'Short Answer' holds a category ({v['Short Answer']!r}) and field "
            "'Source' is missing: the columns are shifted and the answer could not be recovered"
        )

    def shown(cols: tuple[str, ...]) -> str:
        return " | ".join(f"{c}={v[c] if v[c] is not None else '<missing>'}" for c in cols)

    shifted = ("Category", "Subcategory", "Source")
    old_cols = shown(shifted)
    v["Problem"], v["Short Answer"], v["Category"], v["Subcategory"], v["Source"] = (
        head,
        answer,
        v["Short Answer"],
        v["Category"],
        v["Subcategory"],
    )
    reason = "a missing closing quote glued the answer onto Problem and shifted the later columns left"
    return [
        Repair(row.pid, "Problem", glued, head.strip(), reason),
        Repair(row.pid, "Short Answer", "<glued onto Problem>", answer, reason),
        Repair(row.pid, "Category/Subcategory/Source", old_cols, shown(shifted), reason),
    ]


def _repair_text(row: _Row) -> list[Repair]:
    """Field-level fixes that detect the defect from the text itself, so clean rows are never touched."""
    v, repairs = row.values, []
    for col in ("Problem", "Short Answer"):
        text = v[col] or ""
        inner = text[1:-1]
        # Only a whole field wrapped in quotes whose inner quotes are all CSV-doubled ("") is stray quoting.
        if len(text) > 1 and text[0] == text[-1] == '"' and '"' not in inner.replace('""', ""):
            fixed = inner.replace('""', '"').strip()
            repairs.append(Repair(row.pid, col, text, fixed, "stray CSV quoting left inside the field"))
            v[col] = fixed
    answer = v["Short Answer"] or ""
    override = ANSWER_OVERRIDES.get((row.pid, answer))
    if override is not None:
        repairs.append(Repair(row.pid, "Short Answer", answer, override[0], override[1]))
        v["Short Answer"] = answer = override[0]
    if answer.startswith("$") and len(_UNESCAPED_DOLLAR.findall(answer)) % 2 == 1:
        fixed = answer + "$"
        repairs.append(
            Repair(row.pid, "Short Answer", answer, fixed, "math mode opened with $ but never closed")
        )
        v["Short Answer"] = fixed
    return repairs


def _validate_row(path: Path, row: _Row) -> None:
    if row.extra:
        raise ValueError(
            f"{_where(path, row)}: {len(COLUMNS) + len(row.extra)} fields, expected {len(COLUMNS)}"
        )
    for col in COLUMNS:
        value = row.values[col]
        if value is None:
            raise ValueError(f"{_where(path, row)}: field '{col}' is missing")
        if not value.strip():
            raise ValueError(f"{_where(path, row)}: field '{col}' is empty")
    if row.values["Category"] not in CATEGORIES:
        raise ValueError(
            f"{_where(path, row)}: field 'Category' is {row.values['Category']!r}, expected one of {CATEGORIES}"
        )


def read_answerbench(path: Path, version: str) -> LoadedTask:
    """Parse, repair and validate one AnswerBench CSV (main's v1/v2 or the PR #18 copy of v2)."""
    problems: list[Problem] = []
    repairs: list[Repair] = []
    seen: dict[str, int] = {}
    for row in _read_rows(path):
        repairs += _repair_shifted_columns(path, row)
        row.values = {c: (None if val is None else val.strip()) for c, val in row.values.items()}
        repairs += _repair_text(row)
        _validate_row(path, row)
        if row.pid in seen:
            raise ValueError(f"{_where(path, row)}: field 'Problem ID' duplicates line {seen[row.pid]}")
        seen[row.pid] = row.line
        v = {c: str(val) for c, val in row.values.items()}
        problems.append(
            Problem(
                id=v["Problem ID"],
                problem=v["Problem"],
                answer=v["Short Answer"],
                category=v["Category"],
                metadata={"subcategory": v["Subcategory"], "source": v["Source"], "version": version},
            )
        )
    counts = Counter(p.category for p in problems)
    if len(problems) != EXPECTED_ROWS or any(counts[c] != PER_CATEGORY for c in CATEGORIES):
        raise ValueError(
            f"{path}: expected {EXPECTED_ROWS} rows with {PER_CATEGORY} per category, "
            f"found {len(problems)} rows: {dict(sorted(counts.items()))}"
        )
    for r in repairs:
        logger.info(
            "%s %s: repaired %s.%s: %r -> %r (%s)",
            NAME,
            version,
            r.problem_id,
            r.field,
            r.before[:80],
            r.after[:80],
            r.reason,
        )
    return LoadedTask(problems=problems, repairs=repairs, origin=str(path))


def load(resolver: DataResolver, version: str) -> LoadedTask:
    filename = FILES[version]
    path = resolver.local_file(NAME, f"{NAME}/{filename}", f"{RAW_BASE}/{filename}")
    return read_answerbench(path, version)


for _version, _what in (
    ("v1", "the version the IMO-Bench and InT papers report"),
    ("v2", "current upstream"),
):
    register_task(
        Task(
            name=NAME,
            version=_version,
            description=f"IMO-AnswerBench {_version} ({_what}): 400 robustified olympiad short-answer problems",
            loader=partial(load, version=_version),
            prompt_template="paper",
            answer_format="mixed",
            source=f"{RAW_BASE}/{FILES[_version]}",
            license="CC-BY-4.0",
            categories=CATEGORIES,
            hub_id="Hwilner/imo-answerbench",  # community copy (split train); which version it holds is unverified
            is_default=_version == "v2",
        )
    )
