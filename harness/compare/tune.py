"""Fair baselines: every arm's learning rates picked by the same small sweep on a validation split.

WHY: a comparison whose baseline runs at an untuned learning rate measures the learning rate, not the
method. Before the reported arms train, each recipe of the comparison is tuned the same way, with the
same budget: for every step that has a ``learning_rate`` option (the trainer steps: SFT and RL), in recipe
order, each value of the grid is tried with the values already chosen for the earlier steps (coordinate
search: an SFT -> RL recipe costs 2 x grid - 1 runs, an RL-only recipe grid runs). Every candidate trains
with a seed of its own (`TuneConfig.seed`, never one of the reported seeds) and is evaluated on the
validation problems -- by default the evaluation tasks' *train* split minus every training problem and
minus any exact or near duplicate of a test problem (the decontamination test) -- under the frozen
protocol's sampling, k and grader. The best validation avg@k wins (ties: the smaller learning rate). The
chosen values are written into the recipes as explicit options, so the reported arms (and their
compute-matched twins) train with them; ``tuning.json`` records the grid, every validation score, the
choice and what the sweep cost (generated and trained tokens, wall time), and the report shows them.

Steps that do not depend on the learning rate (an ``int`` or ``reflect`` step) have the same cache key in
every candidate, so they run once per recipe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.compare.config import TuneConfig

LR = "learning_rate"
__all__ = ["TuneConfig", "drop_overlap", "tunable_steps", "tune_recipes", "validation_settings", "with_learning_rates"]


def tunable_steps(recipe: Any) -> list[int]:
    """Indices of the recipe's steps whose kind takes a learning rate."""
    from harness.compare.steps import get_step_kind

    return [i for i, s in enumerate(recipe.steps) if LR in get_step_kind(s.kind).Options.model_fields]


def with_learning_rates(recipe: Any, lrs: dict[int, float], name: str | None = None) -> Any:
    """A copy of ``recipe`` whose steps ``lrs`` keys set their learning rate explicitly."""
    from harness.recipes import Recipe, Step

    steps = [Step(kind=s.kind, options={**s.options, LR: lrs[i]}) if i in lrs else s for i, s in enumerate(recipe.steps)]
    return Recipe(name=name or recipe.name, description=recipe.description, steps=steps, source=recipe.source)


def validation_settings(cfg: Any, train_ids: set[str]) -> Any:
    """The evaluation protocol on the validation problems (the training problems excluded by id)."""
    base = cfg.eval_settings()
    tune = cfg.tune
    if tune.validation is not None:
        v = tune.validation.with_data_dir(cfg.data_dir)
        ids = sorted(train_ids | set(v.exclude_ids))
        return base.model_copy(update={"tasks": [v.task], "split": v.split, "per_category": v.per_category,
                                       "limit": v.limit, "exclude": {v.task: ids}})
    return base.model_copy(update={"split": "train", "exclude": {t: sorted(train_ids) for t in base.tasks}})


def drop_overlap(val: Any, cfg: Any) -> tuple[Any, int]:
    """The validation settings without any problem that is an exact or near duplicate of an evaluation
    problem (`harness.decontam`, the same test as train vs eval), and how many were dropped: a learning
    rate must not be chosen on (near) copies of the test problems."""
    from harness.decontam import check_overlap

    exclude = {t: set(ids) for t, ids in val.exclude.items()}
    dropped = 0
    for test_set in cfg.eval_settings().problem_sets():
        report = check_overlap(test_set.model_copy(update={"per_category": None, "limit": None, "exclude_ids": ()}),
                               val.problem_sets(), mode="exclude", allow=False)
        for task, ids in report.exclude.items():
            new = set(ids) - exclude.get(task, set())
            dropped += len(new)
            exclude[task] = exclude.get(task, set()) | new
    return val.model_copy(update={"exclude": {t: sorted(ids) for t, ids in exclude.items()}}), dropped


def _score(eval_dir: Path) -> float:
    """Mean over tasks of avg@k in an evaluation run directory's results.json."""
    res = json.loads((eval_dir / "results.json").read_text())
    vals = [t["metrics"]["avg@k"] for t in res["tasks"].values() if t["metrics"].get("n_problems")]
    if not vals:
        raise ValueError(f"{eval_dir}: the validation evaluation scored no problem")
    return sum(vals) / len(vals)


def tune_recipes(recipes: list[Any], cfg: Any, runner: Any, base_key: str) -> tuple[list[Any], dict[str, Any]]:
    """Run the sweep for every trained recipe; returns the recipes with the chosen learning rates and the
    record written to ``tuning.json``."""
    from harness.compare.plan import eval_key, make_plan
    from harness.ui import status_line

    train_ids = {p.id for p in cfg.train_set().load()[1]}
    val, dropped = drop_overlap(validation_settings(cfg, train_ids), cfg)
    protocol = {**val.protocol(), "purpose": "learning-rate validation"}
    sweep_cfg = cfg.model_copy(update={"include_base": False, "match_compute": False, "tune": None})
    record: dict[str, Any] = {"grid": cfg.tune.learning_rates, "seed": cfg.tune.seed, "validation": val.protocol()["problems"],
                              "validation_dropped_near_test": dropped,
                              "selection": "highest validation avg@k; ties: the smaller learning rate", "recipes": {}}
    out = []
    for recipe in recipes:
        steps = tunable_steps(recipe)
        if not steps:
            out.append(recipe)
            continue
        chosen: dict[int, float] = {}
        rows, cost = [], {"runs": 0, "tokens_generated": 0, "tokens_trained": 0, "eval_tokens": 0, "wall_time": 0.0}
        seen_steps: set[str] = set()
        for i in steps:
            scores: dict[float, float] = {}
            for lr in cfg.tune.learning_rates:
                cand = with_learning_rates(recipe, {**chosen, i: lr}, name=f"{recipe.name}~tune")
                plan = make_plan([cand], sweep_cfg, base_key, seeds=[cfg.tune.seed])
                arm = plan.arms[0]
                records = runner.run_arm(arm, plan, {}, link=False)
                for rec, step in zip(records, arm.steps, strict=True):
                    if step.key not in seen_steps:  # a step shared by candidates (e.g. int) is paid once
                        seen_steps.add(step.key)
                        cost["tokens_generated"] += rec["compute"]["tokens_generated"]
                        cost["tokens_trained"] += rec["compute"]["tokens_trained"]
                        cost["wall_time"] += float(rec["compute"].get("wall_time") or 0.0)  # as recorded: a resumed sweep costs what it cost
                ev = runner.run_validation(runner.models[(arm.name, arm.seed)], arm.model_key or "", val,
                                           eval_key(arm.model_key or "", protocol), label=f"tune {recipe.name} step {i + 1} lr {lr:g}")
                cost["eval_tokens"] += ev["stage"]["tokens_generated"]
                cost["wall_time"] += float(ev["stage"].get("wall_time") or 0.0)
                cost["runs"] += 1
                scores[lr] = _score(Path(ev["dir"]))
            best = max(sorted(scores), key=lambda lr: (scores[lr], -lr))
            chosen[i] = best
            rows.append({"step": i + 1, "kind": recipe.steps[i].kind, "validation_avg": {f"{k:g}": round(v, 4) for k, v in scores.items()},
                         "chosen": best})
            status_line(f"tune {recipe.name}: step {i + 1} ({recipe.steps[i].kind}) learning rate {best:g} "
                        f"(validation avg@k {', '.join(f'{k:g}: {100 * v:.1f}' for k, v in scores.items())})")
        cost["wall_time"] = round(cost["wall_time"], 1)
        record["recipes"][recipe.name] = {"steps": rows, "cost": cost}
        out.append(with_learning_rates(recipe, chosen))
    return out, record
