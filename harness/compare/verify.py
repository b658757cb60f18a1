"""Check a cached step folder before a comparison reuses it.

Why: a step whose ``step.json`` exists is "cached" and never runs again, so damage inside it -- two
processes that trained the same RL step into one folder (train_log steps 1,1,2,2,3,3), an evaluation
with every record twice, a record log cut or edited by hand -- would be carried into every later report.
Reuse therefore requires that the folder still holds what its ``step.json`` says:

* every stage manifest below it says ``complete``;
* every record log (samples, proposals, solves, the neutral train log) parses, with each key once;
* an evaluation holds exactly ``k`` samples per problem (indices ``0..k-1``), as many as its results count;
* a training log's steps increase and do not pass the step count the step reported;
* an InT step's SFT data has the number of rows the step reported.

A folder that fails is never reused silently: `CachedStepDamaged` says which folder, which file and
what is wrong, and that removing the folder recomputes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.rundir import RecordLog, read_json

__all__ = ["CachedStepDamaged", "verify_cached_step"]

TRAIN_LOG = "train_log.jsonl"


class CachedStepDamaged(ValueError):
    """A cached step folder does not hold what its ``step.json`` records."""


def _record_keys() -> dict[str, Callable[[Mapping[str, Any]], Any]]:
    from harness.intervention.stages import RECORD_KEYS

    return {**RECORD_KEYS, TRAIN_LOG: lambda r: (r["stage"], int(r["step"]))}


def verify_cached_step(folder: str | Path, record: Mapping[str, Any]) -> None:
    """Raise `CachedStepDamaged` unless ``folder`` is intact (see the module docstring)."""
    folder = Path(folder)
    try:
        _verify(folder, record)
    except CachedStepDamaged:
        raise
    except (ValueError, KeyError, TypeError, OSError) as exc:
        _damaged(folder, f"{type(exc).__name__}: {exc}")


def _damaged(folder: Path, why: str) -> None:
    raise CachedStepDamaged(
        f"cached step {folder} does not verify ({why}); it was written by two processes or edited -- remove "
        "the folder to recompute it"
    )


def _verify(folder: Path, record: Mapping[str, Any]) -> None:
    keys = _record_keys()
    logs: dict[Path, RecordLog] = {}
    for path in sorted(folder.rglob("*.jsonl")):
        if path.name in keys and not path.is_symlink():
            logs[path] = RecordLog(path, key=keys[path.name])  # a duplicate key or corrupt line raises here
    for manifest in sorted(folder.rglob("manifest.json")):
        status = read_json(manifest).get("status")
        if status != "complete":
            _damaged(folder, f"{manifest} says status {status!r}, not 'complete'")
    if (folder / "results.json").is_file():
        _verify_eval(folder, logs)
    summary = (record.get("output") or {}).get("summary") or {}
    train_log = folder / TRAIN_LOG
    if train_log in logs:
        _verify_train_log(folder, train_log, summary)
    rows = summary.get("rows")
    sft = ((record.get("output") or {}).get("artifacts") or {}).get("sft_data")
    if isinstance(rows, int) and sft and Path(sft).is_file() and Path(sft).resolve().is_relative_to(folder.resolve()):
        with open(sft, encoding="utf-8") as fh:
            found = sum(1 for line in fh if line.strip())
        if found != rows:
            _damaged(folder, f"{sft} holds {found} rows, the step recorded {rows}")


def _verify_eval(folder: Path, logs: dict[Path, RecordLog]) -> None:
    manifest = read_json(folder / "manifest.json")
    k = int(manifest["protocol"]["k"])
    results = read_json(folder / "results.json")
    for name, res in results["tasks"].items():
        path = folder / name / "samples.jsonl"
        log = logs.get(path)
        if log is None:
            _damaged(folder, f"{path} is missing")
        per_problem: dict[str, set[int]] = {}
        for pid, index in log.done_keys():
            per_problem.setdefault(pid, set()).add(index)
        wrong = sorted(pid for pid, idx in per_problem.items() if idx != set(range(k)))
        if wrong:
            _damaged(folder, f"{path}: problem {wrong[0]!r} has samples {sorted(per_problem[wrong[0]])}, "
                             f"the protocol's k is {k}" + (f" (and {len(wrong) - 1} more problems)" if len(wrong) > 1 else ""))
        counted = int(res["counts"]["samples"])
        if counted != len(log):
            _damaged(folder, f"{path} holds {len(log)} samples, results.json counts {counted}")


def _verify_train_log(folder: Path, path: Path, summary: Mapping[str, Any]) -> None:
    from harness.rundir import iter_jsonl

    last: dict[str, int] = {}
    for row in iter_jsonl(path):
        stage, step = row["stage"], int(row["step"])
        if step <= last.get(stage, -1):
            _damaged(folder, f"{path}: {stage} step {step} follows step {last[stage]}")
        last[stage] = step
    steps = summary.get("steps")
    if isinstance(steps, int) and last and max(last.values()) > steps:
        _damaged(folder, f"{path} logs step {max(last.values())}, the step reported {steps} steps")
