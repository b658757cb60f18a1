"""Step kinds from a plugin package: the worked example of docs/adding-a-recipe.md.

``noise`` is a real model-producing step: it adds seeded Gaussian noise of a given scale to every weight
of the current model and saves the result (a robustness ablation in two dozen lines). ``sample`` is a
budgetable kind: it samples the current model on the training problems round after round, and under
``--match-compute`` keeps sampling until its arm has generated what another arm required -- it takes part
in compute matching exactly as ``rl`` does, through `StepKind.budget_option`. Both estimate their own cost
for the preflight. ``probe`` exists for the process-isolation tests.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from harness.compare.preflight import EstimateContext, StageEstimate
from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput


class NoiseOptions(StepOptions):
    """Options of a ``noise`` step."""

    scale: float = Field(0.01, ge=0, description="Standard deviation of the noise, relative to each weight's std.")


class NoiseStep(StepKind[NoiseOptions]):
    name = "noise"
    description = "Add seeded Gaussian noise to every weight (a robustness ablation)."
    Options = NoiseOptions

    def resolve(self, options: NoiseOptions, ctx: ResolveContext) -> dict[str, Any]:
        # Everything run() reads: the scale and the seed (the model comes from the previous step's key).
        return {"scale": options.scale, "seed": ctx.seed}

    def estimate(self, options: NoiseOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        # Nothing generated or trained; on a GPU it would hold the weights once (fp32, 4 bytes/parameter).
        st = StageEstimate(ctx.arm, self.name, notes=[f"noise at scale {options.scale}: no generation, no training"])
        if ctx.gpu and ctx.shape:
            st.memory, st.device_bytes = {"weights (fp32)": 4 * ctx.shape.params}, ctx.device_bytes
        return [st]

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(inputs.model)
        gen = torch.Generator().manual_seed(settings["seed"])
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * settings["scale"] * p.std().clamp_min(1e-8))
        out = inputs.folder / "checkpoint"
        model.save_pretrained(out)
        AutoTokenizer.from_pretrained(inputs.model).save_pretrained(out)
        return StepOutput(model=str(out), compute=Compute(), summary={"scale": settings["scale"]})


class SampleOptions(StepOptions):
    """Options of a ``sample`` step."""

    rounds: int = Field(2, ge=1, description="Rounds of sampling, one sample per training problem each (a cap under a budget).")
    max_tokens: int = Field(32, ge=1, description="Token budget per sample.")
    match_compute_of: str | None = Field(None, description="Sample until this arm's required generated tokens equal that "
                                         "recipe's arm's (same seed); the round that reaches the budget is the last.")


class SampleStep(StepKind[SampleOptions]):
    name = "sample"
    description = "Sample the current model on the training problems, round after round (extends or stops on a token budget)."
    Options = SampleOptions
    budget_option = "match_compute_of"  # what --match-compute sets on the last such step of a recipe

    def resolve(self, options: SampleOptions, ctx: ResolveContext) -> dict[str, Any]:
        budget = ctx.remaining_budget(options.match_compute_of) if options.match_compute_of else None
        train = ctx.config.train_set()
        return {"rounds": options.rounds if budget is None else 10 * options.rounds, "max_tokens": options.max_tokens,
                "budget": budget, "problems": train.model_dump(), "problems_key": train.key(), "seed": ctx.seed}

    def estimate(self, options: SampleOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        gens = (ctx.n_train or 0) * options.rounds
        st = StageEstimate(ctx.arm, self.name, gens, gens * options.max_tokens * ctx.frac)
        if options.match_compute_of:
            st.notes.append("compute-matched: rounds until the budget (estimate uses rounds as given)")
        ctx.inference_memory(st, ctx.shape, ctx.max_len or options.max_tokens + 1024)
        return [st]

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        from harness.backends import GenerationRequest, SamplingParams, get_backend
        from tasks import ProblemSet, render_prompt

        task, problems = ProblemSet(**settings["problems"]).load()
        requests = [GenerationRequest(messages=tuple(render_prompt(task, p))) for p in problems]
        backend = get_backend("hf", inputs.model)
        spent, rounds = 0, 0
        try:
            while rounds < settings["rounds"] and (settings["budget"] is None or spent < settings["budget"]):
                params = SamplingParams(n=1, temperature=1.0, top_p=1.0, top_k=0, max_tokens=settings["max_tokens"],
                                        seed=settings["seed"] * 1000 + rounds)
                spent += sum(s.completion_tokens for out in backend.generate(requests, params) for s in out)
                rounds += 1
        finally:
            backend.close()
        return StepOutput(compute=Compute(tokens_generated=spent), summary={"rounds": rounds, "budget": settings["budget"]})


class ProbeOptions(StepOptions):
    """Options of a ``probe`` step."""

    crash: bool = Field(False, description="Die without cleaning up (like a process killed by the OOM killer).")


class ProbeStep(StepKind[ProbeOptions]):
    name = "probe"
    description = "Record the process id and environment the step ran in, or die half-way (isolation tests)."
    Options = ProbeOptions

    def resolve(self, options: ProbeOptions, ctx: ResolveContext) -> dict[str, Any]:
        return {"crash": options.crash}

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        if settings["crash"]:
            (inputs.folder / "partial.txt").write_text("half done")
            os._exit(9)
        return StepOutput(summary={"pid": os.getpid(), "data_dir": os.environ.get("HARNESS_DATA_DIR")})
