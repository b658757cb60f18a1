"""A synthetic `harness compare` folder in exactly the layout the orchestrator writes, for the report tests.

Accuracies are drawn from a seeded model (problem difficulty + recipe skill + seed noise), so every
statistic is computed from data rather than asserted from constants. Two problems are forced: one that
only the candidate solves (its correct samples carry a ``<script>`` payload: model text is untrusted)
and one that only the baseline solves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.intervention.analytics import table1
from reports.reported import reported_rows
from trainers.base import TrainLogRecord

INJECTED = '<script>console.error("INJECTED")</script>'
INJECTED_ANSWER = '<img src=x onerror="console.error(1)">'
SKILL = {"int": 0.9, "rl-baseline": 0.3, "big-model": 1.5}
STAGES = {
    "int": [("int", 90_000, 0, 40.0), ("sft", 0, 12_000, 15.0), ("rl", 300_000, 250_000, 120.0), ("eval", 20_000, 0, 10.0)],
    "rl-baseline": [("rl", 310_000, 260_000, 118.0), ("eval", 21_000, 0, 10.0)],
    "big-model": [("eval", 25_000, 0, 30.0)],
}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _samples(recipe: str, seed: int, task: str, n_problems: int, k: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    difficulty = np.random.default_rng(sum(map(ord, task))).normal(0.0, 2.0, n_problems) - 1.0
    rows = []
    for i in range(n_problems):
        pid = f"{task}-{i:03d}"
        logit = difficulty[i] + SKILL[recipe] + rng.normal(0, 0.3)
        p = 1 / (1 + np.exp(-logit))
        if i == 0:  # only the candidate (and the eval-only model) ever solves it
            p = 0.0 if recipe == "rl-baseline" else 0.5
        if i == 1:  # only the baseline solves it
            p = 0.5 if recipe == "rl-baseline" else 0.0
        for j in range(k):
            ok = bool(rng.random() < p)
            text = f"Step 1: think.\n\nStep 2: compute.\n\nSo the answer is \\boxed{{{7 if ok else 3}}}."
            extracted = "7" if ok else "3"
            if i == 0 and ok:
                text = f"Let me write {INJECTED} then ``` fences ``` and finish. \\boxed{{7}}"
            if i == 0 and not ok:
                extracted = INJECTED_ANSWER
            rows.append({
                "task": task, "version": "v1", "problem_id": pid, "category": f"level-{i % 3}",
                "sample_index": j, "prompt_hash": f"h{i}", "seed": 1234, "text": text, "gold": "7",
                "extracted": extracted, "correct": ok, "status": "ok", "reason": "", "grader": "math-verify==0.9.0",
                "prompt_tokens": 40, "completion_tokens": int(rng.integers(50, 400)), "finish_reason": "stop",
            })  # fmt: skip
    return rows


def _int_dir(folder: Path, rng: np.random.Generator, n_attempts: int = 60) -> None:
    """rollout / propose-self / continue-self / build-sft-self, as harness.intervention writes them."""
    attempts, proposals = [], []
    for a in range(n_attempts):
        n_sub = int(rng.integers(20, 300))
        attempts.append({"attempt_id": f"p{a}#0", "problem_id": f"p{a}", "sample_index": 0, "n_substeps": n_sub,
                         "attempt": "\n\n".join(f"step {s}" for s in range(n_sub)),
                         "completion_tokens": int(rng.integers(2000, 12000)), "finish_reason": "stop"})  # fmt: skip
        for j in range(2):
            ok = rng.random() > 0.1
            loc = int(min(n_sub, max(1, rng.normal(0.7 * n_sub, 0.15 * n_sub)))) if ok else None
            content = " ".join(["Instead, check the parity of n before dividing."] * int(rng.integers(1, 6)))
            proposals.append({
                "attempt_id": f"p{a}#0", "problem_id": f"p{a}", "proposal_index": j, "proposer": "self", "kind": "self",
                "text": "...", "completion_tokens": 900, "finish_reason": "stop",
                "parse": {"ok": ok, "content": content if ok else None, "location": loc, "reason": "" if ok else "no_block",
                          "method": "json" if ok else "", "truncated": False},
                "n_substeps": n_sub, "location_rel": loc / n_sub if ok else None,
            })  # fmt: skip
    _write_jsonl(folder / "rollout" / "attempts.jsonl", attempts)
    _write_jsonl(folder / "propose-self" / "proposals.jsonl", proposals)
    units, samples = [], []
    for cond, p in (("scratch", 0.01), ("prefix", 0.008), ("original", 0.007), ("intervention", 0.12)):
        for a in range(20):
            uid = f"{cond}:p{a}"
            units.append({"unit_id": uid, "problem_id": f"p{a}", "condition": cond})
            samples += [{"problem_id": uid, "sample_index": j, "correct": bool(rng.random() < p)} for j in range(16)]
    cont = folder / "continue-self"
    cont.mkdir(parents=True, exist_ok=True)
    (cont / "table1.json").write_text(json.dumps(table1(units, samples)), encoding="utf-8")


def _train_log(path: Path, stage: str, recipe: str, seed: int, steps: int, rng: np.random.Generator) -> None:
    rows = []
    for s in range(1, steps + 1):
        lift = (0.25 if recipe == "int" else 0.1) * s / steps
        rows.append(TrainLogRecord(
            step=s, stage=stage, wall_time=2.0 * s, loss=float(rng.normal(0.5, 0.05)), learning_rate=1e-6,
            reward_mean=float(np.clip((0.25 if recipe == "int" else 0.15) + lift + rng.normal(0, 0.02), 0, 1)),
            frac_zero_advantage=float(np.clip((0.55 if recipe == "int" else 0.8) - lift + rng.normal(0, 0.02), 0, 1)),
            response_length_mean=float(800 + (1.5 if recipe == "rl-baseline" else 0.5) * s + rng.normal(0, 10)),
        ).to_dict())  # fmt: skip
    _write_jsonl(path, rows)


def make_compare(root: Path, *, seeds: tuple[int, ...] = (0, 1, 2), tasks: tuple[str, ...] = ("alpha", "beta"),
                 n_problems: int = 24, k: int = 8, with_training: bool = True, eval_only: bool = True,
                 base_model: str | None = None) -> Path:  # fmt: skip
    """Write ``root/compare.json`` and every arm; returns ``root``."""
    rng = np.random.default_rng(0)
    arms = []
    recipes = ["int", "rl-baseline"]
    for recipe in recipes + (["big-model"] if eval_only else []):
        kind = "eval-only" if recipe == "big-model" else "measured"
        for seed in seeds if kind == "measured" else (0,):
            rel = f"arms/{recipe}/seed-{seed}"
            arm = root / rel
            for task in tasks:
                _write_jsonl(arm / "eval" / f"{task}@v1" / "samples.jsonl", _samples(recipe, seed, task, n_problems, k, rng))
            (arm / "eval" / "results.json").write_text("{}", encoding="utf-8")
            stages = STAGES[recipe] if with_training or kind == "eval-only" else [STAGES[recipe][-1]]
            (arm / "stages.json").write_text(json.dumps([
                {"stage": st, "tokens_generated": g, "tokens_trained": t, "wall_time": w} for st, g, t, w in stages
            ]), encoding="utf-8")  # fmt: skip
            if with_training and kind == "measured":
                _train_log(arm / "rl" / "train_log.jsonl", "rl", recipe, seed, 30, rng)
                if recipe == "int":
                    _train_log(arm / "sft" / "train_log.jsonl", "sft", recipe, seed, 8, rng)
                    cache = root / "cache" / f"int-{seed}"
                    _int_dir(cache, rng)
                    os.symlink(os.path.relpath(cache, arm), arm / "int", target_is_directory=True)
                    (arm / "analysis").mkdir(parents=True)
                    (arm / "analysis" / "sft_stats.json").write_text(json.dumps({
                        "InT (prefix + intervention)": {"nll_mean": 0.42 + 0.01 * seed, "nll_ci95": [0.38, 0.47], "entropy_mean": 0.29,
                                                        "entropy_ci95": [0.26, 0.31], "tokens": 51234, "rows": 120, "data_sha256": f"int{seed}"},
                        "reference solutions": {"nll_mean": 1.9, "nll_ci95": [1.7, 2.1], "entropy_mean": 1.66,
                                                "entropy_ci95": [1.5, 1.8], "tokens": 80211, "rows": 120, "data_sha256": "ref"},
                    }), encoding="utf-8")  # fmt: skip
            arms.append({"recipe": recipe, "seed": seed, "dir": rel, "kind": kind, "model": f"/models/{recipe}"})
    meta = {
        "recipes": recipes, "seeds": list(seeds), "protocol_hash": "abc123def456",
        "protocol": {"tasks": list(tasks), "k": k, "sampling": {"temperature": 0.7, "top_p": 0.8}, "grader": "math-verify==0.9.0",
                     "token_budget": 16384},
        "base_model": base_model or str(root / "no-such-model"), "arms": arms, "reported": reported_rows(),
    }  # fmt: skip
    (root / "compare.json").write_text(json.dumps(meta), encoding="utf-8")
    return root
