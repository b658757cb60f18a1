"""`harness compare`: recipes of typed, registered step kinds, run from one base model, measured under one
frozen protocol, reported with paired statistics and exact compute.

    from harness.compare import CompareConfig, run_compare
    run_compare(["int", "rl-baseline"], CompareConfig(seeds=3, match_compute=True))

Modules: `config` (CompareConfig; plugins' comparison defaults), `steps` (the StepKind contract and
registry), `kinds` (int, reflect, sft, rl), `plan` (validation, keys, compute-matched arms), `preflight`
(each kind's estimate, memory), `run` (execution and the compare folder), `worker` (process isolation).
Importing the package costs nothing: names resolve on first use (and `harness.recipes` can import
`harness.compare.steps` without pulling in the runner).
"""

from __future__ import annotations

from harness.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "config": "COMPARE_DEFAULTS CompareConfig EvalOnlyModel comparison_defaults",
    "preflight": "EstimateContext StageEstimate",
    "plan": "Arm Plan make_plan",
    "run": "eval_protocol load_compare run_compare",
    "steps": "STEP_KINDS Compute ResolveContext StepInputs StepKind StepOptions StepOutput describe_options get_step_kind "
             "register_step_kind step_kind_names",
})
