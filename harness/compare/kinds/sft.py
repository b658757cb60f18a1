"""Step kind ``sft``: supervised fine-tuning through the comparison's trainer plugin.

``data: int`` trains on the SFT rows of the arm's latest ``int`` step (prefix + intervention, no EOS);
``data: reference`` on the training problems' reference solutions (complete, so they end with EOS) --
the paper's off-policy baseline; ``data: reflection`` on the arm's latest ``reflect`` step's rows (the
policy's own rewrites of its failed attempts, complete, with EOS) -- the paper's self-reflection baseline.
Every other option is an `SFTConfig` field; the comparison's ``steps.sft`` (alias ``sft``) gives defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

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
from trainers.base import SFTConfig

if TYPE_CHECKING:
    from harness.compare.preflight import EstimateContext, StageEstimate


class SFTStepOptions(StepOptions):
    """The options of an ``sft`` step besides the `SFTConfig` fields."""

    data: Literal["int", "reference", "reflection"] = Field("int", description="int: the latest int step's rows; "
                                                            "reference: reference solutions; reflection: the latest reflect step's rewrites.")


SFTOptions = options_model("SFTOptions", SFTConfig, SFTStepOptions, skip=("seed", "run_name"))


class SFTStep(StepKind[SFTStepOptions]):
    name = "sft"
    description = "Supervised fine-tuning (data: int | reference | reflection) with the comparison's trainer; SFTConfig fields as options."
    Options = SFTOptions

    def check_defaults(self, config: Any) -> None:
        check_trainer_defaults(self, config, exclude=("data",))

    def with_defaults(self, options: SFTStepOptions, config: Any) -> SFTStepOptions:
        return options  # the comparison's defaults (`defaults`) are merged when resolving, kept apart from the recipe's

    def requires(self, options: SFTStepOptions) -> tuple[str, ...]:
        return {"int": ("sft_data",), "reflection": ("reflection_sft_data",)}.get(options.data, ())

    def _config(self, options: SFTStepOptions, ctx: ResolveContext, **extra: Any) -> SFTConfig:
        from trainers.presets import get_config

        cfg = ctx.config
        over = {**comparison_overrides(self, cfg, exclude=("data",)), **overrides(options, exclude=("data",)), **extra}
        config = get_config(cfg.trainer_preset, "sft", **over)
        assert isinstance(config, SFTConfig)
        return config

    def resolve(self, options: SFTStepOptions, ctx: ResolveContext) -> dict[str, Any]:
        cfg = ctx.config
        config = self._config(options, ctx, run_name=run_name(ctx, self.name), seed=ctx.seed)
        data = options.over(self.defaults(cfg)).data
        settings: dict[str, Any] = {"trainer": cfg.trainer, "config": config.to_dict(), "data": data}
        if data == "reference":
            train = cfg.train_set().model_copy(update={"require_solution": True})
            settings["problems"] = train.model_dump()
            settings["problems_key"] = train.key()
        return settings

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return keyed_settings(settings)

    def validate(self, options: SFTStepOptions, ctx: ResolveContext) -> list[str]:
        plugin = trainer(ctx.config.trainer)
        if "sft" not in plugin.supports:
            raise ValueError(f"trainer {ctx.config.trainer!r} does not support sft (supports {sorted(plugin.supports)})")
        settings = self.resolve(options, ctx)  # builds the SFTConfig: an invalid field fails here
        return [f"sft config valid ({ctx.config.trainer_preset} preset, data {settings['data']})"]

    def estimate(self, options: SFTStepOptions, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        """Trained tokens (rows x length x epochs) and the training process's memory (`harness.compare.preflight.training_memory`:
        on a GPU bf16 autocast, on a CPU float32 plus the process baseline)."""
        from harness.compare.preflight import StageEstimate

        pf = ctx.pf
        plain = ResolveContext(config=ctx.config, seed=0, recipe=ctx.arm, index=0, earlier=())
        c = (settings or {}).get("config") or self._config(options, plain).to_dict()
        rows = (ctx.n_train or 0) * 4 * pf.expected_failure_rate * pf.selected_fraction
        st = StageEstimate(ctx.arm, self.name, 0, 0, rows * c["max_length"] * 0.5 * c["num_epochs"])
        if ctx.shape is not None:
            # the longest row: the prompt + a prefix and an intervention (at most max_length)
            seq = c["max_length"] if ctx.gpu else min(c["max_length"], 2 * pf.prompt_tokens)
            st.memory = ctx.training_memory(c, c["per_device_batch_size"], seq)
            st.device_bytes = ctx.device_bytes
            if ctx.over_memory(st):
                st.problem = ctx.training_fix(st, c)
        return [st]

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
