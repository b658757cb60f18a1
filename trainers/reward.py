"""The RL reward: the evaluation grader, binary, behind each stack's reward-function signature.

Why one module: the paper's reward is "1 if the final boxed answer is math-verified equal to gold", which
is exactly what evaluation scores. TRL (in-process) and OpenRLHF (a reward file loaded by its workers)
both call `grade_responses`, which opens the configured grader (`RLConfig.reward` and ``reward_judge``:
in `harness compare`, the comparison's grader) through `harness.grading.open_grader` -- the call
evaluation and the InT stages make -- so a grader fix, or a judge, moves RL reward and eval accuracy together.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The evaluation default: a reward must mean what an eval verdict means.
REWARD_TIMEOUT = 10.0
_GRADERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def reward_grader(grader: str = "math-verify", judge: Mapping[str, Any] | None = None, *,
                  timeout: float = REWARD_TIMEOUT) -> Any:
    """The process's grader for ``grader`` (+ ``judge``), opened once and kept: math-verify grades
    in-process with the shared worker pool; a judge keeps its backend (and its memo) across RL steps."""
    key = json.dumps([grader, dict(judge) if judge else None, timeout], sort_keys=True, default=str)
    with _LOCK:
        if key not in _GRADERS:
            from harness.grading import open_grader

            _GRADERS[key] = open_grader(grader, judge=judge, workers=0, timeout=timeout)
        return _GRADERS[key]


def grade_responses(responses: Sequence[str], golds: Sequence[str], *, timeout: float = REWARD_TIMEOUT,
                    grader: str = "math-verify", judge: Mapping[str, Any] | None = None,
                    problems: Sequence[str] | None = None) -> list[Any]:
    """One `Verdict` per (response, gold) from the configured grader. With math-verify (the default):
    the process's shared grading pool (`harness.grading.pool.shared_pool`): string rules here,
    math-verify in a worker that is killed past ``timeout + max(2, timeout/2)`` s, so a pathological
    answer from the policy costs at most that, scores 0 with status ``timeout``, and never stalls
    training. ``problems`` (the statements) go to graders that read them (a judge)."""
    if len(responses) != len(golds):
        raise ValueError(f"{len(responses)} responses but {len(golds)} gold answers")
    if problems is not None and len(problems) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(problems)} problems")
    items = [(r, str(g)) if problems is None else (r, str(g), str(p))
             for r, g, p in zip(responses, golds, problems or [""] * len(responses), strict=True)]
    return reward_grader(grader, judge, timeout=timeout).grade_many(items)


def completion_text(completion: Any) -> str:
    """TRL passes plain strings for text prompts and a list of messages for chat prompts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def _dist() -> Any:
    """torch.distributed when a process group is initialised with more than one process, else None."""
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


@dataclass
class RewardCounters:
    """Totals the neutral log needs but TRL does not report exactly (cumulative generated tokens).

    The reward function runs in every training process on that process's share of the completions, so the
    fields count *this process's* samples. What is logged and compared with a token budget must be the
    total over all processes: `sync` sums the generated tokens over the ranks (``all_reduce``; a collective,
    so every rank must call it at the same point -- the trainer does so at the end of every optimizer step)
    into ``global_tokens_generated``, and `totals` sums every field at the end. With one process both are
    the local values."""

    tokens_generated: int = 0
    samples: int = 0
    correct: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    global_tokens_generated: int = 0  # over all processes, as of the last `sync`

    def sync(self) -> int:
        """Sum ``tokens_generated`` over all processes into ``global_tokens_generated`` and return it."""
        dist = _dist()
        if dist is None:
            self.global_tokens_generated = self.tokens_generated
            return self.global_tokens_generated
        import torch

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"  # NCCL reduces device tensors only
        total = torch.tensor([self.tokens_generated], dtype=torch.long, device=device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        self.global_tokens_generated = int(total.item())
        return self.global_tokens_generated

    def totals(self) -> dict[str, Any]:
        """Every counter summed over all processes (a collective: call it on every rank)."""
        mine = {"tokens_generated": self.tokens_generated, "samples": self.samples, "correct": self.correct,
                "statuses": dict(self.statuses)}
        dist = _dist()
        if dist is None:
            return mine
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, mine)
        statuses: dict[str, int] = {}
        for p in parts:
            for k, v in p["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
        return {"tokens_generated": sum(p["tokens_generated"] for p in parts), "samples": sum(p["samples"] for p in parts),
                "correct": sum(p["correct"] for p in parts), "statuses": statuses, "processes": len(parts)}


def prompt_problem(prompt: Any) -> str:
    """The problem as a grader that reads it sees it: the last user message of a chat prompt."""
    if isinstance(prompt, list):
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return users[-1] if users else ""
    return str(prompt)


def make_trl_reward(counters: RewardCounters, answer_field: str = "answer", *, timeout: float = REWARD_TIMEOUT,
                    grader: str = "math-verify", judge: Mapping[str, Any] | None = None):
    """A TRL ``reward_funcs`` entry named ``correct``: 1.0 for a verified answer, else 0.0 (also for an
    answer whose grading passed ``timeout``; `counters.statuses` counts those). ``grader``/``judge``:
    `RLConfig.reward` and ``reward_judge``."""

    def correct(prompts: list[Any], completions: list[Any], completion_ids: list[list[int]] | None = None,
                log_metric: Any = None, **columns: Any) -> list[float]:
        golds = columns[answer_field]
        verdicts = grade_responses([completion_text(c) for c in completions], golds, timeout=timeout, grader=grader,
                                   judge=judge, problems=[prompt_problem(p) for p in prompts] if judge else None)
        counters.samples += len(verdicts)
        counters.correct += sum(v.correct for v in verdicts)
        counters.tokens_generated += sum(len(ids) for ids in completion_ids or [])
        for v in verdicts:
            counters.statuses[v.status] = counters.statuses.get(v.status, 0) + 1
        if log_metric is not None:
            no_answer = sum(v.status == "no_answer" for v in verdicts)
            log_metric("no_answer_rate", no_answer / max(len(verdicts), 1))
        return [v.score for v in verdicts]

    return correct
