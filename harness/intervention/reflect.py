"""Self-reflection rewrites: the data of the paper's "+SFT on self-reflections + RL" baseline (Table 4).

On each failed rollout the policy sees the problem, the reference solution and its own attempt, says what
went wrong and rewrites the *whole* solution (``<rewrite>...</rewrite>``). A rewrite whose final answer is
right becomes an SFT row: the problem as the prompt (masked), the rewrite + EOS as the target -- a complete
solution, like the reference-solution baseline, but in the model's own words. The paper's point is where it
sits: less on-policy than InT (the model writes it with the reference in context, and every step of it is
trained on), more on-policy than the reference itself.

Stages (folders under the run directory, each resumable like InT's): ``rollout/`` (InT's own rollout
stage, same config), ``reflect-<template>/`` (one reflection per failed attempt, graded on the rewrite:
`harness.sampling` with ``answer_after="<rewrite>"``) and the SFT rows ``reflect-<template>/sft.jsonl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.backends import GenerationRequest
from harness.intervention.config import IntConfig
from harness.intervention.prompts import get_template_set, render, slots_for
from harness.intervention.stages import begin, generator_of, grader_id, open_backend, open_grader, stage_dir
from harness.provenance import stable_hash
from harness.rundir import iter_jsonl, write_jsonl
from harness.sampling import RunStats, Unit, open_records, sample_and_grade

OPEN, CLOSE = "<rewrite>", "</rewrite>"
MAX_REWRITE_CHARS = 200_000  # a rewrite longer than this is not a solution (bounded parsing of model output)


def parse_rewrite(text: str) -> str | None:
    """The last ``<rewrite>...</rewrite>`` block, stripped (an unclosed last block runs to the end of the
    text); None when there is none or it is empty. Linear time: two `str.rfind`/`find` calls."""
    start = text.rfind(OPEN)
    if start < 0:
        return None
    body = text[start + len(OPEN):]
    end = body.find(CLOSE)
    body = (body if end < 0 else body[:end]).strip()
    return body[:MAX_REWRITE_CHARS] or None


def reflect_dir(cfg: IntConfig) -> Path:
    return stage_dir(cfg, "reflect", cfg.propose.template)


def run_reflect(cfg: IntConfig, *, backend: Any = None, tokenizer: Any = None, show_progress: bool = True) -> dict[str, Any]:
    """One reflection per failed attempt of ``rollout/attempts.jsonl`` (the propose stage's template,
    sampling and ``max_attempts``), then the SFT rows of the correct rewrites; returns the counts."""
    from tasks import render_prompt

    out = reflect_dir(cfg)
    attempts = list(iter_jsonl(stage_dir(cfg, "rollout") / "attempts.jsonl"))[: cfg.propose.max_attempts or None]
    tset = get_template_set(cfg.propose.template)
    if tset.reflect is None:
        raise ValueError(f"proposal template set {tset.name!r} has no self-reflection prompt")
    template = tset.reflect
    requests = [GenerationRequest(messages=({"role": "user", "content": render(template, folder=tset.folder, **slots_for(a))},))
                for a in attempts]
    grading = open_grader(cfg)
    protocol = {"stage": "reflect", "template": template, "attempts": stable_hash([a["attempt_id"] for a in attempts]),
                "prompts": stable_hash([r.key() for r in requests]), "sampling": cfg.propose.sampling.model_dump(),
                "grader": grader_id(grading), "policy": generator_of(cfg.policy, checked=backend is None)}
    manifest, _, complete = begin(out, "int-reflect", protocol, cfg.model_dump(by_alias=True))
    if complete:
        grading.close()
        return manifest.data["counts"]
    records = open_records(out / "samples.jsonl")
    units = [Unit(id=a["attempt_id"], request=r, gold=str(a["answer"]), problem=a["problem"],
                  fields={"attempt_problem_id": a["problem_id"]}) for a, r in zip(attempts, requests, strict=True)]
    stats = RunStats()
    try:
        sample_and_grade(units, k=1, params=cfg.propose.sampling.params(1), records=records,
                         backend=backend or (lambda: open_backend(cfg.policy)), grader=grading,
                         batch_size=cfg.propose.batch_attempts, label="reflect", show_progress=show_progress,
                         stats=stats, answer_after=OPEN)
    except BaseException as exc:
        manifest.fail(exc, stats.to_dict())
        raise
    finally:
        grading.close()

    task = cfg.rollout.problem_set().load()[0]
    problems = {p.id: p for p in cfg.rollout.problem_set().load()[1]}
    tok = tokenizer or _tokenizer(cfg)
    by_attempt = {r["problem_id"]: r for r in records.read()}
    rows, counts = [], {"attempts": len(attempts), "generated": 0, "unparsed": 0, "wrong": 0, "skipped": 0, "kept": 0}
    for a in attempts:
        rec = by_attempt.get(a["attempt_id"])
        if rec is None or rec["status"] == "skipped":
            counts["skipped"] += 1
            continue
        counts["generated"] += 1
        rewrite = parse_rewrite(rec["text"])
        if rewrite is None:
            counts["unparsed"] += 1
        elif not rec["correct"]:
            counts["wrong"] += 1
        else:
            rows.append(_row(tok, render_prompt(task, problems[a["problem_id"]]), a, rewrite))
    counts["kept"] = len(rows)
    counts["problems_kept"] = len({r["problem_id"] for r in rows})
    write_jsonl(out / "sft.jsonl", rows)
    manifest.finish(stats.to_dict(), counts=counts)
    return counts


def _row(tok: Any, messages: list[dict[str, str]], attempt: dict[str, Any], rewrite: str) -> dict[str, Any]:
    """Prompt masked, the rewrite + EOS trained (a complete solution, like a reference)."""
    from harness.intervention.build_sft import encode_example

    ex = encode_example(tok, messages, "", rewrite)
    ex.pop("_chat_prompt", None)
    ex["input_ids"].append(tok.eos_token_id)
    ex["loss_mask"].append(1)
    return {"id": f"reflect-{attempt['attempt_id']}", "problem_id": attempt["problem_id"], **ex}


def _tokenizer(cfg: IntConfig) -> Any:
    from transformers import AutoTokenizer

    from harness.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(cfg.policy.model))
