"""Stage 3, continue: counterfactual continuations after prefix + intervention, and the paper's controls.

Every unit continues the *assistant* message of the rollout conversation in place
(``continue_final_message=True``: no end-of-turn, no new turn), exactly as the SFT target will sit in
training. Conditions on the same selected interventions (so on the same problems):

* ``intervention`` -- prefix (substeps before the proposer's location) + the intervention;
* ``original``     -- prefix + the original erroneous substep;
* ``prefix``       -- the prefix alone;
* ``scratch``      -- the problem alone, once per problem (the rollout prompt, fresh seeds);
* ``hint``         -- (on request) the reference's first substeps, once per problem: hint-guided RL's hint
  (`harness.intervention.steps.hint_prefix`, ``hint_length`` of the reference);
* ``hint_intervention`` -- (on request) hint + intervention: the hint in place of the attempt's first
  substeps, then the attempt's own substeps up to the first error, then the intervention
  (`harness.intervention.steps.hint_then_intervention`) -- the paper's 176-problem hint study.

A unit is one (condition, attempt) -- or (scratch, problem) -- sampled ``n`` times and graded by the
eval runner's generate-grade-append step, so records, seeds and crash behaviour match evaluation.
Only the continuation is graded (the given part never holds a correct \\boxed answer: the attempt
failed and leaking interventions were filtered), as in the paper. A unit whose prompt + ``max_tokens``
exceeds the context window is continued with the room left, down to ``min_new_tokens``, else skipped;
the manifest's ``budget`` counts both per condition.
"""

from __future__ import annotations

from typing import Any

from harness.backends import Backend, GenerationRequest
from harness.intervention.analytics import table1
from harness.intervention.config import HINT_CONDITIONS as HINTED
from harness.intervention.config import IntConfig
from harness.intervention.filters import select_interventions
from harness.intervention.stages import (
    begin,
    completed_manifest,
    generator_of,
    grader_id,
    iter_jsonl,
    open_backend,
    open_grader,
    stage_dir,
    write_jsonl,
)
from harness.intervention.steps import (
    format_intervention,
    hint_prefix,
    hint_then_intervention,
    original_step,
    prefix_before,
)
from harness.provenance import stable_hash
from harness.rundir import atomic_write_json
from harness.sampling import RunStats, Unit, open_records, sample_and_grade


def selected_interventions(
    cfg: IntConfig,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """(selected interventions, filter counts, attempts by id, propose manifest) for this proposer."""
    label = cfg.propose.stage_label()
    propose_dir = stage_dir(cfg, "propose", label)
    manifest = completed_manifest(propose_dir, f"propose (proposer {label})")
    attempts = {a["attempt_id"]: a for a in iter_jsonl(stage_dir(cfg, "rollout") / "attempts.jsonl")}
    selected, counts = select_interventions(
        iter_jsonl(propose_dir / "proposals.jsonl"),
        attempts,
        leak_filter=cfg.select.leak_filter,
        leak_match=cfg.select.leak_match,
    )
    return selected, counts, attempts, manifest.data


PER_PROBLEM = ("scratch", "hint")  # conditions sampled once per problem, not per attempt


def build_units(
    selected: list[dict[str, Any]], attempts: dict[str, dict[str, Any]], conditions: list[str],
    controls_on: set[str] | None = None, hint_length: float = 0.5,
) -> list[dict[str, Any]]:
    """The continuation prompts: one unit per (condition, attempt), scratch and hint once per problem; the
    control conditions only on problems in ``controls_on`` (None: every problem). A problem whose reference
    gives no hint (nothing before its answer) has no hint units."""
    units: list[dict[str, Any]] = []
    per_problem_done: set[tuple[str, str]] = set()
    for sel in selected:
        a = attempts[sel["attempt_id"]]
        prefix = prefix_before(a["attempt"], sel["location"])
        intervention = format_intervention(sel["content"])
        given = {
            "intervention": prefix + intervention,
            "original": prefix + original_step(a["attempt"], sel["location"]),
            "prefix": prefix,
            "scratch": "",
        }
        if any(c in HINTED for c in conditions):
            hint = hint_prefix(a.get("reference_solution") or "", hint_length)
            given["hint"] = hint
            given["hint_intervention"] = hint_then_intervention(hint, a["attempt"], sel["location"], intervention)
        for cond in conditions:
            if cond != "intervention" and controls_on is not None and a["problem_id"] not in controls_on:
                continue
            if cond in HINTED and not given["hint"]:
                continue
            if cond in PER_PROBLEM:
                if (cond, a["problem_id"]) in per_problem_done:
                    continue
                per_problem_done.add((cond, a["problem_id"]))
                unit_id, text = f"{cond}:{a['problem_id']}", given[cond]
            else:
                unit_id, text = f"{cond}:{a['attempt_id']}", given[cond]
            units.append(
                {
                    "unit_id": unit_id,
                    "condition": cond,
                    "problem_id": a["problem_id"],
                    "attempt_id": None if cond in PER_PROBLEM else a["attempt_id"],
                    "location": sel["location"],
                    "messages": a["messages"],
                    "given": text,
                    "answer": a["answer"],
                }
            )
    return units


def unit_request(unit: dict[str, Any]) -> GenerationRequest:
    """Continue the assistant turn after ``given``; with nothing given, open a fresh assistant turn
    (identical rendering, and it avoids empty assistant messages some servers reject)."""
    if not unit["given"]:
        return GenerationRequest(messages=tuple(unit["messages"]))
    return GenerationRequest(
        messages=(*unit["messages"], {"role": "assistant", "content": unit["given"]}),
        continue_final_message=True,
    )


def control_problems(selected: list[dict[str, Any]], cc: Any) -> set[str] | None:
    """The problems the (diagnostic) controls run on: all, or ``controls_max_problems`` drawn with
    ``controls_seed`` from the problems that have a selected intervention (None = all)."""
    import random

    problems = sorted({s["problem_id"] for s in selected})
    if cc.controls_max_problems is None or len(problems) <= cc.controls_max_problems:
        return None
    return set(random.Random(f"controls|{cc.controls_seed}").sample(problems, cc.controls_max_problems))


def run_continue(
    cfg: IntConfig, *, backend: Backend | None = None, show_progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) the continue stage; returns the Table-1 summary (also in ``table1.json``)."""
    cc = cfg.continuation
    label = cfg.propose.stage_label()
    out = stage_dir(cfg, "continue", label)
    selected, filter_counts, attempts, propose = selected_interventions(cfg)
    subset = control_problems(selected, cc)
    units = build_units(selected, attempts, ["intervention", *cc.controls], subset, cc.hint_length)
    grading = open_grader(cfg)
    protocol = {
        "stage": "continue",
        "upstream": propose["protocol_hash"],
        "select": cfg.select.model_dump(),
        "n": cc.n,
        "conditions": ["intervention", *cc.controls],
        "sampling": cc.sampling.model_dump(),
        "min_new_tokens": cc.min_new_tokens,
        "grader": grader_id(grading),
        "policy": generator_of(cfg.policy, checked=backend is None),
        "units": stable_hash([(u["unit_id"], u["given"]) for u in units]),
    }
    manifest, _, complete = begin(out, "int-continue", protocol, cfg.model_dump(by_alias=True))
    if complete:
        grading.close()
        return manifest.data["table1"]
    write_jsonl(out / "units.jsonl", units)

    records = open_records(out / "samples.jsonl")
    rollout = completed_manifest(stage_dir(cfg, "rollout"), "rollout").data["protocol"]
    fields = {"task": rollout["task"], "version": rollout["version"]}
    todo = [Unit(id=u["unit_id"], request=unit_request(u), gold=u["answer"], category=u["condition"], fields=fields)
            for u in units]
    stats = RunStats()
    try:
        sample_and_grade(todo, k=cc.n, params=cc.sampling.params(cc.n), records=records,
                         backend=backend or (lambda: open_backend(cfg.policy)), grader=grading,
                         batch_size=cc.batch_units, label=f"continue ({label})", show_progress=show_progress, stats=stats,
                         min_new_tokens=cc.min_new_tokens)
    except BaseException as exc:
        manifest.fail(exc, stats.to_dict())
        raise
    finally:
        grading.close()

    rows = records.read()
    summary = table1([u for u in units if subset is None or u["problem_id"] in subset], rows)
    summary["proposer"] = label
    summary["is_upper_bound"] = cfg.propose.proposer == "oracle"
    summary["filters"] = filter_counts
    summary["controls_problems"] = None if subset is None else len(subset)
    atomic_write_json(out / "table1.json", summary)
    manifest.finish(stats.to_dict(), table1=summary, budget=budget_counts(units, rows))
    return summary


def budget_counts(units: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per condition: units, samples, samples generated with a lowered budget (shortened), skipped (never
    sent: the prompt left less than ``min_new_tokens``) and truncated (generation hit its budget)."""
    cond = {u["unit_id"]: u["condition"] for u in units}
    out: dict[str, dict[str, int]] = {}
    for u in units:
        out.setdefault(u["condition"], {"units": 0, "samples": 0, "shortened": 0, "skipped": 0, "truncated": 0})["units"] += 1
    for r in records:
        c = out.get(cond.get(r["problem_id"], ""))
        if c is None:
            continue
        c["samples"] += 1
        c["shortened"] += r.get("shortened_to") is not None
        c["skipped"] += r.get("status") == "skipped"
        c["truncated"] += r.get("finish_reason") == "length"
    return out
