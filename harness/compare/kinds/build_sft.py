"""Step kind ``build-sft``: rebuild the latest ``int`` step's SFT rows with other build-sft switches.

The paper's SFT design ablation (Table 2: prefix + intervention with and without the correctness filter,
the intervention without the prefix, with the successful suffix, the prefix only) varies only how the
SFT rows are built from one set of rollouts, proposals and continuations. Putting the switches into the
``int`` step would give each variant its own key and re-run every stage; this step instead reads the
``int`` step's finished stages (linked into its own folder, never written) and writes only its own
``build-sft-<label>-<variant>/sft.jsonl``, which replaces ``sft_data`` for the ``sft`` step after it::

    - int: {}
    - build-sft: {correctness_filter: false}
    - sft: {data: int}

Settings: the switches (`harness.intervention.config.BuildSFTConfig` fields); the ``int`` step's settings
are in the previous key. Compute: none (it generates nothing). The ``int`` step before it charges the
continuations its own rows need (the correctness filter reads them), also for variants that would not
need them (no filter, no suffix): the reported compute of such an arm includes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from harness.compare.steps import ResolveContext, StepInputs, StepKind, StepOptions, StepOutput

if TYPE_CHECKING:
    from harness.compare.preflight import EstimateContext, StageEstimate


class BuildSFTOptions(StepOptions):
    """The build-sft switches (defaults: InT's own rows, as the ``int`` step builds them)."""

    include_prefix: bool = Field(True, description="Train on the model's own prefix (False: the prefix is masked context; "
                                 "Table 2's 'intervention without the prefix').")
    include_intervention: bool = Field(True, description="Train on the intervention (False: 'prefix only').")
    include_suffix: bool = Field(False, description="Append a correct continuation to the target ('+ suffix').")
    correctness_filter: bool = Field(True, description="Keep an intervention only if >= min_correct of its continuations "
                                     "are correct (False: 'without the filter').")
    min_correct: int = Field(1, ge=1, description="m of the correctness filter.")

    @model_validator(mode="after")
    def _something_to_train(self) -> BuildSFTOptions:  # checked when the recipe is read, by BuildSFTConfig's rule
        from harness.intervention.config import check_something_to_train

        check_something_to_train(self.include_prefix, self.include_intervention, self.include_suffix)
        return self


class BuildSFTStep(StepKind[BuildSFTOptions]):
    name = "build-sft"
    description = "Rebuild the latest int step's SFT rows with other build-sft switches (Table 2's SFT designs); no generation."
    Options = BuildSFTOptions

    def requires(self, options: BuildSFTOptions) -> tuple[str, ...]:
        return ("sft_data",)

    def produces(self, options: BuildSFTOptions) -> tuple[str, ...]:
        return ("sft_data",)

    def validate(self, options: BuildSFTOptions, ctx: ResolveContext) -> list[str]:
        if "int" not in ctx.earlier:
            raise ValueError(f"recipe {ctx.recipe!r} step {ctx.index + 1} (build-sft): needs an int step before it")
        return []

    def resolve(self, options: BuildSFTOptions, ctx: ResolveContext) -> dict[str, Any]:
        from harness.intervention.config import BuildSFTConfig

        return {"build_sft": BuildSFTConfig(**options.model_dump()).protocol()}

    def estimate(self, options: BuildSFTOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        """Nothing generated or trained: the step only re-selects and re-tokenizes the int step's rows."""
        from harness.compare.preflight import StageEstimate

        return [StageEstimate(ctx.arm, self.name, 0, 0)]

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        source = int_run_folder(inputs.artifacts)
        data, result = rebuild_sft(source, Path(inputs.folder), settings["build_sft"])
        return StepOutput(artifacts={"sft_data": str(data), "int_run": str(inputs.folder)},
                          summary={"rows": result["rows"], "problems": result["problems"], "filters": result["filters"],
                                   "variant": result["variant"] or "int", "source": str(source)})


def rebuild_sft(source: Path, folder: Path, switches: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """SFT rows of the InT run ``source`` rebuilt with other build-sft ``switches`` into ``folder`` (its finished
    stages linked there, never written); returns the rows' path and `run_build_sft`'s counts (+ ``variant``)."""
    from harness.intervention.build_sft import run_build_sft, sft_path
    from harness.intervention.config import IntConfig

    folder.mkdir(parents=True, exist_ok=True)
    link_stages(source, folder)
    cfg = IntConfig.load(source, out=str(folder)).with_overrides({f"build_sft.{k}": v for k, v in switches.items()})
    cfg.save()
    result = run_build_sft(cfg)
    return sft_path(cfg), {**result, "variant": cfg.build_sft.variant()}


def int_run_folder(artifacts: dict[str, str]) -> Path:
    """The InT run folder the rows come from: the ``int_run`` artifact, or (an ``int`` step cached before it
    recorded one) the folder two levels above its ``sft_data`` (``<run>/build-sft-<label>/sft.jsonl``)."""
    if artifacts.get("int_run"):
        return Path(artifacts["int_run"])
    return Path(artifacts["sft_data"]).parents[1]


def link_stages(source: Path, folder: Path) -> None:
    """Link the source run's finished stages (rollout, propose-*, continue-*) into ``folder`` (relative links);
    its build-sft folders are not linked: this step writes its own."""
    for stage in sorted(source.iterdir()):
        if not stage.is_dir() or stage.name.startswith("build-sft"):
            continue
        link = folder / stage.name
        target = os.path.relpath(stage.resolve(), folder.resolve())
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
