"""The `harness` command line. Each command is a thin layer over a library function, imported lazily so
that `harness --help` stays fast and a missing optional stack never breaks unrelated commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.table import Table

from harness.ui import console

CONTEXT = {"help_option_names": ["-h", "--help"]}
# rich_markup_mode=None: click's plain help for every command and group below. Typer's rich help reads
# "[default: 0.7]" in a help text as a markup tag and drops it, and shows a flag as "--dry-run <bool>";
# the plain formatter prints help texts as written and flags as flags (tests/test_cli_help.py).
app = typer.Typer(help="Evaluation-first harness for Intervention Training (InT) on math reasoning.", no_args_is_help=True,
                  context_settings=CONTEXT, rich_markup_mode=None)
tasks_app = typer.Typer(help="List and inspect benchmark tasks.", no_args_is_help=True, context_settings=CONTEXT)
app.add_typer(tasks_app, name="tasks")
COMMANDS_GROUP = "harness.commands"


def _mount_subcommands() -> None:
    """Sub-apps live next to the code they drive; each module keeps its import free of torch. Packages
    (the embedded world, plugins) add command groups through the ``harness.commands`` entry points."""
    from importlib.metadata import entry_points

    from harness.ecosystem.cli import ecosystem_app
    from harness.intervention.cli import int_app
    from reports.cli import plot_cmd, report_cmd
    from trainers.cli import trainers_app

    app.command("plot")(plot_cmd)
    app.command("report")(report_cmd)
    app.add_typer(int_app, name="int", help="The InT protocol: rollout, propose, continue, build-sft, run.")
    app.add_typer(trainers_app, name="trainers")
    app.add_typer(ecosystem_app, name="ecosystem")
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            sub = ep.load()
        except Exception as exc:  # a broken plugin must not break the whole CLI
            logging.getLogger(__name__).warning("command group %r (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        app.add_typer(sub, name=ep.name)


_mount_subcommands()

DataDir = typer.Option(None, "--data-dir", envvar="HARNESS_DATA_DIR", help="Local benchmark data directory.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"int-harness {version('int-harness')}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at INFO level."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    threads: str | None = typer.Option(None, "--threads", envvar="HARNESS_THREADS", show_default=False,
                                       help="CPU threads for torch: auto (the free cores, re-checked while running, "
                                            "capped by the model's size; the default) or a number to pin."),
) -> None:
    if threads is not None:
        import os

        from harness.cpu import ENV, requested_threads

        os.environ[ENV] = threads  # inherited by every step's process
        requested_threads()  # a bad value is a one-line error here, before any work
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        from harness.ui import quiet_libraries

        quiet_libraries()
        for noisy in ("httpx", "httpcore", "datasets", "transformers", "accelerate"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


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


def _default_eval(field: str) -> str:
    from harness.evaluate import EvalConfig

    return _default(EvalConfig, field)


def _clip(text: str, n: int = 60) -> str:
    text = str(text).replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


def _default(model: type, field: str) -> str:
    """``[default: X]`` for a config field, so --help shows what an omitted flag means."""
    f = model.model_fields[field]
    value = f.default_factory() if f.default_factory is not None else f.default
    return f"[default: {value}]"


@app.command("eval")
def eval_cmd(
    model: str | None = typer.Option(None, help="Model path, hub id or <scheme>:<name> (e.g. world:default)."),
    task: list[str] | None = typer.Option(None, "--task", "-t", help="Task (repeatable), 'name' or 'name@version'."),
    out: str | None = typer.Option(None, help="Run directory [default: runs/eval-<model>-<model hash>-<tasks>]."),
    backend: str | None = typer.Option(None, help=f"Generation backend: hf | vllm | openai | a plugin. {_default_eval('backend')}"),
    samples: int | None = typer.Option(None, "--samples", "-k", help=f"Samples per problem. {_default_eval('samples')}"),
    config: Path | None = typer.Option(None, help="YAML file with EvalConfig fields; flags override it."),
    temperature: float | None = typer.Option(None, help="Sampling temperature [default: 0.7, the paper's]."),
    top_p: float | None = typer.Option(None, help="Top-p [default: 0.8]."),
    top_k: int | None = typer.Option(None, help="Top-k [default: 20]."),
    max_tokens: int | None = typer.Option(None, help="Token budget per sample [default: 16384]."),
    seed: int | None = typer.Option(None, help="Base sampling seed [default: 0]."),
    limit: int | None = typer.Option(None, help="Only the first N problems of each task [default: all]."),
    split: str | None = typer.Option(None, help="Dataset split [default: test, or the task's only split]."),
    grader: str | None = typer.Option(None, help=f"Grader: math-verify | llm-judge | a registered one. {_default_eval('grader')}"),
    judge_model: str | None = typer.Option(None, help="Judge model for --grader llm-judge."),
    judge_backend: str = typer.Option("openai", help="Judge backend for --grader llm-judge."),
    judge_base_url: str | None = typer.Option(None, help="Judge server URL (--judge-backend openai)."),
    base_url: str | None = typer.Option(None, help="Server URL for --backend openai, e.g. http://127.0.0.1:8000/v1."),
    model_args: list[str] | None = typer.Option(
        None, "--model-args", "-M", metavar="KEY=VALUE,...",
        help="Backend options, as lm-eval's --model_args: comma-separated key=value pairs, repeatable (-M dtype=bfloat16 "
             "-M batch_size=32); values are typed (42 -> int, 0.9 -> float, true/false, none); merged over the YAML's "
             "backend_options; an unknown key fails before the run, naming the backend's options."),
    batch_problems: int | None = typer.Option(None, help=f"Problems per generation/write batch. {_default_eval('batch_problems')}"),
    data_dir: str | None = DataDir,
    progress: bool = typer.Option(True, help="Show progress (bars on a terminal, a line every 30 s in a log)."),
) -> None:
    """Evaluate a model on tasks; resumable (re-running skips finished samples)."""
    from harness.configs import build
    from harness.evaluate import EvalConfig, run_eval

    sampling = {k: v for k, v in dict(temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed).items() if v is not None}
    fields = dict(model=model, tasks=task or None, backend=backend, samples=samples, limit=limit, split=split,
                  batch_problems=batch_problems, data_dir=data_dir, out=out, grader=grader)
    fields = {k: v for k, v in fields.items() if v is not None}
    options = {**({"base_url": base_url} if base_url else {}), **parse_model_args(model_args or [])}
    if options:
        if config is not None:
            from harness.configs import read_yaml_mapping

            options = {**(read_yaml_mapping(config, what="EvalConfig").get("backend_options") or {}), **options}
        fields["backend_options"] = options
    if judge_model:
        fields["judge"] = {"backend": judge_backend, "model": judge_model,
                           "options": {"base_url": judge_base_url} if judge_base_url else {}}
    if config is not None:
        cfg = EvalConfig.from_yaml(config, sampling=sampling, **fields)
    else:
        if "model" not in fields or "tasks" not in fields:
            raise typer.BadParameter("give --model and --task (or --config)")
        cfg = build(EvalConfig, {**fields, "sampling": sampling}, source="harness eval")
    results = run_eval(cfg, show_progress=progress)
    print_results(results)
    stats = results["run_stats"]
    console.print(f"new generations: {stats['new_generations']}   reused samples: {stats['reused_samples']}   protocol: {results['protocol_hash']}")
    console.print(f"run directory: {results['out']}", markup=False)


def _typed(value: str) -> object:
    """A --model-args value: int, float, bool (true/false), None (none/null), else the string as written."""
    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_model_args(items: list[str]) -> dict[str, object]:
    """``["dtype=bfloat16,batch_size=32", "device=cpu"]`` -> ``{"dtype": "bfloat16", "batch_size": 32,
    "device": "cpu"}`` (lm-eval's ``--model_args`` syntax; later keys win). Values cannot contain commas."""
    out: dict[str, object] = {}
    for item in items:
        for pair in filter(None, (p.strip() for p in item.split(","))):
            key, eq, value = pair.partition("=")
            if not eq or not key.strip():
                raise typer.BadParameter(f"{pair!r} is not key=value (e.g. -M dtype=bfloat16,batch_size=32)", param_hint="--model-args")
            out[key.strip()] = _typed(value.strip())
    return out


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
    model: str = typer.Option(..., help="Model path, hub id or <scheme>:<name> (e.g. world:default), served through the hf backend."),
    host: str = typer.Option("127.0.0.1", help="Bind address."),
    port: int = typer.Option(8000, help="Port."),
    served_model_name: str | None = typer.Option(None, help="Model name clients must send (default: --model as given)."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="HARNESS_SERVE_API_KEY", show_default=False,
                                       help="Require 'Authorization: Bearer KEY' (as vllm serve --api-key); "
                                            "prefer the environment variable, which `ps` does not show."),
    max_n: int = typer.Option(64, min=1, help="Most samples (n) per request."),
    max_body_bytes: int = typer.Option(4 * 1024 * 1024, min=1, help="Largest request body in bytes."),
    max_prompt_chars: int | None = typer.Option(None, min=1, help="Most characters over a request's messages "
                                                "(default: 16 per token of the model's context window)."),
    read_timeout: float = typer.Option(30.0, min=0.001, help="Seconds a client has to send one whole request "
                                       "(request line, headers and body: a deadline, not per read)."),
    max_connections: int = typer.Option(32, min=1, help="Connections served at once; one more is answered 503."),
) -> None:
    """Serve a model over an OpenAI-compatible HTTP API: /v1/chat/completions, /v1/completions, /v1/models
    (for tests and the openai backend)."""
    from harness.serve import ServeLimits, serve

    limits = ServeLimits(max_n=max_n, max_body_bytes=max_body_bytes, max_prompt_chars=max_prompt_chars,
                         read_timeout=read_timeout, max_connections=max_connections)
    auth = " (API key required)" if api_key else ""
    console.print(f"serving {model} as {served_model_name or model!r} on http://{host}:{port}/v1{auth}")
    serve(model, host=host, port=port, served_model_name=served_model_name, api_key=api_key, limits=limits)


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


@app.command("recipes")
def recipes_cmd(recipes: list[Path] | None = typer.Option(None, "--recipes", help="Extra recipe folders.")) -> None:
    """List the recipes `harness compare` knows (built-in YAML plus --recipes folders) and the step kinds
    they are made of, with every option."""
    from rich.markup import escape

    from harness.compare.steps import describe_options, get_step_kind, step_kind_names
    from harness.recipes import list_recipes

    table = Table(title="Recipes")
    for col in ("name", "steps", "description", "file"):
        table.add_column(col, overflow="fold")
    for r in list_recipes(recipes).values():
        steps = " -> ".join(st.kind + (f" {st.options}" if st.options else "") for st in r.steps) or "(eval only)"
        table.add_row(r.name, escape(steps), escape(r.description), r.source)
    console.print(table)
    for name in step_kind_names():
        kind = get_step_kind(name)
        kt = Table(title=f"step kind {name!r}: {kind.description}")
        for col in ("option", "default", "description"):
            kt.add_column(col, overflow="fold")
        for opt, default, desc in describe_options(kind):
            kt.add_row(opt, escape(default), escape(desc))
        console.print(kt)


@app.command("compare")
def compare_cmd(
    recipes: list[str] = typer.Argument(..., help="Recipe names, e.g. int rl-baseline (see `harness recipes`)."),
    config: Path | None = typer.Option(None, help="CompareConfig YAML [default: the embedded world on CPU]."),
    seeds: int | None = typer.Option(None, help="Training seeds per recipe [default: 1]."),
    out: str | None = typer.Option(None, help="Comparison folder [default: runs/compare-<recipes>]."),
    base_model: str | None = typer.Option(None, help="Starting model for every arm [default: the comparison defaults', the embedded world's world:default]."),
    match_compute: bool | None = typer.Option(None, "--match-compute/--no-match-compute", help="Also run compute-matched arms (docs/methodology.md) [default: off]."),
    allow_overlap: bool | None = typer.Option(None, "--allow-overlap", help="Run although training and evaluation problems overlap (reported first)."),
    recipe_dirs: list[str] | None = typer.Option(None, "--recipes", help="Extra recipe folders."),
    tune: bool | None = typer.Option(None, "--tune/--no-tune", help="Tune every arm's learning rates by the same sweep on a "
                                      "validation split first (harness.compare.tune; grid and split from the config's tune section) [default: off]."),
    grader: str | None = typer.Option(None, help="The comparison's one grader -- evaluation, InT's filters and the RL reward: "
                                      "math-verify | llm-judge | a registered one [default: the config's eval.grader, math-verify]."),
    judge_model: str | None = typer.Option(None, help="Judge model for --grader llm-judge."),
    judge_backend: str = typer.Option("openai", help="Judge backend for --grader llm-judge."),
    judge_base_url: str | None = typer.Option(None, help="Judge server URL (--judge-backend openai)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the plan, preflight and overlap check; run nothing."),
    progress: bool = typer.Option(True, help="Show progress (bars on a terminal, a line every 30 s in a log)."),
) -> None:
    """Train each recipe from the same base model, evaluate on one frozen protocol, write a paired report."""
    from harness.compare.config import CompareConfig
    from harness.compare.run import run_compare
    from harness.configs import build

    over = dict(seeds=seeds, out=out, base_model=base_model, recipes_dirs=recipe_dirs or None, match_compute=match_compute,
                allow_overlap=allow_overlap)
    over = {k: v for k, v in over.items() if v is not None}
    cfg = CompareConfig.from_yaml(config, **over) if config else build(CompareConfig, over, source="harness compare")
    if grader or judge_model:
        judge = {"backend": judge_backend, "model": judge_model,
                 "options": {"base_url": judge_base_url} if judge_base_url else {}} if judge_model else cfg.eval.judge
        evaluation = {**cfg.eval.model_dump(), "grader": grader or cfg.eval.grader, "judge": judge}
        cfg = build(CompareConfig, {**cfg.model_dump(), "eval": evaluation}, source=str(config or "harness compare"))
    if tune is not None:
        from harness.compare.tune import TuneConfig

        cfg = cfg.model_copy(update={"tune": (cfg.tune or TuneConfig()) if tune else None})
    summary = run_compare(recipes, cfg, dry_run=dry_run, show_progress=progress)
    if dry_run:
        return
    from reports.leaderboard import print_leaderboard
    from reports.verdict import print_verdict

    print_leaderboard(summary["report_dir"])
    console.print(f"compute: {summary['wall_time']:.0f}s training+eval, report {summary['report_seconds']:.1f}s")
    print_verdict(summary["report_dir"])  # the last lines: the verdict of each view, then the report's path


def main() -> None:
    """Console entry point: expected failures (missing data, bad config or input, a failed step) print one
    clear line and exit 1, no traceback -- except missing data, whose message goes on to list every place
    tried and how to provide the file (README promises those lines); an interrupt exits 130. Anything else
    is a bug: traceback."""
    from openai import OpenAIError
    from pydantic import ValidationError

    from harness.compare.worker import StepFailed
    from harness.configs import describe_validation_error
    from harness.dirlock import FolderBusy
    from harness.intervention.stages import StageNotReady
    from harness.redact import redact_text
    from harness.ui import print_error
    from tasks.data import DataNotFoundError

    interrupted = "[bold red]interrupted[/] (finished work is kept; re-run the same command to resume)"
    try:
        app()
    except ValidationError as exc:
        print_error(describe_validation_error(exc))
        raise SystemExit(1) from None
    except DataNotFoundError as exc:
        print_error(str(exc).strip() or type(exc).__name__)  # the task, then "Tried:" and "To fix:" lines
        raise SystemExit(1) from None
    except (LookupError, ValueError, OSError, ImportError, OpenAIError, StepFailed, StageNotReady, FolderBusy) as exc:
        # a server's error text may echo a credential (?api_key=...): redacted like everything recorded
        print_error(redact_text(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        console.print(interrupted)
        raise SystemExit(130) from None
    except SystemExit as exc:
        if exc.code == 130:  # typer turns KeyboardInterrupt into a silent exit 130
            console.print(interrupted)
        raise


if __name__ == "__main__":
    main()
