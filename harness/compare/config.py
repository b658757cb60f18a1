"""What `harness compare` runs: `CompareConfig`, every field documented.

Defaults come from a plugin: fields a config leaves unset take the *comparison defaults* registered under
the ``harness.compare_defaults`` entry-point group (`COMPARE_DEFAULTS`) -- the embedded world's on a CPU
(harness/world/plugin.py: its base model, training problems, evaluation protocol and presets), or any
package's own (``defaults: <name>``, or a base model of that package's scheme).

The three groups of settings are kept apart on purpose: *what the arms train on* (``train``, a
`tasks.ProblemSet`), *how every checkpoint is measured* (``eval``, one frozen `EvalSettings`), and *how
steps run* (trainer, presets, backend, isolation). Recipes (harness/recipes/*.yaml) say which steps an arm
takes; each step kind reads what it needs from here and puts all of it into its cache key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.compare.preflight import PreflightConfig
from harness.configs import build, read_yaml_mapping
from harness.evaluate import EvalSettings, SamplingConfig
from harness.registry import Registry
from tasks.problemset import ProblemSet


def _defaults(obj: Any, name: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TypeError("comparison defaults are a mapping of CompareConfig fields")
    return dict(obj)


# name -> CompareConfig fields; plugins register under the ``harness.compare_defaults`` entry-point group.
COMPARE_DEFAULTS: Registry[dict[str, Any]] = Registry("comparison defaults", "harness.compare_defaults", load=_defaults)


def comparison_defaults(name: str | None = None, base_model: str | None = None) -> tuple[str | None, dict[str, Any]]:
    """(name, fields) of the comparison defaults in force: ``name``; else those named like the base model's
    scheme (``world:blindspot`` -> ``world``); else the only set installed; none installed: (None, {})."""
    if name is None:
        from harness.models import model_scheme

        names = COMPARE_DEFAULTS.names()
        scheme = model_scheme(base_model) if base_model else None
        if scheme in names:
            name = scheme
        elif len(names) == 1:
            name = names[0]
        elif not names:
            return None, {}
        else:
            raise ValueError(f"several packages offer comparison defaults ({', '.join(sorted(names))}); choose one with "
                             "defaults: NAME (or set base_model, train and eval)")
    return name, COMPARE_DEFAULTS.get(name)


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

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        """The name becomes the row's folder (``arms/<name>/``): one plain path component, like every other
        name taken from data (``../../x`` would write outside the comparison folder)."""
        from harness.safepath import safe_component

        return safe_component(value, where="eval_only row", field="name")


class TuneConfig(BaseModel):
    """The learning-rate sweep (`harness.compare.tune`)."""

    model_config = ConfigDict(extra="forbid")
    learning_rates: list[float] = Field(default_factory=lambda: [1e-5, 3e-5, 1e-4, 3e-4], min_length=1,
                                        description="The grid tried for every step with a learning_rate option.")
    validation: ProblemSet | None = Field(
        None, description="Validation problems (default: the evaluation tasks' train split, first eval.per_category "
        "per category, minus every training problem). Must not overlap the evaluation problems.")
    seed: int = Field(1000, ge=0, description="Training seed of every sweep run (kept apart from the reported seeds 0..n-1).")


# The per-kind settings CompareConfig had before `steps` (still accepted): key -> (kind, option or None: all).
STEP_ALIASES = {"sft": ("sft", None), "rl": ("rl", None), "int_preset": ("int", "preset"), "int_overrides": ("int", "overrides")}


def _step_aliases(data: dict[str, Any]) -> dict[str, Any]:
    """``sft: {...}``, ``rl: {...}``, ``int_preset``, ``int_overrides`` moved into ``steps`` (a key given both
    ways is an error)."""
    if not any(k in data for k in STEP_ALIASES):
        return data
    data = dict(data)
    steps = {k: dict(v or {}) for k, v in (data.get("steps") or {}).items()}
    for alias, (kind, option) in STEP_ALIASES.items():
        if alias not in data:
            continue
        value = data.pop(alias)
        given = value if option is None else {option: value}
        if not isinstance(given, dict):
            raise ValueError(f"{alias}: expected a mapping of {kind} step options, got {value!r}")
        clash = sorted(set(given) & set(steps.get(kind, {})))
        if clash:
            raise ValueError(f"{alias} and steps.{kind} both set {', '.join(clash)}")
        steps[kind] = {**steps.get(kind, {}), **given}
    return {**data, "steps": steps}


class CompareConfig(BaseModel):
    """Everything `harness compare` needs besides the recipe names."""

    model_config = ConfigDict(extra="forbid")
    out: str | None = Field(None, description="Comparison folder (default runs/compare-<recipes>).")
    defaults: str | None = Field(None, description="Comparison defaults for every field left unset (`COMPARE_DEFAULTS`, a "
                                 "plugin's); None: those of the base model's scheme, else the only set installed (the "
                                 "embedded world's).")
    base_model: str = Field(..., description="Starting model of every arm (path, hub id or <scheme>:<name>, e.g. world:<preset>).")
    include_base: bool = Field(True, description="Also evaluate the base model as a row (not an arm), as the paper's Fig. 2.")
    backend: str = Field("hf", description="Generation backend for InT stages and evaluation.")
    backend_options: dict[str, Any] = Field(default_factory=lambda: {"batch_size": 64}, description="Backend kwargs.")
    train: ProblemSet = Field(..., description="Training problems of every arm (InT and RL), e.g. the world's hard levels, like "
                              "the paper's hard set.")
    eval: EvalSettings = Field(..., description="The frozen evaluation protocol every checkpoint is measured under.")
    data_dir: str | None = Field(None, description="Local benchmark data directory for train and eval sets that name none.")
    trainer: str = Field("trl", description="Trainer plugin for SFT and RL (see `harness trainers list`).")
    trainer_preset: str = Field("paper", description="SFT/RL preset (`trainers.presets`): paper, or a plugin's, e.g. the "
                                "embedded world's embedded (the comparison defaults' when unset).")
    steps: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per step kind, the options every step of that kind starts from (a recipe's "
        "own options win), parsed by the kind (`harness recipes` lists them), e.g. {rl: {max_steps: 2}, int: {preset: "
        "world, overrides: {continue.n: 2}}}. Aliases: sft, rl (-> steps.sft, steps.rl), int_preset, int_overrides "
        "(-> steps.int.preset, steps.int.overrides).",
    )
    seeds: int = Field(1, ge=1, description="Training seeds per recipe (0..seeds-1).")
    match_compute: bool = Field(
        False, description="Also run compute-matched arms: the second recipe until its generated tokens equal the "
        "first's required total, and the first stopped at the second's (see docs/methodology.md).",
    )
    match_flops: bool = Field(
        False, description="With match_compute: also train the second recipe until its FLOPs (generation with prefill "
        "+ training, harness.flops) reach the first's: the compute-matched view by FLOPs (<second>@<first>-flops).",
    )
    tune: TuneConfig | None = Field(
        None, description="Tune every arm's learning rates by the same sweep on a validation split before the reported "
        "arms train (harness.compare.tune); None: the presets' learning rates.",
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

    @model_validator(mode="before")
    @classmethod
    def _plugin_defaults(cls, data: Any) -> Any:
        """Every field the config leaves unset from the comparison defaults (`comparison_defaults`)."""
        if not isinstance(data, dict):
            return data
        data = _step_aliases(data)
        name, found = comparison_defaults(data.get("defaults"), data.get("base_model"))
        found = _step_aliases(found)
        unknown = sorted(set(found) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"comparison defaults {name!r} set unknown fields: {', '.join(unknown)}")
        if not name:
            return data
        steps = {kind: {**found.get("steps", {}).get(kind, {}), **data.get("steps", {}).get(kind, {})}
                 for kind in {**found.get("steps", {}), **data.get("steps", {})}}  # per kind: the config's options win
        return {**found, **data, "steps": steps, "defaults": name}

    @model_validator(mode="after")
    def _trainer_overrides(self) -> CompareConfig:
        """Each trainer field a ``steps.<kind>`` sets for a trainer stage (``steps.sft``/``steps.rl``, aliases ``sft``/
        ``rl``) is built into the trainer preset's config when the config loads (``max_steps: lots`` fails here,
        naming the config file and field, not when the step runs). Unknown names are left to the kind, whose
        error lists its options (`harness.compare.plan.make_plan`)."""
        from trainers.presets import check_stage_overrides

        for name, given in self.steps.items():
            try:
                check_stage_overrides(self.trainer_preset, name, given)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"steps.{name}: {exc}") from None
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
