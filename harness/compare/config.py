"""What `harness compare` runs: `CompareConfig`, every field documented. Defaults: the embedded world on CPU.

The three groups of settings are kept apart on purpose: *what the arms train on* (``train``, a
`tasks.ProblemSet`), *how every checkpoint is measured* (``eval``, one frozen `EvalSettings`), and *how
steps run* (trainer, presets, backend, isolation). Recipes (harness/recipes/*.yaml) say which steps an arm
takes; each step kind reads what it needs from here and puts all of it into its cache key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.compare.preflight import PreflightConfig
from harness.configs import build, read_yaml_mapping
from harness.evaluate import EvalSettings, SamplingConfig
from tasks.problemset import ProblemSet


class EvalOnlyModel(BaseModel):
    """A model evaluated on the same problems without training (e.g. a larger model): an eval-only row.

    ``sampling``, ``max_tokens`` and ``chat`` override the frozen protocol *for this row only* (a reasoning
    model needs its own budget); the report marks such rows as measured under different settings."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., description="Row name in the report.")
    model: str = Field(..., description="Path, hub id or <scheme>:<name> (e.g. world:large).")
    backend: str = Field("hf", description="Generation backend for this row.")
    options: dict[str, Any] = Field(default_factory=dict, description="Backend kwargs for this row.")
    sampling: SamplingConfig | None = Field(None, description="Row-specific sampling and budget (None: the protocol's).")
    answer_after: str | None = Field(None, description="Grade only the text after the last occurrence of this marker "
                                     "(a reasoning model's final channel, e.g. '</think>').")
    optional: bool = Field(False, description="Evaluate the row only if its model is already built or downloaded "
                           "(e.g. a larger world model, built on demand with `harness world build --preset ...`).")


class CompareConfig(BaseModel):
    """Everything `harness compare` needs besides the recipe names."""

    model_config = ConfigDict(extra="forbid")
    out: str | None = Field(None, description="Comparison folder (default runs/compare-<recipes>).")
    base_model: str = Field("world:default", description="Starting model of every arm (path, hub id or world:<preset>).")
    include_base: bool = Field(True, description="Also evaluate the base model as a row (not an arm), as the paper's Fig. 2.")
    backend: str = Field("hf", description="Generation backend for InT stages and evaluation.")
    backend_options: dict[str, Any] = Field(default_factory=lambda: {"batch_size": 64}, description="Backend kwargs.")
    train: ProblemSet = Field(
        default_factory=lambda: ProblemSet(task="world@hard", split="train", per_category=16),
        description="Training problems of every arm (InT and RL): the world's hard levels, like the paper's hard set.",
    )
    eval: EvalSettings = Field(
        default_factory=lambda: EvalSettings(tasks=["world"], split="test", per_category=16, samples=8,
                                             sampling=SamplingConfig(max_tokens=192)),
        description="The frozen evaluation protocol every checkpoint is measured under.",
    )
    data_dir: str | None = Field(None, description="Local benchmark data directory for train and eval sets that name none.")
    trainer: str = Field("trl", description="Trainer plugin for SFT and RL (see `harness trainers list`).")
    trainer_preset: str = Field("embedded", description="SFT/RL preset: paper | embedded (`trainers.presets`).")
    sft: dict[str, Any] = Field(default_factory=dict, description="SFTConfig overrides for every arm.")
    rl: dict[str, Any] = Field(default_factory=dict, description="RLConfig overrides for every arm.")
    int_preset: str = Field("world", description="InT preset (harness/intervention/presets/<name>.yaml).")
    int_overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted IntConfig overrides for every int step.")
    seeds: int = Field(1, ge=1, description="Training seeds per recipe (0..seeds-1).")
    match_compute: bool = Field(
        False, description="Also run compute-matched arms: the second recipe until its generated tokens equal the "
        "first's required total, and the first stopped at the second's (see docs/methodology.md).",
    )
    allow_overlap: bool = Field(False, description="Run even if training and evaluation problems overlap (reported first).")
    decontaminate: Literal["refuse", "exclude"] = Field(
        "refuse", description="On train/eval overlap: refuse to start, or evaluate on the held-out problems only.",
    )
    eval_only: list[EvalOnlyModel] = Field(default_factory=list, description="Models evaluated without training.")
    reported: bool = Field(True, description="Add the paper's reported numbers as labelled rows.")
    recipes_dirs: list[str] = Field(default_factory=list, description="Extra recipe folders.")
    isolation: Literal["auto", "process", "inline"] = Field(
        "auto", description="process: each step in its own process (frees every device allocation, contains crashes); "
        "inline: in this one; auto: process when a GPU is present, inline on a CPU (nothing to free there, and the "
        "embedded world keeps its speed).",
    )
    sft_stats_rows: int | None = Field(64, ge=1, description="Rows per SFT data source scored for NLL/entropy (None: all).")
    preflight: PreflightConfig = Field(default_factory=PreflightConfig, description="Device memory, model shapes and "
                                       "throughput assumptions for the preflight (`harness.compare.preflight`).")

    @model_validator(mode="after")
    def _one_grader(self) -> CompareConfig:
        """Evaluation, InT's filters and the RL reward use the comparison's one grader (`grading`)."""
        clash = [f"rl.{k}" for k in ("reward", "reward_judge") if k in self.rl]
        clash += [f"int_overrides.{k}" for k in ("grader", "judge") if k in self.int_overrides]
        if clash:
            raise ValueError(f"{', '.join(clash)}: a comparison grades evaluation, InT's filters and the RL reward with "
                             "one grader; set eval.grader (and eval.judge) instead")
        return self

    def grading(self) -> tuple[str, dict[str, Any] | None]:
        """The comparison's grader and its judge model (``eval.grader``, ``eval.judge``): what evaluation scores
        with, what InT's rollouts, continuations (the correctness filter) and reflections are graded with, and
        the RL reward of every arm (`harness.grading.open_grader` opens it in each)."""
        return self.eval.grader, self.eval.judge

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> CompareConfig:
        data = read_yaml_mapping(path, what="CompareConfig")
        return build(cls, {**data, **{k: v for k, v in overrides.items() if v is not None}}, source=str(path))

    def train_set(self) -> ProblemSet:
        return self.train.with_data_dir(self.data_dir)

    def eval_settings(self) -> EvalSettings:
        return self.eval if self.eval.data_dir or not self.data_dir else self.eval.model_copy(update={"data_dir": self.data_dir})

    def default_out(self, recipe_names: list[str]) -> Path:
        return Path(self.out or Path("runs") / f"compare-{'-vs-'.join(recipe_names)}")
