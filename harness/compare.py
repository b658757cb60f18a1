"""`harness compare A B [C ...]`: train each recipe's arm, evaluate every checkpoint on one frozen
protocol, and write a paired, compute-accounted report.

Layout of ``<out>/``::

    compare.json                  recipes, seeds, frozen eval protocol (+ hash), arms, reported rows
    cache/<kind>-<key>/           one folder per executed step; <key> hashes the step, its settings and
                                  the key of the model it started from, so arms (and re-runs) that share
                                  a prefix of steps share the work
    arms/<recipe>/seed-<s>/       stages.json (compute per step), eval/ (an eval run dir), and links
                                  int/ sft/ rl/ into cache/
    report/                       leaderboard.csv, report.md, index.html, figures/, samples.parquet

Fairness rules: every arm starts from the same base model, RL steps run with one `RLConfig` (equal
budget: same steps, group size, prompts per step) unless a recipe overrides it -- which is reported --
and every checkpoint is evaluated with the same tasks, prompts, sampling, k, grader and token budget.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from harness.evaluate import SamplingConfig
from harness.provenance import package_versions, stable_hash
from harness.recipes import Recipe, Step, load_recipe
from harness.rundir import atomic_write_json, read_json
from harness.ui import console


class EvalOnlyModel(BaseModel):
    """A larger (or any) model evaluated on the same protocol without training: an eval-only row."""

    model_config = ConfigDict(extra="forbid")
    name: str
    model: str
    backend: str = "hf"
    options: dict[str, Any] = Field(default_factory=dict)


class CompareConfig(BaseModel):
    """What `harness compare` runs. The defaults are the embedded world on a 2-core CPU."""

    model_config = ConfigDict(extra="forbid")
    out: str | None = Field(None, description="Comparison folder (default runs/compare-<recipes>).")
    base_model: str = Field("world:default", description="Starting model for every arm (path, hub id or world:<preset>).")
    backend: str = Field("hf", description="Generation backend for InT stages and evaluation.")
    backend_options: dict[str, Any] = Field(default_factory=lambda: {"batch_size": 64})
    train_task: str = Field(
        "world@hard", description="Training problems for InT and RL (the world's hard levels, like the paper's hard set)."
    )
    train_split: str | None = Field("train")
    train_per_category: int | None = Field(16, ge=1, description="Training problems per category (None: all).")
    train_limit: int | None = Field(None, ge=1, description="Then at most this many training problems (None: all).")
    eval_tasks: list[str] = Field(default_factory=lambda: ["world"], min_length=1)
    eval_split: str | None = Field("test")
    eval_per_category: int | None = Field(16, ge=1, description="Evaluation problems per category (None: all).")
    eval_limit: int | None = Field(None, ge=1, description="Then at most this many evaluation problems.")
    eval_samples: int = Field(8, ge=1, description="k samples per problem.")
    eval_sampling: SamplingConfig = Field(default_factory=lambda: SamplingConfig(max_tokens=192))
    data_dir: str | None = None
    trainer: str = Field("trl", description="Trainer plugin for SFT and RL (see `harness trainers list`).")
    trainer_preset: str = Field("embedded", description="SFT/RL preset: paper | embedded.")
    sft: dict[str, Any] = Field(default_factory=dict, description="SFTConfig overrides for every arm.")
    rl: dict[str, Any] = Field(default_factory=dict, description="RLConfig overrides for every arm.")
    int_preset: str = Field("world", description="InT protocol preset: world | paper.")
    int_overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted IntConfig overrides.")
    seeds: int = Field(1, ge=1, description="Training seeds per recipe (0..seeds-1).")
    eval_only: list[EvalOnlyModel] = Field(default_factory=list)
    reported: bool = Field(True, description="Add the paper's reported numbers as labelled rows.")
    recipes_dirs: list[str] = Field(default_factory=list)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> CompareConfig:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls(**{**data, **{k: v for k, v in overrides.items() if v is not None}})


def eval_protocol(cfg: CompareConfig) -> dict[str, Any]:
    """The frozen evaluation protocol every checkpoint is measured under (hashed into compare.json)."""
    from harness.grading import get_grader

    grader = get_grader("math-verify")
    return {
        "tasks": cfg.eval_tasks,
        "split": cfg.eval_split,
        "per_category": cfg.eval_per_category,
        "limit": cfg.eval_limit,
        "k": cfg.eval_samples,
        "sampling": cfg.eval_sampling.model_dump(),
        "grader": f"{grader.name}=={grader.version}",
        "token_budget": cfg.eval_sampling.max_tokens,
    }


def plan(recipes: list[Recipe], cfg: CompareConfig) -> list[dict[str, Any]]:
    """Every (recipe, seed) arm with its chain of step keys; shared prefixes share keys (and work)."""
    arms = []
    for recipe in recipes:
        for seed in range(cfg.seeds):
            key, chain = stable_hash({"base": cfg.base_model}), []
            for step in recipe.steps:
                key = stable_hash({"prev": key, "step": step.model_dump(), "settings": _step_settings(step, cfg), "seed": seed})
                chain.append({"kind": step.kind, "options": step.options, "key": key})
            arms.append({"recipe": recipe.name, "seed": seed, "steps": chain, "model_key": key, "kind": "measured"})
    return arms


def _step_settings(step: Step, cfg: CompareConfig) -> dict[str, Any]:
    """The global settings a step depends on (part of its cache key)."""
    if step.kind == "int":
        return {"preset": cfg.int_preset, "overrides": cfg.int_overrides, "task": cfg.train_task,
                "per_category": cfg.train_per_category, "limit": cfg.train_limit, "backend": cfg.backend}
    common = {"trainer": cfg.trainer, "preset": cfg.trainer_preset, "task": cfg.train_task,
              "per_category": cfg.train_per_category, "limit": cfg.train_limit}
    return {**common, "overrides": cfg.sft if step.kind == "sft" else cfg.rl}


def run_compare(recipe_names: list[str], cfg: CompareConfig, *, dry_run: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a comparison and build its report; with ``dry_run`` only print the plan."""
    recipes = [load_recipe(n, cfg.recipes_dirs) for n in recipe_names]
    out = Path(cfg.out or Path("runs") / f"compare-{'-vs-'.join(recipe_names)}")
    arms = plan(recipes, cfg)
    checks = validate(recipes, cfg)
    protocol = eval_protocol(cfg)
    summary = {
        "recipes": recipe_names,
        "recipe_sources": {r.name: r.source for r in recipes},
        "seeds": list(range(cfg.seeds)),
        "config": cfg.model_dump(),
        "protocol": protocol,
        "protocol_hash": stable_hash(protocol),
        "versions": package_versions(),
    }
    summary["checks"] = checks
    if dry_run:
        print_plan(arms, summary, cfg)
        for line in checks:
            console.print(f"  check: {line}")
        return summary
    from harness.compare_steps import StepRunner

    t0 = time.perf_counter()
    runner = StepRunner(cfg, out)
    summary["base_model"] = runner.base_model_path()
    for arm in arms:
        arm_dir = out / "arms" / arm["recipe"] / f"seed-{arm['seed']}"
        model, stages, int_data, sft_steps = runner.base_model_path(), [], None, []
        for step in arm["steps"]:
            result = runner.run_step(step, model, seed=arm["seed"], show_progress=show_progress, int_data=int_data)
            stages.append(result["stage"])
            if step["kind"] == "sft":
                sft_steps.append(result)
            _link(arm_dir / step["kind"], Path(result["dir"]))
            model = result.get("model", model)
            int_data = result.get("sft_data", int_data)
        runner.sft_stats(arm_dir, sft_steps)
        ev = runner.run_eval(model, arm["model_key"], protocol, show_progress=show_progress)
        stages.append(ev["stage"])
        _link(arm_dir / "eval", Path(ev["dir"]))
        atomic_write_json(arm_dir / "stages.json", stages)
        arm["dir"] = str(arm_dir.relative_to(out))
        arm["model"] = model
    for extra in cfg.eval_only:
        arm_dir = out / "arms" / extra.name / "seed-0"
        key = stable_hash({"eval-only": extra.model_dump()})
        ev = runner.run_eval(extra.model, key, protocol, backend=extra.backend, options=extra.options, show_progress=show_progress)
        _link(arm_dir / "eval", Path(ev["dir"]))
        atomic_write_json(arm_dir / "stages.json", [ev["stage"]])
        arms.append({"recipe": extra.name, "seed": 0, "dir": str(arm_dir.relative_to(out)), "kind": "eval-only", "model": extra.model})
    summary["arms"] = arms
    summary["reported"] = reported_rows() if cfg.reported else []
    summary["wall_time"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out / "compare.json", summary)
    t1 = time.perf_counter()
    from reports import build_report

    report_dir = build_report(out)
    summary["report_dir"] = str(report_dir)
    summary["report_seconds"] = round(time.perf_counter() - t1, 1)
    return summary


def validate(recipes: list[Recipe], cfg: CompareConfig) -> list[str]:
    """Fail before any work on unknown tasks, trainers, presets or config fields; return what was checked."""
    from tasks import get_task
    from trainers.presets import get_config
    from trainers.registry import get_trainer

    lines = []
    for spec in [cfg.train_task, *cfg.eval_tasks]:
        name, _, version = spec.partition("@")
        task = get_task(name, version or None)
        lines.append(f"task {task.name}@{task.version} registered ({'hub' if task.hub_only else 'file/hub'} data)")
    plugin = get_trainer(cfg.trainer)
    ok, detail = plugin.availability()
    lines.append(f"trainer {cfg.trainer}: {'installed' if ok else detail}")
    kinds = {s.kind for r in recipes for s in r.steps}
    for stage in ("sft", "rl"):
        if stage in kinds:
            if stage not in plugin.supports:
                raise ValueError(f"trainer {cfg.trainer!r} does not support {stage} (supports {sorted(plugin.supports)})")
            overrides = {**(cfg.sft if stage == "sft" else cfg.rl)}
            for r in recipes:
                for s in r.steps:
                    if s.kind == stage:
                        get_config(cfg.trainer_preset, stage, **{**overrides, **{k: v for k, v in s.options.items() if k != "data"}})
            lines.append(f"{stage} config valid ({cfg.trainer_preset} preset)")
    rl_options = {json.dumps(s.options, sort_keys=True) for r in recipes for s in r.steps if s.kind == "rl"}
    if len(rl_options) > 1:
        lines.append(f"WARNING: recipes use different RL options {sorted(rl_options)}: not an equal-budget comparison")
    return lines


def reported_rows() -> list[dict[str, Any]]:
    """The paper's published numbers (Tables 3 and 4), labelled as reported, never as measured."""
    from reports.reported import reported_rows as rows

    return rows()


def _link(link: Path, target: Path) -> None:
    """Point an arm's stage folder at the cached step folder (relative, so the tree can move)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == rel:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(rel, target_is_directory=True)


def print_plan(arms: list[dict[str, Any]], summary: dict[str, Any], cfg: CompareConfig) -> None:
    """The dry-run view: arms, their steps with cache keys, the frozen protocol."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Plan")
    for col in ("recipe", "seed", "steps", "evaluate"):
        table.add_column(col)
    for arm in arms:
        steps = " -> ".join(f"{s['kind']}[{s['key'][:6]}]" + (f" {json.dumps(s['options'])}" if s["options"] else "") for s in arm["steps"])
        table.add_row(arm["recipe"], str(arm["seed"]), escape(steps) or "(base model)", ", ".join(cfg.eval_tasks))
    for extra in cfg.eval_only:
        table.add_row(extra.name, "-", f"eval-only ({extra.backend}: {extra.model})", ", ".join(cfg.eval_tasks))
    console.print(table)
    console.print(f"base model: {cfg.base_model}   trainer: {cfg.trainer} ({cfg.trainer_preset})   InT preset: {cfg.int_preset}")
    console.print(escape(f"frozen eval protocol {summary['protocol_hash']}: {json.dumps(summary['protocol'])}"))


def load_compare(out: str | Path) -> dict[str, Any]:
    return read_json(Path(out) / "compare.json")
