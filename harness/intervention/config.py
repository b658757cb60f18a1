"""Configuration of the InT protocol: one pydantic model per stage, paper defaults, two presets.

Why one `IntConfig` for all four stages: each stage runs alone (``harness int propose``) but must read
the settings the previous stage used, so the whole config is saved once in the run directory
(``int_config.json``) and every stage hashes *its* part plus the upstream hash into its protocol. A
changed rollout setting therefore invalidates every later stage instead of silently mixing data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.evaluate import SamplingConfig
from harness.registry import Registry
from tasks.problemset import ProblemSet

CONFIG_FILE = "int_config.json"
Condition = Literal["intervention", "original", "prefix", "scratch", "hint", "hint_intervention"]
CONTROLS: tuple[Condition, ...] = ("original", "prefix", "scratch")  # the default controls (Table 1)
HINT_CONDITIONS: tuple[Condition, ...] = ("hint", "hint_intervention")  # the paper's hint study, on request


# IntConfig fields added after runs and comparisons were cached, with their defaults: hashed (into a stage's
# protocol or a step's cache key) only when set to something else, so everything cached before they existed
# stays valid.
ADDED_LATER: dict[tuple[str, str], Any] = {("continue", "hint_length"): 0.5, ("build_sft", "include_intervention"): True}


def without_later_defaults(section: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (one section of an IntConfig dump) without the fields of `ADDED_LATER` that hold their default."""
    return {k: v for k, v in data.items() if ADDED_LATER.get((section, k), object()) != v}


def check_something_to_train(include_prefix: bool, include_intervention: bool, include_suffix: bool) -> None:
    """The build-sft switches must leave a target to train on."""
    if not (include_prefix or include_intervention or include_suffix):
        raise ValueError("include_prefix, include_intervention and include_suffix are all off: nothing to train on")


class ModelRef(BaseModel):
    """A generator: backend name, model path/id, backend kwargs. ``world:<preset>`` names the embedded
    world's model, built (or read from its cache) when first needed."""

    model_config = ConfigDict(extra="forbid")
    backend: str = Field("hf", description="Generation backend: hf, vllm, openai, or a plugin name.")
    model: str = Field(..., description="Model path or hub id, or world:<preset>.")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra backend kwargs.")


class RolloutConfig(BaseModel):
    """Stage 1: K graded samples per training problem (paper: K=4 at 0.7 / 0.8 / 20)."""

    model_config = ConfigDict(extra="forbid")
    problems: ProblemSet = Field(..., description="Training problems; those without a reference solution are dropped first.")
    k: int = Field(4, ge=1, description="Samples per problem (paper: 4).")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    batch_problems: int = Field(8, ge=1, description="Problems generated and written per batch.")

    def problem_set(self) -> ProblemSet:
        """The problems as the stage reads them (a reference solution required)."""
        return self.problems.model_copy(update={"require_solution": True})


class ProposeConfig(BaseModel):
    """Stage 2: who proposes interventions, with which prompt, how many per failed attempt."""

    model_config = ConfigDict(extra="forbid")
    proposer: Literal["self", "model", "oracle"] = Field(
        "self",
        description="self = the policy (paper); model = proposer_model; oracle = the world's true first error (upper bound, not InT).",
    )
    proposer_model: ModelRef | None = Field(
        None, description="The other model for proposer=model (the paper's size ablation)."
    )
    label: str | None = Field(
        None, description="Stage-directory suffix; default: the proposer kind (model: model-<name>)."
    )
    template: str = Field(
        "paper", description="Proposal template set (`harness.intervention.prompts`): paper: two-turn instruct prompt; "
        "a plugin's, e.g. the embedded world's one-turn compact.",
    )
    n: int = Field(
        4, ge=1, description="Proposals per failed attempt (paper: 4; the first usable one is kept)."
    )
    max_attempts: int | None = Field(
        None, ge=1, description="Propose for at most N failed attempts (in rollout order)."
    )
    max_prompt_tokens: int | None = Field(
        30000, ge=1, description="Cut the chat-templated proposer prompt to this many tokens by showing the proposer "
        "fewer of the attempt's substeps (whole substeps from the start; the instructions and the generation prompt "
        "are never cut). The paper's scripts tokenise the templated prompt and cut it to 30,000 tokens. None: cut "
        "only as far as the context window requires.",
    )
    min_new_tokens: int = Field(
        1024, ge=1, description="A request whose prompt + sampling.max_tokens exceeds the context window is generated "
        "with the room left (the paper lets generation run to the window), down to this many tokens; with less room "
        "it is skipped and counted. The attempt is cut so that the verify turn leaves at least this much room.",
    )
    sampling: SamplingConfig = Field(default_factory=lambda: SamplingConfig(seed=1000))
    batch_attempts: int = Field(8, ge=1, description="Failed attempts per generation/write batch.")

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        from harness.intervention.prompts import PROMPT_SETS

        if value not in PROMPT_SETS.names():
            raise PROMPT_SETS.unknown(value)
        return value

    def stage_label(self) -> str:
        if self.label:
            return self.label
        if self.proposer == "model":
            if self.proposer_model is None:
                raise ValueError("proposer=model needs proposer_model")
            return "model-" + Path(self.proposer_model.model.rstrip("/")).name.replace(":", "-")
        return self.proposer


class SelectConfig(BaseModel):
    """Which proposals become interventions; shared by continue and build-sft so both see one set."""

    model_config = ConfigDict(extra="forbid")
    leak_filter: bool = Field(True, description="Drop interventions that contain the gold answer.")
    leak_match: Literal["substring", "boxed"] = Field(
        "substring",
        description="substring: gold anywhere in the content (paper); boxed: \\boxed{gold} only (for tiny integer answers).",
    )


class ContinueConfig(BaseModel):
    """Stage 3: counterfactual continuations (paper: 32 per intervention) and the Table-1 controls.

    Only the continuations after the interventions are *required* by InT (the correctness filter reads
    them); the controls are a diagnostic (Table 1) and are run on at most ``controls_max_problems``
    problems, drawn with ``controls_seed`` -- the paper ran them on a 334-problem subset."""

    model_config = ConfigDict(extra="forbid")
    n: int = Field(32, ge=1, description="Continuations per intervention and per control unit (paper: 32).")
    controls: list[Literal["original", "prefix", "scratch", "hint", "hint_intervention"]] = Field(
        default_factory=lambda: list(CONTROLS), description="Control conditions (diagnostic) to run on the same problems; "
        "add hint and hint_intervention for the paper's hint study: continuations after the reference's first substeps "
        "(hint-guided RL's hint) and after hint + intervention (`harness.intervention.steps.hint_then_intervention`)."
    )
    hint_length: float = Field(
        0.5, gt=0, lt=1, description="Share of the reference's substeps (final answer excluded) the hint conditions show, "
        "as hint-guided RL's hint_length."
    )
    controls_max_problems: int | None = Field(
        None, ge=1, description="Run the controls (and Table 1) on at most this many problems (None: all)."
    )
    controls_seed: int = Field(0, description="Seed of the subset draw for the controls.")
    sampling: SamplingConfig = Field(default_factory=lambda: SamplingConfig(seed=2000))
    batch_units: int = Field(8, ge=1, description="Continuation units generated and written per batch.")
    min_new_tokens: int = Field(
        1024, ge=1, description="A continuation whose prompt (rollout prompt + given prefix) + sampling.max_tokens "
        "exceeds the context window is generated with the room left, down to this many tokens; with less room it is "
        "skipped. Both are counted in the stage manifest (shortened, skipped).",
    )


class BuildSFTConfig(BaseModel):
    """Stage 4: filters and the trainer-neutral SFT rows, with the paper's ablation switches."""

    model_config = ConfigDict(extra="forbid")
    include_prefix: bool = Field(
        True, description="Train on the model's own prefix (False: prefix is masked context)."
    )
    include_suffix: bool = Field(
        False, description="Append a correct continuation to the target (paper: off)."
    )
    include_intervention: bool = Field(
        True, description="Train on the intervention (False with include_prefix: the 'prefix only' row of Table 2, the "
        "model's own correct substeps before the first error and nothing else)."
    )
    correctness_filter: bool = Field(
        True, description="Keep an intervention only if >= min_correct continuations are correct."
    )
    min_correct: int = Field(1, ge=1, description="m of the correctness filter (paper: 1 of 32).")
    tokenizer: str | None = Field(None, description="Tokenizer for input_ids (default: the policy model's).")

    @model_validator(mode="after")
    def _something_to_train(self) -> BuildSFTConfig:
        check_something_to_train(self.include_prefix, self.include_intervention, self.include_suffix)
        return self

    def protocol(self) -> dict[str, Any]:
        """The switches as the build-sft stage's protocol records them (fields added later only when off their
        default, `without_later_defaults`)."""
        return without_later_defaults("build_sft", self.model_dump(exclude={"tokenizer"}))

    def variant(self) -> str:
        """Directory suffix naming the ablation, so ablations of one run sit side by side."""
        parts = [] if self.include_prefix else ["noprefix"]
        parts += [] if self.include_intervention else ["prefixonly"]
        parts += ["suffix"] if self.include_suffix else []
        if not self.correctness_filter:
            parts.append("nofilter")
        elif self.min_correct != 1:
            parts.append(f"m{self.min_correct}")
        return "-".join(parts)


class IntConfig(BaseModel):
    """The whole protocol. Loadable from YAML/JSON; presets give the paper's and the embedded world's."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    out: str = Field(..., description="Run directory.")
    policy: ModelRef
    grader: str = Field("math-verify", description="Grader for rollouts, continuations (the correctness filter) and reflections.")
    judge: dict[str, Any] | None = Field(None, description="For grader llm-judge: the judge model as {backend, model, options}.")
    grader_timeout: float = Field(10.0, gt=0, description="Hard per-answer grading timeout, seconds.")
    grader_workers: int = Field(1, ge=0, description="Grading worker processes (0: grade in-process).")
    rollout: RolloutConfig
    propose: ProposeConfig = Field(default_factory=ProposeConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    continuation: ContinueConfig = Field(default_factory=ContinueConfig, alias="continue")
    build_sft: BuildSFTConfig = Field(default_factory=BuildSFTConfig)

    def save(self) -> None:
        """Write ``int_config.json`` -- without credentials: a URL's ``user:password@`` and secret-named
        options are masked (pass them again, e.g. ``--set policy.options.base_url=...``, to resume)."""
        from harness.redact import redact_secrets
        from harness.rundir import atomic_write_json

        atomic_write_json(Path(self.out) / CONFIG_FILE, redact_secrets(self.model_dump(by_alias=True)))

    @classmethod
    def load(cls, path: str | Path, *, out: str | None = None) -> IntConfig:
        """From a run directory (its ``int_config.json``), a ``.json`` or a ``.yaml`` file; ``out`` (the
        CLI's --run-dir) replaces the file's, so a config file need not name one. Errors: one line naming
        the file (and field)."""
        from harness.configs import ConfigError, build, read_yaml_mapping

        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE
        if path.suffix in (".yaml", ".yml"):
            data = read_yaml_mapping(path, what="IntConfig")
        else:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read IntConfig file ({exc.strerror or exc})") from None
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{path}: not UTF-8 text (byte at offset {exc.start}); save it as UTF-8") from None
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: expected a mapping of IntConfig fields at top level, got {type(data).__name__}")
        return build(cls, {**data, "out": out} if out is not None else data, source=str(path))

    def with_overrides(self, overrides: dict[str, Any]) -> IntConfig:
        """A copy with dotted-path overrides, e.g. ``{"continue.n": 8, "propose.proposer": "oracle"}``."""
        data = self.model_dump(by_alias=True)
        for dotted, value in overrides.items():
            *parents, leaf = dotted.split(".")
            node = data
            for key in parents:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
            node[leaf] = value
        return type(self).model_validate(data)


PRESET_DIR = Path(__file__).parent / "presets"


def _preset_file(obj: Any, name: str) -> Path:
    path = Path(obj)
    if not path.is_file():
        raise ValueError(f"InT preset file {path} does not exist")
    return path


# name -> YAML file. The paper's ships here (presets/<name>.yaml); a package adds its own through the
# ``harness.int_presets`` entry-point group (the embedded world's ``world``: harness/world/plugin.py).
INT_PRESETS: Registry[Path] = Registry("InT preset", "harness.int_presets", load=_preset_file,
                                       hint="or pass --config FILE; plugins register under [project.entry-points.\"harness.int_presets\"]")
for _file in sorted(PRESET_DIR.glob("*.yaml")):
    INT_PRESETS.register(_file.stem, _file)


def preset_names() -> list[str]:
    """InT presets: shipped as data (``harness/intervention/presets/<name>.yaml``) or from plugins."""
    return sorted(INT_PRESETS.names())


def preset(name: str, out: str, overrides: dict[str, Any] | None = None) -> IntConfig:
    """An `IntConfig` from a preset file plus dotted overrides (``{"policy.model": ..., "continue.n": 8}``).

    WHY presets are data: the paper's settings and the embedded world's differ only in numbers and
    prompts; a YAML file per preset keeps generic code free of any one task, and a user adds a preset
    by dropping a file (or passes ``--config``), a package through the ``harness.int_presets`` group."""
    import yaml

    path = INT_PRESETS.get(name)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data.setdefault("policy", {}).setdefault("model", "")
    data.setdefault("rollout", {}).setdefault("problems", {}).setdefault("task", "")
    cfg = IntConfig.model_validate({**data, "out": out}).with_overrides(overrides or {})
    missing = [f for f, v in (("policy.model", cfg.policy.model), ("rollout.problems.task", cfg.rollout.problems.task)) if not v]
    if missing:
        raise ValueError(f"InT preset {name!r} needs {' and '.join(missing)} (e.g. --model/--task)")
    return cfg
