"""Step kind ``rl``: outcome-reward RL on the training problems through the comparison's trainer plugin.

Every `RLConfig` field is an option. Two more make the paper's baselines and fair comparisons one line:

* ``hint_fraction`` / ``hint_length`` -- hint-guided RL (the paper's strongest non-InT baseline, in the
  style of POPE/QuestA): at every RL step a fresh seeded ``hint_fraction`` of that step's problems start
  the assistant turn with the first ``hint_length`` of their reference solution's substeps (never its
  final answer); the policy continues it. The problems of each step and their hints are a schedule
  written before training (`rl_schedule`), taken in order by the trainer (``shuffle: false``).
* ``match_compute_of: <recipe>`` -- compute matching: train until this arm's required generated tokens
  equal those of that recipe's arm with the same seed (known only once it ran, so the budget is resolved
  at run time and is part of the cache key). RL stops after the step in which the budget is reached.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pydantic import Field

from harness.compare.kinds._trainer import keyed_settings, options_model, overrides, run_name, trainer
from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput
from harness.intervention.steps import hint_prefix  # the one definition of a hint (also the continue stage's)
from trainers.base import RLConfig

EXTRA = ("hint_fraction", "hint_length", "match_compute_of", "match_flops_of", "flops_rate_of", "max_steps_factor")
RLOptions = options_model(
    "RLOptions", RLConfig,
    {
        "hint_fraction": (float, Field(0.0, ge=0, le=1, description="Share of problems whose prompt carries a reference-solution prefix as a hint.")),
        "hint_length": (float, Field(0.5, gt=0, lt=1, description="Share of the reference's substeps (final answer excluded) shown as the hint.")),
        "match_compute_of": (str | None, Field(None, description="Train until this arm's required generated tokens equal that recipe's arm's (same seed).")),
        "match_flops_of": (str | None, Field(None, description="Train until this arm's FLOPs (generation + training) equal that recipe's arm's "
                                             "(same seed); the FLOPs budget becomes a token budget at flops_rate_of's measured FLOPs per generated token.")),
        "flops_rate_of": (str | None, Field(None, description="The recipe whose finished RL step gives the FLOPs per generated token "
                                            "that converts a match_flops_of budget (this recipe's own equal-steps arm).")),
        "max_steps_factor": (float, Field(1.0, gt=0, description="Multiply the preset's (or comparison's) max_steps, e.g. 4 for 'RL-only at 4x the steps'.")),
    },
    skip=("seed", "run_name"),
)
BUDGET_STEP_CAP = 10  # with a token budget, max_steps defaults to this many times the comparison's (else the preset's) steps: a cap, not a target


class RLStep(StepKind):
    name = "rl"
    description = "Outcome-reward RL (GRPO-style) on the training problems; RLConfig fields, hints and compute matching as options."
    Options = RLOptions

    def dynamic(self, options: StepOptions) -> bool:
        return bool(options.match_compute_of or options.match_flops_of)  # type: ignore[attr-defined]

    def _config(self, options: StepOptions, ctx: ResolveContext, budget: int | None) -> RLConfig:
        from trainers.presets import get_config

        cfg = ctx.config
        over = {"run_name": run_name(ctx, self.name), **cfg.rl, **overrides(options, exclude=EXTRA), "seed": ctx.seed}
        factor = options.max_steps_factor  # type: ignore[attr-defined]
        if factor != 1.0 and "max_steps" not in overrides(options, exclude=EXTRA):
            base_steps = cfg.rl.get("max_steps") or get_config(cfg.trainer_preset, "rl").max_steps
            over["max_steps"] = max(1, round(float(base_steps) * factor))
        if budget is not None:
            over["max_generated_tokens"] = budget
            if "max_steps" not in overrides(options, exclude=EXTRA):  # the comparison's steps (or the preset's) x cap
                over["max_steps"] = BUDGET_STEP_CAP * int(cfg.rl.get("max_steps") or get_config(cfg.trainer_preset, "rl").max_steps)
        return get_config(cfg.trainer_preset, "rl", **over)  # type: ignore[return-value]

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return keyed_settings(settings)

    def validate(self, options: StepOptions, ctx: ResolveContext) -> list[str]:
        plugin = trainer(ctx.config.trainer)
        if "rl" not in plugin.supports:
            raise ValueError(f"trainer {ctx.config.trainer!r} does not support rl (supports {sorted(plugin.supports)})")
        from tasks import DataNotFoundError

        config = self._config(options, ctx, 0 if self.dynamic(options) else None)
        try:
            n = len(rl_rows(ctx.config.train_set(), 0.0, 0.5, 0))
        except DataNotFoundError:
            lines = [f"rl config valid ({ctx.config.trainer_preset} preset); training problems not available here"]
        else:
            config.require_problems(n)
            lines = [f"rl config valid ({ctx.config.trainer_preset} preset, {n} problems)"]
        if options.hint_fraction:  # type: ignore[attr-defined]
            lines.append(f"rl hints: {options.hint_fraction:.0%} of problems, {options.hint_length:.0%} of the reference")  # type: ignore[attr-defined]
        if options.match_flops_of:  # type: ignore[attr-defined]
            lines.append(f"rl budget: the FLOPs of arm {options.match_flops_of!r} (resolved at run time)")  # type: ignore[attr-defined]
        elif self.dynamic(options):
            lines.append(f"rl budget: the required generated tokens of arm {options.match_compute_of!r} (resolved at run time)")  # type: ignore[attr-defined]
        return lines

    def resolve(self, options: StepOptions, ctx: ResolveContext) -> dict[str, Any]:
        budget = None
        if options.match_compute_of:  # type: ignore[attr-defined]
            target = options.match_compute_of  # type: ignore[attr-defined]
            other = ctx.arm_compute(target, ctx.seed) if ctx.arm_compute else None
            if other is None:
                raise ValueError(f"recipe {ctx.recipe!r}: match_compute_of {target!r} needs that recipe in the comparison")
            budget = sum(int(c["tokens_generated"]) for c in other) - ctx.spent
        elif options.match_flops_of:  # type: ignore[attr-defined]
            budget = flops_budget_tokens(options, ctx)
        train = ctx.config.train_set()
        config = self._config(options, ctx, budget)
        if options.hint_fraction:  # type: ignore[attr-defined]
            config = RLConfig(**{**config.to_dict(), "shuffle": False})  # the schedule fixes the order
        return {
            "trainer": ctx.config.trainer,
            "config": config.to_dict(),
            "problems": train.model_dump(),
            "problems_key": train.key(),
            "hints": {"fraction": options.hint_fraction, "length": options.hint_length},  # type: ignore[attr-defined]
            "hint_schedule": "redrawn every step" if options.hint_fraction else None,  # type: ignore[attr-defined]
            "match_compute_of": options.match_compute_of,  # type: ignore[attr-defined]
            "match_flops_of": options.match_flops_of,  # type: ignore[attr-defined]
        }

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        from harness.rundir import write_jsonl
        from tasks import ProblemSet

        config = RLConfig(**settings["config"])
        if config.max_generated_tokens is not None and config.max_generated_tokens <= 0:
            return StepOutput(summary={"skipped": "the token budget was spent before RL (compute matching)", "steps": 0,
                                       "config": settings["config"]})
        hints = settings["hints"]
        rows = rl_rows(ProblemSet(**settings["problems"]), hints["fraction"], hints["length"], config.seed)
        if hints["fraction"] > 0:  # a per-step schedule: which problems get a hint is re-drawn every step
            rows = rl_schedule(rows, hints["fraction"], config.max_steps, config.prompts_per_step, config.seed)
        problems = write_jsonl(Path(inputs.folder) / "problems.jsonl", rows)
        result = trainer(settings["trainer"]).rl(inputs.model, problems, config, inputs.folder)
        from harness.flops import model_shape, rl_flops

        # the trainer's tokens_trained is prompt + completion tokens of every sample (TRL's num_tokens)
        samples = result.steps * config.prompts_per_step * config.group_size
        flops = rl_flops(model_shape(inputs.model), samples, max(0, result.tokens_trained - result.tokens_generated),
                         result.tokens_generated)
        return StepOutput(
            model=str(result.checkpoint),
            compute=Compute(tokens_generated=result.tokens_generated, tokens_trained=result.tokens_trained,
                            flops_generated=flops["generation"], flops_trained=flops["training"]),
            summary={"steps": result.steps, "log": str(result.log_path), "config": settings["config"],
                     "hinted_rows": sum(bool(r.get("hint")) for r in rows), "rows": len(rows),
                     "hinted_problems": len({r["problem_id"] for r in rows if r.get("hint")}), **result.extra},
        )


def flops_budget_tokens(options: Any, ctx: ResolveContext) -> int:
    """The generated-token budget that spends ``match_flops_of``'s FLOPs: what is left after this arm's
    earlier steps, divided by the FLOPs per generated token of ``flops_rate_of``'s finished RL step (an RL
    step's FLOPs per token -- generation with prefill, and training -- are nearly constant for one model
    and task, so a token budget is how the trainer can stop on FLOPs)."""
    def finished(name: str) -> list[dict[str, Any]]:
        got = ctx.arm_compute(name, ctx.seed) if ctx.arm_compute else None
        if got is None:
            raise ValueError(f"recipe {ctx.recipe!r}: FLOPs matching needs recipe {name!r} in the comparison")
        return got

    target = sum(float(c.get("flops_generated", 0)) + float(c.get("flops_trained", 0)) for c in finished(options.match_flops_of))
    rate_of = finished(options.flops_rate_of or options.match_flops_of)
    rl = [c for c in rate_of if c.get("tokens_generated") and c.get("flops_trained")]
    if not rl or not target:
        raise ValueError(f"recipe {ctx.recipe!r}: FLOPs are unknown (a model without a config.json?); FLOPs matching needs them")
    per_token = (float(rl[-1]["flops_generated"]) + float(rl[-1]["flops_trained"])) / int(rl[-1]["tokens_generated"])
    return int((target - ctx.spent_flops) / per_token)


def rl_rows(problems: Any, hint_fraction: float, hint_length: float, seed: int) -> list[dict[str, Any]]:
    """RL problem rows (trainers.base.RL_FIELDS) rendered with the task's template. With hints, every row
    also carries ``hint_messages`` -- the same conversation ending with an assistant message that holds the
    hint (which the policy continues) -- for `rl_schedule` to choose from at each step; problems whose
    reference gives no hint have none."""
    from trainers.data import rl_rows_from_task

    rows = rl_rows_from_task(problems)
    if hint_fraction <= 0:
        return rows
    _, selected = problems.load()
    for i, p in enumerate(selected):
        hint = hint_prefix(p.solution, hint_length) if p.solution else ""
        if hint:
            rows[i] = {**rows[i], "hint_messages": [*rows[i]["messages"], {"role": "assistant", "content": hint}],
                       "hint_text": hint}
    return rows


def rl_schedule(rows: list[dict[str, Any]], fraction: float, steps: int, per_step: int, seed: int) -> list[dict[str, Any]]:
    """``steps x per_step`` rows in training order: each epoch a seeded permutation of the problems, cut
    into steps; at each step a fresh seeded ``fraction`` of that step's hintable problems carry their hint
    (``messages`` ends with it, ``hint`` holds its text). WHY a schedule: hint-guided RL re-draws which
    problems are hinted every step; a hint fixed per problem for the whole run would make the same half
    of the problems easy forever and the other half never hinted."""
    order: list[int] = []
    epoch = 0
    while len(order) < steps * per_step:
        perm = list(range(len(rows)))
        random.Random(f"order|{seed}|{epoch}").shuffle(perm)
        order += perm
        epoch += 1
    out = []
    for s in range(steps):
        chunk = order[s * per_step : (s + 1) * per_step]
        hintable = [i for i in chunk if rows[i].get("hint_messages")]
        hinted = set(random.Random(f"hints|{seed}|{s}").sample(hintable, round(fraction * len(hintable))))
        for i in chunk:
            base = {k: v for k, v in rows[i].items() if k not in ("hint_messages", "hint_text")}
            if i in hinted:
                base = {**base, "messages": rows[i]["hint_messages"], "hint": rows[i]["hint_text"]}
            out.append({**base, "step": s})
    return out
