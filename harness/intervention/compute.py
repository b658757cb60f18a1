"""What an InT run generated, counted once per sample from the records that hold it, split into what
the method *requires* and what is only *diagnostic*.

WHY a separate count: a comparison "at equal compute" charges InT for what InT needs -- rollouts, the
proposer's turns, and the continuations the correctness filter reads -- not for the Table-1 controls
(original step, prefix only, from scratch), which only measure the mechanism. Each generated sample
lives in exactly one record file (``attempts.jsonl`` repeats rollout samples and is never read here),
so summing the sources below counts every token once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.rundir import iter_jsonl

REQUIRED_CONDITION = "intervention"


def _records(path: Path, keep: Any = None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [r for r in iter_jsonl(path, allow_torn_tail=True) if keep is None or keep(r)]


def _tokens(path: Path, keep: Any = None) -> int:
    return sum(int(r.get("completion_tokens") or 0) for r in _records(path, keep))


PROPOSER_SOURCES = ("propose_solve", "propose")
_POLICY = object()


def int_compute(run_dir: str | Path, label: str, *, continuations_required: bool = True, shape: Any = None,
                proposer_shape: Any = _POLICY) -> dict[str, Any]:
    """Generated tokens (and, given the model's `harness.flops.ModelShape`, generation FLOPs with the
    prefill of every prompt) of one proposer's InT run, by source, required vs diagnostic.

    ``continuations_required``: the correctness filter (or the suffix ablation) reads the intervention
    continuations; with both off they are diagnostic too. ``proposer_shape``: the shape of the model that
    wrote the proposer's turns when it is not the policy (the proposer ablation); None when that model's
    shape is unknown -- its FLOPs are then left out (``proposer_flops_unknown``), not charged at the policy's."""
    from harness.flops import generation_flops

    run = Path(run_dir)
    cont = run / f"continue-{label}" / "samples.jsonl"
    sources = {
        "rollout": _records(run / "rollout" / "samples.jsonl"),
        "propose_solve": _records(run / f"propose-{label}" / "solves.jsonl"),
        "propose": _records(run / f"propose-{label}" / "proposals.jsonl"),
        "continue_intervention": _records(cont, lambda r: str(r["problem_id"]).startswith(f"{REQUIRED_CONDITION}:")),
        "continue_controls": _records(cont, lambda r: not str(r["problem_id"]).startswith(f"{REQUIRED_CONDITION}:")),
    }
    by_source = {k: sum(int(r.get("completion_tokens") or 0) for r in rows) for k, rows in sources.items()}
    other = proposer_shape is not _POLICY
    flops = {k: generation_flops(proposer_shape if other and k in PROPOSER_SOURCES else shape, rows) for k, rows in sources.items()}
    required = ["rollout", "propose_solve", "propose"] + (["continue_intervention"] if continuations_required else [])
    return {
        "tokens_generated": sum(by_source[k] for k in required),
        "tokens_generated_diagnostic": sum(v for k, v in by_source.items() if k not in required),
        "prompt_tokens": {k: sum(int(r.get("prompt_tokens") or 0) for r in rows) for k, rows in sources.items()},
        "flops_generated": sum(flops[k] for k in required),
        "flops_generated_diagnostic": sum(v for k, v in flops.items() if k not in required),
        "flops_by_source": flops,
        "by_source": by_source,
        "required_sources": required,
        **({"proposer_flops_unknown": True} if other and proposer_shape is None and shape is not None else {}),
    }
