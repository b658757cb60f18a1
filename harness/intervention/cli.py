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
    """The run's IntConfig: saved one, else config file, else preset; flags applied; checked (the training
    data included); only then saved back. A --preset or --config given for a run directory that already has
    a saved config must agree with it (flags applied to both): a different one is refused, naming the
    fields, rather than silently losing to the saved config."""
    from harness.intervention.config import CONFIG_FILE, IntConfig, preset_names
    from harness.intervention.config import preset as from_preset

    def given() -> Any:
        if config is not None:
            return IntConfig.load(config, out=run_dir)
        return from_preset(preset, run_dir, {k: v for k, v in (("policy.model", model), ("rollout.problems.task", task)) if v})

    saved = Path(run_dir) / CONFIG_FILE
    if saved.exists():
        cfg = IntConfig.load(saved)
    elif config is not None or preset is not None:
        cfg = given()
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
    if saved.exists() and (config is not None or preset is not None):
        asked = given()
        asked = asked.with_overrides(overrides) if overrides else asked
        _same_as_saved(saved, cfg, asked, f"--config {config}" if config is not None else f"--preset {preset}")
    _check(cfg)
    cfg.save()
    return cfg


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def _same_as_saved(saved: Path, cfg: Any, asked: Any, what: str) -> None:
    """Refuse a --preset/--config that differs from the run directory's saved config (credentials, which
    the saved file masks, are compared masked)."""
    from harness.redact import redact_secrets

    old = _flat(redact_secrets(cfg.model_dump(by_alias=True)))
    new = _flat(redact_secrets(asked.model_dump(by_alias=True)))
    differ = [k for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
    if differ:
        shown = ", ".join(f"{k} ({old.get(k)!r} saved, {new.get(k)!r} from {what.split()[0]})" for k in differ[:3])
        more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
        raise ValueError(f"{saved}: this run directory was started with other settings than {what}: {shown}{more}; "
                         f"drop {what.split()[0]} to continue with the saved ones (flags still apply), or use a new --run-dir")


def _check(cfg: Any) -> None:
    """Everything that can be checked without loading a model, before the run folder is written: the
    training task (and version) exists and its data loads (with a reference solution where needed), and
    every backend exists, is installed and its model can be found."""
    from harness.backends import check_model, check_options

    cfg.rollout.problem_set().load()
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
