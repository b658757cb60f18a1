"""Step kind ``sft``: supervised fine-tuning through the comparison's trainer plugin.

``data: int`` trains on the SFT rows of the arm's latest ``int`` step (prefix + intervention, no EOS);
``data: reference`` on the training problems' reference solutions (complete, so they end with EOS) --
the paper's off-policy baseline; ``data: reflection`` on the arm's latest ``reflect`` step's rows (the
policy's own rewrites of its failed attempts, complete, with EOS) -- the paper's self-reflection baseline.
Every other option is an `SFTConfig` field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness.compare.kinds._trainer import keyed_settings, options_model, overrides, run_name, trainer
from harness.compare.steps import Compute, ResolveContext, StepInputs, StepKind, StepOptions, StepOutput
from trainers.base import SFTConfig

SFTOptions = options_model(
    "SFTOptions", SFTConfig,
    {"data": (Literal["int", "reference", "reflection"], Field("int", description="int: the latest int step's rows; "
              "reference: reference solutions; reflection: the latest reflect step's rewrites."))},
    skip=("seed", "run_name"),
)


class SFTStep(StepKind):
    name = "sft"
    description = "Supervised fine-tuning (data: int | reference | reflection) with the comparison's trainer; SFTConfig fields as options."
    Options = SFTOptions

    def requires(self, options: StepOptions) -> tuple[str, ...]:
        return {"int": ("sft_data",), "reflection": ("reflection_sft_data",)}.get(options.data, ())  # type: ignore[attr-defined]

    def resolve(self, options: StepOptions, ctx: ResolveContext) -> dict[str, Any]:
        from trainers.presets import get_config

        cfg = ctx.config
        config = get_config(cfg.trainer_preset, "sft", **{"run_name": run_name(ctx, self.name), **cfg.sft,
                                                           **overrides(options, exclude=("data",)), "seed": ctx.seed})
        settings: dict[str, Any] = {"trainer": cfg.trainer, "config": config.to_dict(), "data": options.data}  # type: ignore[attr-defined]
        if options.data == "reference":  # type: ignore[attr-defined]
            train = cfg.train_set().model_copy(update={"require_solution": True})
            settings["problems"] = train.model_dump()
            settings["problems_key"] = train.key()
        return settings

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return keyed_settings(settings)

    def validate(self, options: StepOptions, ctx: ResolveContext) -> list[str]:
        plugin = trainer(ctx.config.trainer)
        if "sft" not in plugin.supports:
            raise ValueError(f"trainer {ctx.config.trainer!r} does not support sft (supports {sorted(plugin.supports)})")
        self.resolve(options, ctx)  # builds the SFTConfig: an invalid field fails here
        return [f"sft config valid ({ctx.config.trainer_preset} preset, data {options.data})"]  # type: ignore[attr-defined]

    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        config = SFTConfig(**settings["config"])
        if settings["data"] in ("int", "reflection"):
            data = Path(inputs.artifacts["sft_data" if settings["data"] == "int" else "reflection_sft_data"])
        else:
            data = reference_sft_data(inputs.model, settings["problems"], inputs.folder)
        if not (data.exists() and data.stat().st_size > 0):
            return StepOutput(summary={"skipped": f"no SFT rows in {data}", "data": str(data), "data_source": settings["data"]})
        result = trainer(settings["trainer"]).sft(inputs.model, data, config, inputs.folder)
        return StepOutput(
            model=str(result.checkpoint),
            compute=Compute(tokens_trained=result.tokens_trained, tokens_generated=result.tokens_generated,
                            flops_trained=sft_flops(inputs.model, data, result.tokens_trained)),
            summary={"steps": result.steps, "log": str(result.log_path), "data": str(data), "data_source": settings["data"],
                     "config": settings["config"], **result.extra},
        )


def sft_flops(model: str, data: Path, tokens_trained: int) -> float:
    """Training FLOPs of an SFT run: forward + backward over each row's whole sequence (prompt included),
    scaled to the tokens the trainer reports it processed (epochs, a max_steps cut)."""
    from harness.flops import model_shape, training_flops
    from harness.rundir import iter_jsonl

    lengths = [len(r["input_ids"]) for r in iter_jsonl(data)]
    total = sum(lengths)
    if not total or not tokens_trained:
        return 0.0
    return training_flops(model_shape(model), lengths, epochs=tokens_trained / total)


def reference_sft_data(model: str, problems: dict[str, Any], folder: Path) -> Path:
    """SFT rows whose target is each problem's reference solution (complete, so it ends with EOS)."""
    from transformers import AutoTokenizer

    from harness.intervention.build_sft import encode_example
    from harness.rundir import write_jsonl
    from tasks import ProblemSet, render_prompt

    tok = AutoTokenizer.from_pretrained(model)
    task, selected = ProblemSet(**problems).load()
    rows = []
    for p in selected:
        ex = encode_example(tok, render_prompt(task, p), "", p.solution)
        ex.pop("_chat_prompt", None)
        ex["input_ids"].append(tok.eos_token_id)
        ex["loss_mask"].append(1)
        rows.append({"id": f"ref-{p.id}", "problem_id": p.id, **ex})
    return write_jsonl(folder / "reference_sft.jsonl", rows)
