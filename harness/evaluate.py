"""`harness eval`: sample k answers per problem, grade them, and write a resumable run directory.

Layout of ``<out>/``::

    manifest.json                 config, protocol, versions, seeds, counts, status
    <task>@<version>/samples.jsonl  one record per (problem, sample): text, extracted answer, verdict, tokens
    results.json                  metrics per task (avg@k + CI, pass@k, maj@k, per category) + provenance

Work is done in batches of problems: generate every missing sample of the batch, grade it, append the
batch durably. Re-running the same command skips finished samples, so a crash costs at most one batch.
The *protocol* (task versions, rendered prompts, sampling, k, grader version) is hashed; a directory is
never resumed under a different protocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from harness.backends import Backend, GenerationRequest, SamplingParams, get_backend
from harness.metrics import group_samples, summarize
from harness.provenance import package_versions, stable_hash
from harness.rundir import Manifest, RecordLog, atomic_write_json
from harness.ui import progress_bar
from harness.world import resolve_model

log = logging.getLogger(__name__)


class SamplingConfig(BaseModel):
    """Sampling settings; defaults are the InT paper's (Qwen3-4B-Instruct-2507's recommended ones)."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature (0 = greedy).")
    top_p: float = Field(0.8, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(20, ge=-1, description="Top-k cut-off (0 or -1 disables).")
    max_tokens: int = Field(16384, gt=0, description="Token budget per sample.")
    seed: int = Field(0, description="Base seed; sample j of a prompt uses seed + j where supported.")


class EvalConfig(BaseModel):
    """Everything that defines an evaluation run. Loadable from YAML; CLI flags override fields."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(..., description="Model path or hub id.")
    backend: str = Field("hf", description="Generation backend: hf, vllm, openai, or a plugin name.")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="Extra backend kwargs.")
    tasks: list[str] = Field(..., min_length=1, description="Task names, optionally 'name@version'.")
    split: str | None = Field(None, description="Dataset split (default: test, or the task's only split).")
    samples: int = Field(8, ge=1, description="k: samples per problem.")
    per_category: int | None = Field(None, ge=1, description="Evaluate only the first N problems of each category.")
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N problems of each task.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    grader: str = Field("math-verify", description="Grader name (see harness.grading).")
    grader_timeout: float = Field(10.0, gt=0, description="Hard per-answer grading timeout, seconds.")
    grader_workers: int = Field(2, ge=1, description="Grading worker processes.")
    batch_problems: int = Field(8, ge=1, description="Problems generated and written per batch.")
    data_dir: str | None = Field(None, description="Local benchmark data directory (else HARNESS_DATA_DIR).")
    out: str = Field(..., description="Run directory.")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> EvalConfig:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of EvalConfig fields at top level")
        sampling = {**data.get("sampling", {}), **overrides.pop("sampling", {})}
        return cls(**{**data, **{k: v for k, v in overrides.items() if v is not None}, "sampling": sampling})


def _sample_key(r: dict[str, Any]) -> tuple[str, int]:
    return (str(r["problem_id"]), int(r["sample_index"]))


def run_eval(config: EvalConfig, *, backend: Backend | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Run (or resume) an evaluation and return the results dict also written to ``results.json``."""
    from harness.grading import GradingPool, get_grader
    from tasks import get_task, load_task, render_prompt, subset

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    grader_info = get_grader(config.grader)
    grader_id = f"{grader_info.name}=={grader_info.version}"
    params = SamplingParams(
        n=config.samples,
        temperature=config.sampling.temperature,
        top_p=config.sampling.top_p,
        top_k=config.sampling.top_k,
        max_tokens=config.sampling.max_tokens,
        seed=config.sampling.seed,
    )

    # Freeze the protocol: which problems, which exact prompts, how sampled, how graded.
    plans = []
    for spec in config.tasks:
        task = get_task(spec)  # "name" or "name@version"
        loaded = load_task(task.name, task.version, data_dir=config.data_dir, split=config.split)
        problems = subset(loaded.problems, config.per_category, config.limit)
        requests = [GenerationRequest(messages=tuple(render_prompt(task, p))) for p in problems]
        plans.append((task, problems, requests))
    protocol = {
        "tasks": [
            {"task": t.name, "version": t.version, "split": config.split, "prompts": stable_hash([r.key() for r in rs])}
            for t, _, rs in plans
        ],
        "sampling": config.sampling.model_dump(),
        "k": config.samples,
        "grader": grader_id,
    }
    protocol_hash = stable_hash(protocol)
    manifest = Manifest(out / "manifest.json")
    manifest.check_protocol(protocol_hash, what="eval")
    manifest.update(
        kind="eval",
        status="running",
        config=config.model_dump(),
        protocol=protocol,
        protocol_hash=protocol_hash,
        versions=package_versions(),
        seeds={"sampling": config.sampling.seed},
    )

    owns_backend = backend is None
    stats = {"new_generations": 0, "reused_samples": 0, "generation_seconds": 0.0, "grading_seconds": 0.0}
    results: dict[str, Any] = {"tasks": {}}
    try:
        with GradingPool(workers=config.grader_workers, timeout=config.grader_timeout) as pool:
            for task, problems, requests in plans:
                records = RecordLog(out / f"{task.name}@{task.version}" / "samples.jsonl", key=_sample_key)
                done = records.done_keys()
                todo = [
                    (p, r, [j for j in range(config.samples) if (p.id, j) not in done])
                    for p, r in zip(problems, requests, strict=True)
                ]
                todo = [t for t in todo if t[2]]
                stats["reused_samples"] += sum(1 for k in done if k[0] in {p.id for p in problems})
                if todo and backend is None:
                    backend = get_backend(config.backend, resolve_model(config.model), **config.backend_options)
                with progress_bar(f"{task.name}@{task.version}", total=len(todo), enabled=show_progress) as advance:
                    for start in range(0, len(todo), config.batch_problems):
                        batch = todo[start : start + config.batch_problems]
                        assert backend is not None
                        run_batch(task, batch, backend, params, pool, grader_id, records, stats)
                        advance(len(batch))
                results["tasks"][f"{task.name}@{task.version}"] = _task_results(records, problems)
    finally:
        if owns_backend and backend is not None:
            backend.close()

    results.update(
        protocol=protocol,
        protocol_hash=protocol_hash,
        config=config.model_dump(),
        versions=package_versions(),
        generator=backend.describe() if backend is not None else {"backend": config.backend, "model": config.model},
        run_stats=stats,
    )
    atomic_write_json(out / "results.json", results)
    manifest.update(status="complete", run_stats=stats)
    return results


def run_batch(task, batch, backend: Backend, params: SamplingParams, pool, grader_id: str, records: RecordLog, stats) -> None:
    """Generate the missing samples of a batch of problems, grade them, append durably.

    The one generate-grade-append step: `harness eval` and the InT rollout and continue stages all use it,
    so they share record fields, seeding and crash semantics."""
    t0 = time.perf_counter()
    # Problems missing every sample go in one call with n=k; partially done ones (rare) ask for what is missing.
    by_n: dict[int, list[int]] = {}
    for i, (_, _, missing) in enumerate(batch):
        by_n.setdefault(len(missing), []).append(i)
    outputs: dict[int, list] = {}
    for n, idxs in by_n.items():
        gen = backend.generate([batch[i][1] for i in idxs], replace(params, n=n))
        outputs.update(zip(idxs, gen, strict=True))
    stats["generation_seconds"] += time.perf_counter() - t0
    items, meta = [], []
    for i, (problem, request, missing) in enumerate(batch):
        for sample, j in zip(outputs[i], missing, strict=True):
            items.append((sample.text, problem.answer))
            meta.append((problem, request, j, sample))
    t1 = time.perf_counter()
    verdicts = pool.grade_many(items)
    stats["grading_seconds"] += time.perf_counter() - t1
    rows = []
    for (problem, request, j, sample), v in zip(meta, verdicts, strict=True):
        rows.append(
            {
                "task": task.name,
                "version": task.version,
                "problem_id": problem.id,
                "category": problem.category,
                "sample_index": j,
                "prompt_hash": request.key(),
                "seed": params.seed,
                "text": sample.text,
                "gold": problem.answer,
                "extracted": v.extracted,
                "correct": v.correct,
                "status": v.status,
                "reason": v.reason,
                "grader": v.grader or grader_id,
                "prompt_tokens": sample.prompt_tokens,
                "completion_tokens": sample.completion_tokens,
                "finish_reason": sample.finish_reason,
            }
        )
    stats["new_generations"] += records.append_many(rows)


def _task_results(records: RecordLog, problems: Sequence) -> dict[str, Any]:
    wanted = {p.id for p in problems}
    rows = [r for r in records.read() if r["problem_id"] in wanted]
    metrics = summarize(group_samples(rows))
    counts = {
        "samples": len(rows),
        "no_answer": sum(r["status"] == "no_answer" for r in rows),
        "timeout": sum(r["status"] == "timeout" for r in rows),
        "error": sum(r["status"] == "error" for r in rows),
        "truncated": sum(r["finish_reason"] == "length" for r in rows),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in rows),
    }
    return {"metrics": metrics, "counts": counts}
