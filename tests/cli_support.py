"""Running `harness` through its console entry point (`harness.cli.main`) inside a test.

`typer.testing.CliRunner` calls the typer app directly and so skips `main()`, which is where user errors
become one line and an exit code; these helpers go through `main()` with a patched ``sys.argv``. The
console is read at 80 columns, as in a CI log or a pipe.
"""

from __future__ import annotations

import sys

import pytest

from harness.cli import main


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit code, stdout + stderr) of ``harness <args>``."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(sys, "argv", ["harness", *map(str, args)])
    capsys.readouterr()
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # as in a fresh `harness` process (its callback turns them off before
    try:  # transformers is first imported; in a test process it was imported long before)
        with pytest.raises(SystemExit) as stop:
            main()
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    captured = capsys.readouterr()
    code = stop.value.code
    return (0 if code is None else int(code)), captured.out + captured.err


def output_lines(output: str) -> list[str]:
    """The non-blank lines of an output."""
    return [line for line in output.splitlines() if line.strip()]
