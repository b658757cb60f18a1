"""Stage 2, propose: for each failed attempt, ask the proposer for the first critical error and one
replacement step; keep every raw output with its parse result, leak flags and (world) true first error.

Resume unit: a fixed batch of attempts (cut from the whole list, as in `harness.sampling`), regenerated
whole when any of its proposals is missing, so a resumed run writes the same text as an uninterrupted
one. Guided-solve turns (paper template) are appended to ``solves.jsonl`` before the proposals are
generated, so a kill between the two turns keeps turn 1.

Budgets (`harness.intervention.proposers`): the templated verify prompt is cut to ``max_prompt_tokens``
tokens at a substep boundary (the record says ``attempt_cut`` and ``shown_substeps``), a request whose
prompt + ``max_tokens`` exceeds the window is generated with the room left down to ``min_new_tokens``
(``shortened_to``), and one with less room is not sent and is recorded as a parse failure of reason
``context``. The manifest's ``budget`` counts all three, per turn.
"""

from __future__ import annotations

import time
from typing import Any

from harness.backends import Backend, Sample
from harness.intervention.analytics import proposal_analytics
from harness.intervention.config import IntConfig
from harness.intervention.filters import leaks
from harness.intervention.parsing import ParseResult, parse_intervention
from harness.intervention.prompts import get_template_set, template_hash
from harness.intervention.proposers import Proposer, Shown, make_proposer
from harness.intervention.stages import (
    RECORD_KEYS,
    batched,
    begin,
    completed_manifest,
    generator_of,
    iter_jsonl,
    open_backend,
    stage_dir,
)
from harness.rundir import RecordLog
from harness.ui import progress_bar


def load_attempts(cfg: IntConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The failed attempts this proposer works on (``max_attempts`` applied) and the rollout manifest."""
    manifest = completed_manifest(stage_dir(cfg, "rollout"), "rollout")
    attempts = list(iter_jsonl(stage_dir(cfg, "rollout") / "attempts.jsonl"))
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
    from tasks import get_task

    pc = cfg.propose
    label = pc.stage_label()
    out = stage_dir(cfg, "propose", label)
    attempts, rollout = load_attempts(cfg)
    templates = get_template_set(pc.template)
    task = get_task(rollout["protocol"]["task"], rollout["protocol"]["version"])
    truth = task.capability("first_error")
    if pc.proposer == "oracle" and task.capability("oracle_intervention") is None:
        raise ValueError(f"proposer=oracle needs a task with the oracle_intervention capability; {task.name!r} has none")
    protocol = {
        "stage": "propose",
        "upstream": rollout["protocol_hash"],
        "proposer": pc.proposer,
        "proposer_model": generator_of(pc.proposer_model, checked=proposer_backend is None)
        if pc.proposer == "model" and pc.proposer_model
        else (generator_of(cfg.policy, checked=backend is None) if pc.proposer == "self" else None),
        "templates": None
        if pc.proposer == "oracle"
        else {"name": templates.name, "hash": template_hash(templates)},
        "n": pc.n,
        "sampling": None if pc.proposer == "oracle" else pc.sampling.model_dump(),
        "max_attempts": pc.max_attempts,
        "max_prompt_tokens": pc.max_prompt_tokens,
        "min_new_tokens": pc.min_new_tokens,
    }
    manifest, _, complete = begin(out, "int-propose", protocol, cfg.model_dump(by_alias=True))
    if complete:
        return manifest.data["counts"]

    solves = RecordLog(out / "solves.jsonl", key=RECORD_KEYS["solves.jsonl"])
    proposals = RecordLog(out / "proposals.jsonl", key=RECORD_KEYS["proposals.jsonl"])
    done = proposals.done_keys()
    # Fixed batches over all attempts, regenerated whole when any proposal is missing (see harness.sampling).
    todo = [b for b in batched(attempts, pc.batch_attempts) if any((a["attempt_id"], j) not in done for a in b for j in range(pc.n))]
    owned: Backend | None = None
    if todo and pc.proposer == "self" and backend is None:
        backend = owned = open_backend(cfg.policy)
    if todo and pc.proposer == "model" and proposer_backend is None:
        assert pc.proposer_model is not None
        proposer_backend = owned = open_backend(pc.proposer_model)
    stats = {"new_proposals": 0, "new_solve_turns": 0}
    t0 = time.perf_counter()
    try:
        solved = {r["attempt_id"]: r["text"] for r in solves.read()}
        proposer = (
            make_proposer(pc.proposer, templates, backend if pc.proposer == "self" else proposer_backend, task,
                          max_prompt_tokens=pc.max_prompt_tokens, min_new_tokens=pc.min_new_tokens)
            if todo
            else None
        )
        with progress_bar(f"propose ({label})", total=sum(len(b) for b in todo), enabled=show_progress) as advance:
            for batch in todo:
                assert proposer is not None
                _propose_batch(batch, proposer, cfg, label, solves, solved, proposals, truth, stats)
                advance(len(batch))
    except BaseException as exc:
        manifest.fail(exc, stats)
        raise
    finally:
        if owned is not None:
            owned.close()
    stats["seconds"] = round(time.perf_counter() - t0, 3)

    wanted = {a["attempt_id"] for a in attempts}
    rows = [r for r in proposals.read() if r["attempt_id"] in wanted]
    analytics = proposal_analytics(rows)
    solve_rows = [r for r in solves.read() if r["attempt_id"] in wanted] if templates.solve and pc.proposer != "oracle" else []
    counts = {
        "attempts": len(attempts),
        "proposals": len(rows),
        "parsed": sum(r["parse"]["ok"] for r in rows),
        "parse_failed": sum(not r["parse"]["ok"] for r in rows),
        "solve_turns": len(solve_rows),
        "budget": budget_counts(rows, solve_rows),
    }
    manifest.finish(
        stats,
        counts=counts,
        analytics=analytics,
        proposer=proposer.describe() if proposer else manifest.data.get("proposer"),
    )
    return counts


def budget_counts(proposals: list[dict[str, Any]], solves: list[dict[str, Any]]) -> dict[str, int]:
    """What the token budgets did: attempts whose proposer prompt was cut, requests generated with a lowered
    budget (shortened) and requests never sent (skipped), per turn; truncated = generation hit its budget."""
    per_attempt: dict[str, dict[str, Any]] = {}
    for r in proposals:
        per_attempt.setdefault(r["attempt_id"], r)
    return {
        "verify_requests": len(per_attempt),
        "verify_cut": sum(bool(r.get("attempt_cut")) for r in per_attempt.values()),
        "verify_shortened": sum(r.get("shortened_to") is not None for r in per_attempt.values()),
        "verify_skipped": sum(r.get("finish_reason") == "skipped" for r in per_attempt.values()),
        "proposals_truncated": sum(r.get("finish_reason") == "length" for r in proposals),
        "solve_requests": len(solves),
        "solve_shortened": sum(r.get("shortened_to") is not None for r in solves),
        "solve_skipped": sum(r.get("finish_reason") == "skipped" for r in solves),
        "solve_truncated": sum(r.get("finish_reason") == "length" for r in solves),
    }


def _propose_batch(
    batch: list[dict[str, Any]],
    proposer: Proposer,
    cfg: IntConfig,
    label: str,
    solves: RecordLog,
    solved: dict[str, str],
    proposals: RecordLog,
    truth: Any,
    stats: dict[str, Any],
) -> None:
    pc = cfg.propose
    params = pc.sampling.params(pc.n)
    if proposer.needs_solve and any(a["attempt_id"] not in solved for a in batch):
        samples = proposer.solve(batch, params)  # the whole batch: same composition as an uninterrupted run
        new = [(a, s) for a, s in zip(batch, samples, strict=True) if a["attempt_id"] not in solved]
        stats["new_solve_turns"] += solves.append_many(
            {"attempt_id": a["attempt_id"], "text": s.text, "prompt_tokens": s.prompt_tokens,
             "completion_tokens": s.completion_tokens, "finish_reason": s.finish_reason,
             "shortened_to": s.extra.get("max_tokens") if "shortened" in s.extra else None,
             "skip_reason": s.extra.get("reason") if s.finish_reason == "skipped" else None}
            for a, s in new
        )
        solved.update({a["attempt_id"]: s.text for a, s in new})
    done = proposals.done_keys()
    turn1 = [solved.get(a["attempt_id"]) for a in batch]
    views = proposer.show(batch, turn1, params.max_tokens)  # the attempt cut to the token budget (tokens of the templated prompt)
    send = [i for i, v in enumerate(views) if v.skip is None]
    got = iter(proposer.verify([views[i].item for i in send], [turn1[i] for i in send], params) if send else [])
    outputs = [next(got) if v.skip is None else
               [Sample(text="", finish_reason="skipped", extra={"reason": v.skip}) for _ in range(params.n)]
               for v in views]
    rows = []
    for a, view, samples in zip(batch, views, outputs, strict=True):
        true_loc = truth(a, a["attempt"]) if truth else None
        rows += [
            _record(a, j, s, label, proposer.kind, true_loc, view)
            for j, s in enumerate(samples)
            if (a["attempt_id"], j) not in done
        ]
    stats["new_proposals"] += proposals.append_many(rows)


def _record(
    a: dict[str, Any], j: int, sample: Any, label: str, kind: str, true_loc: int | None, view: Shown
) -> dict[str, Any]:
    if sample.finish_reason == "skipped":  # never sent: it did not fit the context window
        parse = ParseResult(False, reason="context")
    else:
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
        "shown_substeps": view.substeps,
        "attempt_cut": view.cut,
        "prompt_tokens_full": view.prompt_tokens_full,
        "shortened_to": sample.extra.get("max_tokens") if "shortened" in sample.extra else None,
        "skip_reason": sample.extra.get("reason") if sample.finish_reason == "skipped" else None,
        "location_rel": (loc / n_sub) if parse.ok and loc and n_sub else None,
        "leak_substring": bool(content) and leaks(content, a["answer"], "substring"),
        "leak_boxed": bool(content) and leaks(content, a["answer"], "boxed"),
        "true_first_error": true_loc,
        "localized": (loc == true_loc) if parse.ok and loc and true_loc is not None else None,
    }
