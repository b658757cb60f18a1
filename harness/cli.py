"""The `harness` command line. Each command is a thin layer over a library function, imported lazily so
that `harness --help` stays fast and a missing optional stack never breaks unrelated commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.table import Table

from harness.ui import console

app = typer.Typer(help="Evaluation-first harness for Intervention Training (InT) on math reasoning.", no_args_is_help=True)
tasks_app = typer.Typer(help="List and inspect benchmark tasks.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")


def _mount_subcommands() -> None:
    """Sub-apps live next to the code they drive; each module keeps its import free of torch."""
    from harness.intervention.cli import int_app
    from reports.cli import plot_cmd, report_cmd
    from trainers.cli import trainers_app

    app.command("plot")(plot_cmd)
    app.command("report")(report_cmd)
    app.add_typer(int_app, name="int", help="The InT protocol: rollout, propose, continue, build-sft, run.")
    app.add_typer(trainers_app, name="trainers")


_mount_subcommands()

DataDir = typer.Option(None, "--data-dir", envvar="HARNESS_DATA_DIR", help="Local benchmark data directory.")


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at INFO level.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@tasks_app.command("list")
def tasks_list() -> None:
    """List every registered task and version."""
    from tasks import list_tasks

    table = Table(title="Tasks")
    for col in ("name", "version", "splits", "answers", "source", "description"):
        table.add_column(col)
    for t in list_tasks():
        table.add_row(t.name, t.version, ",".join(t.splits), t.answer_format, "hub" if t.hub_only else "file/hub", t.description)
    console.print(table)


@tasks_app.command("show")
def tasks_show(
    name: str = typer.Argument(..., help="Task name, e.g. imo-answerbench."),
    version: str | None = typer.Option(None, help="Dataset version (default: the task's default)."),
    split: str | None = typer.Option(None, help="Split to load (default: test, or the task's only split)."),
    data_dir: str | None = DataDir,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Load a task and show its size, categories, answer-format mix, source, license and repairs."""
    from tasks import get_task, load_task
    from tasks.summary import summarize

    task = get_task(name, version)
    summary = summarize(task, load_task(task.name, task.version, data_dir=data_dir, split=split))
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    console.print(f"[bold]{summary['name']}@{summary['version']}[/]  {summary['size']} problems  (read from {summary.get('origin', '')})")
    console.print(f"source: {summary.get('source', '')}   license: {summary.get('license', '')}")
    for title, key in (("category", "categories"), ("answer format", "answer_formats")):
        table = Table(title=f"{title}: counts")
        table.add_column(title)
        table.add_column("count", justify="right")
        for k, v in (summary.get(key) or {}).items():
            table.add_row(str(k), str(v))
        console.print(table)
    repairs = summary.get("repairs") or []
    table = Table(title=f"Repairs applied ({len(repairs)})")
    for col in ("problem", "field", "before", "after", "reason"):
        table.add_column(col, overflow="fold")
    for r in repairs:
        table.add_row(r["problem_id"], r["field"], _clip(r["before"]), _clip(r["after"]), r["reason"])
    console.print(table)


def _clip(text: str, n: int = 60) -> str:
    text = str(text).replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


@app.command("eval")
def eval_cmd(
    model: str | None = typer.Option(None, help="Model path or hub id."),
    task: list[str] | None = typer.Option(None, "--task", "-t", help="Task (repeatable), 'name' or 'name@version'."),
    out: str | None = typer.Option(None, help="Run directory (default runs/eval-<model>-<tasks>)."),
    backend: str | None = typer.Option(None, help="Generation backend: hf | vllm | openai."),
    samples: int | None = typer.Option(None, "--samples", "-k", help="Samples per problem."),
    config: Path | None = typer.Option(None, help="YAML file with EvalConfig fields; flags override it."),
    temperature: float | None = typer.Option(None, help="Sampling temperature (paper: 0.7)."),
    top_p: float | None = typer.Option(None, help="Top-p (paper: 0.8)."),
    top_k: int | None = typer.Option(None, help="Top-k (paper: 20)."),
    max_tokens: int | None = typer.Option(None, help="Token budget per sample (paper: 16384)."),
    seed: int | None = typer.Option(None, help="Base sampling seed."),
    limit: int | None = typer.Option(None, help="Only the first N problems of each task."),
    split: str | None = typer.Option(None, help="Dataset split (default test)."),
    base_url: str | None = typer.Option(None, help="Server URL for --backend openai."),
    batch_problems: int | None = typer.Option(None, help="Problems per generation/write batch."),
    data_dir: str | None = DataDir,
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Evaluate a model on tasks; resumable (re-running skips finished samples)."""
    from harness.evaluate import EvalConfig, run_eval

    sampling = {k: v for k, v in dict(temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed).items() if v is not None}
    fields = dict(model=model, tasks=task or None, backend=backend, samples=samples, limit=limit, split=split, batch_problems=batch_problems, data_dir=data_dir, out=out)
    fields = {k: v for k, v in fields.items() if v is not None}
    if base_url:
        fields["backend_options"] = {"base_url": base_url}
    if config is not None:
        cfg = EvalConfig.from_yaml(config, sampling=sampling, **fields)
    else:
        if "model" not in fields or "tasks" not in fields:
            raise typer.BadParameter("give --model and --task (or --config)")
        fields.setdefault("out", str(Path("runs") / f"eval-{Path(fields['model']).name}-{'-'.join(t.replace('@', '_') for t in fields['tasks'])}"))
        cfg = EvalConfig(**fields, sampling=sampling)
    results = run_eval(cfg, show_progress=progress)
    print_results(results)
    stats = results["run_stats"]
    console.print(f"new generations: {stats['new_generations']}   reused samples: {stats['reused_samples']}   protocol: {results['protocol_hash']}")
    console.print(f"run directory: {cfg.out}")


def print_results(results: dict) -> None:
    """A terminal table of avg@k with CI, pass@k and maj@k at the largest k, per task."""
    table = Table(title="Results")
    for col in ("task", "problems", "k", "avg@k", "95% CI", "pass@k", "maj@k", "no answer"):
        table.add_column(col, justify="right" if col != "task" else "left", no_wrap=col == "task")
    for name, res in results["tasks"].items():
        m = res["metrics"]
        if not m.get("n_problems"):
            table.add_row(name, "0", "-", "-", "-", "-", "-", "-")
            continue
        k = str(m["samples_per_problem"])
        lo, hi = m["avg@k_ci95"]
        table.add_row(
            name, str(m["n_problems"]), k, f"{100 * m['avg@k']:.2f}", f"[{100 * lo:.1f}, {100 * hi:.1f}]",
            f"{100 * m['pass@k'].get(k, float('nan')):.2f}", f"{100 * m['maj@k'].get(k, float('nan')):.2f}", str(res["counts"]["no_answer"]),
        )
    console.print(table)


@app.command("serve")
def serve_cmd(
    model: str = typer.Option(..., help="Local model path (served through the hf backend)."),
    host: str = typer.Option("127.0.0.1", help="Bind address."),
    port: int = typer.Option(8000, help="Port."),
    served_model_name: str | None = typer.Option(None, help="Model name clients must send (default: the path)."),
) -> None:
    """Serve a local model over an OpenAI-compatible HTTP API (for tests and the openai backend)."""
    from harness.serve import serve

    console.print(f"serving {model} as {served_model_name or model!r} on http://{host}:{port}/v1")
    serve(model, host=host, port=port, served_model_name=served_model_name)


@app.command("tiny-model")
def tiny_model_cmd(
    out: Path = typer.Argument(..., help="Folder to write the model and tokenizer to."),
    arch: str = typer.Option("qwen2", help="qwen2 or llama."),
    seed: int = typer.Option(0, help="Initialisation seed."),
) -> None:
    """Build a tiny random model + tokenizer with a chat template, offline (for tests and smoke runs)."""
    from harness.tiny_model import build_tiny_model

    path = build_tiny_model(out, arch=arch, seed=seed)
    console.print(f"tiny {arch} model written to {path}")


world_app = typer.Typer(help="The embedded world: a synthetic task family and a tiny model built on CPU.", no_args_is_help=True)
app.add_typer(world_app, name="world")


@world_app.command("build")
def world_build(
    preset: str = typer.Option(
        "default",
        help="default (~7.5 min on 2 cores), blindspot (the regime where hard levels need a fact the model never "
        "samples), large / blindspot-large (the larger model of each regime), test (~30 s, plumbing only).",
    ),
    seed: int = typer.Option(0, help="Build seed (data, init, training order)."),
    out: Path | None = typer.Option(None, help="Folder (default: the content-hash cache)."),
    force: bool = typer.Option(False, help="Rebuild even if cached."),
) -> None:
    """Build (or reuse from cache) the world model and print its abilities table."""
    from harness.world.build import build_world

    path = build_world(preset=preset, out_dir=out, seed=seed, force=force, console=console)
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
    from harness.rundir import atomic_write_json
    from harness.world import resolve_model
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


@app.command("recipes")
def recipes_cmd(recipes: list[Path] | None = typer.Option(None, "--recipes", help="Extra recipe folders.")) -> None:
    """List the recipes `harness compare` knows (built-in YAML plus --recipes folders)."""
    from harness.recipes import list_recipes

    table = Table(title="Recipes")
    for col in ("name", "steps", "description", "file"):
        table.add_column(col, overflow="fold")
    for r in list_recipes(recipes).values():
        table.add_row(r.name, " -> ".join(st.kind for st in r.steps) or "(eval only)", r.description, r.source)
    console.print(table)


@app.command("compare")
def compare_cmd(
    recipes: list[str] = typer.Argument(..., help="Recipe names, e.g. int rl-baseline."),
    config: Path | None = typer.Option(None, help="CompareConfig YAML (default: the embedded world on CPU)."),
    seeds: int | None = typer.Option(None, help="Training seeds per recipe."),
    out: str | None = typer.Option(None, help="Comparison folder (default runs/compare-<recipes>)."),
    base_model: str | None = typer.Option(None, help="Starting model for every arm."),
    recipe_dirs: list[str] | None = typer.Option(None, "--recipes", help="Extra recipe folders."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the plan; run nothing."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train each recipe from the same base model, evaluate on one frozen protocol, write a paired report."""
    from harness.compare import CompareConfig, run_compare

    over = dict(seeds=seeds, out=out, base_model=base_model, recipes_dirs=recipe_dirs or None)
    cfg = CompareConfig.from_yaml(config, **over) if config else CompareConfig(**{k: v for k, v in over.items() if v is not None})
    summary = run_compare(recipes, cfg, dry_run=dry_run, show_progress=progress)
    if dry_run:
        return
    from reports.leaderboard import print_leaderboard

    print_leaderboard(summary["report_dir"])
    console.print(f"compute: {summary['wall_time']:.0f}s training+eval, report {summary['report_seconds']:.1f}s")
    console.print(f"report: {summary['report_dir']}/index.html")


def main() -> None:
    """Console entry point: expected failures (missing data, bad config) print one clear line, no traceback."""
    from openai import OpenAIError

    from tasks.data import DataNotFoundError

    try:
        app()
    except (DataNotFoundError, LookupError, ValueError, FileNotFoundError, ImportError, OpenAIError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
