"""Step kind ``int``: the InT protocol stages (rollout -> propose -> continue -> build-sft) with the current
model as policy and proposer (or ``proposer_model``); leaves the SFT rows (``sft_data``) for a later
``sft: {data: int}`` step, and its run folder (``int_run``) for a ``build-sft`` step's other variants.

Settings: the whole `IntConfig` (preset + the comparison's ``steps.int`` defaults + the step's options,
the training problems, seeds offset by the arm's seed, the comparison's grader) and the content key of the
training problems.
Compute: required (rollouts, proposer turns, the continuations the correctness filter reads) vs
diagnostic (Table-1 controls), from `harness.intervention.compute`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput

if TYPE_CHECKING:
    from harness.compare.preflight import EstimateContext, StageEstimate

PAPER = "paper"  # the InT preset when neither the step nor the comparison names one


class IntOptions(StepOptions):
    """Options of an ``int`` step."""

    preset: str | None = Field(None, description="InT preset (a registered one: paper, world, ...); None: the comparison's "
                               "(steps.int.preset, alias int_preset), else paper.")
    proposer: Literal["self", "model", "oracle"] | None = Field(None, description="Who proposes interventions (None: the preset's, 'self' in both presets).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted IntConfig overrides on top of the comparison's "
                                      "(steps.int.overrides, alias int_overrides), e.g. {'continue.n': 8}.")
    proposer_model: str | None = Field(None, description="Another model proposes the interventions (path, hub id or world:<preset>, "
                                       "through the comparison's backend): the paper's proposer ablation (sets proposer: model).")



class IntStep(StepKind[IntOptions]):
    name = "int"
    description = "InT stages on the policy's own failures: rollout, propose, continue, build-sft (yields sft_data)."
    Options = IntOptions

    def with_defaults(self, options: IntOptions, config: Any) -> IntOptions:
        return options  # the comparison's defaults (`defaults`) are merged when resolving, kept apart from the recipe's

    def produces(self, options: IntOptions) -> tuple[str, ...]:
        return ("sft_data",)

    def preset_name(self, options: IntOptions, ctx: ResolveContext) -> str:
        return options.preset or self.defaults(ctx.config).preset or PAPER

    def _option_overrides(self, options: IntOptions, cfg: Any) -> dict[str, Any]:
        """IntConfig overrides from the step's options over the comparison's defaults, in precedence order: the
        proposer, the defaults' overrides, another proposer model, the options' own overrides (the resolved
        config and the preflight's estimate both take them from here)."""
        defaults = self.defaults(cfg)
        proposer = options.proposer or defaults.proposer
        return {
            **({"propose.proposer": proposer} if proposer else {}),
            **defaults.overrides,
            **({"propose.proposer": "model", "propose.proposer_model": {"backend": cfg.backend, "model": options.proposer_model,
                                                                        "options": cfg.backend_options}}
               if options.proposer_model else {}),
            **options.overrides,
        }

    def _config(self, options: IntOptions, ctx: ResolveContext) -> Any:
        from harness.intervention.config import preset

        cfg = ctx.config
        train = cfg.train_set()
        base = preset(self.preset_name(options, ctx), out="", overrides={"policy.model": "(the arm's current model)", "rollout.problems": train.model_dump()})
        over = {
            "policy.backend": cfg.backend,
            "policy.options": cfg.backend_options,
            "rollout.sampling.seed": base.rollout.sampling.seed + ctx.seed,
            "propose.sampling.seed": base.propose.sampling.seed + ctx.seed,
            "continue.sampling.seed": base.continuation.sampling.seed + ctx.seed,
            **self._option_overrides(options, cfg),
        }
        grader, judge = cfg.grading()  # rollouts, the correctness filter's continuations and reflections
        return base.with_overrides({**over, "grader": grader, **({"judge": judge} if judge else {})})

    def validate(self, options: IntOptions, ctx: ResolveContext) -> list[str]:
        if {"grader", "judge"} & (set(options.overrides) | set(self.defaults(ctx.config).overrides)):
            raise ValueError(f"recipe {ctx.recipe!r} step {ctx.index + 1} ({self.name}): overrides grader/judge: a comparison "
                             "grades with one grader; set eval.grader (and eval.judge) instead")
        try:
            icfg = self._config(options, ctx)
        except Exception as exc:  # an unknown dotted override names itself here, before any work
            raise ValueError(f"recipe {ctx.recipe!r} step {ctx.index + 1} ({self.name}): invalid InT settings: {exc}") from None
        from tasks import DataNotFoundError

        try:
            n = str(len(icfg.rollout.problem_set().load()[1]))
        except DataNotFoundError:
            n = "? (not available here)"
        return [f"{self.name}: preset {self.preset_name(options, ctx)}, proposer {icfg.propose.proposer}, "
                f"{icfg.rollout.k} rollouts x {n} problems, continue.n {icfg.continuation.n}"]

    def resolve(self, options: IntOptions, ctx: ResolveContext) -> dict[str, Any]:
        icfg = self._config(options, ctx)
        # judge: a field added later, left out while unset so the keys made before it stay valid
        data = icfg.model_dump(by_alias=True, exclude={"out"} | ({"judge"} if icfg.judge is None else set()))
        data["policy"].pop("model")
        return {"int_config": data, "problems_key": icfg.rollout.problem_set().key()}

    def estimate(self, options: IntOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        """Rollouts, proposer turns and continuations (the preflight's arithmetic, `harness.compare.preflight`)."""
        from harness.compare.preflight import StageEstimate

        pf, out = ctx.pf, []
        data = self.estimate_config(options, settings, ctx)
        k = data["rollout"]["k"]

        def budget(sec: str, data: dict[str, Any] = data) -> int:
            return data[sec]["sampling"].get("max_tokens") or 16384

        n = ctx.n_train or 0
        failed = n * k * pf.expected_failure_rate
        if data["propose"].get("max_attempts"):
            failed = min(failed, data["propose"]["max_attempts"])
        props = failed * data["propose"]["n"] * (2 if data["propose"]["template"] == "paper" else 1)
        selected = failed * pf.selected_fraction
        ctrl = min(data["continue"].get("controls_max_problems") or n, n) * k * pf.expected_failure_rate * pf.selected_fraction
        conts = (selected + ctrl * len(data["continue"]["controls"])) * data["continue"]["n"]
        # prompt lengths (CPU: the sequence the hf backend holds): the task prompt; the proposer's turn 2 holds
        # prompt + reference + attempt + turn 1
        lengths = {"rollout": pf.prompt_tokens + budget("rollout"),
                   "propose": 2 * pf.prompt_tokens + budget("rollout") + 2 * budget("propose"),
                   "continue": pf.prompt_tokens + budget("rollout") + budget("continue")}
        # the proposer's turns run on another model when one is named (the proposer ablation): its shape, not the policy's
        other = (data["propose"].get("proposer_model") or {}).get("model") if data["propose"].get("proposer") == "model" else None
        for sec, gens in (("rollout", n * k), ("propose", props), ("continue", conts)):
            sub, b = f"{self.name}: {sec}", budget(sec)
            st = StageEstimate(ctx.arm, sub, int(gens), gens * b * ctx.frac)
            shape = ctx.shape_of(other) if sec == "propose" and other else ctx.shape
            ctx.inference_memory(st, shape, lengths[sec] if ctx.cpu else (ctx.max_len or (b + 8192)))
            if sec == "propose" and other:
                st.notes.append(f"proposed by {other}" + ("" if shape is not None else " (its shape unknown here: memory not estimated)"))
            if sub.endswith(": continue") and data["continue"].get("controls_max_problems"):
                st.notes.append(f"Table-1 controls on at most {data['continue']['controls_max_problems']} problems")
            out.append(st)
        return out

    def estimate_config(self, options: IntOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> dict[str, Any]:
        """The `IntConfig` (as a dict) the step runs with: resolved, or from the preset, defaults and options."""
        if settings:
            return settings["int_config"]
        from harness.intervention.config import preset as int_preset

        cfg = ctx.config
        defaults = self.defaults(cfg)
        return int_preset(options.preset or defaults.preset or PAPER, "", {
            "policy.model": cfg.base_model, "rollout.problems": cfg.train_set().model_dump(),
            **self._option_overrides(options, cfg)}).model_dump(by_alias=True)

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Fields added to IntConfig later are hashed only when off their defaults (`ADDED_LATER`): every int
        step cached before they existed keeps its key."""
        from harness.intervention.config import without_later_defaults

        data = {k: without_later_defaults(k, v) if isinstance(v, dict) else v for k, v in settings["int_config"].items()}
        return {**settings, "int_config": data}

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        from harness.intervention.build_sft import sft_path
        from harness.intervention.compute import int_compute
        from harness.intervention.config import IntConfig
        from harness.intervention.pipeline import run_all

        data = {**settings["int_config"], "out": str(inputs.folder)}
        data["policy"] = {**data["policy"], "model": inputs.model}
        icfg = IntConfig.model_validate(data)
        icfg.save()
        summary = run_all(icfg, show_progress=inputs.show_progress)
        label = icfg.propose.stage_label()
        from harness.flops import model_shape
        from harness.models import resolve_model

        other = {}  # another proposer's turns are charged at its own shape (the proposer ablation)
        if icfg.propose.proposer == "model" and icfg.propose.proposer_model is not None:
            other["proposer_shape"] = model_shape(resolve_model(icfg.propose.proposer_model.model))
        counted = int_compute(inputs.folder, label, continuations_required=icfg.build_sft.correctness_filter or icfg.build_sft.include_suffix,
                              shape=model_shape(inputs.model), **other)
        return StepOutput(
            artifacts={"sft_data": str(sft_path(icfg)), "int_run": str(inputs.folder)},
            compute=Compute(tokens_generated=counted["tokens_generated"],
                            tokens_generated_diagnostic=counted["tokens_generated_diagnostic"],
                            flops_generated=counted["flops_generated"], flops_generated_diagnostic=counted["flops_generated_diagnostic"],
                            detail=counted),
            summary={"rows": summary["proposers"][label]["build_sft"]["rows"], "seconds": summary["seconds"],
                     "peak_rss_gib": summary.get("peak_rss_gib_this_invocation")},
        )
