"""TRL backend: SFTTrainer on our pre-tokenized rows, GRPOTrainer with the harness grader as reward.

Why these settings (anchors.md B.0/B.1):
* SFT gets ``input_ids`` + ``completion_mask`` columns, so TRL skips its own chat rendering and EOS
  appending (pitfalls A and B) and the loss covers exactly the rows' ``loss_mask`` tokens.
* GRPO is pinned to the paper's algorithm instead of TRL's defaults: ``scale_rewards="none"`` (advantage =
  reward - group mean), ``beta=0`` (no KL), ``entropy_coef=0``, one pass per rollout batch, and a
  constant learning rate. ``loss_type="dapo"`` (token mean over the global batch) is kept: the paper does
  not state its aggregation, and a length-normalised sum is the closest TRL loss to PipelineRL's.
* bf16 only where CUDA is present (TRL defaults to bf16, which fails on CPU).
* Accounting across processes (``accelerate launch`` / ``torchrun``): TRL gathers its own token counts
  (``num_tokens``) over the processes, but our reward function counts only its own process's completions.
  The generated tokens are summed over all ranks (`RewardCounters.sync`, an ``all_reduce`` at the end of
  every optimizer step, on every rank) before they are logged or compared with a token budget, so every
  rank stops at the same step; only the main process writes the neutral log and the tokenizer.
Everything is imported inside the methods, so `harness trainers list` works without TRL installed.
"""

from __future__ import annotations

import logging
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from trainers.base import RLConfig, SFTConfig, TrainerPlugin, TrainResult
from trainers.trainlog import TRL_EXTRA, TRL_KEYS, TrainLogWriter, map_metrics

log = logging.getLogger(__name__)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _bf16(requested: bool | None) -> bool:
    import torch

    if requested is not None:
        return requested
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _checkpointing(requested: bool | None = None) -> dict[str, bool]:
    """Activation checkpointing (None: on GPU only); transformers >= 5.24 renamed the field and warns on the old name."""
    from transformers import TrainingArguments

    name = "activation_checkpointing" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__ else (
        "gradient_checkpointing")
    return {name: _cuda() if requested is None else requested}


def _world_size() -> int:
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))


def _cpu_threads(trainer: Any) -> None:
    """On a CPU, torch's thread count follows the free cores between steps (`harness.cpu`): a busy
    machine costs a fair share instead of a collapse. A GPU run is left alone."""
    if _cuda():
        return
    from transformers import TrainerCallback

    from harness.cpu import governor, model_parameters

    threads = governor(model_parameters(trainer.model))

    class CpuThreads(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers API
            threads.tick()

    trainer.add_callback(CpuThreads())


def _main_process() -> bool:
    """Rank 0 (or no launcher): the process that writes logs and files shared by all ranks."""
    import os

    return int(os.environ.get("RANK", "0")) == 0


class _NoLog:
    """The neutral log as seen from a non-main rank: same path, writes nothing (rank 0 writes it)."""

    def __init__(self, out_dir: Path) -> None:
        from trainers.trainlog import LOG_NAME

        self.path = Path(out_dir) / LOG_NAME

    def write(self, step: int, **values: Any) -> None:
        return None


def _writer(out_dir: Path, stage: str) -> Any:
    return TrainLogWriter(out_dir, stage) if _main_process() else _NoLog(out_dir)


def _merge(args: dict[str, Any], backend_args: dict[str, Any]) -> dict[str, Any]:
    """Our TRL arguments with the user's native ``backend_args`` applied last (they win, no duplicates)."""
    return {**args, **backend_args}


def _quiet(trainer: Any) -> None:
    """Keep the console readable: TRL's per-step metric dicts (PrinterCallback) and tqdm bars go away;
    every metric still reaches the neutral train_log.jsonl and one compact line per step (`Progress`)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)


class Progress:
    """One compact console line per logged step at most every few seconds (always the last)."""

    def __init__(self, stage: str, args: Any, *, steps_per_row: int = 1, every: float = 10.0) -> None:
        self.stage, self.every, self.steps_per_row = stage, every, steps_per_row
        self.last = 0.0
        self.total = int(args.max_steps // steps_per_row) if args.max_steps and args.max_steps > 0 else None

    def show(self, step: int, row: dict[str, Any], final: bool = False) -> None:
        from harness.ui import status_line

        now = time.perf_counter()
        if not final and now - self.last < self.every:
            return
        self.last = now
        parts = [f"{self.stage} step {step}" + (f"/{self.total}" if self.total else "")]
        for key, label, fmt in (("loss", "loss", "{:.4f}"), ("reward_mean", "reward", "{:.3f}"),
                                ("frac_zero_advantage", "zero-adv groups", "{:.0%}"), ("tokens_generated", "generated", "{:,}")):
            if row.get(key) is not None:
                parts.append(f"{label} " + fmt.format(row[key]))
        status_line(", ".join(parts))


def _log_callback(writer: TrainLogWriter, *, steps_per_row: int = 1, counters: Any = None, progress: Progress | None = None):
    """A transformers callback that turns every TRL ``log`` call into one neutral row (and a console line)."""
    from transformers import TrainerCallback

    class NeutralLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - transformers API
            logs = logs or {}
            if not state.is_world_process_zero or "train_runtime" in logs:  # end-of-run summary, not a step
                return
            row = map_metrics(logs, TRL_KEYS, TRL_EXTRA)
            row["tokens_trained"] = int(logs["num_tokens"]) if "num_tokens" in logs else None  # TRL gathers it
            if counters is not None:
                row["tokens_generated"] = counters.global_tokens_generated  # summed over ranks (`_sync_callback`)
            step = state.global_step // steps_per_row
            writer.write(step, **row)
            if progress is not None:
                progress.show(step, row, final=state.global_step >= state.max_steps)

    return NeutralLog()


def _sync_callback(counters: Any):
    """Sum the generated tokens over all processes at the end of every optimizer step, on every rank, before
    the budget is checked (`_budget_callback`) and the step is logged (`_log_callback`, after on_step_end)."""
    from transformers import TrainerCallback

    class SyncCounters(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers API
            counters.sync()
            return control

    return SyncCounters()


def _budget_callback(counters: Any, budget: int, updates_per_step: int):
    """Stop at the end of the RL step in which the generated tokens of *all* processes reach ``budget``
    (compute matching); the total is the same on every rank, so every rank stops at the same step."""
    from transformers import TrainerCallback

    class TokenBudget(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers API
            if state.global_step % updates_per_step == 0 and counters.global_tokens_generated >= budget:
                control.should_training_stop = True
            return control

    return TokenBudget()


def _n_tokens(tokenizer: Any, prompt: Any) -> int:
    """Tokens of one TRL prompt (chat messages rendered with a generation prompt, or text)."""
    if isinstance(prompt, str):
        return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True)
    return len(ids["input_ids"] if isinstance(ids, dict) else ids)


def rl_prompts(rows: list[dict[str, Any]], tokenizer: Any) -> list[Any]:
    """TRL prompts for the RL rows: chat messages as they are; when any row ends with an assistant hint,
    every prompt is rendered to text here, since TRL's chat path always opens a new assistant turn and the
    hint must be *continued* (``continue_final_message``)."""
    if all(r["messages"][-1]["role"] == "user" for r in rows):
        return [r["messages"] for r in rows]
    out = []
    for r in rows:
        cont = r["messages"][-1]["role"] == "assistant"
        out.append(tokenizer.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=not cont,
                                                 continue_final_message=cont))
    return out


def _finish(trainer: Any, tokenizer: Any, out_dir: Path, writer: Any, steps: int,
            started: float, counters: Any = None, **extra: Any) -> TrainResult:
    """Save the final checkpoint (model + tokenizer) and summarise the run. Totals are over all processes
    (identical on every rank): generated tokens from the synced reward counters, trained tokens from TRL's
    gathered count; the log (and its throughput) is read on the main process only, which wrote it."""
    from trainers.trainlog import read_train_log, throughput

    ckpt = out_dir / "checkpoint"
    trainer.save_model(str(ckpt))
    main = trainer.is_world_process_zero()
    if main:
        tokenizer.save_pretrained(str(ckpt))
    records = read_train_log(writer.path) if main and writer.path.exists() else []
    last = records[-1] if records else None
    if counters is not None:
        totals = counters.totals()
        extra.update(samples_graded=totals["samples"], samples_correct=totals["correct"], grade_statuses=totals["statuses"])
        generated = counters.sync()
    else:
        generated = (last.tokens_generated or 0) if last else 0
    trained = (last.tokens_trained or 0) if last else _trained_tokens(trainer)
    return TrainResult(
        checkpoint=ckpt,
        log_path=writer.path,
        steps=steps,
        wall_time=time.perf_counter() - started,
        tokens_generated=generated,
        tokens_trained=trained,
        extra={**extra, "throughput": throughput(records), "processes": _world_size()},
    )


def _trained_tokens(trainer: Any) -> int:
    """TRL's own cumulative token count (gathered over processes): SFT's ``_total_train_tokens``, GRPO's
    ``state.num_input_tokens_seen`` -- what its ``num_tokens`` metric logs."""
    return int(getattr(trainer, "_total_train_tokens", 0) or trainer.state.num_input_tokens_seen or 0)


class TRLTrainer(TrainerPlugin):
    """Hugging Face TRL, in-process: CPU, or one GPU with optional vLLM (colocate or server)."""

    name = "trl"
    requires = ("trl", "transformers", "torch", "accelerate", "datasets")
    supports = frozenset({"sft", "rl", "vllm"})
    description = "TRL in-process: SFTTrainer on pre-tokenized ids, GRPOTrainer (mean baseline, no KL); CPU or GPU+vLLM"

    def availability(self) -> tuple[bool, str]:
        ok, detail = super().availability()
        if ok:
            detail += "; vllm " + ("installed" if find_spec("vllm") else "absent (rollouts via transformers generate)")
        return ok, detail

    # ---- SFT ---------------------------------------------------------------------------------------
    def build_sft_trainer(self, model: str, dataset: Path, config: SFTConfig, out_dir: Path) -> tuple[Any, dict]:
        """The configured `trl.SFTTrainer` (not yet trained) and facts about its data; tests hook into it."""
        import trl
        from datasets import Dataset
        from transformers import AutoTokenizer

        from trainers.data import drop_long, load_sft_rows

        rows, dropped = drop_long(load_sft_rows(dataset), config.max_length)
        if not rows:
            raise ValueError(f"{dataset}: every row is longer than max_length={config.max_length}")
        train = Dataset.from_list([{"input_ids": r["input_ids"], "completion_mask": r["loss_mask"]} for r in rows])
        tokenizer = AutoTokenizer.from_pretrained(model)
        per_step = config.per_device_batch_size * _world_size()
        accum = max(1, config.effective_batch_size // per_step)
        if per_step * accum != config.effective_batch_size:
            log.warning("effective batch %d is not a multiple of %d sequences per pass; using %d",
                        config.effective_batch_size, per_step, per_step * accum)
        scheduler_kwargs = {"min_lr_rate": config.min_lr_rate} if config.lr_scheduler == "cosine_with_min_lr" else {}
        args = trl.SFTConfig(**_merge(dict(
            output_dir=str(out_dir / "trl"),
            learning_rate=config.learning_rate,
            num_train_epochs=config.num_epochs,
            max_steps=config.max_steps,
            per_device_train_batch_size=config.per_device_batch_size,
            gradient_accumulation_steps=accum,
            lr_scheduler_type=config.lr_scheduler,
            lr_scheduler_kwargs=scheduler_kwargs,
            warmup_steps=config.warmup_ratio,  # a float < 1 is a ratio in transformers 5
            weight_decay=config.weight_decay,
            seed=config.seed,
            bf16=_bf16(config.bf16),
            use_cpu=not _cuda(),
            **_checkpointing(config.gradient_checkpointing),
            model_init_kwargs={"dtype": config.dtype},
            completion_only_loss=True,
            max_length=None,  # over-long rows were dropped above; TRL would truncate them instead
            logging_steps=config.logging_steps,
            save_strategy="no",
            report_to=config.report_to,
            run_name=config.run_name or out_dir.name,
            disable_tqdm=True,
        ), config.backend_args))
        writer = _writer(out_dir, "sft")
        trainer = trl.SFTTrainer(
            model=model, args=args, train_dataset=train, processing_class=tokenizer,
            callbacks=[_log_callback(writer, progress=Progress("sft", args))]
        )
        _quiet(trainer)
        _cpu_threads(trainer)
        info = {"rows": len(rows), "dropped_long": dropped, "gradient_accumulation_steps": accum,
                "effective_batch_size": per_step * accum, "writer": writer, "tokenizer": tokenizer}
        return trainer, info

    def sft(self, model: str, dataset: Path, config: SFTConfig, out_dir: Path) -> TrainResult:
        out_dir = Path(out_dir)
        started = time.perf_counter()
        trainer, info = self.build_sft_trainer(model, Path(dataset), config, out_dir)
        trainer.train()
        return _finish(trainer, info["tokenizer"], out_dir, info["writer"], trainer.state.global_step, started,
                       rows=info["rows"], dropped_long=info["dropped_long"],
                       effective_batch_size=info["effective_batch_size"])

    # ---- RL ----------------------------------------------------------------------------------------
    def grpo_args(self, config: RLConfig, out_dir: Path, max_prompt_tokens: int | None = None) -> Any:
        """`trl.GRPOConfig` for the neutral RL config (one TRL optimizer step per mini-batch). The colocated
        vLLM's context is the longest prompt + ``max_new_tokens`` unless set: the model's full context (262K
        positions for Qwen3-4B-2507) would need a KV cache that cannot fit beside the trainer."""
        import trl

        if config.use_vllm and not _cuda():
            raise ValueError("use_vllm needs a CUDA GPU; on CPU rollouts use transformers generate")
        return trl.GRPOConfig(**self.grpo_kwargs(config, out_dir, max_prompt_tokens))

    def grpo_kwargs(self, config: RLConfig, out_dir: Path, max_prompt_tokens: int | None = None) -> dict[str, Any]:
        """The keyword arguments of `grpo_args` (checkable without a GPU: the vLLM colocate and sleep-mode
        names are TRL's, `tests/test_gpu_smoke.py`)."""
        samples_per_update = config.mini_batch_prompts * config.group_size
        per_device = min(config.per_device_batch_size, samples_per_update)
        world = _world_size()
        if samples_per_update % (per_device * world):
            raise ValueError(
                f"mini_batch_prompts x group_size = {samples_per_update} samples must be a multiple of "
                f"per_device_batch_size x processes = {per_device * world}"
            )
        updates = config.updates_per_step
        return _merge(dict(
            output_dir=str(out_dir / "trl"),
            learning_rate=config.learning_rate,
            lr_scheduler_type="constant",
            num_generations=config.group_size,
            per_device_train_batch_size=per_device,
            gradient_accumulation_steps=samples_per_update // (per_device * world),
            generation_batch_size=config.prompts_per_step * config.group_size,
            num_iterations=1,
            max_steps=config.max_steps * updates,
            shuffle_dataset=config.shuffle,
            scale_rewards="none" if config.advantage == "mean" else "group",
            loss_type="dapo",
            beta=config.kl_coef,
            entropy_coef=config.entropy_coef,
            temperature=config.temperature,
            top_p=config.top_p,
            max_completion_length=config.max_new_tokens,
            use_vllm=config.use_vllm,
            vllm_mode=config.vllm_mode,
            vllm_gpu_memory_utilization=config.vllm_gpu_memory_utilization,
            vllm_max_model_length=config.vllm_max_model_length or (
                (max_prompt_tokens + config.max_new_tokens) if max_prompt_tokens else None),
            vllm_enable_sleep_mode=config.use_vllm and config.vllm_mode == "colocate" and config.vllm_sleep_mode,
            model_init_kwargs={"dtype": config.dtype},
            seed=config.seed,
            bf16=_bf16(config.bf16),
            use_cpu=not _cuda(),
            **_checkpointing(config.gradient_checkpointing),
            logging_steps=config.logging_steps * updates,
            save_strategy="no",
            report_to=config.report_to,
            run_name=config.run_name or out_dir.name,
            disable_tqdm=True,
        ), config.backend_args)

    def build_grpo_trainer(self, model: str, problems: Path, config: RLConfig, out_dir: Path) -> tuple[Any, dict]:
        """The configured `trl.GRPOTrainer` (not yet trained) with the harness grader as its reward."""
        import trl
        from datasets import Dataset
        from transformers import AutoTokenizer

        from trainers.data import load_rl_rows
        from trainers.reward import RewardCounters, make_trl_reward

        rows = load_rl_rows(problems)
        config.require_problems(len(rows))
        tokenizer = AutoTokenizer.from_pretrained(model)
        prompts = rl_prompts(rows, tokenizer)
        train = Dataset.from_list(
            [{"prompt": p, "answer": str(r["answer"]), "problem_id": str(r["problem_id"])}
             for r, p in zip(rows, prompts, strict=True)]
        )
        counters = RewardCounters()
        writer = _writer(out_dir, "rl")
        args = self.grpo_args(config, out_dir, max_prompt_tokens=max(_n_tokens(tokenizer, p) for p in prompts))
        callbacks = [_sync_callback(counters),  # first: the budget and the log read the synced total
                     _log_callback(writer, steps_per_row=config.updates_per_step, counters=counters,
                                   progress=Progress("rl", args, steps_per_row=config.updates_per_step))]
        if config.max_generated_tokens is not None:
            callbacks.append(_budget_callback(counters, config.max_generated_tokens, config.updates_per_step))
        trainer = trl.GRPOTrainer(
            model=model,
            reward_funcs=[make_trl_reward(counters, grader=config.reward, judge=config.reward_judge)],
            args=args,
            train_dataset=train,
            processing_class=tokenizer,
            callbacks=callbacks,
        )
        _quiet(trainer)
        _cpu_threads(trainer)
        return trainer, {"rows": len(rows), "counters": counters, "writer": writer, "tokenizer": tokenizer}

    def rl(self, model: str, problems: Path, config: RLConfig, out_dir: Path) -> TrainResult:
        out_dir = Path(out_dir)
        started = time.perf_counter()
        trainer, info = self.build_grpo_trainer(model, Path(problems), config, out_dir)
        trainer.train()
        return _finish(trainer, info["tokenizer"], out_dir, info["writer"],
                       trainer.state.global_step // config.updates_per_step, started, counters=info["counters"],
                       rows=info["rows"])
