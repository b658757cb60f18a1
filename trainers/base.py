"""The trainer contract: two operations (SFT, RL), their configs, the data they read and the log they write.

Every training stack (TRL in-process, OpenRLHF on Ray, a user's own) plugs in behind `TrainerPlugin`.
The harness owns the data formats and the log schema so that InT and its baselines run unchanged on any
stack, and reports never read a backend's own logs.

Data contracts (jsonl, one row per line):

* SFT dataset (`SFT_FIELDS`): pre-tokenized ``input_ids`` with a same-length ``loss_mask`` (1 = trained),
  plus the text they came from. The prompt is already chat-templated and the target is *not* closed
  (no end-of-turn, no EOS): trainers must train on exactly these ids and never re-render a template
  (TRL and OpenRLHF both close the assistant turn by default; anchors.md B.0 pitfalls A and B).
* RL problems (`RL_FIELDS`): chat ``messages`` for the prompt and the gold ``answer``; the reward is
  `harness.grading` -- the same grader as evaluation. ``messages`` end with a user turn, or with an
  assistant turn the policy continues (a hint: hint-guided RL); then only the continuation is generated,
  trained and graded.
* Training log (`TrainLogRecord`): ``<out>/train_log.jsonl``, one row per SFT optimizer step and one per
  RL step (one rollout batch of ``prompts_per_step`` prompts, which may hold several optimizer updates),
  written by every backend in the same schema (`trainers.trainlog`).
"""

from __future__ import annotations

from abc import ABC
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SFT_FIELDS = ("id", "problem_id", "prompt_text", "target_text", "input_ids", "loss_mask")
RL_FIELDS = ("problem_id", "messages", "answer")


def _f(default: Any, help: str) -> Any:
    """A dataclass field with a help text (shown by `harness trainers show` and the docs)."""
    return field(default=default, metadata={"help": help})


def _backend_args() -> Any:
    """Escape hatch for stack-specific knobs that have no neutral meaning (vLLM memory, DeepSpeed stage)."""
    return field(
        default_factory=dict,
        metadata={
            "help": "Native backend settings applied last, e.g. TRL config fields "
            "({'vllm_gpu_memory_utilization': 0.4}) or OpenRLHF dotted flags ({'ds.zero_stage': 3})."
        },
    )


@dataclass
class _Common:
    """Fields every training config has (both trainer operations read them the same way)."""

    seed: int = _f(0, "Seed for data order, prompt order, sampling and initialisation of anything random.")
    bf16: bool | None = _f(None, "bf16 autocast; None = on when CUDA is available (bf16 fails on CPU).")
    dtype: str = _f("float32", "Dtype the weights are loaded and updated in. float32 + bf16 autocast is mixed precision "
                    "(16 bytes/param with AdamW); 'bfloat16' halves that but loses updates below bf16 resolution "
                    "(2^-8 relative) -- at the paper's lr 1e-6 nearly all of them.")
    gradient_checkpointing: bool | None = _f(None, "Recompute activations in the backward pass; None = on with CUDA.")
    logging_steps: int = _f(1, "Write a train-log row every N steps (SFT: optimizer steps; RL: RL steps).")
    report_to: str = _f("none", "Training dashboard: 'none' or 'tensorboard' (TRL: also 'wandb', 'trackio', ...); "
                         "the neutral train_log.jsonl is always written.")
    run_name: str | None = _f(None, "Name of the run on training dashboards (TRL: TrainingArguments.run_name); None: the output "
                              "folder's name. `harness compare` names arm, seed and step; never part of a cache key.")
    backend_args: dict[str, Any] = _backend_args()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SFTConfig(_Common):
    """Supervised fine-tuning on the trainer-neutral dataset. Defaults are the InT paper's (Table 6)."""

    learning_rate: float = _f(1e-6, "Peak learning rate (paper: 1e-6, full fine-tuning).")
    num_epochs: float = _f(4, "Passes over the dataset (paper: 4).")
    effective_batch_size: int = _f(64, "Sequences per optimizer step across devices and accumulation (paper: 64).")
    per_device_batch_size: int = _f(1, "Sequences per forward pass; accumulation fills the effective batch.")
    lr_scheduler: str = _f("cosine_with_min_lr", "Schedule: cosine decay to min_lr_rate x peak (paper).")
    min_lr_rate: float = _f(0.1, "Final learning rate as a fraction of the peak (paper: 0.1).")
    warmup_ratio: float = _f(0.1, "Fraction of steps spent warming up linearly (paper: 0.1).")
    max_length: int = _f(16384, "Longest sequence in tokens; longer rows are dropped and counted (paper cutoff_len).")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    max_steps: int = _f(-1, "Stop after this many optimizer steps (-1: run num_epochs).")


@dataclass
class RLConfig(_Common):
    """Outcome-reward RL (GRPO-style). Defaults are the InT paper's (Table 5, PipelineRL settings)."""

    learning_rate: float = _f(1e-6, "Policy learning rate (paper: 1e-6).")
    group_size: int = _f(8, "Samples per prompt; the advantage baseline is the group mean (paper: 8).")
    prompts_per_step: int = _f(
        32, "Prompts per RL step (one rollout batch). Paper Table 5's verl-style 'train batch 32' read as prompts."
    )
    mini_batch_prompts: int = _f(
        16, "Prompts per optimizer update; a step makes prompts_per_step / mini_batch_prompts updates (paper: 16)."
    )
    per_device_batch_size: int = _f(8, "Sequences per forward pass; accumulation fills each mini-batch.")
    max_steps: int = _f(400, "RL steps, i.e. rollout batches (paper: ~400).")
    advantage: str = _f("mean", "'mean': reward - group mean, no std division (paper); 'group_norm': divide by std (GRPO).")
    kl_coef: float = _f(0.0, "KL penalty to the reference policy (paper: 0).")
    entropy_coef: float = _f(0.0, "Entropy bonus (paper: 0).")
    temperature: float = _f(1.0, "Rollout temperature (paper: 1.0).")
    top_p: float = _f(1.0, "Rollout top-p (paper: 1.0).")
    max_new_tokens: int = _f(16384, "Rollout token budget (paper: not stated; eval budget 16K assumed).")
    max_generated_tokens: int | None = _f(
        None, "Token budget: stop after the RL step in which the cumulative generated tokens reach this (compute "
        "matching); None: train max_steps steps.",
    )
    reward: str = _f("math-verify", "Grader used as the binary reward (the same implementation as evaluation; "
                     "`harness compare` sets the comparison's grader).")
    reward_judge: dict[str, Any] | None = _f(None, "For a model-based reward grader (llm-judge): the judge model as "
                                             "{backend, model, options}.")
    shuffle: bool = _f(True, "Shuffle the training problems (False: take the rows in file order, e.g. a per-step "
                       "schedule such as hint-guided RL's re-drawn hints).")
    use_vllm: bool = _f(False, "Generate rollouts with vLLM (GPU only).")
    vllm_mode: str = _f("colocate", "'colocate' (share the GPU, sleep mode) or 'server' (separate GPUs).")
    vllm_gpu_memory_utilization: float = _f(0.3, "Share of GPU memory the colocated vLLM engine may take.")
    vllm_max_model_length: int | None = _f(
        None, "vLLM context window; None = the longest prompt in the data + max_new_tokens (never the model's "
        "full context, whose KV cache may not fit).",
    )
    vllm_sleep_mode: bool = _f(True, "Colocated vLLM sleeps (offloads weights, frees its KV cache) while the trainer updates.")

    def __post_init__(self) -> None:
        # Fail at configuration time, not an hour into a run on a rented GPU.
        if self.advantage not in ("mean", "group_norm"):
            raise ValueError(f"advantage must be 'mean' or 'group_norm', got {self.advantage!r}")
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: the group-mean baseline needs at least two samples")
        if self.prompts_per_step % self.mini_batch_prompts:
            raise ValueError(
                f"prompts_per_step ({self.prompts_per_step}) must be a multiple of mini_batch_prompts "
                f"({self.mini_batch_prompts})"
            )

    @property
    def updates_per_step(self) -> int:
        """Optimizer updates made from one rollout batch."""
        return self.prompts_per_step // self.mini_batch_prompts

    def require_problems(self, n_problems: int) -> None:
        """Fail before training when the problems cannot fill one RL step (TRL would train zero steps)."""
        if n_problems < self.prompts_per_step:
            raise ValueError(f"{n_problems} problems cannot fill one step of {self.prompts_per_step} prompts")



def field_help(config_cls: type) -> dict[str, tuple[Any, str]]:
    """``{field: (default, help)}`` of a config dataclass, for CLIs and docs."""
    return {f.name: (config_cls().__dict__[f.name], f.metadata.get("help", "")) for f in fields(config_cls)}


@dataclass
class TrainLogRecord:
    """One row of the trainer-neutral training log (``train_log.jsonl``). Unknown values stay None."""

    step: int
    stage: str  # "sft" | "rl"
    wall_time: float  # seconds since training started
    loss: float | None = None
    learning_rate: float | None = None
    reward_mean: float | None = None
    reward_std: float | None = None
    frac_zero_advantage: float | None = None  # groups whose samples all scored the same
    response_length_mean: float | None = None
    truncation_rate: float | None = None
    entropy: float | None = None
    tokens_generated: int | None = None  # cumulative
    tokens_trained: int | None = None  # cumulative
    epoch: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """What a training call returns: where the checkpoint and the neutral log are, plus totals."""

    checkpoint: Path
    log_path: Path
    steps: int
    wall_time: float
    tokens_generated: int = 0
    tokens_trained: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class TrainerPlugin(ABC):
    """A training stack. Subclasses set `name`, `requires` (import names) and `supports`, and implement
    the operations they support. Construction must be cheap: import the stack inside the methods."""

    name: str = "base"
    requires: tuple[str, ...] = ()
    supports: frozenset[str] = frozenset()
    description: str = ""

    def availability(self) -> tuple[bool, str]:
        """(installed?, detail) -- checked without importing the heavy stack where possible."""
        from importlib.util import find_spec

        missing = [m for m in self.requires if find_spec(m) is None]
        return (not missing, "ok" if not missing else f"missing: {', '.join(missing)}")

    def sft(self, model: str, dataset: Path, config: SFTConfig, out_dir: Path) -> TrainResult:
        """Fine-tune ``model`` on an SFT dataset (jsonl with `SFT_FIELDS`), write a checkpoint to ``out_dir``."""
        raise UnsupportedOperation(f"trainer {self.name!r} does not support sft (supports: {sorted(self.supports)})")

    def rl(self, model: str, problems: Path, config: RLConfig, out_dir: Path) -> TrainResult:
        """Run outcome-reward RL from ``model`` on problems (jsonl with `RL_FIELDS`), write a checkpoint."""
        raise UnsupportedOperation(f"trainer {self.name!r} does not support rl (supports: {sorted(self.supports)})")


class UnsupportedOperation(RuntimeError):
    """Raised when a plugin is asked for an operation it does not declare in `supports`."""
