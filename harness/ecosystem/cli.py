"""`harness ecosystem ...`: the helpers around inspect_ai and lm-eval (task folders for ``lm_eval
--include_path``, importing their logs as our run directories).

One typer app, mounted under ``harness`` and run by ``python -m harness.ecosystem`` (kept for existing
scripts), so both spellings take the same options and print the same one-line errors. Nothing here
imports inspect_ai or lm-eval until a command needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from harness.ui import print_error

ecosystem_app = typer.Typer(
    help="inspect_ai and lm-eval: lm-eval task folders, and their logs imported as our run directories.",
    no_args_is_help=True,
)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Bad input (unknown task, unreadable log, missing data) is one line and exit code 1, no traceback."""
    from tasks.data import DataNotFoundError

    try:
        yield
    except (DataNotFoundError, LookupError, ValueError, FileNotFoundError) as exc:
        print_error(exc)
        raise typer.Exit(1) from None


@ecosystem_app.command("lm-eval-path")
def lm_eval_path() -> None:
    """Print the shipped lm-eval task folder (pass it to lm_eval --include_path)."""
    from harness.ecosystem.lm_eval_tasks import TASKS_DIR

    typer.echo(str(TASKS_DIR))


@ecosystem_app.command("lm-eval-tasks")
def lm_eval_tasks(
    out_dir: Path = typer.Argument(..., help="Folder to write (pass it to lm_eval --include_path)."),
    data_dir: str | None = typer.Option(
        None, "--data-dir", envvar="HARNESS_DATA_DIR", help="Local benchmark data directory."
    ),
    tasks: list[str] | None = typer.Option(
        None, "--task", "-t", help="Task, 'name' or 'name@version' (repeatable; default: every benchmark)."
    ),
    repeats: int | None = typer.Option(None, min=1, help="Samples per problem, all scored [default: 8]."),
    max_gen_toks: int | None = typer.Option(
        None, min=1, help="Token budget per sample [default: the task's own, else 16384]."
    ),
    split: str = typer.Option("test", help="Dataset split to export."),
) -> None:
    """Write frozen lm-eval tasks (prompt rows as jsonl + YAML) that run offline anywhere."""
    from harness.ecosystem.lm_eval_export import write_lm_eval_tasks

    with _user_errors():
        out = write_lm_eval_tasks(
            out_dir, data_dir, tasks=tasks, repeats=repeats, max_gen_toks=max_gen_toks, split=split
        )
    typer.echo(str(out))


@ecosystem_app.command("import")
def import_cmd(
    path: Path = typer.Argument(
        ..., help="inspect .eval/.json log or lm-eval samples_<task>_<date>.jsonl.", exists=True, dir_okay=False
    ),
    out: Path = typer.Option(..., "--out", help="Run directory to write (as `harness eval` writes one)."),
    task: str | None = typer.Option(None, help="Benchmark name when the log is not from our tasks."),
    version: str | None = typer.Option(None, help="Its version (default: the task's default)."),
) -> None:
    """Import an inspect log or an lm-eval sample file as a run directory; prints avg@k per task."""
    from harness.ecosystem.importers import import_run

    with _user_errors():
        results = import_run(path, out, task=task, version=version)
    summary = {
        k: {"avg@k": v["metrics"].get("avg@k"), "samples": v["counts"]["samples"]}
        for k, v in results["tasks"].items()
    }
    typer.echo(json.dumps(summary, indent=2))


def main() -> None:
    """``python -m harness.ecosystem ARGS``: the same app as ``harness ecosystem ARGS``."""
    ecosystem_app(prog_name="python -m harness.ecosystem")
