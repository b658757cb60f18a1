"""Bring runs made by inspect_ai or lm-eval into our per-sample table, so they sit on our leaderboard.

Records have exactly the fields ``harness eval`` writes to ``<run>/<task>@<version>/samples.jsonl``, plus
``source`` (``inspect:<log>`` / ``lm-eval:<file>``). Verdicts are always our grader's: an inspect log
scored by our ``int_grader`` scorer carries them in the score metadata; anything else (another scorer,
every lm-eval sample file) is re-graded, and for our lm-eval tasks the logged per-problem ``avg@k`` is
checked against the re-grade, so a grader mismatch fails loudly instead of mixing meanings.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.ecosystem.common import grade_response
from harness.ecosystem.lm_eval_tasks.utils import responses_of
from harness.safepath import safe_component

log = logging.getLogger(__name__)

RECORD_FIELDS = (
    "task", "version", "problem_id", "category", "sample_index", "prompt_hash", "seed", "text", "gold",
    "extracted", "correct", "status", "reason", "grader", "prompt_tokens", "completion_tokens", "finish_reason",
)  # fmt: skip
_FINISH = {"stop": "stop", "max_tokens": "length", "model_length": "length"}


def _prompt_hash(messages: Sequence[Mapping[str, str]]) -> str:
    from harness.backends import GenerationRequest

    return GenerationRequest(
        messages=tuple({"role": m["role"], "content": m["content"]} for m in messages)
    ).key()


def _record(
    base: Mapping[str, Any], text: str, gold: str, verdict: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One table row; ``verdict`` None means grade ``text`` now with our grader."""
    if verdict is None:
        v = grade_response(text, gold)
        verdict = {
            "correct": v.correct,
            "extracted": v.extracted,
            "status": v.status,
            "reason": v.reason,
            "grader": v.grader,
        }
    row = {
        **base,
        "text": text,
        "gold": gold,
        **{k: verdict[k] for k in ("extracted", "correct", "status", "reason", "grader")},
    }
    row["correct"] = bool(row["correct"])
    missing = [f for f in RECORD_FIELDS if f not in row]
    if missing:
        raise ValueError(f"importer bug: record lacks {missing}")
    return row


def _finish_reason(output: Any, max_tokens: int | None) -> str | None:
    """Our ``stop``/``length`` vocabulary; providers that report ``unknown`` (inspect's ``hf``) are
    judged by whether the completion used the whole token budget."""
    if output is None:
        return None
    reason = _FINISH.get(output.stop_reason)
    if reason is not None:
        return reason
    used = output.usage.output_tokens if output.usage else None
    if max_tokens and used is not None:
        return "length" if used >= max_tokens else "stop"
    return str(output.stop_reason)


def import_inspect_log(
    path: str | Path, *, task: str | None = None, version: str | None = None
) -> list[dict[str, Any]]:
    """Per-sample records from an inspect ``.eval``/``.json`` log (one per sample and epoch).

    ``task``/``version`` name the benchmark when the log did not come from our tasks (which record them
    in each sample's metadata).
    """
    from inspect_ai.log import read_eval_log

    path = Path(path)
    elog = read_eval_log(str(path))
    if not elog.samples:
        raise ValueError(
            f"{path}: the log has no samples (status {elog.status}); was it written with --no-log-samples?"
        )
    # plan.config is the effective generate config (task defaults merged with the command line).
    configs = [getattr(elog.plan, "config", None), getattr(elog.eval, "model_generate_config", None)]
    seed = next((c.seed for c in configs if c is not None and c.seed is not None), None)
    max_tokens = next((c.max_tokens for c in configs if c is not None and c.max_tokens), None)
    meta_task = (elog.eval.metadata or {}).get("int_task")
    records = []
    for s in elog.samples:
        meta = s.metadata or {}
        messages = s.input if isinstance(s.input, list) else None
        prompt = (
            [{"role": "user", "content": s.input}]
            if messages is None
            else [{"role": m.role, "content": m.text} for m in messages]
        )
        gold = s.target if isinstance(s.target, str) else (s.target[0] if s.target else "")
        usage = s.output.usage if s.output else None
        where = f"{path}: sample {s.id} (epoch {s.epoch})"
        base = {
            "task": safe_component(meta.get("task") or task or meta_task or elog.eval.task, where=where, field="task"),
            "version": safe_component(meta.get("version") or version or "default", where=where, field="version"),
            "problem_id": str(s.id),
            "category": meta.get("category") or None,
            "sample_index": int(s.epoch) - 1,
            "prompt_hash": meta.get("prompt_hash") or _prompt_hash(prompt),
            "seed": seed,
            "prompt_tokens": usage.input_tokens if usage else None,
            "completion_tokens": usage.output_tokens if usage else None,
            "finish_reason": _finish_reason(s.output, max_tokens),
            "source": f"inspect:{path}",
        }
        text = s.output.completion if s.output else ""
        ours = [
            sc
            for sc in (s.scores or {}).values()
            if (sc.metadata or {}).get("grader") and "status" in sc.metadata
        ]
        if s.error is not None and not ours:
            err = {
                "correct": False,
                "extracted": None,
                "status": "error",
                "reason": str(s.error.message),
                "grader": "",
            }
            records.append(_record({**base, "finish_reason": "error"}, text, gold, err))
            continue
        verdict = None
        if ours:
            sc = ours[0]
            verdict = {**sc.metadata, "correct": sc.value == "C" or sc.value is True or sc.value == 1}
        records.append(_record(base, text, gold, verdict))
    return records


def lm_eval_prompt(entry: Mapping[str, Any]) -> str:
    """The exact context string lm-eval sent (``arguments`` is ``{"gen_args_0": {"arg_0": ...}}`` in the
    sample file and a list of argument tuples in memory)."""
    args = entry.get("arguments") or []
    first = next(iter(args.values()), {}) if isinstance(args, Mapping) else (args[0] if args else [""])
    return str(first.get("arg_0", "") if isinstance(first, Mapping) else first[0])


def _lm_eval_results(samples_path: Path) -> dict[str, Any]:
    """The ``results_<timestamp>.json`` lm-eval writes beside ``samples_<task>_<timestamp>.jsonl`` ({} if absent)."""
    stamp = samples_path.stem.rsplit("_", 1)[-1]
    for results in samples_path.parent.glob(f"results_{stamp}.json"):
        try:
            return json.loads(results.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("%s: unreadable (%s); seed and model left empty", results, exc)
    return {}


def _lm_eval_entries(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, entry) for each non-empty line; a broken line is one ValueError naming file and line."""
    entries = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(entry, dict):
                raise ValueError(f"{path}: line {lineno}: expected a JSON object, got {type(entry).__name__}")
            entries.append((lineno, entry))
    return entries


def _lm_eval_responses(entry: Mapping[str, Any], where: str) -> list[str]:
    if entry.get("resps"):
        resps = entry["resps"]
        if not isinstance(resps, list) or not all(isinstance(g, list) for g in resps):
            raise ValueError(f"{where}: field 'resps' must be a list of lists of strings")
        return [str(r) for group in resps for r in group]
    if not isinstance(entry.get("filtered_resps"), list):
        raise ValueError(f"{where}: field 'resps' is empty and 'filtered_resps' is not a list")
    return responses_of(entry["filtered_resps"])


def import_lm_eval_samples(
    path: str | Path, *, task: str | None = None, version: str | None = None, check: bool = True
) -> list[dict[str, Any]]:
    """Per-sample records from an lm-eval ``--log_samples`` file (``samples_<task>_<date>.jsonl``).

    Every repeat becomes one record (``sample_index`` = its position). lm-eval logs no token counts or
    finish reasons, so those are None. With ``check``, a logged ``avg@k`` (our tasks) must equal the
    re-graded mean, else ValueError: the run used a different grader than this install. A malformed line
    is a ValueError naming the file, the line and the field; ``doc.task``/``doc.version`` name the output
    folder, so they must be plain names (`harness.safepath.safe_component`).
    """
    path = Path(path)
    seed = _lm_eval_results(path).get("config", {}).get("random_seed")
    records = []
    seen: set[Any] = set()
    for lineno, entry in _lm_eval_entries(path):
        where = f"{path}: line {lineno}"
        doc_id = entry.get("doc_id")
        if doc_id is None or isinstance(doc_id, (dict, list)):
            raise ValueError(f"{where}: field 'doc_id' is {'missing' if doc_id is None else 'not a number or string'}")
        if doc_id in seen:  # a task with several filters logs each doc once per filter
            continue
        seen.add(doc_id)
        where = f"{where} (doc_id {doc_id})"
        doc = entry.get("doc") or {}
        if not isinstance(doc, dict):
            raise ValueError(f"{where}: field 'doc' must be an object, got {type(doc).__name__}")
        responses = _lm_eval_responses(entry, where)
        gold = str(doc.get("answer", entry.get("target", "")))
        prompt_hash = doc.get("prompt_hash")
        if not prompt_hash:
            try:
                prompt = lm_eval_prompt(entry)
            except (TypeError, KeyError, IndexError, AttributeError, StopIteration):
                raise ValueError(f"{where}: field 'arguments' is malformed (expected lm-eval's gen_args)") from None
            prompt_hash = _prompt_hash([{"role": "user", "content": prompt}])
        base = {
            "task": safe_component(
                doc.get("task") or task or path.stem.removeprefix("samples_").rsplit("_", 1)[0],
                where=where, field="doc.task"),
            "version": safe_component(doc.get("version") or version or "default", where=where, field="doc.version"),
            "problem_id": str(doc.get("id", doc_id)),
            "category": doc.get("category") or None,
            "prompt_hash": prompt_hash,
            "seed": seed,
            "prompt_tokens": None,
            "completion_tokens": None,
            "finish_reason": None,
            "source": f"lm-eval:{path}",
        }
        rows = [_record({**base, "sample_index": j}, text, gold, None) for j, text in enumerate(responses)]
        logged = entry.get("avg@k")
        if check and logged is not None and rows:
            mine = sum(r["correct"] for r in rows) / len(rows)
            try:
                logged_value = float(logged)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: field 'avg@k' is {logged!r}, not a number") from None
            if not math.isclose(mine, logged_value, abs_tol=1e-9):
                raise ValueError(
                    f"{path}: doc {base['problem_id']}: lm-eval logged avg@k={logged} but our grader gives {mine}; "
                    "the run used a different grader version (see the 'grader' field of a fresh harness run)"
                )
        records.extend(rows)
    return records


def import_external(path: str | Path, **kwargs: Any) -> list[dict[str, Any]]:
    """Dispatch on the file: ``.eval``/``.json`` inspect logs, ``.jsonl`` lm-eval sample files."""
    p = Path(path)
    if p.suffix == ".jsonl":
        return import_lm_eval_samples(p, **kwargs)
    if p.suffix in (".eval", ".json"):
        return import_inspect_log(p, **kwargs)
    raise ValueError(f"{p}: expected an inspect log (.eval/.json) or an lm-eval sample file (.jsonl)")


def source_model(path: str | Path) -> str:
    """The model an external run evaluated (for the run manifest and leaderboard label)."""
    p = Path(path)
    if p.suffix == ".jsonl":
        return str(_lm_eval_results(p).get("model_name", ""))
    from inspect_ai.log import read_eval_log

    return str(read_eval_log(str(p), header_only=True).eval.model)


def import_run(path: str | Path, out_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """`import_external` + `write_run`: an external log becomes a run directory next to ours."""
    kind = "lm-eval" if Path(path).suffix == ".jsonl" else "inspect"
    return write_run(
        import_external(path, **kwargs), out_dir, source=f"{kind}:{path}", model=source_model(path)
    )


def write_run(
    records: Iterable[Mapping[str, Any]], out_dir: str | Path, *, source: str, model: str = ""
) -> dict[str, Any]:
    """Write imported records as a run directory (samples.jsonl per task@version, results.json,
    manifest.json) in the layout ``harness eval`` uses, and return the results dict."""
    from harness.metrics import group_samples, summarize
    from harness.provenance import package_versions
    from harness.rundir import Manifest, RecordLog, atomic_write_json

    out = Path(out_dir)
    manifest = Manifest(out / "manifest.json")
    if manifest.data and manifest.data.get("source") != source:
        raise ValueError(
            f"{out} already holds {manifest.data.get('source') or 'another run'}; import into a new directory"
        )
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        name = safe_component(r["task"], where=source, field="task")  # each names a folder under out_dir
        ver = safe_component(r["version"], where=source, field="version")
        by_task.setdefault(f"{name}@{ver}", []).append(r)
    if not by_task:
        raise ValueError(f"{source}: nothing to import")
    results: dict[str, Any] = {"tasks": {}}
    for key, rows in sorted(by_task.items()):
        rec_log = RecordLog(
            out / key / "samples.jsonl", key=lambda r: (str(r["problem_id"]), int(r["sample_index"]))
        )
        rec_log.append_many(rows)
        stored = list(rec_log.read())
        counts = {
            "samples": len(stored),
            "no_answer": sum(r["status"] == "no_answer" for r in stored),
            "timeout": sum(r["status"] == "timeout" for r in stored),
            "error": sum(r["status"] == "error" for r in stored),
            "truncated": sum(r.get("finish_reason") == "length" for r in stored),
            "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in stored),
        }
        results["tasks"][key] = {"metrics": summarize(group_samples(stored)), "counts": counts}
    results.update(
        generator={"backend": source.split(":", 1)[0], "model": model},
        source=source,
        versions=package_versions(),
    )
    atomic_write_json(out / "results.json", results)
    manifest.update(kind="import", status="complete", source=source, model=model)
    return results
