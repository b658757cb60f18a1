"""Run-directory durability: atomic files, torn-line recovery, idempotent appends, protocol guard."""

import json
import os

import pytest

from harness.rundir import Manifest, RecordLog, atomic_write_json, read_json


def key(r):
    return (r["pid"], r["j"])


def test_append_and_resume(tmp_path):
    log = RecordLog(tmp_path / "s.jsonl", key=key)
    assert log.append_many([{"pid": "a", "j": 0}, {"pid": "a", "j": 1}]) == 2
    # duplicates are skipped, also across reopen
    assert log.append_many([{"pid": "a", "j": 1}, {"pid": "b", "j": 0}]) == 1
    again = RecordLog(tmp_path / "s.jsonl", key=key)
    assert again.done_keys() == {("a", 0), ("a", 1), ("b", 0)}
    assert again.append_many([{"pid": "a", "j": 0}]) == 0
    assert len(list(again.read())) == 3


def test_torn_last_line_is_dropped(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"pid": "a", "j": 0}) + "\n" + '{"pid": "a", "j"')  # crash mid-write
    log = RecordLog(p, key=key)
    assert log.done_keys() == {("a", 0)}
    log.append_many([{"pid": "a", "j": 1}])
    assert [key(r) for r in log.read()] == [("a", 0), ("a", 1)]


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"pid": "a", "j": 0}\nnot json\n{"pid": "b", "j": 0}\n')
    with pytest.raises(ValueError, match=r"s\.jsonl:2"):
        RecordLog(p, key=key)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "m.json", {"x": 1})
    atomic_write_json(tmp_path / "m.json", {"x": 2})
    assert read_json(tmp_path / "m.json") == {"x": 2}
    assert [f.name for f in tmp_path.iterdir()] == ["m.json"]


def test_manifest_protocol_guard(tmp_path):
    m = Manifest(tmp_path / "manifest.json")
    m.check_protocol("abc")
    m.update(protocol_hash="abc", status="running")
    m2 = Manifest(tmp_path / "manifest.json")
    m2.check_protocol("abc")
    with pytest.raises(ValueError, match="protocol abc"):
        m2.check_protocol("def")
    assert m2.data["status"] == "running" and "created_at" in m2.data


def test_iter_jsonl_torn_tail_prefilter_and_corruption(tmp_path):
    from harness.rundir import iter_jsonl

    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n{"a": 2}\n{"a"')  # crash mid-append
    assert [r["a"] for r in iter_jsonl(p, allow_torn_tail=True)] == [1, 2]
    with pytest.raises(ValueError, match=r"a\.jsonl:3"):
        list(iter_jsonl(p))
    p.write_text('{"a": 1}\nbad\n{"a": 2}\n')  # damage in the middle is never a torn tail
    with pytest.raises(ValueError, match=r"a\.jsonl:2"):
        list(iter_jsonl(p, allow_torn_tail=True))
    assert [r["a"] for r in iter_jsonl(p, keep=lambda line: "1" in line)] == [1]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_files_get_the_umask_mode_not_0600(tmp_path, umask, mode):
    """Teammates on a shared filesystem read results, reports and checkpoints: an atomic write (temp file +
    rename) must leave the mode any new file gets (mkstemp made 55 of 117 files of a comparison 0600)."""
    from harness.rundir import atomic_write_text, write_jsonl
    from tasks.data import _atomic_write

    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "results.json", {"x": 1})
        atomic_write_text(tmp_path / "report.md", "# r\n")
        write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}])
        _atomic_write(tmp_path / "cache" / "test.jsonl", b"{}\n")
        Manifest(tmp_path / "manifest.json").update(status="running")
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 5 and {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}


@pytest.mark.usefixtures("data_dir")
def test_an_eval_run_folder_is_readable_by_the_group_and_others(tmp_path, tiny_model_dir):
    from harness.evaluate import EvalConfig, run_eval

    old = os.umask(0o022)
    try:
        run_eval(EvalConfig(model=str(tiny_model_dir), tasks=["aime25"], limit=1, samples=1, grader_workers=0,
                            sampling={"max_tokens": 4}, out=str(tmp_path / "run")), show_progress=False)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len(files) >= 4 and all(p.stat().st_mode & 0o777 == 0o644 for p in files), \
        {p.name: oct(p.stat().st_mode & 0o777) for p in files}
