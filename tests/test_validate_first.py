"""Validation before anything is written, and errors that name the file and field (issue 22 items 5-6):
a failed start leaves no state that a later run obeys, and bad input says where it is."""

from __future__ import annotations

import pytest
from cli_support import output_lines, run_main

pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize(("extra", "names"), [
    pytest.param(["--max-tokens", "100000"], "100000", id="budget-past-the-context-window"),
    pytest.param(["--backend", "vllm"], "vllm", id="backend-not-installed"),
])
def test_eval_refusals_leave_no_run_folder(extra, names, workdir, tiny_model_dir, monkeypatch, capsys):
    if "vllm" in extra:
        from importlib.util import find_spec

        if find_spec("vllm") is not None:
            pytest.skip("vLLM is installed here; the case is a machine without it")
    code, output = run_main(["eval", "--model", tiny_model_dir, "--task", "aime25", "--limit", "1", *extra],
                            monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1 and names in lines[0], output
    assert list(workdir.iterdir()) == []  # no runs/eval-... folder, nothing else


def test_int_config_is_saved_only_after_the_data_checks_out(workdir, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("HARNESS_DATA_DIR", str(empty))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    code, output = run_main(["int", "rollout", "--preset", "world", "--model", "world:test", "--task", "aime-1983-2023",
                             "--run-dir", "R"], monkeypatch, capsys)
    assert code == 1 and "aime-1983-2023" in output, output
    assert not (workdir / "R").exists()  # no int_config.json that a later run would silently obey


def test_a_preset_that_disagrees_with_the_saved_config_is_refused(tmp_path):
    from harness.intervention.cli import load_config

    run = str(tmp_path / "R")
    first = load_config(run, "world", model="world:test", limit=2)
    assert load_config(run, "world", model="world:test", limit=2) == first  # the same start again: fine
    assert load_config(run) == first  # later stages read the saved config
    with pytest.raises(ValueError, match="other settings than --preset paper") as err:
        load_config(run, "paper", model="world:test", task="world@hard", limit=2)
    assert "int_config.json" in str(err.value) and "saved" in str(err.value)
    assert load_config(run) == first  # the refused start changed nothing


def test_eval_only_row_names_cannot_leave_the_comparison_folder(tmp_path):
    from harness.compare.config import CompareConfig
    from harness.configs import ConfigError

    path = tmp_path / "cmp.yaml"
    path.write_text("eval_only:\n  - name: ../../x\n    model: world:test\n")
    with pytest.raises(ConfigError, match=r"cmp\.yaml.*eval_only\.0\.name.*'\.\./\.\./x'"):
        CompareConfig.from_yaml(path)


def test_errors_name_the_file_and_field(workdir, tmp_path, monkeypatch, capsys):
    (workdir / "latin1.yaml").write_bytes("model: world:test\ntasks: [world]\nnote: caf\xe9\n".encode("latin-1"))
    code, output = run_main(["eval", "--config", "latin1.yaml"], monkeypatch, capsys)
    (line,) = output_lines(output)
    assert code == 1 and "latin1.yaml:3" in line and "UTF-8" in line, output

    (workdir / "lots.yaml").write_text("base_model: world:test\nrl: {max_steps: lots}\n")
    code, output = run_main(["compare", "rl-baseline", "--config", "lots.yaml", "--dry-run"], monkeypatch, capsys)
    (line,) = output_lines(output)
    assert code == 1 and "lots.yaml" in line and "max_steps" in line and "'lots'" in line, output

    rows = workdir / "sft.jsonl"
    rows.write_text("")
    code, output = run_main(["trainers", "sft", "--model", "m", "--data", str(rows), "--out", "o",
                             "--set", "learning_rate=abc"], monkeypatch, capsys)
    (line,) = output_lines(output)
    assert code == 1 and "learning_rate" in line and "'abc'" in line, output
    assert not (workdir / "o").exists()
