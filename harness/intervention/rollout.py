"""Stage 1, rollout: K graded samples per training problem; the failed ones become attempts.

A rollout *is* an evaluation on the training split, so the generate-grade-append step is the eval
runner's (`harness.evaluate.run_batch`): same sample records, same seeding, same crash semantics
(a kill loses at most the batch in flight). What is InT-specific happens around it: problems without
a reference solution are dropped *before* sampling (the proposer could not use them) and counted, and
every failed sample is written to ``attempts.jsonl`` with its problem, gold answer and reference.
"""

from __future__ import annotations

from typing import Any

from harness.backends import Backend, GenerationRequest, SamplingParams
from harness.evaluate import run_batch
from harness.intervention.config import IntConfig
from harness.intervention.stages import (
    batched,
    begin,
    grader_id,
    load_task_problems,
    open_backend,
    open_grader,
    stage_dir,
    write_jsonl,
)
from harness.intervention.steps import split_substeps
from harness.provenance import stable_hash
from harness.rundir import RecordLog
from harness.ui import progress_bar


def sample_key(r: dict[str, Any]) -> tuple[str, int]:
    return (str(r["problem_id"]), int(r["sample_index"]))


def sampling_params(sampling: Any, n: int) -> SamplingParams:
    return SamplingParams(
        n=n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        max_tokens=sampling.max_tokens,
        seed=sampling.seed,
    )


def run_rollout(
    cfg: IntConfig, *, backend: Backend | None = None, show_progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) the rollout stage; returns its counts (also in ``rollout/manifest.json``)."""
    from tasks import render_prompt

    out = stage_dir(cfg, "rollout")
    rc = cfg.rollout
    task, problems, dropped, n_loaded = load_task_problems(cfg)
    requests = [GenerationRequest(messages=tuple(render_prompt(task, p))) for p in problems]
    grader = grader_id(grading := open_grader(cfg))
    protocol = {
        "stage": "rollout",
        "task": task.name,
        "version": task.version,
        "split": rc.split,
        "problems": stable_hash([p.id for p in problems]),
        "prompts": stable_hash([r.key() for r in requests]),
        "k": rc.k,
        "sampling": rc.sampling.model_dump(),
        "grader": grader,
        "policy": cfg.policy.model,
    }
    manifest, phash, complete = begin(out, "int-rollout", protocol, cfg.model_dump(by_alias=True))
    if complete:
        grading.close()
        return manifest.data["counts"]

    records = RecordLog(out / "samples.jsonl", key=sample_key)
    done = records.done_keys()
    todo = [
        (p, r, [j for j in range(rc.k) if (p.id, j) not in done])
        for p, r in zip(problems, requests, strict=True)
    ]
    todo = [t for t in todo if t[2]]
    stats = {"new_generations": 0, "generation_seconds": 0.0, "grading_seconds": 0.0}
    owns = backend is None and bool(todo)
    if owns:
        backend = open_backend(cfg.policy)
    try:
        with grading as pool, progress_bar("rollout", total=len(todo), enabled=show_progress) as advance:
            for batch in batched(todo, rc.batch_problems):
                assert backend is not None
                run_batch(
                    task, batch, backend, sampling_params(rc.sampling, rc.k), pool, grader, records, stats
                )
                advance(len(batch))
    finally:
        if owns and backend is not None:
            backend.close()

    by_id = {p.id: (i, p, r) for i, (p, r) in enumerate(zip(problems, requests, strict=True))}
    rows = sorted(
        (r for r in records.read() if r["problem_id"] in by_id),
        key=lambda r: (by_id[r["problem_id"]][0], r["sample_index"]),
    )
    attempts = [_attempt(by_id[r["problem_id"]], r) for r in rows if not r["correct"]]
    for order, a in enumerate(attempts):
        a["order"] = order
    write_jsonl(out / "attempts.jsonl", attempts)
    failed_problems = {a["problem_id"] for a in attempts}
    correct_by_problem: dict[str, int] = {}
    for r in rows:
        correct_by_problem[r["problem_id"]] = correct_by_problem.get(r["problem_id"], 0) + bool(r["correct"])
    counts = {
        "problems_loaded": n_loaded,
        "dropped_no_reference": len(dropped),
        "problems": len(problems),
        "samples": len(rows),
        "correct": sum(bool(r["correct"]) for r in rows),
        "accuracy": sum(bool(r["correct"]) for r in rows) / len(rows) if rows else 0.0,
        "failed_attempts": len(attempts),
        "problems_with_a_failure": len(failed_problems),
        "problems_all_failed": sum(1 for c in correct_by_problem.values() if c == 0),
        "truncated": sum(r["finish_reason"] == "length" for r in rows),
        "no_answer": sum(r["status"] == "no_answer" for r in rows),
    }
    manifest.update(status="complete", counts=counts, dropped_problem_ids=dropped[:1000], run_stats=stats)
    return counts


def _attempt(entry: tuple[int, Any, GenerationRequest], rec: dict[str, Any]) -> dict[str, Any]:
    _, problem, request = entry
    return {
        "attempt_id": f"{problem.id}#{rec['sample_index']}",
        "problem_id": problem.id,
        "sample_index": rec["sample_index"],
        "problem": problem.problem,
        "messages": list(request.messages),
        "answer": problem.answer,
        "reference_solution": problem.solution,
        "metadata": problem.metadata,
        "attempt": rec["text"],
        "n_substeps": len(split_substeps(rec["text"])),
        "completion_tokens": rec.get("completion_tokens", 0),
        "finish_reason": rec.get("finish_reason"),
        "extracted": rec.get("extracted"),
        "status": rec.get("status"),
    }
