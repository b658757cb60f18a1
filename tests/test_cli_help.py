"""`-h` of every command shows what an omitted flag means, and flags as flags.

Issue 19: under typer's rich help, ``help="Sampling temperature [default: 0.7]"`` printed "Sampling
temperature ." (the bracket was read as a markup tag) and every boolean flag printed as ``--dry-run
<bool>``. The CLI now uses click's plain help (``rich_markup_mode=None``); this renders the help of every
command and group -- plugins' command groups included -- and checks each option against it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from harness.cli import app

WIDE = 400  # one line per option: an option's help is never wrapped mid-text


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_command_is_covered() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"", "eval", "compare", "serve", "report", "plot", "int run", "trainers sft", "world build", "tasks show"} <= names
    assert len(COMMANDS) > 25


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) or "harness" for p, _ in COMMANDS])
def test_help_shows_defaults_and_flags(path: tuple[str, ...], cmd: Any) -> None:
    res = CliRunner().invoke(app, [*path, "-h"], terminal_width=WIDE)
    assert res.exit_code == 0, res.output
    out = _flat(res.output)
    assert "<bool>" not in out, out
    ctx = cmd.make_context(path[-1] if path else "harness", ["--help"], resilient_parsing=True)
    for param in cmd.params:
        if param.param_type_name != "option" or param.hidden or "--help" in param.opts:
            continue
        opts, help_text = param.get_help_record(ctx)
        # the option's whole help line, defaults and env var included, as the user sees it
        assert _flat(help_text) in out, (param.name, help_text)
        for written in re.findall(r"\[default: [^\]]*\]", param.help or ""):  # defaults written into the help text
            assert written in out, (param.name, written)
        if param.is_flag:  # a flag takes no value: no metavar after it
            for opt in (*param.opts, *param.secondary_opts):
                assert not re.search(re.escape(opt) + r"(?![\w-]) <", out), (param.name, out)
        elif param.default not in (None, (), []) and param.show_default is not False:
            assert "[default: " in help_text or "default: " in help_text, (param.name, help_text)


def test_eval_help_names_its_defaults() -> None:
    """The lines issue 19 quoted, as a user reads them at 80 columns."""
    out = _flat(CliRunner().invoke(app, ["eval", "-h"], terminal_width=80).output)
    for text in ("Sampling temperature [default: 0.7, the paper's].", "Top-p [default: 0.8].", "Samples per problem. [default: 8]",
                 "--progress / --no-progress", "-M, --model-args KEY=VALUE,..."):  # fmt: skip
        assert text in out, text
    out = _flat(CliRunner().invoke(app, ["compare", "-h"], terminal_width=80).output)
    assert "--dry-run Validate" in out and "Training seeds per recipe [default: 1]." in out
