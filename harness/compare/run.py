"""`harness compare A B [C ...]`: train each recipe's arm, evaluate every checkpoint on one frozen protocol,
and write a paired, compute-accounted report.

Layout of ``<out>/``::

    compare.json                  recipes, seeds, frozen eval protocol (+ hash), arms, checks, overlap
    cache/<kind>-<key>/           one folder per executed step; <key> hashes the previous step's key and
                                  the step's resolved settings, so arms (and re-runs) that share a prefix
                                  of steps share the work; ``step.json`` (written last) marks it done
    cache/eval-<key>/             one evaluation run directory per checkpoint
    arms/<name>/seed-<s>/         stages.json (compute per step), links eval/ int/ sft/ rl/ into cache/,
                                  analysis/sft_stats.json
    report/                       leaderboard.csv, report.md, index.html, figures/, samples.parquet

Fairness rules: every arm starts from the same base model; RL steps use one `RLConfig` unless a recipe
overrides it (reported); every checkpoint is evaluated with the same problems, prompts, sampling, k,
grader and token budget; train/eval overlap refuses to run unless excluded or explicitly allowed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from harness.compare.config import CompareConfig
from harness.compare.plan import Arm, Plan, describe_steps, eval_key, make_plan, plan_rows, step_key
from harness.compare.steps import ResolveContext, StepOutput
from harness.compare.verify import verify_cached_step
from harness.compare.worker import run_job
from harness.dirlock import folder_lock
from harness.provenance import package_versions, stable_hash
from harness.recipes import load_recipe
from harness.redact import redact_secrets
from harness.rundir import atomic_write_json, read_json
from harness.ui import console, status_line


def base_identity(cfg: CompareConfig) -> dict[str, Any]:
    """The base model as every cache key starts from it: its weights' identity (resolving world:<preset>
    builds it if needed), not its path, so a moved or rebuilt-identical model keeps the cache."""
    from harness.models import model_identity

    return model_identity(cfg.base_model)


def eval_protocol(cfg: CompareConfig, exclude: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The frozen evaluation protocol every checkpoint is measured under (hashed into compare.json)."""
    settings = eval_settings(cfg, exclude)
    protocol = settings.protocol()
    protocol["token_budget"] = settings.sampling.max_tokens
    return protocol


def eval_settings(cfg: CompareConfig, exclude: dict[str, list[str]] | None = None) -> Any:
    """The comparison's `EvalSettings`, with held-out exclusions from decontamination applied per task."""
    settings = cfg.eval_settings()
    if exclude:
        settings = settings.model_copy(update={"exclude": {k: sorted(v) for k, v in exclude.items() if v}})
    return settings


def run_compare(recipe_names: list[str], cfg: CompareConfig, *, dry_run: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a comparison and build its report; with ``dry_run`` only validate and print the plan."""
    from harness.decontam import check_overlap

    recipes = [load_recipe(n, cfg.recipes_dirs) for n in recipe_names]
    out = cfg.default_out(recipe_names)
    overlap = check_overlap(cfg.train_set(), cfg.eval_settings().problem_sets(), mode=cfg.decontaminate,
                            allow=cfg.allow_overlap)
    base = {"name": cfg.base_model} if dry_run else base_identity(cfg)
    plan = make_plan(recipes, cfg, stable_hash({"base": base}), missing_data_ok=dry_run)
    protocol = eval_protocol(cfg, overlap.exclude)
    summary: dict[str, Any] = {
        "recipes": recipe_names,
        "recipe_sources": {r.name: r.source for r in recipes},
        "seeds": list(range(cfg.seeds)),
        "config": redact_secrets(cfg.model_dump()),
        "protocol": protocol,
        "protocol_hash": stable_hash(protocol),
        "versions": package_versions(),
        "checks": plan.checks,
        "overlap": overlap.to_dict(),
        "base_model_identity": base,
        "base_model_name": cfg.base_model,
    }
    pre = preflight(plan, cfg, overlap)
    summary["preflight"] = pre.to_dict()
    if dry_run:
        print_plan(plan, summary, cfg)
        from harness.compare.preflight import print_preflight

        print_preflight(pre)
    if pre.problems:
        worst = pre.problems[0]
        raise PlanDoesNotFit(f"stage {worst.stage} of arm {worst.arm!r} does not fit: {worst.problem}"
                             + (f" (and {len(pre.problems) - 1} more stages)" if len(pre.problems) > 1 else ""))
    if dry_run:
        return summary
    with folder_lock(out, what="comparison folder"):  # one writer: a second `harness compare` is refused
        return _run_locked(cfg, out, plan, pre, protocol, overlap, summary, show_progress, recipes)


def _run_locked(cfg: CompareConfig, out: Path, plan: Plan, pre: Any, protocol: dict[str, Any], overlap: Any,
                summary: dict[str, Any], show_progress: bool, recipes: list[Any]) -> dict[str, Any]:
    """`run_compare`'s work, under the comparison folder's lock."""
    _announce(plan, pre, out)
    t0 = time.perf_counter()
    runner = Runner(cfg, out, show_progress)
    summary["base_model"] = runner.base_model
    if cfg.tune is not None:  # fair baselines: every recipe's learning rates from the same sweep, then the plan again
        from harness.compare.tune import tune_recipes

        recipes, summary["tuning"] = tune_recipes(recipes, cfg, runner, plan.base_key)
        atomic_write_json(out / "tuning.json", summary["tuning"])
        plan = make_plan(recipes, cfg, plan.base_key)
        summary["recipe_steps"] = {r.name: [s.model_dump() for s in r.steps] for r in recipes}
    finished: dict[tuple[str, int], list[dict[str, Any]]] = {}
    order = [a for a in plan.arms if not a.depends_on] + [a for a in plan.arms if a.depends_on]
    for arm in order:
        steps = runner.run_arm(arm, plan, finished)
        finished[(arm.name, arm.seed)] = [s["compute"] for s in steps]
    for arm in plan.arms:
        runner.evaluate(arm, protocol, overlap.exclude)
    extra_rows = [runner.evaluate_extra(extra, protocol, overlap.exclude) for extra in cfg.eval_only]
    runner.sft_stats(plan)
    rows = plan_rows(plan)
    for row, arm in zip(rows, plan.arms, strict=True):
        row["dir"] = str(Path("arms") / arm.name / f"seed-{arm.seed}")
        row["model"] = runner.models.get((arm.name, arm.seed))
    summary["arms"] = rows + [r for r in extra_rows if r]
    summary["reported"] = reported_rows() if cfg.reported else []
    summary["wall_time"] = round(time.perf_counter() - t0, 1)
    atomic_write_json(out / "compare.json", summary)
    t1 = time.perf_counter()
    from reports import build_report

    summary["report_dir"] = str(build_report(out))
    summary["report_seconds"] = round(time.perf_counter() - t1, 1)
    return summary


def _announce(plan: Plan, pre: Any, out: Path) -> None:
    """One line before the work: what is about to run, what is cached, and the preflight's token estimate."""
    from harness.compare.preflight import _n

    steps = {(s.kind.name, s.key) for a in plan.arms for s in a.steps}
    cached = sum(1 for kind, key in steps if key and (out / "cache" / f"{kind}-{key}" / "step.json").exists())
    generated = sum(s.tokens_generated for s in pre.stages)
    status_line(f"compare: {len({a.name for a in plan.arms})} arms x {len({a.seed for a in plan.arms})} seeds, "
                f"{len(steps)} training steps ({cached} already cached) and {len(plan.arms)} evaluations; "
                f"preflight estimate ~{_n(generated)} generated tokens for one seed "
                f"(`--dry-run` prints the plan per stage); results in {out}")


class PlanDoesNotFit(ValueError):
    """The preflight found a stage whose memory estimate exceeds the device."""


def preflight(plan: Plan, cfg: CompareConfig, overlap: Any) -> Any:
    """Per-stage generations, tokens, memory and GPU-hours (harness.compare.preflight)."""
    from harness.compare.preflight import estimate
    from tasks import DataNotFoundError

    def count(ps: Any) -> int | None:
        try:
            return len(ps.load()[1])
        except DataNotFoundError:
            return ps.resolve_task().size  # the documented size, for planning

    n_train = count(cfg.train_set())
    by_task = {t["task"]: t for t in overlap.tasks}
    n_eval = {}
    for ps in eval_settings(cfg, overlap.exclude).problem_sets():
        info = by_task.get(ps.spec, {})
        n = count(ps)
        if n is not None and not info.get("checked", True) and info.get("documented_overlap") and cfg.decontaminate == "exclude":
            n -= info["documented_overlap"]  # unchecked here: the documented overlap will be held out
        n_eval[ps.spec] = n or 0
    return estimate(plan, cfg, n_train, n_eval)


class Runner:
    """Executes steps into ``<out>/cache/<kind>-<key>/`` (each in its own process by default)."""

    def __init__(self, cfg: CompareConfig, out: Path, show_progress: bool) -> None:
        from harness.models import resolve_model

        self.cfg, self.out, self.show_progress = cfg, out, show_progress
        self.base_model = resolve_model(cfg.base_model)
        self.models: dict[tuple[str, int], str] = {}
        self.isolated = cfg.isolation == "process" or (cfg.isolation == "auto" and _gpu_present())
        self._verified: set[Path] = set()

    def _done(self, folder: Path) -> dict[str, Any] | None:
        """The step record of a finished step folder, verified (`harness.compare.verify`), else None."""
        marker = folder / "step.json"
        if not marker.exists():
            return None
        record = read_json(marker)
        if folder.resolve() not in self._verified:  # shared steps are verified once per run
            verify_cached_step(folder, record)
            self._verified.add(folder.resolve())
        return record

    def run_arm(self, arm: Arm, plan: Plan, finished: dict[tuple[str, int], list[dict[str, Any]]], *,
                link: bool = True) -> list[dict[str, Any]]:
        """Every step of one arm, in order; returns their step records (with compute). ``link``: give the arm
        its ``arms/<name>/seed-<s>/`` folder (a learning-rate sweep's candidates have none)."""
        arm_dir = self.out / "arms" / arm.name / f"seed-{arm.seed}"
        model, artifacts, key, spent, spent_flops = self.base_model, {}, plan.base_key, 0, 0.0
        records, stages, seen = [], [], {}
        for i, step in enumerate(arm.steps):
            if step.key is None:  # dynamic: resolve now that the arms it depends on have finished
                ctx = ResolveContext(config=self.cfg, seed=arm.seed, recipe=arm.recipe.name, index=i,
                                     earlier=tuple(s.kind.name for s in arm.steps[:i]),
                                     arm_compute=lambda name, seed: finished.get((name, seed)), spent=spent,
                                     spent_flops=spent_flops)
                step.settings = step.kind.resolve(step.options, ctx)
                step.key = step_key(key, step.kind.name, step.kind.key_settings(step.settings))
            key = step.key
            rec = self.run_step(step.kind.name, step.key, step.settings or {}, model, artifacts,
                                label=f"{arm.name} seed {arm.seed}: {step.kind.name}")
            out = StepOutput.from_dict(rec["output"])
            model = out.model or model
            artifacts = {**artifacts, **out.artifacts}
            spent += out.compute.tokens_generated
            spent_flops += out.compute.flops_generated + out.compute.flops_trained
            records.append(rec["output"])
            n = seen[step.kind.name] = seen.get(step.kind.name, 0) + 1
            if link:
                _link(arm_dir / (step.kind.name if n == 1 else f"{step.kind.name}-{n}"), Path(rec["dir"]))
            stages.append(_stage(step.kind.name, out))
        arm.model_key = key
        self.models[(arm.name, arm.seed)] = model
        if link:
            atomic_write_json(arm_dir / "stages.json", stages)
        return records

    def run_step(self, kind: str, key: str, settings: dict[str, Any], model: str, artifacts: dict[str, str], *,
                 label: str) -> dict[str, Any]:
        folder = self.out / "cache" / f"{kind}-{key}"
        done = self._done(folder)
        if done is not None:
            status_line(f"{label}: cached ({folder.name})")
            return done
        with folder_lock(folder, what="step folder"):
            return self._run_step(folder, kind, key, settings, model, artifacts, label=label)

    def _run_step(self, folder: Path, kind: str, key: str, settings: dict[str, Any], model: str, artifacts: dict[str, str],
                  *, label: str) -> dict[str, Any]:
        atomic_write_json(folder / "settings.json", redact_secrets({"kind": kind, "key": key, "settings": settings}))
        status_line(f"{label}: running in {folder}")
        t0 = time.perf_counter()
        payload = {"kind": kind, "settings": settings, "model": model, "folder": str(folder),
                   "artifacts": artifacts, "show_progress": self.show_progress}
        output = run_job("harness.compare.worker:run_step", payload, folder, isolated=self.isolated, label=label)
        wall = round(time.perf_counter() - t0, 2)
        output["compute"]["wall_time"] = wall
        record = {"kind": kind, "key": key, "dir": str(folder), "output": output}
        atomic_write_json(folder / "step.json", record)
        c = output["compute"]
        status_line(f"{label}: done in {wall:.0f}s (generated {c['tokens_generated']:,} tokens"
                    + (f" + {c['tokens_generated_diagnostic']:,} diagnostic" if c["tokens_generated_diagnostic"] else "")
                    + f", trained {c['tokens_trained']:,})")
        return record

    # -- evaluation ----------------------------------------------------------------------------------
    def _eval_config(self, model: str, folder: Path, exclude: dict[str, list[str]] | None, *, backend: str | None = None,
                     options: dict[str, Any] | None = None, sampling: Any = None, answer_after: str | None = None,
                     settings: Any = None) -> dict[str, Any]:
        from harness.evaluate import EvalConfig

        settings = settings if settings is not None else eval_settings(self.cfg, exclude)
        data = settings.model_dump()
        if sampling is not None:
            data["sampling"] = sampling.model_dump()
        return EvalConfig(**data, model=model, backend=backend or self.cfg.backend,
                          backend_options=options if options is not None else self.cfg.backend_options,
                          out=str(folder), grader_workers=1, batch_problems=32, answer_after=answer_after).model_dump()

    def _run_eval(self, model: str, key: str, protocol: dict[str, Any], exclude: dict[str, list[str]] | None, label: str,
                  **kw: Any) -> dict[str, Any]:
        folder = self.out / "cache" / f"eval-{eval_key(key, protocol)}"
        done = self._done(folder)
        if done is not None:
            status_line(f"{label}: evaluation cached ({folder.name})")
            return done
        status_line(f"{label}: evaluating")
        t0 = time.perf_counter()
        payload = {"config": self._eval_config(model, folder, exclude, **kw), "show_progress": self.show_progress}
        result = run_job("harness.compare.worker:run_eval_job", payload, folder, isolated=self.isolated, label=f"{label}: eval")
        record = {"dir": str(folder), "model": model, "peak_rss_gib": result.get("peak_rss_gib"),
                  "stage": {"stage": "eval", "tokens_generated": result["tokens_generated"], "tokens_generated_diagnostic": 0,
                            "tokens_trained": 0, "wall_time": round(time.perf_counter() - t0, 2)}}
        atomic_write_json(folder / "step.json", record)
        return record

    def run_validation(self, model: str, model_key: str, settings: Any, key: str, *, label: str) -> dict[str, Any]:
        """Evaluate a sweep candidate on the validation problems (`harness.compare.tune`), cached by ``key``."""
        return self._run_eval(model, model_key, {"validation": key}, None, label, settings=settings)

    def evaluate(self, arm: Arm, protocol: dict[str, Any], exclude: dict[str, list[str]] | None) -> None:
        arm_dir = self.out / "arms" / arm.name / f"seed-{arm.seed}"
        model = self.models[(arm.name, arm.seed)]
        ev = self._run_eval(model, arm.model_key or "", protocol, exclude, f"{arm.name} seed {arm.seed}")
        _link(arm_dir / "eval", Path(ev["dir"]))
        stages = read_json(arm_dir / "stages.json") if (arm_dir / "stages.json").exists() else []
        stages = [s for s in stages if s["stage"] != "eval"] + [ev["stage"]]
        atomic_write_json(arm_dir / "stages.json", stages)

    def evaluate_extra(self, extra: Any, protocol: dict[str, Any], exclude: dict[str, list[str]] | None) -> dict[str, Any] | None:
        """An eval-only row (same problems; its own sampling if it declares one, which the report marks)."""
        from harness.backends import check_model
        from harness.models import is_available

        if extra.optional and not is_available(extra.model):
            status_line(f"{extra.name}: skipped ({extra.model} is not built or downloaded here; optional row)")
            return None
        check_model(extra.backend, extra.model)
        row_protocol = {**protocol, **({"sampling": extra.sampling.model_dump()} if extra.sampling else {}),
                        **({"answer_after": extra.answer_after} if extra.answer_after else {})}
        key = stable_hash({"eval-only": extra.model_dump(exclude={"name", "optional"})})
        ev = self._run_eval(extra.model, key, row_protocol, exclude, extra.name, backend=extra.backend,
                            options=extra.options, sampling=extra.sampling, answer_after=extra.answer_after)
        arm_dir = self.out / "arms" / extra.name / "seed-0"
        _link(arm_dir / "eval", Path(ev["dir"]))
        atomic_write_json(arm_dir / "stages.json", [ev["stage"]])
        return {"recipe": extra.name, "seed": 0, "dir": str(arm_dir.relative_to(self.out)), "kind": "eval-only",
                "role": "eval-only", "model": extra.model, "protocol_differs": extra.sampling is not None or bool(extra.answer_after),
                "answer_after": extra.answer_after,
                "sampling": (extra.sampling or self.cfg.eval.sampling).model_dump()}

    def sft_stats(self, plan: Plan) -> None:
        """NLL and entropy of each training-data source under the base model (paper Figs. 8-9), once per arm,
        on at most ``sft_stats_rows`` rows per source, in a child process (on the GPU when there is one).
        A source is what a step trained on, as its summary names it (``data``, ``data_source``)."""
        for arm in plan.arms:
            arm_dir = self.out / "arms" / arm.name / f"seed-{arm.seed}"
            target = arm_dir / "analysis" / "sft_stats.json"
            if target.exists():
                continue
            sources = {}
            for step_ in arm.steps:
                step = self._done(self.out / "cache" / f"{step_.kind.name}-{step_.key}") if step_.key else None
                summary = (step or {}).get("output", {}).get("summary", {})
                data = summary.get("data")
                if data and summary.get("data_source") and Path(data).exists() and Path(data).stat().st_size > 0:
                    sources[summary["data_source"]] = data
            if not sources:
                continue
            payload = {"model": self.base_model, "sources": sources, "max_rows": self.cfg.sft_stats_rows}
            stats = run_job("harness.compare.worker:run_sft_stats", payload, arm_dir / "analysis", isolated=self.isolated,
                            label=f"{arm.name} seed {arm.seed}: sft stats")
            atomic_write_json(target, stats)


def _gpu_present() -> bool:
    """A CUDA device is visible (checked without initialising CUDA in this process: the steps' processes do)."""
    import os

    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    try:
        import torch

        return torch.cuda.device_count() > 0
    except ImportError:
        return False


def _stage(kind: str, out: StepOutput) -> dict[str, Any]:
    c = out.compute
    return {"stage": kind, "tokens_generated": c.tokens_generated, "tokens_generated_diagnostic": c.tokens_generated_diagnostic,
            "tokens_trained": c.tokens_trained, "flops_generated": c.flops_generated,
            "flops_generated_diagnostic": c.flops_generated_diagnostic, "flops_trained": c.flops_trained,
            "wall_time": c.wall_time, "skipped": out.summary.get("skipped")}


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


def print_plan(plan: Plan, summary: dict[str, Any], cfg: CompareConfig) -> None:
    """The dry-run view: arms and their steps with cache keys, checks, overlap, the frozen protocol."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Plan")
    for col in ("arm", "seed", "steps", "evaluate"):
        table.add_column(col, overflow="fold")
    for arm in plan.arms:
        table.add_row(arm.name, str(arm.seed), escape(describe_steps(arm)), ", ".join(cfg.eval.tasks))
    for extra in cfg.eval_only:
        table.add_row(extra.name, "-", escape(f"eval-only ({extra.backend}: {extra.model})"), ", ".join(cfg.eval.tasks))
    console.print(table)
    console.print(escape(f"base model: {cfg.base_model}   trainer: {cfg.trainer} ({cfg.trainer_preset})   "
                         f"step defaults: {json.dumps(cfg.steps, sort_keys=True)}"))
    console.print(escape(f"training problems: {cfg.train_set().describe()}"))
    for line in summary["checks"]:
        console.print(escape(f"  check: {line}"))
    for line in summary["overlap"]["lines"]:
        console.print(escape(f"  overlap: {line}"))
    console.print(escape(f"frozen eval protocol {summary['protocol_hash']}: {json.dumps(summary['protocol'])}"))


def load_compare(out: str | Path) -> dict[str, Any]:
    return read_json(Path(out) / "compare.json")


__all__ = ["Runner", "eval_protocol", "load_compare", "run_compare"]
