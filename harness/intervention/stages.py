"""Run-directory plumbing shared by the four InT stages: stage folders, manifests, models, problems.

Layout of ``<run>/``::

    int_config.json              the IntConfig every stage reads
    rollout/                     manifest.json, samples.jsonl (every graded sample), attempts.jsonl (failed ones)
    propose-<label>/             manifest.json, solves.jsonl (turn 1), proposals.jsonl (raw text + parse)
    continue-<label>/            manifest.json, units.jsonl, samples.jsonl (graded continuations), table1.json
    build-sft-<label>[-<variant>]/  manifest.json, sft.jsonl (trainer-neutral rows, trainers/base.py SFT_FIELDS);
                                    the variant names ablations (noprefix, suffix, nofilter, m<k>)

``<label>`` is the proposer (``self``, ``oracle``, ``model-<name>``), so proposers share one rollout and
can be compared side by side. A stage whose manifest says ``complete`` under the same protocol hash is
skipped; an interrupted one resumes from its append-only record logs; a different protocol is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.dirlock import acquire
from harness.intervention.config import IntConfig, ModelRef
from harness.provenance import package_versions, stable_hash
from harness.redact import redact_secrets
from harness.rundir import Manifest, RecordLog, iter_jsonl, write_jsonl
from harness.sampling import generation_progress, sample_key

__all__ = [
    "RECORD_KEYS", "StageNotReady", "batched", "begin", "completed_manifest", "generator_of", "grader_id", "iter_jsonl",
    "load_task_problems", "open_backend", "open_grader", "stage_dir", "write_jsonl",
]


class StageNotReady(RuntimeError):
    """A stage was asked to run before the stage it reads from finished."""


def stage_dir(cfg: IntConfig, stage: str, label: str | None = None) -> Path:
    return Path(cfg.out) / (f"{stage}-{label}" if label else stage)


def completed_manifest(directory: Path, what: str) -> Manifest:
    """The manifest of a finished upstream stage, or a clear error saying which command to run."""
    manifest = Manifest(directory / "manifest.json")
    if manifest.data.get("status") != "complete":
        raise StageNotReady(f"{directory} is not complete; run `harness int {what}` first")
    return manifest


# The append-only record logs of the stages and their keys. Only these count as "records" when deciding
# whether a failed start may be replaced: prompts.jsonl and units.jsonl are derived before any generation.
RECORD_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "samples.jsonl": sample_key,
    "solves.jsonl": lambda r: r["attempt_id"],
    "proposals.jsonl": lambda r: (r["attempt_id"], int(r["proposal_index"])),
}


def generator_of(ref: ModelRef, *, checked: bool = True) -> dict[str, Any]:
    """A `ModelRef` as protocols record it: backend, name, resolved path and weights hash (or hub revision),
    so a stage folder is never resumed with other weights behind the same name."""
    from harness.evaluate import identify_generator

    return identify_generator(ref.backend, ref.model, ref.options, checked=checked)


# Per record log: the stage's stat that counts its records (what a killed invocation is credited with).
PROGRESS_STATS = {"proposals.jsonl": "new_proposals", "solves.jsonl": "new_solve_turns"}


def begin(directory: Path, kind: str, protocol: dict[str, Any], config: dict[str, Any]) -> tuple[Manifest, str, bool]:
    """Open a stage's manifest: refuse a different protocol once records exist (a start that wrote none
    is replaced); return (manifest, hash, already_complete). A corrupt record log fails here, in one line
    naming file and line, before the manifest is touched.

    The stage folder is locked first (`harness.dirlock`: a second process working on it is refused, naming
    the first); the manifest holds the lock until `Manifest.finish`/`Manifest.fail` (released at once for
    a complete stage)."""
    phash = stable_hash(protocol)
    lock = acquire(directory, what=f"{kind} stage folder")
    try:
        manifest = Manifest(directory / "manifest.json")
        logs = [directory / name for name in RECORD_KEYS if (directory / name).exists()]
        manifest.check_protocol(phash, what=kind, has_records=any(p.stat().st_size for p in logs))
        if manifest.data.get("status") == "complete":
            lock.release()
            return manifest, phash, True
        counts = {path.name: len(RecordLog(path, key=RECORD_KEYS[path.name])) for path in logs}
        progress = generation_progress([directory / "samples.jsonl"]) if "samples.jsonl" in counts else {}
        progress |= {stat: counts[name] for name, stat in PROGRESS_STATS.items() if name in counts}
        manifest.hold(lock)
        manifest.begin(progress=progress, kind=kind, config=redact_secrets(config), protocol=redact_secrets(protocol),
                       protocol_hash=phash, versions=package_versions())
    except BaseException:
        lock.release()
        raise
    return manifest, phash, False


def open_backend(ref: ModelRef) -> Any:
    """The generation backend a `ModelRef` names (model sources such as world:<preset> resolve inside)."""
    from harness.backends import get_backend

    return get_backend(ref.backend, ref.model, **ref.options)


def open_grader(cfg: IntConfig) -> Any:
    """The configured grader (``.grade_many``, ``.close``, ``.name``, ``.version``), opened as evaluation and
    the RL reward open theirs (`harness.grading.open_grader`; ``judge`` for llm-judge); ``grader_workers=0``
    grades in-process, which is what a 2-core machine wants for integer answers."""
    from harness.grading import open_grader as open_chosen

    return open_chosen(cfg.grader, judge=cfg.judge, workers=cfg.grader_workers, timeout=cfg.grader_timeout)


def grader_id(grader: Any) -> str:
    """The grader's name and version, as the eval runner records it (part of every protocol)."""
    return f"{grader.name}=={grader.version}"


def load_task_problems(cfg: IntConfig) -> tuple[Any, list[Any], list[str], int]:
    """(task, problems with a reference solution, ids dropped for lacking one, problems loaded);
    ``per_category`` then ``limit`` apply after the drop (`tasks.ProblemSet`)."""
    sel = cfg.rollout.problem_set().select()
    return sel.task, sel.problems, sel.dropped_no_solution, sel.loaded


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
