"""`harness trainers ...`: list plugins, show their configs, run SFT or RL on any registered stack.

Import cost matters here: the lead mounts `trainers_app` under `harness`, so this module imports only
typer/rich and the light `trainers` modules; a stack is imported when its operation runs. Text that
comes from plugins or configs is escaped before rich prints it: ``[project.entry-points...]`` in a message
or ``[0.9, 0.95]`` in a value would otherwise be read as markup and vanish.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from harness.ui import console, print_error
from trainers.base import RLConfig, SFTConfig, TrainerPlugin, TrainResult, field_help
from trainers.presets import get_config, parse_set_options, preset_names
from trainers.registry import UnknownTrainerError, get_trainer, list_trainers

trainers_app = typer.Typer(help="Training stacks (plugins): list them, inspect configs, run SFT / RL.",
                           no_args_is_help=True)

Preset = typer.Option("paper", "--preset", help=f"Settings preset: {', '.join(preset_names())}.")
Sets = typer.Option([], "--set", help="Override a config field, KEY=VALUE (repeatable), e.g. --set learning_rate=1e-5.")
DryRun = typer.Option(False, "--dry-run", help="Write data files and print the commands without training "
                                               "(plugins that support 'dry-run', e.g. openrlhf).")
AsJson = typer.Option(False, "--json", help="Print JSON instead of a table.")


@trainers_app.command("list")
def list_cmd(as_json: bool = AsJson) -> None:
    """Every registered trainer plugin, whether its stack is installed, and what it supports."""
    rows = list_trainers()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    table = Table(title="Trainer plugins (entry-point group harness.trainers)")
    for col in ("name", "installed", "supports", "detail", "target"):
        table.add_column(col)
    for r in rows:
        mark = "[green]yes[/]" if r.installed else "[red]no[/]"
        table.add_row(escape(r.name), mark, escape(", ".join(r.supports)), escape(r.detail), escape(r.target))
    console.print(table)


def _plugin(name: str) -> TrainerPlugin:
    """The plugin, or one ``error:`` line listing the registered ones (exit code 1)."""
    try:
        return get_trainer(name)
    except UnknownTrainerError as exc:
        print_error(exc)
        raise typer.Exit(1) from None


@trainers_app.command("show")
def show_cmd(name: str = typer.Argument(..., help="Plugin name, e.g. trl."),
             preset: str = Preset, as_json: bool = AsJson) -> None:
    """A plugin's status and the SFT / RL config fields with the preset's values and help texts."""
    plugin = _plugin(name)
    installed, detail = plugin.availability()
    configs = {stage: get_config(preset, stage) for stage in ("sft", "rl") if stage in plugin.supports}
    if as_json:
        typer.echo(json.dumps({"name": plugin.name, "installed": installed, "detail": detail,
                               "supports": sorted(plugin.supports), "description": plugin.description,
                               "preset": preset, "configs": {k: v.to_dict() for k, v in configs.items()}},
                              indent=2, default=str))
        return
    console.print(f"[bold]{escape(plugin.name)}[/]: {escape(plugin.description)}")
    console.print(escape(f"installed: {installed} ({detail}); supports: {', '.join(sorted(plugin.supports))}"))
    for stage, config in configs.items():
        table = Table(title=f"{stage} config (preset {preset})")
        for col in ("field", "value", "paper default", "help"):
            table.add_column(col)
        helps = field_help(type(config))
        for f in fields(config):
            default, help_text = helps[f.name]
            table.add_row(f.name, escape(str(getattr(config, f.name))), escape(str(default)), escape(help_text))
        console.print(table)


def _prepare(name: str, dry_run: bool) -> TrainerPlugin:
    plugin = _plugin(name)
    if dry_run:
        if "dry-run" not in plugin.supports:
            raise typer.BadParameter(f"trainer {name!r} has no dry run (supports: {', '.join(sorted(plugin.supports))})")
        plugin.dry_run = True  # the documented attribute of plugins that support 'dry-run'
    return plugin


def _report(result: TrainResult, out: Path) -> None:
    summary = {"checkpoint": str(result.checkpoint), "log": str(result.log_path), "steps": result.steps,
               "wall_time_s": round(result.wall_time, 2), "tokens_generated": result.tokens_generated,
               "tokens_trained": result.tokens_trained, **result.extra}
    from harness.rundir import atomic_write_json

    atomic_write_json(out / "train_result.json", summary)
    if result.extra.get("dry_run"):
        console.print("[bold]dry run[/]: nothing was trained. Command:")
        typer.echo(result.extra["command"])
        for key, path in result.extra.get("paths", {}).items():
            console.print(escape(f"  {key}: {path}"))
        console.print(escape(f"  flag check: {result.extra.get('flag_check')}"))
        return
    console.print(escape(json.dumps(summary, indent=2, default=str)))


@trainers_app.command("sft")
def sft_cmd(
    model: str = typer.Option(..., "--model", help="Model directory or hub id to fine-tune."),
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="SFT jsonl (InT build-sft output)."),
    out: Path = typer.Option(..., "--out", help="Output directory (checkpoint/, train_log.jsonl)."),
    trainer: str = typer.Option("trl", "--trainer", help="Plugin name (see `harness trainers list`)."),
    preset: str = Preset,
    sets: list[str] = Sets,
    dry_run: bool = DryRun,
) -> None:
    """Supervised fine-tuning on pre-tokenized rows (ids + loss mask) -> checkpoint + neutral log."""
    config = get_config(preset, "sft", **parse_set_options(sets))
    assert isinstance(config, SFTConfig)
    _report(_prepare(trainer, dry_run).sft(model, data, config, out), out)


@trainers_app.command("rl")
def rl_cmd(
    model: str = typer.Option(..., "--model", help="Starting policy (base model or an SFT checkpoint)."),
    out: Path = typer.Option(..., "--out", help="Output directory (checkpoint/, train_log.jsonl)."),
    problems: Path | None = typer.Option(None, "--problems", exists=True, dir_okay=False,
                                            help="RL problems jsonl (problem_id, messages, answer)."),
    task: str | None = typer.Option(None, "--task", help="Or: a registered task, e.g. world."),
    split: str | None = typer.Option(None, "--split", help="Task split (default: the task's default)."),
    data_dir: str | None = typer.Option(None, "--data-dir", envvar="HARNESS_DATA_DIR", help="Local data directory."),
    trainer: str = typer.Option("trl", "--trainer", help="Plugin name (see `harness trainers list`)."),
    preset: str = Preset,
    sets: list[str] = Sets,
    dry_run: bool = DryRun,
) -> None:
    """Outcome-reward RL (binary grader reward, group-mean baseline) -> checkpoint + neutral log."""
    if (problems is None) == (task is None):
        raise typer.BadParameter("give exactly one of --problems FILE or --task NAME")
    config = get_config(preset, "rl", **parse_set_options(sets))
    assert isinstance(config, RLConfig)
    if task is not None:
        from harness.rundir import write_jsonl
        from tasks import ProblemSet
        from trainers.data import rl_rows_from_task

        problems = write_jsonl(out / "problems.jsonl", rl_rows_from_task(ProblemSet(task=task, split=split, data_dir=data_dir)))
    _report(_prepare(trainer, dry_run).rl(model, problems, config, out), out)
