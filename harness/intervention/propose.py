"""Stage 2, propose: for each failed attempt, ask the proposer for the first critical error and one
replacement step; keep every raw output with its parse result, leak flags and (world) true first error.

Resume unit: one attempt. Its guided-solve turn (paper template) is appended to ``solves.jsonl`` before
its proposals are generated, so a kill between the two turns does not pay for turn 1 again; all ``n``
proposals of an attempt are appended together to ``proposals.jsonl``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from harness.backends import Backend
from harness.intervention.analytics import proposal_analytics
from harness.intervention.config import IntConfig
from harness.intervention.filters import leaks
from harness.intervention.parsing import parse_intervention
from harness.intervention.prompts import get_template_set, template_hash
from harness.intervention.proposers import Proposer, make_proposer, world_truth
from harness.intervention.rollout import sampling_params
from harness.intervention.stages import (
    batched,
    begin,
    completed_manifest,
    open_backend,
    read_jsonl,
    stage_dir,
)
from harness.rundir import RecordLog
from harness.ui import progress_bar


def load_attempts(cfg: IntConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The failed attempts this proposer works on (``max_attempts`` applied) and the rollout manifest."""
    manifest = completed_manifest(stage_dir(cfg, "rollout"), "rollout")
    attempts = list(read_jsonl(stage_dir(cfg, "rollout") / "attempts.jsonl"))
    if cfg.propose.max_attempts:
        attempts = attempts[: cfg.propose.max_attempts]
    return attempts, manifest.data


def run_propose(
    cfg: IntConfig,
    *,
    backend: Backend | None = None,
    proposer_backend: Backend | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the propose stage. ``backend`` is the policy (used by proposer=self);
    ``proposer_backend`` the other model (proposer=model). Either is opened from the config if absent."""
    pc = cfg.propose
    label = pc.stage_label()
    out = stage_dir(cfg, "propose", label)
    attempts, rollout = load_attempts(cfg)
    templates = get_template_set(pc.template)
    if pc.proposer == "oracle" and world_truth(rollout["protocol"]["task"]) is None:
        raise ValueError(
            "proposer=oracle needs a computable first error: only the embedded world task has one"
        )
    protocol = {
        "stage": "propose",
        "upstream": rollout["protocol_hash"],
        "proposer": pc.proposer,
        "proposer_model": pc.proposer_model.model
        if pc.proposer == "model" and pc.proposer_model
        else (cfg.policy.model if pc.proposer == "self" else None),
        "templates": None
        if pc.proposer == "oracle"
        else {"name": templates.name, "hash": template_hash(templates)},
        "n": pc.n,
        "sampling": None if pc.proposer == "oracle" else pc.sampling.model_dump(),
        "max_attempts": pc.max_attempts,
    }
    manifest, _, complete = begin(out, "int-propose", protocol, cfg.model_dump(by_alias=True))
    if complete:
        return manifest.data["counts"]

    solves = RecordLog(out / "solves.jsonl", key=lambda r: r["attempt_id"])
    proposals = RecordLog(out / "proposals.jsonl", key=lambda r: (r["attempt_id"], int(r["proposal_index"])))
    done = proposals.done_keys()
    todo = [a for a in attempts if any((a["attempt_id"], j) not in done for j in range(pc.n))]
    truth = world_truth(rollout["protocol"]["task"])
    owned: Backend | None = None
    if todo and pc.proposer == "self" and backend is None:
        backend = owned = open_backend(cfg.policy)
    if todo and pc.proposer == "model" and proposer_backend is None:
        assert pc.proposer_model is not None
        proposer_backend = owned = open_backend(pc.proposer_model)
    try:
        todo_ids = {a["attempt_id"] for a in todo}
        solved = {r["attempt_id"]: r["text"] for r in solves.read() if r["attempt_id"] in todo_ids}
        proposer = (
            make_proposer(pc.proposer, templates, backend if pc.proposer == "self" else proposer_backend)
            if todo
            else None
        )
        with progress_bar(f"propose ({label})", total=len(todo), enabled=show_progress) as advance:
            for batch in batched(todo, pc.batch_attempts):
                assert proposer is not None
                _propose_batch(batch, proposer, cfg, label, solves, solved, proposals, truth)
                advance(len(batch))
    finally:
        if owned is not None:
            owned.close()

    wanted = {a["attempt_id"] for a in attempts}
    rows = [r for r in proposals.read() if r["attempt_id"] in wanted]
    analytics = proposal_analytics(rows)
    counts = {
        "attempts": len(attempts),
        "proposals": len(rows),
        "parsed": sum(r["parse"]["ok"] for r in rows),
        "parse_failed": sum(not r["parse"]["ok"] for r in rows),
        "solve_turns": len(solves) if templates.solve and pc.proposer != "oracle" else 0,
    }
    manifest.update(
        status="complete",
        counts=counts,
        analytics=analytics,
        proposer=proposer.describe() if proposer else manifest.data.get("proposer"),
    )
    return counts


def _propose_batch(
    batch: list[dict[str, Any]],
    proposer: Proposer,
    cfg: IntConfig,
    label: str,
    solves: RecordLog,
    solved: dict[str, str],
    proposals: RecordLog,
    truth: Any,
) -> None:
    pc = cfg.propose
    params = sampling_params(pc.sampling, pc.n)
    if proposer.needs_solve:
        need = [a for a in batch if a["attempt_id"] not in solved]
        if need:
            samples = proposer.solve(need, params)
            solves.append_many(
                {
                    "attempt_id": a["attempt_id"],
                    "text": s.text,
                    "completion_tokens": s.completion_tokens,
                    "finish_reason": s.finish_reason,
                }
                for a, s in zip(need, samples, strict=True)
            )
            solved.update({a["attempt_id"]: s.text for a, s in zip(need, samples, strict=True)})
    done = proposals.done_keys()
    by_missing: dict[int, list[tuple[dict[str, Any], list[int]]]] = defaultdict(list)
    for a in batch:
        missing = [j for j in range(pc.n) if (a["attempt_id"], j) not in done]
        by_missing[len(missing)].append((a, missing))
    rows = []
    for n, group in by_missing.items():
        items = [a for a, _ in group]
        outputs = proposer.verify(items, [solved.get(a["attempt_id"]) for a in items], replace(params, n=n))
        for (a, missing), samples in zip(group, outputs, strict=True):
            true_loc = truth(a) if truth else None
            rows += [
                _record(a, j, s, label, proposer.kind, true_loc, cfg)
                for j, s in zip(missing, samples, strict=True)
            ]
    proposals.append_many(rows)


def _record(
    a: dict[str, Any], j: int, sample: Any, label: str, kind: str, true_loc: int | None, cfg: IntConfig
) -> dict[str, Any]:
    parse = parse_intervention(sample.text)
    loc, content = parse.location, parse.content or ""
    n_sub = a["n_substeps"]
    return {
        "attempt_id": a["attempt_id"],
        "problem_id": a["problem_id"],
        "proposal_index": j,
        "proposer": label,
        "kind": kind,
        "text": sample.text,
        "prompt_tokens": sample.prompt_tokens,
        "completion_tokens": sample.completion_tokens,
        "finish_reason": sample.finish_reason,
        "parse": parse.to_dict(),
        "n_substeps": n_sub,
        "location_rel": (loc / n_sub) if parse.ok and loc and n_sub else None,
        "leak_substring": bool(content) and leaks(content, a["answer"], "substring"),
        "leak_boxed": bool(content) and leaks(content, a["answer"], "boxed"),
        "true_first_error": true_loc,
        "localized": (loc == true_loc) if parse.ok and loc and true_loc is not None else None,
    }
