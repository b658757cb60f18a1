"""The plan of a comparison: every arm, its steps with typed options, resolved settings and cache keys.

Everything that can fail without running anything fails here: unknown recipes or step kinds, unknown
step options (listing the valid ones), an artifact a step needs that no earlier step produces, a trainer
that does not support a step, invalid trainer or InT settings, unknown tasks, train/eval overlap.
Settings that depend on another arm's results (compute matching) are marked *dynamic* and resolved
when that arm has finished; their keys are computed then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from harness.compare.config import CompareConfig
from harness.compare.steps import ResolveContext, StepKind, StepOptions, get_step_kind, step_kind_names
from harness.provenance import stable_hash
from harness.recipes import Recipe, Step

BASE_RECIPE = "base"


@dataclass
class PlannedStep:
    kind: StepKind[Any]
    options: StepOptions
    raw: dict[str, Any]
    settings: dict[str, Any] | None = None  # None while dynamic and unresolved
    key: str | None = None


@dataclass
class Arm:
    """One trained (or untrained) model: a recipe (possibly derived, e.g. compute-matched) and a seed."""

    name: str  # the row name in reports
    recipe: Recipe
    seed: int
    steps: list[PlannedStep]
    role: str = "measured"  # measured | base | compute-matched
    matched_to: str | None = None
    depends_on: tuple[str, ...] = ()
    model_key: str | None = None

    @property
    def static(self) -> bool:
        return all(s.key is not None for s in self.steps)


@dataclass
class Plan:
    arms: list[Arm]
    checks: list[str] = field(default_factory=list)
    base_key: str = ""


def derived_recipes(recipes: list[Recipe], cfg: CompareConfig) -> list[tuple[Recipe, str, str]]:
    """Compute-matched variants: (recipe, its name, matched-to).

    Every other trained recipe B trains its last budgetable step (a kind with a `StepKind.budget_option`,
    e.g. RL) until it has generated what the first recipe A required (``B@A-compute``: each control gets
    A's compute, not only the second recipe); A stops its last budgetable step at what the second recipe
    required (``A@<second>-compute``). With ``match_flops``, the second recipe also trains its last step that a
    FLOPs budget can stop (`StepKind.budget_flops_option`) until its FLOPs reach A's (``<second>@A-flops``; the
    budget converted at the second recipe's own measured FLOPs per token). See docs/methodology.md."""
    trained = [r for r in recipes if r.steps]
    if not cfg.match_compute or len(trained) < 2:
        return []
    a = trained[0]
    pairs = [(b, a, "tokens") for b in trained[1:]] + [(a, trained[1], "tokens")]
    if cfg.match_flops:
        pairs.append((trained[1], a, "flops"))
    out = []
    for this, other, by in pairs:
        budgetable = [i for i, s in enumerate(this.steps) if get_step_kind(s.kind).budgetable(by)]
        if not budgetable:
            kinds = ", ".join(k for k in step_kind_names() if get_step_kind(k).budgetable(by))
            what = "a token budget" if by == "tokens" else "a FLOPs budget"
            raise ValueError(f"{'match_compute' if by == 'tokens' else 'match_flops'}: recipe {this.name!r} has no step that "
                             f"can extend or stop on {what} (budgetable kinds: {kinds or 'none'})")
        steps = list(this.steps)
        last = steps[budgetable[-1]]
        kind = get_step_kind(last.kind)
        if by == "tokens":
            options = kind.with_budget(last.options, other.name)
            name, what = f"{this.name}@{other.name}-compute", "required generated tokens"
        else:  # FLOPs: the budget in FLOPs, converted with this recipe's own measured FLOPs per token
            options = kind.with_budget(last.options, other.name, by="flops", rate_of=this.name)
            name, what = f"{this.name}@{other.name}-flops", "FLOPs"
        steps[budgetable[-1]] = Step(kind=last.kind, options=options)
        out.append((Recipe(name=name, description=f"{this.name} at the {what} of {other.name}",
                           steps=steps, source=this.source), name, other.name))
    return out


def make_plan(recipes: list[Recipe], cfg: CompareConfig, base_key: str, *, missing_data_ok: bool = False,
              seeds: list[int] | None = None) -> Plan:
    """Parse every step's options, validate, resolve static settings and chain the keys (for ``seeds``,
    default ``0 .. cfg.seeds - 1``).

    ``missing_data_ok`` (dry runs): a step whose data is not available here (hub-only data, offline) is
    reported and left unresolved instead of failing; a real run needs the data anyway."""
    from tasks import DataNotFoundError

    named = [r.name for r in recipes]
    if len(set(named)) != len(named):
        raise ValueError(f"recipe named twice in {named}")
    for kind_name in cfg.steps:  # the comparison's per-kind defaults: each kind parses its own
        get_step_kind(kind_name).check_defaults(cfg)
    entries: list[tuple[Recipe, str, str, str | None]] = [(r, r.name, "measured", None) for r in recipes]
    if cfg.include_base and BASE_RECIPE not in named:
        entries.insert(0, (Recipe(name=BASE_RECIPE, description="the base model, untrained"), BASE_RECIPE, "base", None))
    entries += [(r, n, "compute-matched", m) for r, n, m in derived_recipes(recipes, cfg)]
    plan = Plan(arms=[], base_key=base_key)
    seen_lines: set[str] = set()
    for recipe, name, role, matched in entries:
        for seed in (seeds if seeds is not None else range(cfg.seeds)):
            arm = Arm(name=name, recipe=recipe, seed=seed, steps=[], role=role if recipe.steps or role != "measured" else "base",
                      matched_to=matched)
            key: str | None = base_key
            for i, step in enumerate(recipe.steps):
                kind = get_step_kind(step.kind)
                where = f"recipe {recipe.name!r} ({recipe.source or 'built-in'}) step {i + 1}: "
                # the recipe checked kinds and artifacts when read; the comparison's steps.<kind> are the defaults
                options = kind.with_defaults(kind.parse_options(step.options, where), cfg)
                ctx = ResolveContext(config=cfg, seed=seed, recipe=recipe.name, index=i,
                                     earlier=tuple(s.kind for s in recipe.steps[:i]))
                planned = PlannedStep(kind=kind, options=options, raw=dict(step.options))
                try:
                    lines = kind.validate(options, ctx) if seed == (seeds[0] if seeds else 0) else []
                    settings = kind.resolve(options, ctx) if key is not None and not kind.dynamic(options) else None
                except DataNotFoundError as exc:
                    if not missing_data_ok:
                        raise
                    first = str(exc).splitlines()[0]
                    lines, settings = [f"{kind.name}: not resolved here -- {first} (the run loads it)"], None
                    key = None
                for line in lines:
                    if line not in seen_lines:
                        seen_lines.add(line)
                        plan.checks.append(line)
                if settings is not None:
                    planned.settings = settings
                    planned.key = step_key(key, kind.name, kind.key_settings(planned.settings))
                    key = planned.key
                else:
                    key = None
                    for target in kind.budget_targets(options):
                        if target not in arm.depends_on:
                            arm.depends_on = (*arm.depends_on, target)
                arm.steps.append(planned)
            arm.model_key = key
            plan.arms.append(arm)
    for arm in plan.arms:
        for dep in arm.depends_on:
            if dep not in named:
                raise ValueError(f"arm {arm.name!r} depends on recipe {dep!r}, which is not in the comparison ({named})")
    return plan


def step_key(prev: str, kind: str, settings: dict[str, Any]) -> str:
    """The cache key: previous key + kind + the resolved settings (everything the step reads)."""
    return stable_hash({"prev": prev, "kind": kind, "settings": settings})


def eval_key(model_key: str, protocol: dict[str, Any]) -> str:
    return stable_hash({"model": model_key, "protocol": protocol})


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """JSON view of the arms for compare.json and the dry run."""
    rows = []
    for arm in plan.arms:
        rows.append({
            "recipe": arm.name, "seed": arm.seed, "role": arm.role, "matched_to": arm.matched_to,
            "kind": "measured",
            "steps": [{"kind": s.kind.name, "options": s.raw, "key": s.key} for s in arm.steps],
            "model_key": arm.model_key,
        })
    return rows


def describe_steps(arm: Arm) -> str:
    parts = []
    for s in arm.steps:
        key = s.key[:6] if s.key else "dynamic"
        parts.append(f"{s.kind.name}[{key}]" + (f" {json.dumps(s.raw, sort_keys=True)}" if s.raw else ""))
    return " -> ".join(parts) or "(base model)"
