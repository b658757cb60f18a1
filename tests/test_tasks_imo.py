"""IMO-AnswerBench: the upstream defects are repaired, listed and logged; corrupted files fail loudly."""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import pytest

import tasks
from tasks.imo_answerbench import CATEGORIES, COLUMNS, read_answerbench

DATA_DIR = Path(os.environ.get("HARNESS_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
IMO_DIR = DATA_DIR / "imo-answerbench"
UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")

V2_REPAIRS = {
    ("imo-bench-algebra-036", "Problem"),
    ("imo-bench-algebra-036", "Short Answer"),
    ("imo-bench-algebra-036", "Category/Subcategory/Source"),
    ("imo-bench-geometry-004", "Short Answer"),
    ("imo-bench-number_theory-055", "Problem"),
    ("imo-bench-algebra-097", "Short Answer"),
    ("imo-bench-geometry-096", "Short Answer"),
}


pytestmark = pytest.mark.usefixtures("local_data_only")


def _by_id(version: str) -> dict[str, tasks.Problem]:
    return {p.id: p for p in tasks.load_task("imo-answerbench", version).problems}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_400_problems_100_per_category_all_fields(version: str) -> None:
    problems = tasks.load_task("imo-answerbench", version).problems
    assert len(problems) == 400
    for category in CATEGORIES:
        assert sum(p.category == category for p in problems) == 100
    for p in problems:
        values = [p.id, p.problem, p.answer, p.category, p.metadata["subcategory"], p.metadata["source"]]
        assert all(v and v == v.strip() for v in values), p.id
        assert p.metadata["version"] == version


def test_expected_repairs_v2_and_v1() -> None:
    v2 = tasks.load_task("imo-answerbench", "v2").repairs
    assert {(r.problem_id, r.field) for r in v2} == V2_REPAIRS
    v1 = tasks.load_task("imo-answerbench", "v1").repairs
    assert {(r.problem_id, r.field) for r in v1} == {("imo-bench-algebra-097", "Short Answer")}
    assert all(r.reason and r.before != r.after for r in v2 + v1)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_geometry_004_answer(version: str) -> None:
    assert _by_id(version)["imo-bench-geometry-004"].answer == "4, 5"


def test_algebra_036_fields_v2() -> None:
    p = _by_id("v2")["imo-bench-algebra-036"]
    assert p.answer == "$Y(x)=A+\\frac{B}{x}-x$"
    assert p.category == "Algebra"
    assert p.metadata["subcategory"] == "Functional Equation" and p.metadata["source"] == "Iran 2002"
    assert p.problem.startswith("Find all functions $Y") and p.problem.endswith("\\]")
    assert "$Y(x)=A" not in p.problem and '"' not in p.problem


def test_number_theory_055_has_no_stray_quotes() -> None:
    p = _by_id("v2")["imo-bench-number_theory-055"]
    assert not p.problem.startswith('"') and not p.problem.endswith('"') and '""' not in p.problem
    assert 'considered "good" if' in p.problem
    assert p.answer == "$14625$"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_opening_dollar_is_closed(version: str) -> None:
    for p in _by_id(version).values():
        if p.answer.startswith("$"):
            assert len(UNESCAPED_DOLLAR.findall(p.answer)) % 2 == 0, p.id
    assert _by_id(version)["imo-bench-algebra-097"].answer.endswith("\\frac{\\sqrt{5}+1}{2}$")


def test_pr18_copy_gives_the_same_problems() -> None:
    main = tasks.load_task("imo-answerbench", "v2")
    pr18 = read_answerbench(IMO_DIR / "pr18-fix" / "answerbench_v2.csv", "v2")
    assert pr18.problems == main.problems
    assert {(r.problem_id, r.field) for r in pr18.repairs} == {
        k for k in V2_REPAIRS if k[0] != "imo-bench-algebra-036"
    }


def test_repairs_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tasks.imo_answerbench"):
        tasks.load_task("imo-answerbench", "v2")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for pid, _ in V2_REPAIRS:
        assert pid in logged


# --- corrupted files ------------------------------------------------------------------------------


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([list(COLUMNS), *rows])
    return path


GOOD = ["imo-bench-algebra-001", "Line one\nline two\nline three", "3", "Algebra", "Operation", "IMO SL"]


def test_missing_field_names_file_row_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.csv", [GOOD, ["imo-bench-algebra-002", "Find $x$.", "5", "Algebra", "Other"]]
    )
    with pytest.raises(ValueError) as err:
        read_answerbench(path, "v2")
    msg = str(err.value)
    # the first record spans lines 2-4 (multi-line Problem), so the bad record starts on line 5
    assert (
        str(path) in msg
        and "row imo-bench-algebra-002 (line 5)" in msg
        and "field 'Source' is missing" in msg
    )


def test_empty_field_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", [GOOD[:3] + ["  "] + GOOD[4:]])
    with pytest.raises(ValueError, match=r"row imo-bench-algebra-001 \(line 2\): field 'Category' is empty"):
        read_answerbench(path, "v2")


def test_unrecoverable_shift_is_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.csv", [["imo-bench-algebra-003", "No glued answer", "Algebra", "Other", "X"]]
    )
    with pytest.raises(ValueError, match=r"field 'Short Answer' holds a category .* 'Source' is missing"):
        read_answerbench(path, "v2")


def test_row_count_is_checked(tmp_path: Path) -> None:
    rows = list(csv.reader((IMO_DIR / "answerbench.csv").open(newline="", encoding="utf-8")))[1:]
    path = _write(tmp_path / "short.csv", rows[:-1])
    with pytest.raises(
        ValueError, match=r"short.csv: expected 400 rows with 100 per category, found 399 rows"
    ):
        read_answerbench(path, "v1")


def test_bad_header_and_load_task_with_corrupt_data_dir(tmp_path: Path) -> None:
    folder = tmp_path / "imo-answerbench"
    folder.mkdir()
    (folder / "answerbench_v2.csv").write_text("id,question\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"answerbench_v2.csv: line 1: header is"):
        tasks.load_task("imo-answerbench", data_dir=tmp_path)
