"""Duplicate problem ids are refused at load, for every loader, naming the file and both rows (issue 22 item 3).

Records are keyed by problem id, so two problems sharing one silently became one: with ``--limit 3`` a run
evaluated 2 problems and exited 0. Each case below copies a real local data file, gives one row another
row's id, and loads it through the task registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_support import output_lines, run_main

from tasks import LoadedTask, Problem, Task, load_task
from tasks.registry import register_task


@pytest.fixture
def copy(shared_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Copy one task's folder of the shared data into a private data directory and return a path in it."""
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"

    def make(relfolder: str) -> Path:
        shutil.copytree(shared_data_dir / relfolder, data / relfolder)
        return data / relfolder

    make.root = data
    return make


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize(("task", "relfile", "field"), [
    ("amc23", "amc23/test.jsonl", "id"),
    ("math500", "math500/test.jsonl", "unique_id"),
    ("aime24", "aime24/test.jsonl", "url"),
])
def test_jsonl_loaders(copy, task, relfile, field):
    folder = copy(relfile.split("/")[0])
    path = folder / Path(relfile).name
    rows = _jsonl(path)
    rows[2][field] = rows[1][field]
    _write_jsonl(path, rows)
    with pytest.raises(ValueError) as err:
        load_task(task, data_dir=copy.root)
    message = str(err.value)
    assert str(path) in message and "line 3" in message and "line 2" in message and f"'{field}'" in message


def test_csv_with_tex_folder_loader(copy):
    folder = copy("aime25") / "aime_2025_II"
    lines = (folder / "answers.csv").read_text(encoding="utf-8").splitlines()
    first_id = lines[1].split(",")[0]
    lines[3] = first_id + "," + lines[3].split(",", 1)[1]
    (folder / "answers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_task("aime25", data_dir=copy.root)
    message = str(err.value)
    assert "answers.csv" in message and "line 4" in message and "line 2" in message and repr(first_id) in message


def test_json_array_loader(copy):
    path = copy("train") / "aime-1983-2023" / "aime.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[5] = {**items[5], **{k: items[4][k] for k in ("year", "aime_number", "problem_number")}}
    path.write_text(json.dumps(items), encoding="utf-8")
    with pytest.raises(ValueError, match=r"aime\.json: item 5: .* which item 4 already has"):
        load_task("aime-1983-2023", data_dir=copy.root)


def test_imo_answerbench_csv(copy):
    path = copy("imo-answerbench") / "answerbench.csv"
    text = path.read_text(encoding="utf-8")
    text = text.replace("\nimo-bench-algebra-002,", "\nimo-bench-algebra-001,", 1)  # row 2 takes row 1's id
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"answerbench\.csv: row imo-bench-algebra-001 \(line \d+\): field 'Problem ID' duplicates line \d+"):
        load_task("imo-answerbench", "v1", data_dir=copy.root)


def test_local_hub_split_copy(tmp_path, monkeypatch):
    """A hub-only task read from a local JSONL export (rows without an id column: ids are row numbers, so
    the id column is what collides here)."""
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "data" / "int-test-set"
    folder.mkdir(parents=True)
    _write_jsonl(folder / "test.jsonl", [{"id": "a", "problem": "p1", "answer": "1"}, {"id": "b", "problem": "p2", "answer": "2"},
                                         {"id": "a", "problem": "p3", "answer": "3"}])
    with pytest.raises(ValueError, match=r"test\.jsonl: row 2: field 'id' gives problem id 'a', which row 0 already has"):
        load_task("int-test-set", data_dir=tmp_path / "data")


def test_any_other_loader_is_checked_by_the_registry(monkeypatch):
    from tasks import list_tasks, registry

    list_tasks()  # built-ins loaded, then a private copy of the registry for this test's plugin task
    monkeypatch.setattr(registry.TASKS, "_entries", dict(registry.TASKS._entries))
    monkeypatch.setattr(registry, "_LISTENERS", [])

    def loader(resolver):
        return LoadedTask(problems=[Problem(id=i, problem=f"p{n}", answer="0") for n, i in enumerate("xyx")], origin="mine.db")

    register_task(Task(name="dup-ids-plugin", version="default", description="test", loader=loader))
    with pytest.raises(ValueError, match=r"mine\.db: problems 0 and 2 .* share the id 'x'"):
        load_task("dup-ids-plugin")


def test_eval_with_limit_stops_instead_of_dropping_a_problem(copy, tiny_model_dir, tmp_path, monkeypatch, capsys):
    path = copy("amc23") / "test.jsonl"
    rows = _jsonl(path)
    rows[2]["id"] = rows[1]["id"]
    _write_jsonl(path, rows)
    monkeypatch.chdir(tmp_path)
    code, output = run_main(["eval", "--model", tiny_model_dir, "--task", "amc23", "--limit", "3", "-k", "1",
                             "--max-tokens", "4", "--data-dir", str(copy.root), "--out", "run"], monkeypatch, capsys)
    (line,) = output_lines(output)
    assert code == 1 and "test.jsonl" in line and "line 3" in line and "line 2" in line, output
    assert not (tmp_path / "run").exists()
