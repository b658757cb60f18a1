"""Step kind ``int``: the InT protocol stages (rollout -> propose -> continue -> build-sft) with the current
model as policy and proposer (or ``proposer_model``); leaves the SFT rows (``sft_data``) for a later
``sft: {data: int}`` step, and its run folder (``int_run``) for a ``build-sft`` step's other variants.

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

    preset: str | None = Field(None, description="InT preset (harness/intervention/presets/<name>.yaml); None: the comparison's int_preset.")
    proposer: Literal["self", "model", "oracle"] | None = Field(None, description="Who proposes interventions (None: the preset's, 'self' in both presets).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted IntConfig overrides on top of the comparison's, e.g. {'continue.n': 8}.")
    proposer_model: str | None = Field(None, description="Another model proposes the interventions (path, hub id or world:<preset>, "
                                       "through the comparison's backend): the paper's proposer ablation (sets proposer: model).")


# IntConfig fields added after comparisons were cached, with their defaults: hashed into the step's key only when
# set to something else, so every cached int step of a comparison made before they existed stays valid.
LATER_FIELDS = {("continue", "hint_length"): 0.5, ("build_sft", "include_intervention"): True}


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
            **({"propose.proposer": "model", "propose.proposer_model": {"backend": cfg.backend, "model": options.proposer_model,
                                                                        "options": cfg.backend_options}}
               if options.proposer_model else {}),
            **cfg.int_overrides,
            **options.overrides,
        }
        return base.with_overrides(over)

    def validate(self, options: StepOptions, ctx: ResolveContext) -> list[str]:
        assert isinstance(options, IntOptions)
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
        data = icfg.model_dump(by_alias=True, exclude={"out"})
        data["policy"].pop("model")
        return {"int_config": data, "problems_key": icfg.rollout.problem_set().key()}

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        data = {k: dict(v) if isinstance(v, dict) else v for k, v in settings["int_config"].items()}
        for (section, name), default in LATER_FIELDS.items():
            if data.get(section, {}).get(name, default) == default:
                data[section].pop(name, None)
        return {**settings, "int_config": data}

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
        from harness.flops import model_shape

        counted = int_compute(inputs.folder, label, continuations_required=icfg.build_sft.correctness_filter or icfg.build_sft.include_suffix,
                              shape=model_shape(inputs.model))
        return StepOutput(
            artifacts={"sft_data": str(sft_dir / "sft.jsonl"), "int_run": str(inputs.folder)},
            compute=Compute(tokens_generated=counted["tokens_generated"],
                            tokens_generated_diagnostic=counted["tokens_generated_diagnostic"],
                            flops_generated=counted["flops_generated"], flops_generated_diagnostic=counted["flops_generated_diagnostic"],
                            detail=counted),
            summary={"rows": summary["proposers"][label]["build_sft"]["rows"], "seconds": summary["seconds"],
                     "peak_rss_gib": summary.get("peak_rss_gib_this_invocation")},
        )
