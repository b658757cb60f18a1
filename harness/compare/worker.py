"""Run one piece of a comparison -- a step, an evaluation, a diagnostic -- in a child process.

WHY a process per step: on a GPU, a trainer that still holds its weights, optimizer state and a colocated
vLLM engine leaves no room for the evaluation's vLLM that follows; freeing "every allocation" inside one
long-lived process is never certain (CUDA contexts, NCCL, allocator caches), a process exit is. The
boundary also contains crashes: a step that dies leaves its resumable folder and no ``step.json``.

Cost: processes are forked from a *forkserver* that imported torch, transformers and TRL once, so each
step starts in milliseconds instead of re-importing them (measured in the lead's note). The server never
initialises CUDA, so every child gets a fresh device context. The parent's ``sys.path`` and environment
travel with each job (a plugin importable in the parent is importable in the child).
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from harness.rundir import atomic_write_json, read_json

# Imported once by the forkserver, so a step's process starts with them loaded: the heavy stacks and every
# module a built-in step, an evaluation or the grader imports (TRL's trainers are lazy submodules of `trl`).
PRELOAD = [
    "torch", "transformers", "datasets", "trl", "trl.trainer.grpo_trainer", "trl.trainer.sft_trainer",
    "harness.compare.worker", "harness.compare.kinds.int", "harness.compare.kinds.sft", "harness.compare.kinds.rl",
    "harness.evaluate", "harness.intervention.pipeline", "harness.backends.hf", "harness.grading.pool",
    "trainers.trl_backend", "tasks.registry",
]
_CONTEXT: Any = None


class StepFailed(RuntimeError):
    """A child job ended with an error or died; the message says which and where its log is."""


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in mp.get_all_start_methods():
            _CONTEXT = mp.get_context("forkserver")
            _CONTEXT.set_forkserver_preload(PRELOAD)
        else:  # Windows: spawn (slower: every child imports the stack)
            _CONTEXT = mp.get_context("spawn")
    return _CONTEXT


def _child(target: str, payload: dict[str, Any], result_path: str, sys_path: list[str], environ: dict[str, str]) -> None:
    """Child entry: adopt the parent's import path and environment, run ``target(payload)``, write its result."""
    sys.path[:] = sys_path
    os.environ.clear()
    os.environ.update(environ)
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") == "1":  # the parent asked for a quiet console
        from harness.ui import quiet_libraries

        quiet_libraries()
    try:
        module, _, name = target.partition(":")
        result = getattr(importlib.import_module(module), name)(payload)
        atomic_write_json(result_path, {"ok": True, "result": result})
    except BaseException as exc:  # reported to the parent, which raises it as one line
        atomic_write_json(result_path, {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                        "user_error": isinstance(exc, (ValueError, LookupError, FileNotFoundError)),
                                        "traceback": traceback.format_exc()})
        raise SystemExit(1) from None


def run_job(target: str, payload: dict[str, Any], folder: Path, *, isolated: bool = True, label: str = "") -> dict[str, Any]:
    """``target(payload)`` (``"module:function"``) in a child process (or inline), returning its dict.

    An error in the child is re-raised here as `StepFailed` (or ValueError for a user error) naming the
    job and its ``job-error.json``; a child killed by a signal is reported with its exit code."""
    if not isolated:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(payload)
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / "job-result.json"
    result_path.unlink(missing_ok=True)
    proc = _context().Process(target=_child, args=(target, payload, str(result_path), list(sys.path), dict(os.environ)),
                              name=f"harness-{label or target}")
    proc.start()
    try:
        proc.join()
    except BaseException:
        proc.terminate()
        proc.join()
        raise
    if not result_path.exists():
        raise StepFailed(f"{label or target}: the process died (exit code {proc.exitcode}) before finishing; "
                         f"its folder {folder} is kept and resumes on the next run")
    reply = read_json(result_path)
    result_path.unlink()
    if not reply["ok"]:
        from harness.redact import redact_text

        (folder / "job-error.json").write_text(redact_text(reply["traceback"]), encoding="utf-8")  # server text may echo a key
        cls = ValueError if reply.get("user_error") else StepFailed
        raise cls(f"{label or target}: {reply['error']} (traceback: {folder / 'job-error.json'})")
    return reply["result"]


# -- job targets (run in the child) -------------------------------------------------------------------
def run_step(payload: dict[str, Any]) -> dict[str, Any]:
    """A registered step kind's ``run`` on resolved settings."""
    import time

    from harness.compare.steps import StepInputs, get_step_kind
    from harness.memory import PeakRSS

    t0 = time.perf_counter()
    inputs = StepInputs(model=payload["model"], folder=Path(payload["folder"]), artifacts=payload["artifacts"],
                        show_progress=payload["show_progress"])
    with PeakRSS() as rss:
        out = get_step_kind(payload["kind"]).run(payload["settings"], inputs)
    out.compute.wall_time = round(time.perf_counter() - t0, 2)
    out.compute.detail.update(rss.to_dict())  # this step's own peak (the preflight's CPU estimate is checked against it)
    peak = _peak_gpu_gib()
    if peak is not None:
        out.compute.detail["peak_gpu_memory_gib"] = peak
    return out.to_dict()


def run_eval_job(payload: dict[str, Any]) -> dict[str, Any]:
    """One checkpoint under the frozen protocol (`harness.evaluate.run_eval`)."""
    from harness.evaluate import EvalConfig, run_eval
    from harness.memory import PeakRSS

    with PeakRSS() as rss:
        results = run_eval(EvalConfig(**payload["config"]), show_progress=payload["show_progress"])
    return {"tokens_generated": sum(t["counts"]["completion_tokens"] for t in results["tasks"].values()),
            "protocol_hash": results["protocol_hash"], **rss.to_dict()}


def run_sft_stats(payload: dict[str, Any]) -> dict[str, Any]:
    """NLL/entropy of SFT data sources under the base model, on a seeded subset (`reports.stats_nll`)."""
    from reports.stats_nll import sft_data_stats

    device = "cuda" if _cuda() else "cpu"
    return {src: sft_data_stats(payload["model"], path, source=src, max_rows=payload["max_rows"], device=device)
            for src, path in payload["sources"].items()}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _peak_gpu_gib() -> float | None:
    """Peak GPU memory this process allocated (its own: every step runs in its own process), or None."""
    import torch

    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 3)
