"""`harness ablate ...`: one command per study of the paper's ablations and analysis figures (mounted through the
``harness.commands`` entry point). Every command takes a `harness compare` config -- the regime -- and resumes:
re-running it reuses every finished step and evaluation and only redraws the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from harness.ui import console

ablate_app = typer.Typer(help="The paper's ablations and figures, one command each (Table 2, Table 1 with hints, the "
                         "proposer ablation, Figures 6-9), on any `harness compare` config.", no_args_is_help=True,
                         context_settings={"help_option_names": ["-h", "--help"]})

CONFIG = typer.Option(None, "--config", help="A `harness compare` config (the regime), e.g. configs/world-blindspot.yaml "
                      "[default: the default world].")
OUT = typer.Option(None, "--out", help="Root folder of the studies [default: the config's out + '-ablate'].")
SEEDS = typer.Option(1, "--seeds", min=1, help="Training seeds of every trained arm.")
PROGRESS = typer.Option(True, help="Show progress (bars on a terminal, a line every 30 s in a log).")
LRS = typer.Option(None, "--learning-rates-from", help="A tuned comparison's folder (or its tuning.json): every SFT and "
                   "RL step takes the learning rate its sweep chose for InT's [default: the config's].")
DRY_RUN = typer.Option(False, "--dry-run", help="Validate the study's comparison and print its plan and preflight "
                       "(e.g. on configs/paper.yaml); run nothing.")


def _run(name: str, **fields: Any) -> None:
    from harness.ablate.registry import StudyOptions, run_study

    config = fields.pop("config")
    options = StudyOptions(config=str(config) if config else None, **fields)
    result = run_study(name, options)
    if result.get("dry_run"):
        # soft_wrap: one line however long the path (rich would break it at the console width, 80 off a terminal)
        console.print(f"{name}: planned {', '.join(result['recipes'] or [])} -> {result['root']}/{name}; nothing run",
                      markup=False, soft_wrap=True)
        return
    for table in result.get("tables", []):
        console.print(f"[bold]{table['title']}[/]")
        console.print(Path(result["files"][0]).parent / f"{table['name']}.md")
    for line in result.get("findings", []):
        console.print(f"  {line}", markup=False)
    console.print(f"{name}: {result['wall_time_s']:.0f} s; page {Path(result['files'][-1])}", markup=False, soft_wrap=True)


@ablate_app.command("list")
def list_cmd() -> None:
    """The studies and what each produces."""
    from harness.ablate.registry import STUDIES

    for name, (_, text) in STUDIES.items():
        console.print(f"[bold]{name}[/]: {text}")


@ablate_app.command("sft-design")
def sft_design_cmd(config: Path | None = CONFIG, out: str | None = OUT, seeds: int = SEEDS,
                   samples: int = typer.Option(16, min=1, help="Samples per hard training problem (coverage = >= 1 correct)."),
                   lrs_from: str | None = LRS, progress: bool = PROGRESS, dry_run: bool = DRY_RUN) -> None:
    """Table 2: coverage and accuracy on the hard training problems after SFT on each SFT design, before RL."""
    _run("sft-design", config=config, out=out, seeds=seeds, samples=samples, show_progress=progress, dry_run=dry_run,
         learning_rates_from=lrs_from)


@ablate_app.command("hints")
def hints_cmd(config: Path | None = CONFIG, out: str | None = OUT, seeds: int = SEEDS,
              problems: int = typer.Option(32, min=1, help="Problems every condition runs on (the paper's hint study: 176)."),
              lrs_from: str | None = LRS, progress: bool = PROGRESS, dry_run: bool = DRY_RUN) -> None:
    """Table 1 extended: continuations after hint alone, intervention alone, hint + intervention, and the controls."""
    _run("hints", config=config, out=out, seeds=seeds, hint_problems=problems, show_progress=progress, dry_run=dry_run,
         learning_rates_from=lrs_from)


@ablate_app.command("proposer")
def proposer_cmd(config: Path | None = CONFIG, out: str | None = OUT, seeds: int = SEEDS,
                 proposer_model: str = typer.Option(..., "--proposer-model", help="The other model that proposes, e.g. "
                                                    "world:offref-large (the regime's larger model)."),
                 lrs_from: str | None = LRS, progress: bool = PROGRESS, dry_run: bool = DRY_RUN) -> None:
    """The proposer ablation: self-proposed vs another model's interventions (location, success, InT+RL)."""
    _run("proposer", config=config, out=out, seeds=seeds, proposer_model=proposer_model, show_progress=progress, dry_run=dry_run,
         learning_rates_from=lrs_from)


@ablate_app.command("pass-at-k")
def pass_at_k_cmd(config: Path | None = CONFIG, out: str | None = OUT, seeds: int = SEEDS,
                  k: int = typer.Option(1024, min=2, help="Samples per problem: pass@k up to k."),
                  problems: int = typer.Option(2, min=1, help="Problems per category of the training and the test set."),
                  eval_batch_size: int | None = typer.Option(None, min=1, help="Backend batch_size for these evaluations "
                                                             "[default: the config's]."),
                  lrs_from: str | None = LRS, progress: bool = PROGRESS, dry_run: bool = DRY_RUN) -> None:
    """Figure 6: pass@k vs k for the base and the InT-SFT model, hard training set and test set."""
    _run("pass-at-k", config=config, out=out, seeds=seeds, k=k, passk_problems=problems, eval_batch_size=eval_batch_size,
         show_progress=progress, dry_run=dry_run,
         learning_rates_from=lrs_from)


@ablate_app.command("internalization")
def internalization_cmd(config: Path | None = CONFIG, out: str | None = OUT, seeds: int = SEEDS,
                        problems: int = typer.Option(8, min=1, help="Held-out problems per category."),
                        lrs_from: str | None = LRS, progress: bool = PROGRESS, dry_run: bool = DRY_RUN) -> None:
    """Figure 7: likelihood of intervention tokens before and after InT's SFT, seen vs held-out problems."""
    _run("internalization", config=config, out=out, seeds=seeds, heldout_problems=problems, show_progress=progress, dry_run=dry_run,
         learning_rates_from=lrs_from)


@ablate_app.command("sft-sources")
def sft_sources_cmd(config: Path | None = CONFIG, out: str | None = OUT, seeds: int = SEEDS,
                    samples: int = typer.Option(128, min=1, help="Own evaluation samples per model scored for entropy."),
                    lrs_from: str | None = LRS, progress: bool = PROGRESS, dry_run: bool = DRY_RUN) -> None:
    """Figures 8-9: entropy after SFT on each source (InT, references, self-reflections) and each source's NLL."""
    _run("sft-sources", config=config, out=out, seeds=seeds, entropy_samples=samples, show_progress=progress, dry_run=dry_run,
         learning_rates_from=lrs_from)


@ablate_app.command("render")
def render_cmd(folder: Path = typer.Argument(..., help="A study folder (<root>/<study>) or its <study>.json.")) -> None:
    """Redraw a finished study's tables, figures and page from its JSON (nothing is re-run)."""
    from reports.ablations import render_study

    path = folder if folder.suffix == ".json" else folder / f"{folder.name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no study results here (run `harness ablate <study>` first)")
    for p in render_study(path):
        console.print(str(p), markup=False)
