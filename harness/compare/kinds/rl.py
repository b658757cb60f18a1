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
* ``match_flops_of: <recipe>`` (+ ``flops_rate_of``) -- the same by FLOPs (generation with prefill + training,
  `harness.flops`): the other arm's FLOPs become a token budget at ``flops_rate_of``'s measured RL FLOPs per
  generated token (`flops_budget_tokens`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from harness.compare.kinds._trainer import (
    check_trainer_defaults,
    comparison_overrides,
    keyed_settings,
    options_model,
    overrides,
    run_name,
    trainer,
)
from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput
from harness.intervention.steps import hint_prefix  # the one definition of a hint (also the continue stage's)
from trainers.base import RLConfig

if TYPE_CHECKING:
    from harness.compare.preflight import EstimateContext, StageEstimate

EXTRA = ("hint_fraction", "hint_length", "match_compute_of", "match_flops_of", "flops_rate_of", "max_steps_factor")


class RLStepOptions(StepOptions):
    """The options of an ``rl`` step besides the `RLConfig` fields."""

    hint_fraction: float = Field(0.0, ge=0, le=1, description="Share of problems whose prompt carries a reference-solution prefix as a hint.")
    hint_length: float = Field(0.5, gt=0, lt=1, description="Share of the reference's substeps (final answer excluded) shown as the hint.")
    match_compute_of: str | None = Field(None, description="Train until this arm's required generated tokens equal that recipe's arm's (same seed).")
    match_flops_of: str | None = Field(None, description="Train until this arm's FLOPs (generation + training) equal that recipe's arm's "
                                       "(same seed); the FLOPs budget becomes a token budget at flops_rate_of's measured FLOPs per generated token.")
    flops_rate_of: str | None = Field(None, description="The recipe whose finished RL step gives the FLOPs per generated token "
                                      "that converts a match_flops_of budget (this recipe's own equal-steps arm).")
    max_steps_factor: float = Field(1.0, gt=0, description="Multiply the preset's (or comparison's) max_steps, e.g. 4 for 'RL-only at 4x the steps'.")


# the reward is the comparison's grader (eval.grader), never a step's
RLOptions = options_model("RLOptions", RLConfig, RLStepOptions, skip=("seed", "run_name", "reward", "reward_judge"))
BUDGET_STEP_CAP = 10  # with a token budget, max_steps defaults to this many times the comparison's (else the preset's) steps: a cap, not a target


class RLStep(StepKind[RLStepOptions]):
    name = "rl"
    description = "Outcome-reward RL (GRPO-style) on the training problems; RLConfig fields, hints and compute matching as options."
    Options = RLOptions
    budget_option = "match_compute_of"  # extends or stops on a token budget (RLConfig.max_generated_tokens)
    budget_flops_option = "match_flops_of"  # ... or on a FLOPs budget, converted to tokens (`flops_budget_tokens`)
    budget_rate_option = "flops_rate_of"  # the arm whose measured FLOPs per generated token convert it

    def check_defaults(self, config: Any) -> None:
        check_trainer_defaults(self, config, exclude=EXTRA)

    def with_defaults(self, options: RLStepOptions, config: Any) -> RLStepOptions:
        return options  # the comparison's defaults (`defaults`) are merged when resolving, kept apart from the recipe's

    def parse_options(self, raw: dict[str, Any], where: str = "") -> RLStepOptions:
        clash = sorted({"reward", "reward_judge"} & set(raw or {}))
        if clash:
            raise ValueError(f"{where}step {self.name!r}: {', '.join(clash)}: a comparison grades evaluation, InT's filters and "
                             "the RL reward with one grader; set eval.grader (and eval.judge) instead")
        return super().parse_options(raw, where)

    def _config(self, options: RLStepOptions, ctx: ResolveContext, budget: int | None) -> RLConfig:
        from trainers.presets import get_config

        cfg = ctx.config
        defaults = self.defaults(cfg)
        common, own = comparison_overrides(self, cfg, exclude=EXTRA), overrides(options, exclude=EXTRA)
        grader, judge = cfg.grading()
        over = {"run_name": run_name(ctx, self.name), **common, **own, "seed": ctx.seed, "reward": grader, "reward_judge": judge}
        factor = options.over(defaults).max_steps_factor
        if factor != 1.0 and "max_steps" not in own:
            base_steps = common.get("max_steps") or get_config(cfg.trainer_preset, "rl").max_steps
            over["max_steps"] = max(1, round(float(base_steps) * factor))
        if budget is not None:
            over["max_generated_tokens"] = budget
            if "max_steps" not in own:  # the comparison's steps (or the preset's) x cap
                over["max_steps"] = BUDGET_STEP_CAP * int(common.get("max_steps") or get_config(cfg.trainer_preset, "rl").max_steps)
        config = get_config(cfg.trainer_preset, "rl", **over)
        assert isinstance(config, RLConfig)
        return config

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return keyed_settings(settings)

    def validate(self, options: RLStepOptions, ctx: ResolveContext) -> list[str]:
        plugin = trainer(ctx.config.trainer)
        if "rl" not in plugin.supports:
            raise ValueError(f"trainer {ctx.config.trainer!r} does not support rl (supports {sorted(plugin.supports)})")
        from tasks import DataNotFoundError

        config = self._config(options, ctx, 0 if self.dynamic(options) else None)
        eff = options.over(self.defaults(ctx.config))
        try:
            n = len(rl_rows(ctx.config.train_set(), 0.0, 0.5, 0))
        except DataNotFoundError:
            lines = [f"rl config valid ({ctx.config.trainer_preset} preset); training problems not available here"]
        else:
            config.require_problems(n)
            lines = [f"rl config valid ({ctx.config.trainer_preset} preset, {n} problems)"]
        if eff.hint_fraction:
            lines.append(f"rl hints: {eff.hint_fraction:.0%} of problems, {eff.hint_length:.0%} of the reference")
        if options.match_flops_of:
            lines.append(f"rl budget: the FLOPs of arm {options.match_flops_of!r} (resolved at run time)")
        elif self.dynamic(options):
            lines.append(f"rl budget: the required generated tokens of arm {options.match_compute_of!r} (resolved at run time)")
        return lines

    def resolve(self, options: RLStepOptions, ctx: ResolveContext) -> dict[str, Any]:
        budget = None
        if options.match_compute_of:
            budget = ctx.remaining_budget(options.match_compute_of)
        elif options.match_flops_of:
            budget = flops_budget_tokens(options, ctx)
        train = ctx.config.train_set()
        config = self._config(options, ctx, budget)
        eff = options.over(self.defaults(ctx.config))
        if eff.hint_fraction:
            config = RLConfig(**{**config.to_dict(), "shuffle": False})  # the schedule fixes the order
        return {
            "trainer": ctx.config.trainer,
            "config": config.to_dict(),
            "problems": train.model_dump(),
            "problems_key": train.key(),
            "hints": {"fraction": eff.hint_fraction, "length": eff.hint_length},
            "hint_schedule": "redrawn every step" if eff.hint_fraction else None,
            "match_compute_of": options.match_compute_of,
            "match_flops_of": options.match_flops_of,
        }

    def estimate(self, options: RLStepOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        """Rollouts (steps x prompts x group) and the tokens trained on them; the training process's memory
        (`harness.compare.preflight.training_memory`: AdamW states, activations, logits and their gradient; on a
        CPU float32 plus the process baseline) and on a GPU a colocated vLLM engine's share."""
        from harness.compare.preflight import GiB, StageEstimate, kv_fit

        shape, device_bytes, frac = ctx.shape, ctx.device_bytes, ctx.frac
        plain = ResolveContext(config=ctx.config, seed=0, recipe=ctx.arm, index=0, earlier=())  # settings as a static step
        c = (settings or {}).get("config") or self._config(options, plain, None).to_dict()
        gens = c["max_steps"] * c["prompts_per_step"] * c["group_size"]
        st = StageEstimate(ctx.arm, self.name, gens, gens * c["max_new_tokens"] * frac, gens * c["max_new_tokens"] * frac)
        if self.budget_target(options):
            st.notes.append("compute-matched: steps until the budget (estimate uses max_steps as a cap)")
        if shape is not None:
            seq = ctx.pf.prompt_tokens + c["max_new_tokens"]
            mem = ctx.training_memory(c, c["per_device_batch_size"], seq)
            if ctx.gpu and device_bytes and c.get("use_vllm") and c.get("vllm_mode", "colocate") == "colocate":
                vlen = c.get("vllm_max_model_length") or seq
                mem["colocated vLLM (gpu_memory_utilization)"] = c.get("vllm_gpu_memory_utilization", 0.3) * device_bytes
                room, need = kv_fit(shape, device_bytes, c.get("vllm_gpu_memory_utilization", 0.3), vlen)
                if need > room:
                    st.problem = (f"colocated vLLM: one {vlen:,}-token sequence needs {need / GiB:.1f} GiB of KV cache, "
                                  f"{max(room, 0) / GiB:.1f} GiB remain; set vllm_max_model_length (prompt + max_new_tokens)")
            st.memory, st.device_bytes = mem, device_bytes
            if ctx.over_memory(st):  # the trainer's own states first: nothing else helps until they fit
                st.problem = ctx.training_fix(st, c)
        return [st]

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


def flops_budget_tokens(options: RLStepOptions, ctx: ResolveContext) -> int:
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
