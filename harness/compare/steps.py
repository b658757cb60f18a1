"""Step kinds: the units a recipe is made of (``int``, ``sft``, ``rl``, a plugin's own), one registered class each.

A step kind is a typed contract, in the spirit of inspect_ai's registered solvers and scorers:

* ``Options`` -- a pydantic model (``extra="forbid"``, every field documented): what a recipe may write
  under ``- <kind>: {...}``. Unknown options fail before anything runs, listing the valid ones.
* `StepKind.resolve` -- everything the step will read, as a JSON-able dict of *settings*, computed from
  the options and the comparison (`ResolveContext`). The step's cache key is the hash of the previous
  step's key plus these resolved settings, and `StepKind.run` receives *only* them (plus the model and
  the artifacts of earlier steps, which the previous key already covers) -- so nothing a step reads can
  be missing from its key. `StepKind.key_settings` may leave out settings that cannot change the result
  (a dashboard, a run name): turning on TensorBoard must not retrain a cached arm.
* `StepKind.run` -- does the work into the step's folder and returns a `StepOutput`: the new model (if
  any), artifacts for later steps (e.g. ``sft_data``), and its compute, split into *required* and
  *diagnostic* generated tokens so reports never charge a method for its diagnostics. A step that trains
  on a dataset names it in its summary (``data``: path, ``data_source``: label): the comparison scores
  every such dataset under the base model (NLL, entropy; paper Figs. 8-9).
* `StepKind.estimate` -- what the step will generate, train and occupy, for the preflight (before anything
  runs), from its options or resolved settings and `harness.compare.preflight.EstimateContext`.
* `StepKind.budget_option` -- how the kind takes part in compute matching: the option (e.g. ``rl``'s
  ``match_compute_of``) that makes the step extend or stop on a budget of required generated tokens, that
  of another arm with the same seed (`ResolveContext.remaining_budget`). ``--match-compute`` gives the last
  such step of every trained recipe its budget; a kind without one cannot be budgeted. ``budget_flops_option``
  (``rl``'s ``match_flops_of``) and ``budget_rate_option`` (``flops_rate_of``) do the same for a budget of
  FLOPs (``match_flops``, `StepKind.with_budget` with ``by="flops"``).
* Comparison defaults: ``steps: {<kind>: {...}}`` of `CompareConfig` holds options every step of the kind
  starts from, parsed by the kind's own ``Options`` (`StepKind.defaults`); a recipe's options win.

Registration: built-in kinds are entry points of the ``harness.steps`` group (pyproject.toml), exactly as a
plugin package registers its own; `register_step_kind` adds one in-process (notebooks, tests). A new kind
is one file plus one registration line (docs/adding-a-recipe.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.registry import Registry

if TYPE_CHECKING:
    from harness.compare.config import CompareConfig
    from harness.compare.preflight import EstimateContext, StageEstimate

ENTRY_POINT_GROUP = "harness.steps"


class StepOptions(BaseModel):
    """Base of every kind's options model: unknown options are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def over(self: S, defaults: S) -> S:
        """These options on top of ``defaults`` (the comparison's, `StepKind.defaults`): a field this step did
        not set takes the default's value."""
        return type(self)(**{**defaults.model_dump(exclude_unset=True), **self.model_dump(exclude_unset=True)})


S = TypeVar("S", bound=StepOptions)


@dataclass
class Compute:
    """What a step cost. Generated tokens are counted once each, from the records the step wrote."""

    tokens_generated: int = 0  # required by the method (what a compute-matched comparison charges)
    tokens_generated_diagnostic: int = 0  # produced only to measure something (Table-1 controls, ...)
    tokens_trained: int = 0
    # FLOPs from the model's shape (`harness.flops`): generation counts every prompt's prefill and every
    # generated token; training is forward + backward over whole sequences. 0 when the shape is unknown.
    flops_generated: float = 0.0  # of the required generations
    flops_generated_diagnostic: float = 0.0
    flops_trained: float = 0.0
    wall_time: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)  # per source, e.g. {"rollout": 16000, ...}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepOutput:
    """The result of one step. ``model`` is the checkpoint it produced (None: the model is unchanged)."""

    model: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    compute: Compute = field(default_factory=Compute)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "artifacts": self.artifacts, "compute": self.compute.to_dict(), "summary": self.summary}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepOutput:
        return cls(model=data.get("model"), artifacts=dict(data.get("artifacts") or {}),
                   compute=Compute(**(data.get("compute") or {})), summary=dict(data.get("summary") or {}))


@dataclass(frozen=True)
class ResolveContext:
    """What `StepKind.resolve` may consult: the comparison, the seed, where the step sits in its recipe,
    and -- for settings that depend on other arms (compute matching) -- their finished results."""

    config: CompareConfig
    seed: int
    recipe: str
    index: int  # 0-based position of the step in the recipe
    earlier: tuple[str, ...]  # kinds of the steps before it
    arm_compute: Any = None  # callable (recipe, seed) -> per-step compute list of a finished arm, or None
    spent: int = 0  # required generated tokens of this arm's earlier steps
    spent_flops: float = 0.0  # FLOPs (required generation + training) of this arm's earlier steps

    def remaining_budget(self, target: str) -> int:
        """The token budget of a compute-matched step: the required generated tokens of arm ``target`` (same
        seed, finished) minus those this arm's earlier steps generated."""
        other = self.arm_compute(target, self.seed) if self.arm_compute else None
        if other is None:
            raise ValueError(f"recipe {self.recipe!r}: compute matching to {target!r} needs that recipe in the comparison")
        return sum(int(c["tokens_generated"]) for c in other) - self.spent


@dataclass(frozen=True)
class StepInputs:
    """What `StepKind.run` gets besides its settings."""

    model: str  # the current model (a local path)
    folder: Path  # the step's cache folder (resumable: a half-done step finds its own files here)
    artifacts: dict[str, str]  # produced by earlier steps of the arm, e.g. {"sft_data": ".../sft.jsonl"}
    show_progress: bool = True


OptionsT = TypeVar("OptionsT", bound=StepOptions)


class StepKind(ABC, Generic[OptionsT]):
    """A recipe step kind, generic over its options model ``OptionsT``. Subclasses set `name`, `description`,
    `Options` (the class ``OptionsT``) and implement `resolve`/`run`; `estimate` and `budget_option` complete the
    contract (a kind without them still runs: the preflight says it has no estimate, and it cannot be
    compute-matched)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: type[OptionsT]  # the options model (a StepOptions subclass), set by each kind
    budget_option: ClassVar[str | None] = None  # the option naming the arm whose required tokens this step matches
    # FLOPs matching (``match_flops``): the option naming the arm whose FLOPs this step matches, and the one naming
    # the arm whose measured FLOPs per generated token convert that budget into tokens (None: the kind has none)
    budget_flops_option: ClassVar[str | None] = None
    budget_rate_option: ClassVar[str | None] = None

    def requires(self, options: OptionsT) -> tuple[str, ...]:
        """Artifacts an earlier step of the same recipe must produce (checked before anything runs)."""
        return ()

    def produces(self, options: OptionsT) -> tuple[str, ...]:
        """Artifacts this step leaves for later steps."""
        return ()

    def validate(self, options: OptionsT, ctx: ResolveContext) -> list[str]:
        """Extra checks before anything runs; return lines for the plan, raise ValueError on a problem."""
        return []

    def dynamic(self, options: OptionsT) -> bool:
        """True when `resolve` needs other arms' results (compute matching): resolved at run time."""
        return self.budget_target(options) is not None

    def budget_target(self, options: OptionsT) -> str | None:
        """The arm whose required generated tokens (its `budget_option`) or FLOPs (its `budget_flops_option`)
        this step matches, or None."""
        for option in (self.budget_option, self.budget_flops_option):
            target = getattr(options, option, None) if option else None
            if target:
                return str(target)
        return None

    def budget_targets(self, options: OptionsT) -> tuple[str, ...]:
        """Every arm this step's budget reads (its token target, FLOPs target and FLOPs-rate arm, in that order,
        once each): the arm depends on all of them finishing first."""
        out: list[str] = []
        for option in (self.budget_option, self.budget_flops_option, self.budget_rate_option):
            target = getattr(options, option, None) if option else None
            if target and target not in out:
                out.append(str(target))
        return tuple(out)

    def budgetable(self, by: str = "tokens") -> bool:
        """Whether the kind can extend or stop on a budget of required generated tokens (``by="tokens"``) or
        of FLOPs (``by="flops"``)."""
        return bool(self.budget_option if by == "tokens" else self.budget_flops_option)

    def with_budget(self, raw: dict[str, Any], target: str, *, by: str = "tokens", rate_of: str | None = None) -> dict[str, Any]:
        """A step's raw options, budgeted: train until the arm's required generated tokens (``by="tokens"``) or
        its FLOPs (``by="flops"``, converted at the measured FLOPs per token of arm ``rate_of``) equal arm
        ``target``'s."""
        if by == "tokens":
            if not self.budget_option:
                raise ValueError(f"step kind {self.name!r} cannot be budgeted (it declares no budget_option)")
            return {**raw, self.budget_option: target}
        if by != "flops":
            raise ValueError(f"unknown budget {by!r} (tokens or flops)")
        if not self.budget_flops_option:
            raise ValueError(f"step kind {self.name!r} cannot be budgeted by FLOPs (it declares no budget_flops_option)")
        rate = {self.budget_rate_option: rate_of} if self.budget_rate_option and rate_of else {}
        return {**raw, self.budget_flops_option: target, **rate}

    def defaults(self, config: CompareConfig) -> OptionsT:
        """The comparison's defaults for this kind (``steps.<name>`` of the config), parsed by its options."""
        return self.parse_options(dict(config.steps.get(self.name) or {}), where=f"comparison steps.{self.name}: ")

    def check_defaults(self, config: CompareConfig) -> None:
        """Raise ValueError on invalid comparison defaults for this kind (``steps.<name>``), when the config loads.
        The base parses them (`defaults`); a kind may check more (the trainer kinds: against the trainer preset)."""
        self.defaults(config)

    def with_defaults(self, options: OptionsT, config: CompareConfig) -> OptionsT:
        """The options a step is planned with: the recipe's, over the comparison's defaults for the kind. A
        kind that must tell the two apart (``rl``: a recipe's ``max_steps_factor`` scales the comparison's
        ``max_steps``) returns ``options`` unchanged and reads `defaults` itself."""
        return options.over(self.defaults(config))

    def estimate(self, options: OptionsT, settings: dict[str, Any] | None, ctx: EstimateContext) -> list[StageEstimate]:
        """The preflight's rows for this step: generations, generated and trained tokens, memory (see
        `harness.compare.preflight`). ``settings`` are the resolved ones, None while the step is dynamic or
        its data is not available here (estimate from the options and the comparison then)."""
        from harness.compare.preflight import StageEstimate

        return [StageEstimate(ctx.arm, self.name, notes=[f"step kind {self.name!r} declares no estimate"])]

    @abstractmethod
    def resolve(self, options: OptionsT, ctx: ResolveContext) -> dict[str, Any]:
        """Every setting `run` will read, JSON-able (hashed into the cache key)."""

    def key_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The part of the resolved settings the cache key hashes: all of them unless a kind knows that some
        change only how a run is watched, never what it produces (sft/rl: ``report_to``, ``run_name``)."""
        return settings

    @abstractmethod
    def run(self, settings: dict[str, Any], inputs: StepInputs) -> StepOutput:
        """Do the work into ``inputs.folder``; must be resumable or restartable (the folder may hold a
        dead run's files). Runs in a child process by default (`CompareConfig.isolation`)."""

    def parse_options(self, raw: dict[str, Any], where: str = "") -> OptionsT:
        """The typed options, or a one-line error listing the valid ones."""
        try:
            return self.Options(**(raw or {}))
        except ValidationError as exc:
            valid = ", ".join(sorted(self.Options.model_fields)) or "(none)"
            errs = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}{_got(e)}" for e in exc.errors(include_url=False))
            raise ValueError(f"{where}step {self.name!r}: {errs}. Valid options: {valid}") from None


def _got(error: Any) -> str:
    """`` (got <value>)`` for an option given a wrong value (not for a missing or unknown one's whole mapping)."""
    value = error.get("input")
    return "" if error.get("type") in ("missing", "extra_forbidden") or isinstance(value, dict) else f" (got {value!r})"


def _kind_class(obj: Any, name: str) -> type[StepKind[Any]]:
    if not (isinstance(obj, type) and issubclass(obj, StepKind)):
        raise TypeError("is not a StepKind subclass")
    return obj


STEP_KINDS: Registry[type[StepKind[Any]]] = Registry("step kind", ENTRY_POINT_GROUP, load=_kind_class)


def register_step_kind(cls: type[StepKind[Any]]) -> type[StepKind[Any]]:
    """Register a kind in-process (usable as a class decorator); packages use the entry-point group."""
    if not getattr(cls, "name", None):
        raise ValueError(f"{cls.__name__} has no name")
    STEP_KINDS.register(cls.name, cls)
    return cls


def step_kind_names() -> list[str]:
    return sorted(STEP_KINDS.names())


def get_step_kind(name: str) -> StepKind[Any]:
    """The registered kind ``name`` (an instance); unknown names list the registered ones."""
    return STEP_KINDS.get(name)()


def describe_options(kind: StepKind[Any]) -> list[tuple[str, str, str]]:
    """(option, default, description) rows for `harness recipes` and the docs."""
    rows = []
    for fname, f in kind.Options.model_fields.items():
        default = "required" if f.is_required() else repr(f.default if f.default_factory is None else f.default_factory())
        rows.append((fname, default, f.description or ""))
    return rows
