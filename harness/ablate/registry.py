"""The studies, their options and the context each one runs in (light to import: no torch, pandas, matplotlib).

A study is a module of this package with ``run(ctx: StudyContext) -> dict``, registered in `STUDIES` by
name. `run_study` builds the context from a `harness compare` config, runs the study under one lock per
study folder and records what every result needs: the config, seeds, sizes, wall time and load average.

Layout of ``<root>/`` (default ``<config out>-ablate``, e.g. ``runs/world-blindspot-ablate``)::

    cache/                     one step cache shared by every study of this root (a step of one study --
                               e.g. InT's int step -- is reused by every other that needs the same step)
    <study>/compare/           the study's `harness compare` folder (its cache/ links to ../../cache)
    <study>/<study>.json       results, config, n, seeds, wall time, load average, versions
    <study>/<study>.md|csv|tex the table (Markdown with the paper's values and notes; CSV; LaTeX booktabs)
    <study>/<figure>.pdf|png   the figure
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# name -> (module, one line): the modules are imported only when their study runs
STUDIES: dict[str, tuple[str, str]] = {
    "sft-design": ("harness.ablate.sft_design", "Table 2: coverage and accuracy on the hard training problems after SFT "
                   "on each SFT design (InT, no filter, no prefix, + suffix, prefix only), before RL."),
    "hints": ("harness.ablate.hints", "Table 1 extended: continuations after hint alone, intervention alone, hint + "
              "intervention, beside the controls (scratch, prefix, original step)."),
    "proposer": ("harness.ablate.proposer", "Proposer ablation: the policy vs another (larger) model proposing "
                 "interventions -- location accuracy, counterfactual success, InT+RL."),
    "pass-at-k": ("harness.ablate.pass_at_k", "Figure 6: pass@k vs k up to 1,024 for the base and the InT-SFT model on "
                  "the hard training problems and the test problems."),
    "internalization": ("harness.ablate.internalization", "Figure 7: likelihood of intervention tokens before and "
                        "after InT's SFT, on problems seen in SFT and held-out problems."),
    "sft-sources": ("harness.ablate.sft_sources", "Figures 8-9: next-token entropy after SFT on each data source (InT, "
                    "references, self-reflections) and the NLL of each source under the base model."),
}
ALL_ORDER = ("sft-design", "hints", "sft-sources", "internalization", "pass-at-k", "proposer")


class StudyOptions(BaseModel):
    """What `harness ablate` takes; each study reads the fields it needs."""

    model_config = ConfigDict(extra="forbid")
    config: str | None = Field(None, description="A `harness compare` config (CompareConfig YAML): the regime -- base "
                               "model, training problems, evaluation, trainer. None: the default world.")
    out: str | None = Field(None, description="Root folder of the studies (default: the config's out + '-ablate').")
    seeds: int = Field(1, ge=1, description="Training seeds (0..seeds-1) of every trained arm.")
    samples: int = Field(16, ge=1, description="sft-design: samples per hard training problem (coverage = >= 1 correct).")
    hint_problems: int | None = Field(32, ge=1, description="hints: problems the conditions run on (None: all with an "
                                      "intervention; the paper's hint study: 176).")
    proposer_model: str | None = Field(None, description="proposer: the other model that proposes (path, hub id or "
                                       "<scheme>:<name>, e.g. world:offref-large).")
    k: int = Field(1024, ge=2, description="pass-at-k: samples per problem (pass@k up to k).")
    passk_problems: int = Field(2, ge=1, description="pass-at-k: problems per category of the training and test sets.")
    eval_batch_size: int | None = Field(None, ge=1, description="pass-at-k: the backend's batch_size for its k-sample "
                                        "evaluations (None: the config's backend options).")
    heldout_problems: int = Field(8, ge=1, description="internalization: held-out problems per category (the "
                                  "training task's test split) whose interventions the SFT never saw.")
    entropy_samples: int = Field(128, ge=1, description="sft-sources: evaluation samples per model scored for entropy "
                                 "(the first sample of each problem first).")
    learning_rates_from: str | None = Field(None, description="A tuned comparison's folder (or its tuning.json): every SFT "
                                            "and RL step of the studies takes the learning rate the sweep chose for InT's "
                                            "SFT and RL steps there (None: the config's own).")
    show_progress: bool = Field(True, description="Progress bars / lines.")
    dry_run: bool = Field(False, description="Validate the study's comparison and print its plan, preflight and overlap "
                          "check (as `harness compare --dry-run`); run nothing, write nothing under the study root.")


class StudyPlanned(Exception):
    """Raised by `StudyContext.compare` in a dry run, after the plan is printed: the study stops there."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("planned")
        self.summary = summary


@dataclass
class StudyContext:
    """What a study's ``run`` gets: its options, the comparison config, and where to write."""

    name: str
    options: StudyOptions
    cfg: Any  # CompareConfig: the regime, with the studies' common changes (`study_config`)
    root: Path
    record: dict[str, Any] = field(default_factory=dict)  # added to <study>.json

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def compare(self, recipes: list[str], *, recipes_dirs: list[str] | None = None, **updates: Any) -> Path:
        """Run `harness compare` on ``recipes`` with the study's config (plus ``updates``) into
        ``<study>/compare``, its step cache shared with every other study of this root; returns the folder."""
        from harness.compare.run import run_compare

        out = self.folder / "compare"
        cfg = self.cfg.model_copy(update={"out": str(out), **updates,
                                          "recipes_dirs": [*self.cfg.recipes_dirs, *(recipes_dirs or [])]})
        if self.options.dry_run:
            raise StudyPlanned(run_compare(recipes, cfg, dry_run=True, show_progress=False))
        share_cache(self.root / "cache", out)
        t0 = time.perf_counter()
        summary = run_compare(recipes, cfg, show_progress=self.options.show_progress)
        self.record.setdefault("comparisons", []).append({
            "recipes": recipes, "out": str(out), "wall_time_s": round(time.perf_counter() - t0, 1),
            "protocol_hash": summary.get("protocol_hash"), "eval": summary.get("protocol")})
        return out


def share_cache(shared: Path, compare_out: Path) -> None:
    """Point ``<compare_out>/cache`` at ``shared`` (relative link): steps with equal keys are done once for
    every study. Each step folder has its own lock, so two studies never write the same step at once."""
    shared.mkdir(parents=True, exist_ok=True)
    compare_out.mkdir(parents=True, exist_ok=True)
    link = compare_out / "cache"
    target = os.path.relpath(shared.resolve(), compare_out.resolve())
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.exists() and not link.is_symlink():
        raise ValueError(f"{link} is a folder of its own; the studies of {shared.parent} share one step cache "
                         "(move it away or use another --out)")
    if link.is_symlink():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)


def study_config(options: StudyOptions) -> Any:
    """The comparison config the studies run under: the given regime with the preset learning rates (no sweep),
    no compute-matched arms and no eval-only rows (an ablation compares designs at the same settings), and
    ``seeds`` training seeds."""
    from harness.compare.config import CompareConfig

    cfg = CompareConfig.from_yaml(options.config) if options.config else CompareConfig()
    steps = dict(cfg.steps)
    if options.learning_rates_from:
        for kind, lr in int_learning_rates(options.learning_rates_from).items():
            steps[kind] = {**(steps.get(kind) or {}), "learning_rate": lr}
    return cfg.model_copy(update={"tune": None, "match_compute": False, "match_flops": False, "eval_only": [],
                                  "seeds": options.seeds, "steps": steps})


def int_learning_rates(source: str) -> dict[str, float]:
    """``{"sft": lr, "rl": lr}``: the learning rates a tuned comparison's sweep chose for InT's SFT and RL steps
    (its ``tuning.json``, `harness.compare.tune`)."""
    from harness.rundir import read_json

    path = Path(source)
    path = path / "tuning.json" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tuning.json here (a comparison run with --tune writes one)")
    try:
        steps = read_json(path)["recipes"]["int"]["steps"]
        return {str(st["kind"]): float(st["chosen"]) for st in steps if st["kind"] in ("sft", "rl")}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: no learning rates chosen for recipe 'int' (recipes.int.steps[].kind/chosen): {exc}") from None


def default_root(options: StudyOptions, cfg: Any) -> Path:
    if options.out:
        return Path(options.out)
    if cfg.out:
        return Path(f"{str(cfg.out).rstrip('/')}-ablate")
    return Path("runs") / ("ablate-" + cfg.base_model.replace(":", "-").replace("/", "_"))


def run_study(name: str, options: StudyOptions) -> dict[str, Any]:
    """Run (or resume) one study; returns its results (also in ``<root>/<name>/<name>.json``)."""
    from harness.dirlock import folder_lock
    from harness.provenance import package_versions
    from harness.redact import redact_secrets
    from harness.rundir import atomic_write_json

    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")
    cfg = study_config(options)
    if options.dry_run:  # the study's recipes are written into a scratch root; its comparison is only planned
        import tempfile

        with tempfile.TemporaryDirectory(prefix=f"ablate-{name}-") as tmp:
            ctx = StudyContext(name=name, options=options, cfg=cfg, root=Path(tmp))
            try:
                importlib.import_module(STUDIES[name][0]).run(ctx)
            except StudyPlanned as planned:
                return {"study": name, "dry_run": True, "recipes": planned.summary.get("recipes"),
                        "root": str(default_root(options, cfg))}
        raise RuntimeError(f"study {name!r} ran no comparison to plan")  # every study runs one: a bug
    ctx = StudyContext(name=name, options=options, cfg=cfg, root=default_root(options, cfg))
    ctx.folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(ctx.folder, what="study folder"):
        load0, t0 = os.getloadavg(), time.perf_counter()
        result = importlib.import_module(STUDIES[name][0]).run(ctx)
        wall = time.perf_counter() - t0
        this = {"wall_time_s": round(wall, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "load_average": {"start": [round(x, 2) for x in load0], "end": [round(x, 2) for x in os.getloadavg()]}}
        # every invocation is kept: a resumed or cached re-run must not overwrite the time the work took
        previous = ctx.folder / f"{name}.json"
        invocations = [*_invocations(previous), this]
        result = {
            "study": name, "description": STUDIES[name][1], **result,
            "options": options.model_dump(), "config": redact_secrets(cfg.model_dump()),
            "base_model": cfg.base_model, "seeds": list(range(cfg.seeds)), **ctx.record,
            "wall_time_s": round(sum(i["wall_time_s"] for i in invocations), 1), "invocations": invocations,
            "load_average": this["load_average"], "cpu_count": os.cpu_count(), "versions": package_versions(),
        }
        atomic_write_json(ctx.folder / f"{name}.json", result)
        from reports.ablations import render_study

        result["files"] = [str(p) for p in render_study(ctx.folder / f"{name}.json")]
    return result


def _invocations(path: Path) -> list[dict[str, Any]]:
    """The earlier invocations a study's JSON records (a JSON written before they were kept: its one run)."""
    import json

    if not path.is_file():
        return []
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if "invocations" in old:
        return list(old["invocations"])
    return [{"wall_time_s": old.get("wall_time_s", 0.0), "load_average": old.get("load_average")}]
