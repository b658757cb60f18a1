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

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.intervention.config import IntConfig, ModelRef
from harness.provenance import package_versions, stable_hash
from harness.rundir import Manifest, atomic_write_text
from harness.world import resolve_model


class StageNotReady(RuntimeError):
    """A stage was asked to run before the stage it reads from finished."""


def stage_dir(cfg: IntConfig, stage: str, label: str | None = None) -> Path:
    return Path(cfg.out) / (f"{stage}-{label}" if label else stage)


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write a derived jsonl file atomically (all or nothing); returns the row count."""
    lines = [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def completed_manifest(directory: Path, what: str) -> Manifest:
    """The manifest of a finished upstream stage, or a clear error saying which command to run."""
    manifest = Manifest(directory / "manifest.json")
    if manifest.data.get("status") != "complete":
        raise StageNotReady(f"{directory} is not complete; run `harness int {what}` first")
    return manifest


def begin(
    directory: Path, kind: str, protocol: dict[str, Any], config: dict[str, Any]
) -> tuple[Manifest, str, bool]:
    """Open a stage's manifest: refuse a different protocol; return (manifest, hash, already_complete)."""
    directory.mkdir(parents=True, exist_ok=True)
    phash = stable_hash(protocol)
    manifest = Manifest(directory / "manifest.json")
    manifest.check_protocol(phash, what=kind)
    if manifest.data.get("status") == "complete":
        return manifest, phash, True
    manifest.update(
        kind=kind,
        status="running",
        config=config,
        protocol=protocol,
        protocol_hash=phash,
        versions=package_versions(),
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    return manifest, phash, False


def open_backend(ref: ModelRef) -> Any:
    from harness.backends import get_backend

    return get_backend(ref.backend, resolve_model(ref.model), **ref.options)


def open_grader(cfg: IntConfig) -> Any:
    """The configured grader (``.grade_many``, ``.close``, ``.name``, ``.version``); ``grader_workers=0``
    grades in-process, which is what a 2-core machine wants for integer answers."""
    from harness.grading import get_grader

    return get_grader(cfg.grader, workers=cfg.grader_workers, timeout=cfg.grader_timeout)


def grader_id(grader: Any) -> str:
    """The grader's name and version, as the eval runner records it (part of every protocol)."""
    return f"{grader.name}=={grader.version}"


def load_task_problems(cfg: IntConfig) -> tuple[Any, list[Any], list[str], int]:
    """(task, problems with a reference solution, ids dropped for lacking one, problems loaded);
    ``per_category`` then ``limit`` apply after the drop."""
    from tasks import get_task, load_task, subset

    task = get_task(cfg.rollout.task)  # "name" or "name@version"
    loaded = load_task(task.name, task.version, data_dir=cfg.rollout.data_dir, split=cfg.rollout.split)
    usable = [p for p in loaded.problems if p.solution and str(p.solution).strip()]
    dropped = [p.id for p in loaded.problems if not (p.solution and str(p.solution).strip())]
    return task, subset(usable, cfg.rollout.per_category, cfg.rollout.limit), dropped, len(loaded.problems)


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
