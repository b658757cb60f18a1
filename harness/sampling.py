"""The one generate -> grade -> append loop: evaluation, InT rollouts and InT continuations all run here.

A *unit* is one prompt to be sampled ``k`` times and graded against a gold answer (an eval problem, a
training problem to roll out, a (condition, attempt) continuation). `sample_and_grade` works through the
units in fixed batches: generate every sample of a batch, grade them with the configured grader, append
the graded records durably (`harness.rundir.RecordLog`), so a kill loses at most the batch in flight.

Resume semantics (WHY fixed batches): batches are cut from the *full* unit list, never from "what is
left", and a batch with any missing sample is regenerated whole, keeping only the missing records. A
backend's output depends on the batch it was generated in (padding shapes on transformers; vLLM
scheduling), so this is what makes a resumed run write byte-identical text to an uninterrupted one.
The price is regenerating up to one batch after a crash -- the batch that was lost anyway.

Every request is checked against the backend's context window before it is sent (`Backend.check_fit`):
a unit that cannot fit is never sent, and its ``k`` records say ``status: "skipped"`` with the reason, so
its batch completes, a resume does not retry it, and reports count it (as not correct). With
``min_new_tokens`` (the InT continuations; never evaluation, whose budget is part of the frozen protocol)
a unit whose prompt leaves less than the budget is generated with the room left instead, down to that
minimum, and its records carry ``shortened_to``. A token budget
that leaves no room for any prompt is a configuration error and fails before anything is generated. Prompts are stored once per hash in
``prompts.jsonl`` beside the records (the records carry ``prompt_hash``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.backends import Backend, GenerationRequest, SamplingParams, generate_within_window
from harness.rundir import RecordLog, iter_jsonl
from harness.ui import progress_bar

PROMPTS_FILE = "prompts.jsonl"


@dataclass(frozen=True)
class Unit:
    """One prompt sampled ``k`` times. ``id`` keys its records (with the sample index); ``fields`` are
    copied into each record (``task``, ``version``, ...); ``problem`` is given to graders that read it."""

    id: str
    request: GenerationRequest
    gold: str
    category: str | None = None
    problem: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def sample_key(record: dict[str, Any]) -> tuple[str, int]:
    """The identity of a sample record: (unit id, sample index)."""
    return (str(record["problem_id"]), int(record["sample_index"]))


def open_records(path: str | Path) -> RecordLog:
    """The sample records of one stage or task, keyed by `sample_key`."""
    return RecordLog(path, key=sample_key)


def generation_progress(paths: Sequence[str | Path]) -> dict[str, int]:
    """What sample logs hold now, in `RunStats`' terms (``new_generations``: generated samples, ``skipped``:
    samples skipped for the context window): `harness.rundir.Manifest.begin` takes the difference to
    account for an invocation that was killed before it could report its own stats."""
    generated = skipped = 0
    for path in paths:
        if Path(path).exists():
            for record in iter_jsonl(path, keep=None, allow_torn_tail=True):
                if record.get("status") == "skipped":
                    skipped += 1
                else:
                    generated += 1
    return {"new_generations": generated, "skipped": skipped}


@dataclass
class RunStats:
    """What one invocation did (summed into manifests across resumes by the caller)."""

    new_generations: int = 0
    reused_samples: int = 0
    skipped: int = 0
    shortened: int = 0  # samples generated with less than the budget: the prompt left less room (min_new_tokens)
    regenerated_discarded: int = 0  # samples regenerated only to reproduce a batch, not written again
    generation_seconds: float = 0.0
    grading_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    def add(self, other: dict[str, Any]) -> None:
        for k, v in other.items():
            if hasattr(self, k) and isinstance(v, (int, float)):
                setattr(self, k, getattr(self, k) + v)


def sample_and_grade(
    units: Sequence[Unit],
    *,
    k: int,
    params: SamplingParams,
    records: RecordLog,
    backend: Backend | Callable[[], Backend],
    grader: Any,
    batch_size: int,
    label: str = "sampling",
    show_progress: bool = True,
    stats: RunStats | None = None,
    answer_after: str | None = None,
    min_new_tokens: int | None = None,
) -> RunStats:
    """Generate, grade and append every missing sample of ``units`` (see the module docstring).

    Args:
        backend: a backend, or a zero-argument factory called only if something must be generated (a
            finished stage re-runs without loading a model).
        grader: anything with ``grade_many(items) -> list[Verdict]`` (`harness.grading.get_grader`);
            its verdicts are what is recorded, whoever it is.
        answer_after: grade only the text after the last occurrence of this marker (a reasoning model's
            final channel); a response without it is graded as having no answer. Records keep the full text.
        min_new_tokens: lower the budget of a unit whose prompt leaves less room, down to this many tokens,
            instead of skipping it (None: skip, as evaluation must).
    """
    stats = stats or RunStats()
    done = records.done_keys()
    ids = {u.id for u in units}
    stats.reused_samples += sum(1 for key in done if key[0] in ids)
    batches = [list(units[s : s + batch_size]) for s in range(0, len(units), batch_size)]
    todo = [b for b in batches if any((u.id, j) not in done for u in b for j in range(k))]
    _store_prompts(records.path.parent / PROMPTS_FILE, [u for b in todo for u in b])
    opened: Backend | None = backend if isinstance(backend, Backend) else None
    if opened is not None and todo:
        opened.check_budget(params.max_tokens)
    with progress_bar(label, total=sum(len(b) for b in todo), enabled=show_progress) as advance:
        for i, batch in enumerate(todo):
            if opened is None:
                opened = backend()  # type: ignore[operator]
            if i == 0:  # a given backend too: a budget that leaves no room for a prompt is a config error
                opened.check_budget(params.max_tokens)
            _run_batch(batch, k, params, records, opened, grader, stats, answer_after, min_new_tokens)
            advance(len(batch))
    return stats


def final_part(text: str, marker: str | None) -> str:
    """The text after the last ``marker`` ("" when absent); the whole text when no marker is set."""
    if not marker:
        return text
    cut = text.rfind(marker)
    return text[cut + len(marker):] if cut >= 0 else ""


def _run_batch(batch: list[Unit], k: int, params: SamplingParams, records: RecordLog, backend: Backend,
               grader: Any, stats: RunStats, answer_after: str | None = None, min_new_tokens: int | None = None) -> None:
    done = records.done_keys()
    t0 = time.perf_counter()
    outputs = generate_within_window(backend, [u.request for u in batch], replace(params, n=k), min_new_tokens)
    stats.generation_seconds += time.perf_counter() - t0
    reasons = {u.id: out[0].extra.get("reason") for u, out in zip(batch, outputs, strict=True)
               if out and out[0].finish_reason == "skipped"}
    items, meta = [], []
    for unit, samples in zip(batch, outputs, strict=True):
        if unit.id in reasons:
            continue
        for j, sample in enumerate(samples):
            if (unit.id, j) in done:
                stats.regenerated_discarded += 1
                continue
            items.append((final_part(sample.text, answer_after), unit.gold, unit.problem))
            meta.append((unit, j, sample))
    t1 = time.perf_counter()
    verdicts = grader.grade_many(items) if items else []
    stats.grading_seconds += time.perf_counter() - t1
    grader_id = f"{grader.name}=={grader.version}"
    rows = [_record(unit, j, params, grader_id, sample=sample, verdict=v)
            for (unit, j, sample), v in zip(meta, verdicts, strict=True)]
    for unit in batch:
        if reasons.get(unit.id):
            rows += [_record(unit, j, params, grader_id, skipped=reasons[unit.id]) for j in range(k) if (unit.id, j) not in done]
    written = records.append_many(rows)
    stats.skipped += sum(r["status"] == "skipped" for r in rows)
    stats.shortened += sum(r.get("shortened_to") is not None for r in rows)
    stats.new_generations += written - sum(r["status"] == "skipped" for r in rows)


def _record(unit: Unit, j: int, params: SamplingParams, grader_id: str, *, sample: Any = None, verdict: Any = None,
            skipped: str | None = None) -> dict[str, Any]:
    """One sample record (the schema every reader of samples.jsonl relies on); ``shortened_to`` only on a
    sample generated with a lowered budget (`min_new_tokens`)."""
    extra = {"shortened_to": sample.extra["max_tokens"]} if sample is not None and "shortened" in sample.extra else {}
    return {
        **unit.fields,
        "problem_id": unit.id,
        "category": unit.category,
        "sample_index": j,
        "prompt_hash": unit.request.key(),
        "seed": params.seed,
        "text": sample.text if sample is not None else "",
        "gold": unit.gold,
        "extracted": verdict.extracted if verdict is not None else None,
        "correct": bool(verdict.correct) if verdict is not None else False,
        "status": verdict.status if verdict is not None else "skipped",
        "reason": verdict.reason if verdict is not None else skipped,
        "grader": (verdict.grader or grader_id) if verdict is not None else grader_id,
        "prompt_tokens": sample.prompt_tokens if sample is not None else 0,
        "completion_tokens": sample.completion_tokens if sample is not None else 0,
        "finish_reason": sample.finish_reason if sample is not None else "skipped",
        **extra,
    }


def _store_prompts(path: Path, units: Sequence[Unit]) -> None:
    """Each distinct prompt once, keyed by its hash (records carry only the hash)."""
    if not units:
        return
    log = RecordLog(path, key=lambda r: r["prompt_hash"])
    log.append_many(
        {"prompt_hash": u.request.key(), "messages": list(u.request.messages),
         "continue_final_message": u.request.continue_final_message}
        for u in units
    )
