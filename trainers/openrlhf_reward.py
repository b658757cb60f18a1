"""OpenRLHF reward-function file: the harness grader (the run's ``RLConfig.reward``) behind ``--reward.remote_url <this file>``.

The OpenRLHF backend copies this file verbatim into the run directory next to ``reward_func.json``
(where the harness lives, where to log samples, which end-of-turn strings to strip). OpenRLHF's workers
load it with ``importlib`` and call ``reward_func(queries, prompts, labels)`` from worker threads
(openrlhf/utils/agent.py, 0.11), where ``queries`` are the decoded prompt + response, special tokens kept.

Why a sample log: OpenRLHF reports reward means but not the fraction of zero-advantage groups, the key
InT diagnostic; one line per graded sample lets the backend recompute it per step, exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

_CONFIG_PATH = Path(__file__).with_suffix(".json")
_CONFIG: dict[str, Any] = json.loads(_CONFIG_PATH.read_text(encoding="utf-8")) if _CONFIG_PATH.exists() else {}
if _CONFIG.get("harness_root") and _CONFIG["harness_root"] not in sys.path:
    sys.path.insert(0, _CONFIG["harness_root"])  # the OpenRLHF env need not pip-install the harness

from trainers.reward import grade_responses  # noqa: E402 - after the sys.path fix above

_LOCK = threading.Lock()


def split_response(query: str, prompt: str) -> str:
    """The response part of ``query`` with trailing end-of-turn / padding strings removed."""
    response = query[len(prompt):] if query.startswith(prompt) else query.split(prompt, 1)[-1]
    stripped = True
    while stripped:
        stripped = False
        for suffix in _CONFIG.get("strip_suffixes", []):
            if suffix and response.endswith(suffix):
                response, stripped = response[: -len(suffix)], True
    return response


def _log_samples(prompts: list[str], labels: list[str], rewards: list[float], lengths: list[int]) -> None:
    path = _CONFIG.get("samples_log")
    if not path:
        return
    lines = "".join(
        json.dumps({"prompt": hashlib.sha1(p.encode()).hexdigest()[:16], "label": str(lab), "reward": r,
                    "response_chars": n, "pid": os.getpid()}) + "\n"
        for p, lab, r, n in zip(prompts, labels, rewards, lengths, strict=True)
    )
    with _LOCK, open(path, "a", encoding="utf-8") as fh:  # one write per call: whole lines, O_APPEND
        fh.write(lines)
        fh.flush()


def reward_func(queries: list[str], prompts: list[str], labels: list[str], **kwargs: Any) -> dict[str, Any]:
    """Binary math reward: 1.0 when the last ``\\boxed{}`` answer verifies against the label."""
    import torch

    responses = [split_response(q, p) for q, p in zip(queries, prompts, strict=True)]
    grader = _CONFIG.get("grader") or {}
    verdicts = grade_responses(responses, [str(lab) for lab in labels], grader=grader.get("name") or "math-verify",
                               judge=grader.get("judge"))
    rewards = [v.score for v in verdicts]
    _log_samples(list(prompts), list(labels), rewards, [len(r) for r in responses])
    tensor = torch.tensor(rewards, dtype=torch.float)
    no_answer = torch.tensor(sum(v.status == "no_answer" for v in verdicts) / max(len(verdicts), 1))
    return {"rewards": tensor, "scores": tensor, "extra_logs": {"no_answer_rate": no_answer}}
