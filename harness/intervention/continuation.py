"""Stage 3, continue: counterfactual continuations after prefix + intervention, and the paper's controls.

Every unit continues the *assistant* message of the rollout conversation in place
(``continue_final_message=True``: no end-of-turn, no new turn), exactly as the SFT target will sit in
training. Conditions on the same selected interventions (so on the same problems):

* ``intervention`` -- prefix (substeps before the proposer's location) + the intervention;
* ``original``     -- prefix + the original erroneous substep;
* ``prefix``       -- the prefix alone;
* ``scratch``      -- the problem alone, once per problem (the rollout prompt, fresh seeds).

A unit is one (condition, attempt) -- or (scratch, problem) -- sampled ``n`` times and graded by the
eval runner's generate-grade-append step, so records, seeds and crash behaviour match evaluation.
Only the continuation is graded (the given part never holds a correct \\boxed answer: the attempt
failed and leaking interventions were filtered), as in the paper.
"""

from __future__ import annotations

from typing import Any

from harness.backends import Backend, GenerationRequest
from harness.evaluate import run_batch
from harness.intervention.analytics import table1
from harness.intervention.config import IntConfig
from harness.intervention.filters import select_interventions
from harness.intervention.rollout import sample_key, sampling_params
from harness.intervention.stages import (
    batched,
    begin,
    completed_manifest,
    grader_id,
    open_backend,
    open_grader,
    read_jsonl,
    stage_dir,
    write_jsonl,
)
from harness.intervention.steps import format_intervention, original_step, prefix_before
from harness.provenance import stable_hash
from harness.rundir import RecordLog, atomic_write_json
from harness.ui import progress_bar


def selected_interventions(
    cfg: IntConfig,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """(selected interventions, filter counts, attempts by id, propose manifest) for this proposer."""
    label = cfg.propose.stage_label()
    propose_dir = stage_dir(cfg, "propose", label)
    manifest = completed_manifest(propose_dir, f"propose (proposer {label})")
    attempts = {a["attempt_id"]: a for a in read_jsonl(stage_dir(cfg, "rollout") / "attempts.jsonl")}
    selected, counts = select_interventions(
        read_jsonl(propose_dir / "proposals.jsonl"),
        attempts,
        leak_filter=cfg.select.leak_filter,
        leak_match=cfg.select.leak_match,
    )
    return selected, counts, attempts, manifest.data


def build_units(
    selected: list[dict[str, Any]], attempts: dict[str, dict[str, Any]], conditions: list[str]
) -> list[dict[str, Any]]:
    """The continuation prompts: one unit per (condition, attempt), scratch once per problem."""
    units: list[dict[str, Any]] = []
    scratch_done: set[str] = set()
    for sel in selected:
        a = attempts[sel["attempt_id"]]
        prefix = prefix_before(a["attempt"], sel["location"])
        given = {
            "intervention": prefix + format_intervention(sel["content"]),
            "original": prefix + original_step(a["attempt"], sel["location"]),
            "prefix": prefix,
        }
        for cond in conditions:
            if cond == "scratch":
                if a["problem_id"] in scratch_done:
                    continue
                scratch_done.add(a["problem_id"])
                unit_id, text = f"scratch:{a['problem_id']}", ""
            else:
                unit_id, text = f"{cond}:{a['attempt_id']}", given[cond]
            units.append(
                {
                    "unit_id": unit_id,
                    "condition": cond,
                    "problem_id": a["problem_id"],
                    "attempt_id": None if cond == "scratch" else a["attempt_id"],
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


def run_continue(
    cfg: IntConfig, *, backend: Backend | None = None, show_progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) the continue stage; returns the Table-1 summary (also in ``table1.json``)."""
    from tasks import Problem, get_task

    cc = cfg.continuation
    label = cfg.propose.stage_label()
    out = stage_dir(cfg, "continue", label)
    selected, filter_counts, attempts, propose = selected_interventions(cfg)
    conditions = ["intervention", *cc.controls]
    units = build_units(selected, attempts, conditions)
    grader = grader_id(grading := open_grader(cfg))
    protocol = {
        "stage": "continue",
        "upstream": propose["protocol_hash"],
        "select": cfg.select.model_dump(),
        "n": cc.n,
        "conditions": conditions,
        "sampling": cc.sampling.model_dump(),
        "grader": grader,
        "policy": cfg.policy.model,
        "units": stable_hash([(u["unit_id"], u["given"]) for u in units]),
    }
    manifest, _, complete = begin(out, "int-continue", protocol, cfg.model_dump(by_alias=True))
    if complete:
        grading.close()
        return manifest.data["table1"]
    write_jsonl(out / "units.jsonl", units)

    records = RecordLog(out / "samples.jsonl", key=sample_key)
    done = records.done_keys()
    todo = []
    for u in units:
        missing = [j for j in range(cc.n) if (u["unit_id"], j) not in done]
        if missing:
            # The eval runner's batch step works on Problems; a unit is one (its id keys the records).
            todo.append(
                (
                    Problem(id=u["unit_id"], problem="", answer=u["answer"], category=u["condition"]),
                    unit_request(u),
                    missing,
                )
            )
    rollout = completed_manifest(stage_dir(cfg, "rollout"), "rollout").data["protocol"]
    task = get_task(rollout["task"], rollout["version"])
    stats = {"new_generations": 0, "generation_seconds": 0.0, "grading_seconds": 0.0}
    owns = backend is None and bool(todo)
    if owns:
        backend = open_backend(cfg.policy)
    try:
        with (
            grading as pool,
            progress_bar(f"continue ({label})", total=len(todo), enabled=show_progress) as advance,
        ):
            for batch in batched(todo, cc.batch_units):
                assert backend is not None
                run_batch(
                    task, batch, backend, sampling_params(cc.sampling, cc.n), pool, grader, records, stats
                )
                advance(len(batch))
    finally:
        if owns and backend is not None:
            backend.close()

    summary = table1(units, records.read())
    summary["proposer"] = label
    summary["is_upper_bound"] = cfg.propose.proposer == "oracle"
    summary["filters"] = filter_counts
    atomic_write_json(out / "table1.json", summary)
    manifest.update(status="complete", table1=summary, run_stats=stats)
    return summary
