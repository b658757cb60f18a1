"""Step kind ``reflect``: the data of the paper's self-reflection baseline -- rollouts, then one rewrite of
each failed attempt with the reference in context (`harness.intervention.reflect`); leaves the SFT rows of
the correct rewrites (``reflection_sft_data``) for a later ``sft: {data: reflection}`` step.

Settings: the whole `IntConfig` (the comparison's InT preset and overrides -- ``steps.int``, then
``steps.reflect`` -- as an ``int`` step resolves them: rollouts, the proposer's template and sampling), so
the reflection arm sees the same problems, rollout budget and prompt family as InT. Compute: rollouts +
reflections, all required.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.compare.kinds.int import IntOptions, IntStep
from harness.compare.steps import Compute, StepInputs, StepOutput

if TYPE_CHECKING:
    from harness.compare.config import CompareConfig
    from harness.compare.preflight import EstimateContext, StageEstimate


class ReflectStep(IntStep):
    name = "reflect"
    description = "Self-reflection rewrites of the policy's failed attempts (whole solutions), yields reflection_sft_data."
    Options = IntOptions

    def produces(self, options: IntOptions) -> tuple[str, ...]:
        return ("reflection_sft_data",)

    def defaults(self, config: CompareConfig) -> IntOptions:
        """The InT defaults (``steps.int``), then the reflection's own (``steps.reflect``) on top."""
        own, common = (dict(config.steps.get(k) or {}) for k in (self.name, "int"))
        merged = {**common, **own, "overrides": {**(common.get("overrides") or {}), **(own.get("overrides") or {})}}
        return self.parse_options(merged, where=f"comparison steps.{self.name}: ")

    def estimate(self, options: IntOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        """Rollouts, then one rewrite per failed attempt (with the proposer's budget)."""
        from harness.compare.preflight import StageEstimate

        data = self.estimate_config(options, settings, ctx)
        n, k = ctx.n_train or 0, data["rollout"]["k"]
        out = []
        rollout_budget = data["rollout"]["sampling"].get("max_tokens") or 16384
        for sub, gens, sec in ((f"{self.name}: rollout", n * k, "rollout"),
                               (f"{self.name}: rewrite", n * k * ctx.pf.expected_failure_rate, "propose")):
            budget = data[sec]["sampling"].get("max_tokens") or 16384
            st = StageEstimate(ctx.arm, sub, int(gens), gens * budget * ctx.frac)
            # CPU: the sequence the hf backend holds -- the task prompt (+ the reference and the failed attempt
            # for a rewrite) and the generation
            length = (ctx.pf.prompt_tokens + budget if sec == "rollout"
                      else 2 * ctx.pf.prompt_tokens + rollout_budget + budget)
            ctx.inference_memory(st, ctx.shape, length if ctx.cpu else (ctx.max_len or (budget + 8192)))
            out.append(st)
        return out

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        from harness.intervention.config import IntConfig
        from harness.intervention.pipeline import LazyBackend
        from harness.intervention.reflect import reflect_dir, run_reflect
        from harness.intervention.rollout import run_rollout
        from harness.rundir import iter_jsonl

        data = {**settings["int_config"], "out": str(inputs.folder)}
        data["policy"] = {**data["policy"], "model": inputs.model}
        icfg = IntConfig.model_validate(data)
        icfg.save()
        policy = LazyBackend(icfg)
        try:
            rollout = run_rollout(icfg, backend=policy, show_progress=inputs.show_progress)
            counts = run_reflect(icfg, backend=policy, tokenizer=getattr(policy._inner, "tokenizer", None),
                                 show_progress=inputs.show_progress)
        finally:
            policy.close()
        from harness.flops import generation_flops, model_shape

        folder = reflect_dir(icfg)
        shape = model_shape(inputs.model)
        records = {name: list(iter_jsonl(path, allow_torn_tail=True))
                   for name, path in (("rollout", inputs.folder / "rollout" / "samples.jsonl"),
                                      ("reflect", folder / "samples.jsonl")) if path.exists()}
        tokens = {name: sum(int(r.get("completion_tokens") or 0) for r in rows) for name, rows in records.items()}
        flops = {name: generation_flops(shape, rows) for name, rows in records.items()}
        return StepOutput(
            artifacts={"reflection_sft_data": str(folder / "sft.jsonl")},
            compute=Compute(tokens_generated=sum(tokens.values()), flops_generated=sum(flops.values()),
                            detail={"by_source": tokens, "flops_by_source": flops, "required_sources": list(tokens)}),
            summary={"rows": counts["kept"], "reflect": counts, "rollout": rollout},
        )
