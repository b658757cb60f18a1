"""`harness int ...`: the InT stages on the command line (the lead mounts `int_app` as ``harness int``).

The first command on a run directory fixes its config (``int_config.json``: a preset, a config file,
plus flags); later commands read it, so ``harness int propose --run-dir R`` needs no other flag. Flags
given later change the saved config -- a change to a finished stage's protocol is refused by that stage.
Importing this module is cheap (no torch): every stage is imported inside its command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

int_app = typer.Typer(
    help="Intervention Training: rollout -> propose -> continue -> build-sft.", no_args_is_help=True
)

RunDir = typer.Option(..., "--run-dir", "-o", help="Run directory (created on first use).")
Preset = typer.Option(None, help="Starting config for a new run dir: a registered InT preset (paper; world, from the embedded world's plugin).")
ConfigFile = typer.Option(None, "--config", help="YAML/JSON IntConfig for a new run dir.")
Model = typer.Option(None, help="Policy model path/id (world preset: default world:default).")
Task = typer.Option(None, help="Training task, 'name' or 'name@version'.")
Backend = typer.Option(None, help="Generation backend for the policy: hf | vllm | openai.")
Proposer = typer.Option(None, help="self | model | oracle (tasks that know the true first error: an upper bound, never InT).")
ProposerModel = typer.Option(None, help="Model for --proposer model (the paper's larger-proposer ablation).")
Template = typer.Option(None, help="Proposal prompt: paper | compact.")
Limit = typer.Option(None, help="Only the first N training problems.")
Proposers = typer.Option(
    None, "--proposer", help="Proposer(s) to run (repeatable); default: the config's, plus oracle when the task offers one."
)
Set = typer.Option(
    None,
    "--set",
    help="Dotted override, e.g. --set continue.n=8 (repeatable; value parsed as JSON when possible).",
)
Progress = typer.Option(True, help="Show progress bars.")


def load_config(
    run_dir: str,
    preset: str | None = None,
    config: Path | None = None,
    model: str | None = None,
    task: str | None = None,
    backend: str | None = None,
    proposer: str | None = None,
    proposer_model: str | None = None,
    template: str | None = None,
    limit: int | None = None,
    sets: list[str] | None = None,
) -> Any:
    """The run's IntConfig: saved one, else config file, else preset; flags applied; saved back."""
    from harness.intervention.config import CONFIG_FILE, IntConfig, preset_names
    from harness.intervention.config import preset as from_preset

    saved = Path(run_dir) / CONFIG_FILE
    if saved.exists():
        cfg = IntConfig.load(saved)
    elif config is not None:
        cfg = IntConfig.load(config, out=run_dir)
    elif preset is not None:
        cfg = from_preset(preset, run_dir, {k: v for k, v in (("policy.model", model), ("rollout.problems.task", task)) if v})
    else:
        raise typer.BadParameter(
            f"{saved} does not exist: start the run with --preset {'|'.join(preset_names())} or --config FILE"
        )
    overrides: dict[str, Any] = {}
    for key, value in (
        ("policy.model", model),
        ("rollout.problems.task", task),
        ("policy.backend", backend),
        ("propose.proposer", proposer),
        ("propose.template", template),
        ("rollout.problems.limit", limit),
    ):
        if value is not None:
            overrides[key] = value
    if proposer_model is not None:
        overrides["propose.proposer_model"] = {"model": proposer_model}
    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key.strip()] = raw
    cfg = cfg.with_overrides(overrides) if overrides else cfg
    _check(cfg)
    cfg.save()
    return cfg


def _check(cfg: Any) -> None:
    """What can be checked without loading a model or data, before the run folder is written: the
    training task (and version) exists, and every backend exists and its model can be found."""
    from harness.backends import check_model, check_options

    cfg.rollout.problem_set().resolve_task()
    for ref in filter(None, (cfg.policy, cfg.propose.proposer_model)):
        check_model(ref.backend, ref.model)
        check_options(ref.backend, ref.options)


def _echo(obj: Any) -> None:
    from harness.ui import console

    console.print_json(json.dumps(obj, default=str))


@int_app.command("rollout")
def rollout_cmd(
    run_dir: str = RunDir,
    preset: str | None = Preset,
    config: Path | None = ConfigFile,
    model: str | None = Model,
    task: str | None = Task,
    backend: str | None = Backend,
    limit: int | None = Limit,
    sets: list[str] | None = Set,
    progress: bool = Progress,
) -> None:
    """Stage 1: K graded samples per training problem; failed ones become attempts."""
    from harness.intervention.rollout import run_rollout

    cfg = load_config(run_dir, preset, config, model, task, backend, limit=limit, sets=sets)
    _echo(run_rollout(cfg, show_progress=progress))


@int_app.command("propose")
def propose_cmd(
    run_dir: str = RunDir,
    proposer: str | None = Proposer,
    proposer_model: str | None = ProposerModel,
    template: str | None = Template,
    sets: list[str] | None = Set,
    progress: bool = Progress,
) -> None:
    """Stage 2: the proposer finds the first critical error and writes one replacement step."""
    from harness.intervention.propose import run_propose

    cfg = load_config(run_dir, proposer=proposer, proposer_model=proposer_model, template=template, sets=sets)
    _echo(run_propose(cfg, show_progress=progress))


@int_app.command("continue")
def continue_cmd(
    run_dir: str = RunDir,
    proposer: str | None = Proposer,
    sets: list[str] | None = Set,
    progress: bool = Progress,
) -> None:
    """Stage 3: continuations after prefix + intervention, and the original-step/prefix/scratch controls."""
    from harness.intervention.continuation import run_continue

    _echo(run_continue(load_config(run_dir, proposer=proposer, sets=sets), show_progress=progress))


@int_app.command("build-sft")
def build_sft_cmd(
    run_dir: str = RunDir, proposer: str | None = Proposer, sets: list[str] | None = Set
) -> None:
    """Stage 4: filter counts and the trainer-neutral SFT rows (sft.jsonl)."""
    from harness.intervention.build_sft import run_build_sft

    _echo(run_build_sft(load_config(run_dir, proposer=proposer, sets=sets)))


@int_app.command("run")
def run_cmd(
    run_dir: str = RunDir,
    preset: str | None = Preset,
    config: Path | None = ConfigFile,
    model: str | None = Model,
    task: str | None = Task,
    backend: str | None = Backend,
    proposer: list[str] | None = Proposers,
    proposer_model: str | None = ProposerModel,
    template: str | None = Template,
    limit: int | None = Limit,
    sets: list[str] | None = Set,
    progress: bool = Progress,
) -> None:
    """All four stages; prints the counts per filter and the Table-1 comparison."""
    from harness.intervention.pipeline import print_summary, run_all

    cfg = load_config(
        run_dir, preset, config, model, task, backend, None, proposer_model, template, limit, sets
    )
    has_oracle = cfg.rollout.problem_set().resolve_task().capability("oracle_intervention") is not None
    kinds = proposer or list(dict.fromkeys([cfg.propose.proposer, *(["oracle"] if has_oracle else [])]))
    print_summary(run_all(cfg, kinds, show_progress=progress))
