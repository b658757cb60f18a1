"""Step kinds from a plugin package: the worked example of docs/adding-a-recipe.md.

``noise`` is a real model-producing step: it adds seeded Gaussian noise of a given scale to every weight
of the current model and saves the result (a robustness ablation in two dozen lines). ``probe`` exists
for the process-isolation tests.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput


class NoiseOptions(StepOptions):
    """Options of a ``noise`` step."""

    scale: float = Field(0.01, ge=0, description="Standard deviation of the noise, relative to each weight's std.")


class NoiseStep(StepKind):
    name = "noise"
    description = "Add seeded Gaussian noise to every weight (a robustness ablation)."
    Options = NoiseOptions

    def resolve(self, options: StepOptions, ctx: ResolveContext) -> dict[str, Any]:
        # Everything run() reads: the scale and the seed (the model comes from the previous step's key).
        return {"scale": options.scale, "seed": ctx.seed}  # type: ignore[attr-defined]

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


class ProbeOptions(StepOptions):
    """Options of a ``probe`` step."""

    crash: bool = Field(False, description="Die without cleaning up (like a process killed by the OOM killer).")


class ProbeStep(StepKind):
    name = "probe"
    description = "Record the process id and environment the step ran in, or die half-way (isolation tests)."
    Options = ProbeOptions

    def resolve(self, options: StepOptions, ctx: ResolveContext) -> dict[str, Any]:
        return {"crash": options.crash}  # type: ignore[attr-defined]

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        if settings["crash"]:
            (inputs.folder / "partial.txt").write_text("half done")
            os._exit(9)
        return StepOutput(summary={"pid": os.getpid(), "data_dir": os.environ.get("HARNESS_DATA_DIR")})
