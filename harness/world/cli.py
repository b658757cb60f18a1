"""`harness world ...`: build the embedded world model and measure its abilities (mounted through the
``harness.commands`` entry point, so the generic CLI never imports the world)."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.ui import console

world_app = typer.Typer(help="The embedded world: a synthetic task family and a tiny model built on CPU.", no_args_is_help=True)


@world_app.command("build")
def world_build(
    preset: str = typer.Option(
        "default",
        help="default (~7.5 min on 2 idle cores, meets the ability targets), blindspot (the regime where the hard "
        "levels need a fact the model never samples), large / blindspot-large / offref-large (the larger model of each regime), "
        "test (~30 s, plumbing only).",
    ),
    seed: int = typer.Option(0, help="Build seed (data, init, training order)."),
    out: Path | None = typer.Option(None, help="Folder (default: the content-hash cache)."),
    force: bool = typer.Option(False, help="Rebuild even if cached."),
) -> None:
    """Build (or reuse from cache) the world model and print its abilities table."""
    from harness.world.build import build_world

    path = build_world(preset=preset, out_dir=out, seed=seed, force=force, console=console)
    typer.echo(str(path))


@world_app.command("path")
def world_path(
    preset: str = typer.Argument("default", help="World preset: default, blindspot, offref, large, blindspot-large, offref-large, test."),
    seed: int = typer.Option(0, help="Build seed."),
) -> None:
    """Print a built preset's model folder (for inspect's or lm-eval's model_path); builds nothing."""
    from harness.world.build import cached_world

    path = cached_world(preset, seed)  # an unknown preset: ValueError, one line
    if path is None:
        seed_flag = f" --seed {seed}" if seed else ""
        raise ValueError(f"world preset {preset!r} is not built here; build it with `harness world build --preset {preset}{seed_flag}`")
    typer.echo(str(path))


@world_app.command("abilities")
def world_abilities(
    model: str = typer.Argument(..., help="A world-model checkpoint (after build, SFT or RL) or world:<preset>."),
    n_per_level: int = typer.Option(32, help="Test problems per difficulty level."),
    samples: int = typer.Option(8, help="Samples per problem (avg@k at temperature 1)."),
    regime: str | None = typer.Option(
        None, help="The checkpoint's world regime (default: its world_recipe.json; SFT/RL checkpoints: default)."
    ),
    out: Path | None = typer.Option(None, help="Also write the measurement as JSON here."),
) -> None:
    """Measure solving by difficulty, the zero-advantage share on the hard train set, and verification of
    own failed attempts, on any world checkpoint."""
    from harness.models import resolve_model
    from harness.rundir import atomic_write_json
    from harness.world.abilities import measure_abilities
    from harness.world.problems import REGIMES
    from harness.world.report import abilities_table

    if regime is not None and regime not in REGIMES:
        raise typer.BadParameter(f"unknown regime {regime!r}; choose one of {sorted(REGIMES)}", param_hint="--regime")
    ab = measure_abilities(
        resolve_model(model), n_per_level=n_per_level, samples=samples, spec=REGIMES[regime] if regime else None
    )
    if out is not None:
        atomic_write_json(out, ab)
    console.print(abilities_table(ab))
