"""Step kind ``reflect``: the data of the paper's self-reflection baseline -- rollouts, then one rewrite of
each failed attempt with the reference in context (`harness.intervention.reflect`); leaves the SFT rows of
the correct rewrites (``reflection_sft_data``) for a later ``sft: {data: reflection}`` step.

Settings: the whole `IntConfig` (the comparison's InT preset and overrides, as an ``int`` step resolves
them: rollouts, the proposer's template and sampling), so the reflection arm sees the same problems,
rollout budget and prompt family as InT. Compute: rollouts + reflections, all required.
"""

from __future__ import annotations

from typing import Any

from harness.compare.kinds.int import IntOptions, IntStep
from harness.compare.steps import Compute, ResolveContext, StepInputs, StepOptions, StepOutput


class ReflectStep(IntStep):
    name = "reflect"
    description = "Self-reflection rewrites of the policy's failed attempts (whole solutions), yields reflection_sft_data."
    Options = IntOptions

    def produces(self, options: StepOptions) -> tuple[str, ...]:
        return ("reflection_sft_data",)

    def validate(self, options: StepOptions, ctx: ResolveContext) -> list[str]:
        return [line.replace("int:", "reflect:", 1) for line in super().validate(options, ctx)]

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
