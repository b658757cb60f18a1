"""Text from users, plugins and configs prints as written: rich markup must not swallow ``[...]``.

`harness trainers show trll` used to print "Plugins register under the  table" -- the entry-point table name
``[project.entry-points."harness.trainers"]`` was read as a markup tag and vanished.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app

TABLE = '[project.entry-points."harness.trainers"]'


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone (an 80-column test terminal wraps long lines)."""
    return " ".join(text.split())


def test_unknown_trainer_prints_the_entry_point_table_in_one_error_line() -> None:
    res = CliRunner().invoke(app, ["trainers", "show", "trll"])
    assert res.exit_code == 1, res.output
    out = _flat(res.output)
    assert out.startswith("error: unknown trainer 'trll' (did you mean trl?); known: ") and TABLE in out, out
    assert "Traceback" not in res.output
    res = CliRunner().invoke(app, ["trainers", "sft", "--trainer", "trll", "--model", "m", "--data", __file__, "--out", "x"])
    assert res.exit_code == 1 and TABLE in _flat(res.output)


@pytest.fixture
def bracket_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed plugin whose description and failure text contain brackets."""
    (tmp_path / "bracket_trainer.py").write_text(
        "from trainers.base import TrainerPlugin\n"
        "class BracketTrainer(TrainerPlugin):\n"
        "    name = 'bracket'\n"
        "    description = 'needs [extra] and [bold]no markup[/bold]'\n"
        "    supports = frozenset({'sft'})\n"
        "    def availability(self):\n"
        "        return False, 'pip install -e .[bracket]'\n"
    )
    info = tmp_path / "harness_bracket-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: harness_bracket\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[harness.trainers]\nbracket = bracket_trainer:BracketTrainer\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_plugin_text_prints_as_written(bracket_plugin: None) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["trainers", "show", "bracket"])
    assert res.exit_code == 0, res.output
    out = _flat(res.output)
    assert "needs [extra] and [bold]no markup[/bold]" in out and "pip install -e .[bracket]" in out
    res = runner.invoke(app, ["trainers", "list"], terminal_width=400)
    assert res.exit_code == 0 and ".[bracket]" in res.output, res.output  # (the table wraps the cell)


def test_ecosystem_errors_keep_brackets(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["ecosystem", "lm-eval-tasks", str(tmp_path / "out"), "--task", "aime[25]"])
    assert res.exit_code == 1 and "error: unknown task 'aime[25]'" in _flat(res.output), res.output
    assert not (tmp_path / "out").exists()
