"""Step kind ``int``: the InT protocol stages (rollout -> propose -> continue -> build-sft) with the current
model as policy and proposer; leaves the SFT rows (``sft_data``) for a later ``sft: {data: int}`` step.

Settings: the whole `IntConfig` (preset + the comparison's ``int_overrides`` + the step's options, the
training problems, seeds offset by the arm's seed) and the content key of the training problems.
Compute: required (rollouts, proposer turns, the continuations the correctness filter reads) vs
diagnostic (Table-1 controls), from `harness.intervention.compute`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput


class IntOptions(StepOptions):
    """Options of an ``int`` step."""

    preset: str | None = Field(None, description="InT preset (a registered one: paper, world, ...); None: the comparison's int_preset.")
    proposer: Literal["self", "model", "oracle"] | None = Field(None, description="Who proposes interventions (None: the preset's, 'self' in both presets).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted IntConfig overrides on top of the comparison's, e.g. {'continue.n': 8}.")


class IntStep(StepKind):
    name = "int"
    description = "InT stages on the policy's own failures: rollout, propose, continue, build-sft (yields sft_data)."
    Options = IntOptions

    def produces(self, options: StepOptions) -> tuple[str, ...]:
        return ("sft_data",)

    def _config(self, options: IntOptions, ctx: ResolveContext) -> Any:
        from harness.intervention.config import preset

        cfg = ctx.config
        train = cfg.train_set()
        base = preset(options.preset or cfg.int_preset, out="", overrides={"policy.model": "(the arm's current model)", "rollout.problems": train.model_dump()})
        over = {
            "policy.backend": cfg.backend,
            "policy.options": cfg.backend_options,
            "rollout.sampling.seed": base.rollout.sampling.seed + ctx.seed,
            "propose.sampling.seed": base.propose.sampling.seed + ctx.seed,
            "continue.sampling.seed": base.continuation.sampling.seed + ctx.seed,
            **({"propose.proposer": options.proposer} if options.proposer else {}),
            **cfg.int_overrides,
            **options.overrides,
        }
        grader, judge = cfg.grading()  # rollouts, the correctness filter's continuations and reflections
        return base.with_overrides({**over, "grader": grader, **({"judge": judge} if judge else {})})

    def validate(self, options: StepOptions, ctx: ResolveContext) -> list[str]:
        assert isinstance(options, IntOptions)
        if {"grader", "judge"} & set(options.overrides):
            raise ValueError(f"recipe {ctx.recipe!r} step {ctx.index + 1} ({self.name}): overrides grader/judge: a comparison "
                             "grades with one grader; set eval.grader (and eval.judge) instead")
        try:
            icfg = self._config(options, ctx)
        except Exception as exc:  # an unknown dotted override names itself here, before any work
            raise ValueError(f"recipe {ctx.recipe!r} step {ctx.index + 1} (int): invalid InT settings: {exc}") from None
        from tasks import DataNotFoundError

        try:
            n = str(len(icfg.rollout.problem_set().load()[1]))
        except DataNotFoundError:
            n = "? (not available here)"
        return [f"int: preset {options.preset or ctx.config.int_preset}, proposer {icfg.propose.proposer}, "
                f"{icfg.rollout.k} rollouts x {n} problems, continue.n {icfg.continuation.n}"]

    def resolve(self, options: StepOptions, ctx: ResolveContext) -> dict[str, Any]:
        assert isinstance(options, IntOptions)
        icfg = self._config(options, ctx)
        # judge: a field added later, left out while unset so the keys made before it stay valid
        data = icfg.model_dump(by_alias=True, exclude={"out"} | ({"judge"} if icfg.judge is None else set()))
        data["policy"].pop("model")
        return {"int_config": data, "problems_key": icfg.rollout.problem_set().key()}

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        from harness.intervention.compute import int_compute
        from harness.intervention.config import IntConfig
        from harness.intervention.pipeline import run_all

        data = {**settings["int_config"], "out": str(inputs.folder)}
        data["policy"] = {**data["policy"], "model": inputs.model}
        icfg = IntConfig.model_validate(data)
        icfg.save()
        summary = run_all(icfg, show_progress=inputs.show_progress)
        label = icfg.propose.stage_label()
        variant = icfg.build_sft.variant()
        sft_dir = inputs.folder / (f"build-sft-{label}" + (f"-{variant}" if variant else ""))
        counted = int_compute(inputs.folder, label, continuations_required=icfg.build_sft.correctness_filter or icfg.build_sft.include_suffix)
        return StepOutput(
            artifacts={"sft_data": str(sft_dir / "sft.jsonl")},
            compute=Compute(tokens_generated=counted["tokens_generated"],
                            tokens_generated_diagnostic=counted["tokens_generated_diagnostic"], detail=counted),
            summary={"rows": summary["proposers"][label]["build_sft"]["rows"], "seconds": summary["seconds"]},
        )
