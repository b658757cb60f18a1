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
from harness.intervention.config import IntConfig
from harness.intervention.stages import (
    begin,
    generator_of,
    grader_id,
    load_task_problems,
    open_backend,
    open_grader,
    stage_dir,
    write_jsonl,
)
from harness.intervention.steps import split_substeps
from harness.provenance import stable_hash
from harness.sampling import RunStats, Unit, open_records, sample_and_grade, sample_key

__all__ = ["run_rollout", "sample_key", "sampling_params"]


def sampling_params(sampling: Any, n: int) -> SamplingParams:
    """The backend's params for a stage's `SamplingConfig` (kept for callers of the stages' API)."""
    return sampling.params(n)


def run_rollout(
    cfg: IntConfig, *, backend: Backend | None = None, show_progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) the rollout stage; returns its counts (also in ``rollout/manifest.json``)."""
    from tasks import render_prompt

    out = stage_dir(cfg, "rollout")
    rc = cfg.rollout
    task, problems, dropped, n_loaded = load_task_problems(cfg)
    requests = [GenerationRequest(messages=tuple(render_prompt(task, p))) for p in problems]
    grading = open_grader(cfg)
    protocol = {
        "stage": "rollout",
        "task": task.name,
        "version": task.version,
        "split": rc.problem_set().resolved_split(),
        "problems": stable_hash([p.id for p in problems]),
        "prompts": stable_hash([r.key() for r in requests]),
        "k": rc.k,
        "sampling": rc.sampling.model_dump(),
        "grader": grader_id(grading),
        "policy": generator_of(cfg.policy, checked=backend is None),
    }
    manifest, phash, complete = begin(out, "int-rollout", protocol, cfg.model_dump(by_alias=True))
    if complete:
        grading.close()
        return manifest.data["counts"]

    records = open_records(out / "samples.jsonl")
    units = [
        Unit(id=p.id, request=r, gold=p.answer, category=p.category, problem=p.problem,
             fields={"task": task.name, "version": task.version})
        for p, r in zip(problems, requests, strict=True)
    ]
    stats = RunStats()
    try:
        sample_and_grade(units, k=rc.k, params=rc.sampling.params(rc.k), records=records,
                         backend=backend or (lambda: open_backend(cfg.policy)), grader=grading,
                         batch_size=rc.batch_problems, label="rollout", show_progress=show_progress, stats=stats)
    except BaseException as exc:
        manifest.fail(exc, stats.to_dict())
        raise
    finally:
        grading.close()

    by_id = {p.id: (i, p, r) for i, (p, r) in enumerate(zip(problems, requests, strict=True))}
    rows = sorted(
        (r for r in records.read() if r["problem_id"] in by_id),
        key=lambda r: (by_id[r["problem_id"]][0], r["sample_index"]),
    )
    # a sample skipped for not fitting the context window is no attempt: nothing was generated
    attempts = [_attempt(by_id[r["problem_id"]], r) for r in rows if not r["correct"] and r["status"] != "skipped"]
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
        "skipped": sum(r["status"] == "skipped" for r in rows),
    }
    manifest.finish(stats.to_dict(), counts=counts, dropped_problem_ids=dropped[:1000])
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
