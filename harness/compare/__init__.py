"""`harness compare`: recipes of typed, registered step kinds, run from one base model, measured under one
frozen protocol, reported with paired statistics and exact compute.

    from harness.compare import CompareConfig, run_compare
    run_compare(["int", "rl-baseline"], CompareConfig(seeds=3, match_compute=True))

Modules: `config` (CompareConfig), `steps` (the StepKind contract and registry), `kinds` (int, sft, rl),
`plan` (validation, keys), `run` (execution and the compare folder), `worker` (process isolation).
Importing the package costs nothing: names resolve on first use (and `harness.recipes` can import
`harness.compare.steps` without pulling in the runner).
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {
    "CompareConfig": "config",
    "EvalOnlyModel": "config",
    "Arm": "plan",
    "Plan": "plan",
    "make_plan": "plan",
    "eval_protocol": "run",
    "load_compare": "run",
    "run_compare": "run",
    "Compute": "steps",
    "ResolveContext": "steps",
    "StepInputs": "steps",
    "StepKind": "steps",
    "StepOptions": "steps",
    "StepOutput": "steps",
    "describe_options": "steps",
    "get_step_kind": "steps",
    "register_step_kind": "steps",
    "step_kind_names": "steps",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
