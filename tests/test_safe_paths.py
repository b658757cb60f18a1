"""Names from data never become paths outside their directory (issue 12 item 6): the lm-eval and inspect
importers (output folders from doc.task/doc.version), MatHArena answers.csv ids (problems/<id>.tex), and the
data resolver. Each bad value is one line naming the file, the row and the field; nothing is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.ecosystem import import_run
from harness.safepath import check_relpath, safe_component
from tasks import load_task
from tasks.data import DataResolver

REPO = Path(__file__).resolve().parents[1]


def _lm_eval_line(fields: dict, **entry: object) -> str:
    base = {"doc_id": 0, "doc": {"id": "p1", "answer": "5", "prompt_hash": "h", **fields},
            "resps": [["so \\boxed{5}"]], "filtered_resps": [["so \\boxed{5}"]], "target": "5",
            "arguments": {"gen_args_0": {"arg_0": "What is 2+3?"}}}
    return json.dumps({**base, **entry}) + "\n"


def _run_import(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess, Path]:
    samples = tmp_path / "logs" / "samples_int_amc23_2026-01-01T00-00-00.jsonl"
    samples.parent.mkdir(parents=True, exist_ok=True)
    samples.write_text(text, encoding="utf-8")
    out = tmp_path / "a" / "b" / "c" / "run"
    run = subprocess.run([sys.executable, "-m", "harness.ecosystem", "import", str(samples), "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    return run, out


@pytest.mark.parametrize("field", ["version", "task"])
def test_lm_eval_import_refuses_a_path_in_doc_fields(tmp_path: Path, field: str) -> None:
    run, out = _run_import(tmp_path, _lm_eval_line({"task": "amc23", "version": "v1", field: "x/../../../../escaped"}))
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "samples_int_amc23" in lines[0] and "line 1" in lines[0] and f"field 'doc.{field}'" in lines[0]
    assert not out.exists() and not list(tmp_path.rglob("*escaped*"))


def test_lm_eval_import_still_works_with_plain_names(tmp_path: Path) -> None:
    run, out = _run_import(tmp_path, _lm_eval_line({"task": "amc23", "version": "v1.2"}))
    assert run.returncode == 0, run.stderr
    assert (out / "amc23@v1.2" / "samples.jsonl").is_file()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json\n", "line 2: not valid JSON"),
        ("[1, 2]\n", "line 2: expected a JSON object"),
        (json.dumps({"doc": {}, "resps": [["x"]]}) + "\n", "field 'doc_id' is missing"),
        (_lm_eval_line({}, doc="text"), "field 'doc' must be an object"),
        (_lm_eval_line({}, resps="abc"), "field 'resps'"),
        (_lm_eval_line({}, resps=[], filtered_resps=None), "'filtered_resps' is not a list"),
        (_lm_eval_line({"prompt_hash": ""}, arguments=5), "field 'arguments'"),
        (_lm_eval_line({}, **{"avg@k": "high"}), "field 'avg@k'"),
    ],
)
def test_malformed_lm_eval_lines_are_one_clear_line(tmp_path: Path, text: str, needle: str) -> None:
    run, out = _run_import(tmp_path, _lm_eval_line({"task": "amc23"}) + text.replace('"doc_id": 0', '"doc_id": 1'))
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert needle in run.stderr and "samples_int_amc23" in run.stderr and not out.exists()


def test_inspect_import_refuses_a_path_in_sample_metadata(tmp_path: Path) -> None:
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import includes

    def output(messages, tools, tool_choice, config) -> ModelOutput:  # noqa: ANN001 - inspect's signature
        out = ModelOutput.from_content("mockllm/model", "\\boxed{5}")
        out.usage = ModelUsage(input_tokens=3, output_tokens=2, total_tokens=5)
        return out

    sample = Sample(id="p1", input="2+3?", target="5", metadata={"task": "../../../../escaped", "version": "v1"})
    (log,) = inspect_eval(Task(dataset=MemoryDataset([sample]), scorer=includes()),
                          model=get_model("mockllm/model", custom_outputs=output), log_dir=str(tmp_path / "logs"),
                          display="none")
    out = tmp_path / "x" / "y" / "run"
    with pytest.raises(ValueError, match=r"sample p1 \(epoch 1\): field 'task' is '\.\./"):
        import_run(log.location, out)
    assert not out.exists() and not list(tmp_path.rglob("escaped*"))


def _matharena_dir(root: Path, bad_id: str) -> Path:
    folder = root / "data" / "aime25" / "aime_2025_I"
    (folder / "problems").mkdir(parents=True)
    rows = ["id,answer"] + [f"{i},{i}" for i in range(1, 15)] + [f"{bad_id},7"]
    (folder / "answers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for i in range(1, 16):
        (folder / "problems" / f"{i}.tex").write_text(f"Problem {i}?", encoding="utf-8")
    (root / "evil.tex").write_text("SECRET FILE CONTENT", encoding="utf-8")
    return root / "data"


def test_an_id_in_answers_csv_cannot_pick_a_file_outside_the_data_dir(tmp_path: Path) -> None:
    data = _matharena_dir(tmp_path, "../../../../evil")
    with pytest.raises(ValueError) as err:
        load_task("aime25", data_dir=str(data))
    message = str(err.value)
    assert "answers.csv: line 16" in message and "field 'id'" in message and "SECRET" not in message
    cli = subprocess.run([sys.executable, "-m", "harness.cli", "tasks", "show", "aime25", "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert cli.returncode == 1 and "field 'id'" in cli.stdout + cli.stderr and "Traceback" not in cli.stderr
    assert "SECRET" not in cli.stdout + cli.stderr


def test_resolver_and_name_checks() -> None:
    resolver = DataResolver("/nonexistent", offline=True)
    for rel in ("../etc/passwd", "/etc/passwd", "aime25/problems/../../../x.tex", "C:/x"):
        with pytest.raises(ValueError, match="not a relative path inside the data directory"):
            resolver.local_file("t", rel, None)
    assert check_relpath("aime25/problems/1.tex", what="t") == "aime25/problems/1.tex"
    for ok in ("v1", "amc23", "imo-answerbench", "2025_I", "v2.1+fix"):
        assert safe_component(ok, where="f", field="x") == ok
    for bad in ("", ".", "..", ".hidden", "a/b", "a\\b", "x" * 200, "a\x00b", "C:"):
        with pytest.raises(ValueError, match="field 'x'"):
            safe_component(bad, where="f", field="x")
