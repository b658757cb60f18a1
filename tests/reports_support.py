"""A synthetic `harness compare` folder in exactly the layout the orchestrator writes, for the report tests.

Accuracies are drawn from a seeded model (problem difficulty + recipe skill + seed effect + noise), so
every statistic is computed from data rather than asserted from constants. Two problems are forced: one
that only the candidate solves (its correct samples carry a ``<script>`` payload: model text is
untrusted) and one that only the baseline solves.

Layout (harness/compare/run.py): evaluations and steps live in ``cache/`` and are linked from
``arms/<name>/seed-<s>/``; the base model is one evaluation linked from every seed; with compute matching
two more arms exist (``rl-baseline@int-compute``: RL-only trained to InT's required tokens, and
``int@rl-baseline-compute``: InT whose RL stopped at RL-only's). Token counts are chosen so the hand
totals in `EXPECTED_TRAIN_TOKENS` follow from them (see the constants). ``legacy=True`` writes the
pre-roles format (``protocol["tasks"]``, no roles, no base arm, no overlap, no diagnostic tokens).
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
BASE, INT, RL = "base", "int", "rl-baseline"
RL_AT_INT, INT_AT_RL = "rl-baseline@int-compute", "int@rl-baseline-compute"
SKILL = {BASE: -0.6, INT: 0.9, RL: 0.3, RL_AT_INT: 0.5, INT_AT_RL: 0.8, "big-model": 1.5}

# InT step: generated tokens by source (harness.intervention.compute); the controls are diagnostic.
INT_SOURCES = {"rollout": 12_000, "propose_solve": 3_000, "propose": 5_000, "continue_intervention": 10_000, "continue_controls": 25_000}
INT_REQUIRED = ("rollout", "propose_solve", "propose", "continue_intervention")
INT_PRE_RL = sum(INT_SOURCES[k] for k in INT_REQUIRED)  # 30,000
INT_DIAGNOSTIC = INT_SOURCES["continue_controls"]
RL_TOKENS_PER_STEP = {INT: 4_000, RL: 4_200, RL_AT_INT: 4_200, INT_AT_RL: 4_000}
RL_STEPS = {INT: 30, RL: 30}
# compute matching: RL-only trains until it has generated InT's required total (30,000 + 30 x 4,000 = 150,000:
# 36 steps of 4,200 = 151,200, within one step); InT stops at RL-only's 126,000 (30,000 + 24 x 4,000).
RL_STEPS[RL_AT_INT] = -(-(INT_PRE_RL + RL_STEPS[INT] * RL_TOKENS_PER_STEP[INT]) // RL_TOKENS_PER_STEP[RL_AT_INT])
RL_STEPS[INT_AT_RL] = (RL_STEPS[RL] * RL_TOKENS_PER_STEP[RL] - INT_PRE_RL) // RL_TOKENS_PER_STEP[INT_AT_RL]
SFT_TRAINED = 12_000
RL_SKIPPED = "the token budget was spent before RL (compute matching)"  # harness/compare/kinds/rl.py
EXPECTED_TRAIN_TOKENS = {
    m: (INT_PRE_RL if m in (INT, INT_AT_RL) else 0) + RL_STEPS[m] * RL_TOKENS_PER_STEP[m] for m in RL_STEPS
}  # required generated training tokens per arm (every seed alike)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, link.parent), link, target_is_directory=True)


def _samples(recipe: str, seed_effect: float, task: str, n_problems: int, k: int, rng: np.random.Generator,
             exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:  # fmt: skip
    difficulty = np.random.default_rng(sum(map(ord, task))).normal(0.0, 2.0, n_problems) - 1.0
    rows = []
    for i in range(n_problems):
        pid = f"{task}-{i:03d}"
        if pid in exclude:  # held out of evaluation (decontamination)
            continue
        logit = difficulty[i] + SKILL[recipe] + seed_effect + rng.normal(0, 0.3)
        p = 1 / (1 + np.exp(-logit))
        if i == 0:  # only the candidate (and the eval-only model) ever solves it
            p = 0.0 if recipe in (RL, RL_AT_INT, BASE) else 0.5
        if i == 1:  # only the baseline solves it
            p = 0.5 if recipe in (RL, RL_AT_INT) else 0.0
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
    """rollout / propose-self / continue-self / build-sft-self and step.json, as the int step writes them."""
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
    compute = {"tokens_generated": INT_PRE_RL, "tokens_generated_diagnostic": INT_DIAGNOSTIC, "tokens_trained": 0, "wall_time": 40.0,
               "detail": {"tokens_generated": INT_PRE_RL, "tokens_generated_diagnostic": INT_DIAGNOSTIC,
                          "by_source": INT_SOURCES, "required_sources": list(INT_REQUIRED)}}  # fmt: skip
    (folder / "step.json").write_text(json.dumps({"kind": "int", "key": folder.name, "dir": str(folder),
                                                  "output": {"model": None, "compute": compute}}), encoding="utf-8")  # fmt: skip


def _train_log(path: Path, stage: str, recipe: str, seed: int, steps: int, rng: np.random.Generator, tokens: bool = True) -> None:
    rows = []
    per_step = RL_TOKENS_PER_STEP.get(recipe, 0) if stage == "rl" and tokens else 0
    strong = recipe in (INT, INT_AT_RL)
    for s in range(1, steps + 1):
        lift = (0.25 if strong else 0.1) * s / 30
        rows.append(TrainLogRecord(
            step=s, stage=stage, wall_time=2.0 * s, loss=float(rng.normal(0.5, 0.05)), learning_rate=1e-6,
            reward_mean=float(np.clip((0.25 if strong else 0.15) + lift + rng.normal(0, 0.02), 0, 1)),
            frac_zero_advantage=float(np.clip((0.55 if strong else 0.8) - lift + rng.normal(0, 0.02), 0, 1)),
            response_length_mean=float(800 + (0.5 if strong else 1.5) * s + rng.normal(0, 10)),
            tokens_generated=per_step * s if per_step else None,
        ).to_dict())  # fmt: skip
    _write_jsonl(path, rows)


def _sft_stats(arm: Path, seed: int) -> None:
    (arm / "analysis").mkdir(parents=True)
    (arm / "analysis" / "sft_stats.json").write_text(json.dumps({
        "InT (prefix + intervention)": {"nll_mean": 0.42 + 0.01 * seed, "nll_ci95": [0.38, 0.47], "entropy_mean": 0.29,
                                        "entropy_ci95": [0.26, 0.31], "tokens": 51234, "rows": 120, "data_sha256": f"int{seed}"},
        "reference solutions": {"nll_mean": 1.9, "nll_ci95": [1.7, 2.1], "entropy_mean": 1.66,
                                "entropy_ci95": [1.5, 1.8], "tokens": 80211, "rows": 120, "data_sha256": "ref"},
    }), encoding="utf-8")  # fmt: skip


def _stage(stage: str, generated: int, trained: int, wall: float, diagnostic: int = 0, skipped: str | None = None) -> dict[str, Any]:
    return {"stage": stage, "tokens_generated": generated, "tokens_generated_diagnostic": diagnostic,
            "tokens_trained": trained, "wall_time": wall, "skipped": skipped}  # fmt: skip


def _overlap(kind: str, tasks: tuple[str, ...], n_problems: int) -> dict[str, Any]:
    """compare.json's ``overlap`` (harness.decontam.OverlapReport.to_dict): none, allowed or excluded."""
    rows, lines, exclude = [], [], {}
    for i, task in enumerate(tasks):
        ids = [f"{task}-005", f"{task}-006"] if kind != "none" and i == 0 else []
        if kind == "allowed" and i == 1:
            rows.append({"task": f"{task}@v1", "checked": False, "documented_overlap": 360})
            lines.append(f"{task}@v1: not checked here -- training set int-hard-set is not available locally")
            continue
        rows.append({"task": f"{task}@v1", "checked": True, "eval_problems": n_problems, "train_problems": 64,
                     "exact": 1 if ids else 0, "near": 1 if ids else 0, "overlapping": ids, "held_out": n_problems - len(ids),
                     "pairs": [{"eval": e, "train": f"t{j}", "how": "exact" if j == 0 else "near", "score": 1.0 if j == 0 else 0.82}
                               for j, e in enumerate(ids)]})  # fmt: skip
        lines.append(f"{task}@v1 vs world@hard: {len(ids)} of {n_problems} evaluation problems overlap; {n_problems - len(ids)} held out")
        if ids and kind == "excluded":
            exclude[task] = ids
    return {"tasks": rows, "exclude": exclude, "lines": lines, "mode": "exclude" if kind == "excluded" else "refuse",
            "allowed": kind == "allowed", "has_overlap": kind != "none",
            "method": "exact normalised text, or >= 70% of the eval problem's word 8-grams in one training problem"}  # fmt: skip


def make_compare(root: Path, *, seeds: tuple[int, ...] = (0, 1, 2), tasks: tuple[str, ...] = ("alpha", "beta"),
                 n_problems: int = 24, k: int = 8, with_training: bool = True, eval_only: bool = True,
                 base_model: str | None = None, include_base: bool = True, match_compute: bool = True,
                 seed_spread: float = 0.0, own_sampling: bool = False, overlap: str = "none",
                 rl_steps: dict[str, int] | None = None, legacy: bool = False) -> Path:  # fmt: skip
    """Write ``root/compare.json`` and every arm; returns ``root``.

    ``seed_spread``: logit shift between training seeds (seed s of an InT arm gets ``seed_spread *
    (s - mean seed)``, of an RL-only arm the opposite), to make seeds disagree. ``own_sampling``: the eval-only row declares its own
    sampling settings. ``overlap``: "none", "allowed" (overlap on the first task, the run allowed to
    proceed; the second task unchecked) or "excluded" (overlap held out). ``rl_steps``: RL steps per arm
    instead of `RL_STEPS` (e.g. a compute-matched arm stopped early by the step cap; 0: its RL step was
    skipped, the budget spent before RL)."""
    rng = np.random.default_rng(0)
    recipes = [INT, RL]
    entries: list[tuple[str, str, str | None]] = []  # (row name, role, matched_to)
    if include_base and not legacy:
        entries.append((BASE, "base", None))
    entries += [(INT, "measured", None), (RL, "measured", None)]
    if match_compute and with_training and not legacy:
        entries += [(RL_AT_INT, "compute-matched", INT), (INT_AT_RL, "compute-matched", RL)]
    if eval_only:
        entries.append(("big-model", "eval-only", None))
    mean_seed = float(np.mean(seeds))
    held_out = _overlap(overlap, tasks, n_problems)["exclude"]
    arms = []
    base_eval = None
    for name, role, matched in entries:
        for seed in seeds if role != "eval-only" else (0,):
            rel = f"arms/{name}/seed-{seed}"
            arm = root / rel
            if role == "base" and base_eval is not None:
                ev = base_eval  # the base model is evaluated once, linked from every seed
            else:
                ev = root / "cache" / f"eval-{name}-{seed}"
                # seeds of InT arms and of RL-only arms disagree in opposite directions (no cancelling in pairs)
                sign = 1.0 if name in (INT, INT_AT_RL) else -1.0
                effect = sign * seed_spread * (seed - mean_seed) if role in ("measured", "compute-matched") else 0.0
                for task in tasks:
                    _write_jsonl(ev / f"{task}@v1" / "samples.jsonl", _samples(name, effect, task, n_problems, k, rng,
                                                                                          tuple(held_out.get(task, ()))))
                (ev / "results.json").write_text("{}", encoding="utf-8")
                base_eval = ev if role == "base" else base_eval
            if legacy:  # the old layout: evaluation files inside the arm
                arm.mkdir(parents=True)
                os.rename(ev, arm / "eval")
            else:
                _link(arm / "eval", ev)
            eval_stage = _stage("eval", {BASE: 15_000, "big-model": 25_000}.get(name, 20_000), 0, 10.0)
            stages = []
            trained = role in ("measured", "compute-matched") and with_training
            if trained:
                steps = {**RL_STEPS, **(rl_steps or {})}[name]
                if name in (INT, INT_AT_RL):
                    cache = root / "cache" / f"int-{seed}"  # shared by int and int@rl-baseline-compute
                    if not cache.exists():
                        _int_dir(cache, rng)
                    _link(arm / "int", cache)
                    stages.append(_stage("int", INT_PRE_RL, 0, 40.0, diagnostic=INT_DIAGNOSTIC))
                    stages.append(_stage("sft", 0, SFT_TRAINED, 15.0))
                    _train_log(arm / "sft" / "train_log.jsonl", "sft", name, seed, 8, rng)
                    _sft_stats(arm, seed)
                rl_tokens = steps * RL_TOKENS_PER_STEP[name]
                if steps:
                    stages.append(_stage("rl", rl_tokens, int(0.8 * rl_tokens), 4.0 * steps))
                    _train_log(arm / "rl" / "train_log.jsonl", "rl", name, seed, steps, rng, tokens=not legacy)
                else:  # as harness.compare.kinds.rl writes it: the budget was spent before RL, no log
                    stages.append(_stage("rl", 0, 0, 0.0, skipped=RL_SKIPPED))
            stages.append(eval_stage)
            if legacy:
                for st in stages:
                    st.pop("tokens_generated_diagnostic")
                    st.pop("skipped")
            (arm / "stages.json").write_text(json.dumps(stages), encoding="utf-8")
            row: dict[str, Any] = {"recipe": name, "seed": seed, "dir": rel, "kind": "eval-only" if role == "eval-only" else "measured",
                                   "model": f"/models/{name}"}  # fmt: skip
            if not legacy:
                row |= {"role": role, "matched_to": matched, "steps": [], "model_key": f"key-{name}"}
                if role == "eval-only":
                    sampling = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 32768} if own_sampling else {"temperature": 0.7, "top_p": 0.8}
                    row |= {"protocol_differs": own_sampling, "sampling": sampling}
            arms.append(row)
    sampling = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 16384}
    meta: dict[str, Any] = {"recipes": recipes, "seeds": list(seeds), "protocol_hash": "abc123def456",
                            "base_model": base_model or str(root / "no-such-model"), "arms": arms, "reported": reported_rows()}  # fmt: skip
    if legacy:
        meta["protocol"] = {"tasks": list(tasks), "k": k, "sampling": sampling, "grader": "math-verify==0.9.0", "token_budget": 16384}
    else:
        ov = _overlap(overlap, tasks, n_problems)
        meta |= {
            "config": {"match_compute": match_compute, "seeds": len(seeds), "allow_overlap": overlap == "allowed",
                       "decontaminate": "exclude" if overlap == "excluded" else "refuse"},
            "protocol": {"problems": [{"task": f"{t}@v1", "split": "test", "per_category": None, "limit": None,
                                       "require_solution": False, "exclude_ids": ov["exclude"].get(t, [])} for t in tasks],
                         "sampling": sampling, "k": k, "grader": "math-verify==0.9.0", "judge": None, "token_budget": 16384},
            "overlap": ov, "checks": ["rl config valid (embedded preset, 64 problems)"], "versions": {"harness": "0"},
            "wall_time": 123.4,
        }  # fmt: skip
    (root / "compare.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


def check_verdict_output(output: str, report_dir: Path) -> list[str]:
    """Check that `output` (what `harness compare` / `harness report` printed) ends with the verdict of
    report.json and then the report's path, in at most 80 columns, and that every printed number is the
    one in report.json's paired rows (the pooled row of each view, else its only task row). Returns the
    verdict lines."""
    import math
    import re

    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    assert lines[-1] == f"report: {report_dir / 'index.html'}", lines[-3:]
    start = max(i for i, line in enumerate(lines) if line.startswith("Verdict: "))
    verdict = lines[start:-1]
    assert all(len(line) <= 80 for line in verdict), [line for line in verdict if len(line) > 80]
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    first = json.loads((report_dir.parent / "compare.json").read_text())["recipes"][0]
    for r in report["paired"]:
        key = (r["view"], r["candidate"], r["baseline"])
        if r["view"] == "equal RL steps" and first not in (r["candidate"], r["baseline"]):
            continue  # control vs control: paired table only
        if key not in rows or r["task"] == "all tasks (pooled)":
            rows[key] = r
    views = report["verdict"]["views"]
    assert [(v["view"], v["candidate"], v["baseline"]) for v in views] == list(rows)  # one entry per view, in order
    flat = lambda text: " ".join(text.split())  # noqa: E731
    i = next(i for i, line in enumerate(verdict) if line.startswith("equal "))
    assert flat(" ".join(verdict[:i])) == flat(" ".join(report["verdict"]["header"]))
    entries = []
    while i < len(verdict):
        label = [verdict[i]]
        i += 1
        while verdict[i].startswith("    "):  # a long label continues, indented
            label.append(verdict[i])
            i += 1
        assert re.match(r"^  [+-]\d", verdict[i]), verdict[i]
        entries.append((flat(" ".join(label)), verdict[i].strip()))
        i += 1
    assert len(entries) == len(rows), verdict
    for (label, line), ((view, cand, base), r), v in zip(entries, rows.items(), views, strict=True):
        assert label == flat(v["label"]) and label.startswith(("equal RL steps: " if view == "equal RL steps" else "equal generated tokens: ") + cand)
        assert label.endswith(f" - {base}") or f" - {base} (" in label
        assert line.startswith(f"{r['diff_pct']:+.1f} [{r['ci95_low_pct']:+.1f}, {r['ci95_high_pct']:+.1f}]  p=")
        p = float(re.search(r"p=([<\d.e+-]+)", line).group(1).lstrip("<"))
        if r["p_method"] == "exact sign-flip test over seeds":
            assert r["n_seeds"] > 1 and p == pytest_approx(r["p_value"], 3) and r["p_value"] == r["p_signflip"]
        else:
            assert r["n_seeds"] == 1 and (p == pytest_approx(r["p_value"], 3) or line.split()[3].startswith("p=<"))
        assert f"  n={r['n_problems']}x{r['n_seeds']}  " in line
        flops = re.search(r"  FLOPs ([\d.]+)x$", line)  # the pair's FLOPs ratio, where the line has room
        if flops:
            assert math.isclose(float(flops.group(1)), r["flops_ratio"], abs_tol=6e-3), (line, r["flops_ratio"])
            line = line[: flops.start()]
        if view.startswith("equal generated tokens"):
            matched = r["tokens_matched_within_one_step"] is True
            totals = re.search(r"MATCHED ([\d.]+[kM]?)/([\d.]+[kM]?) tokens$", line)
            for got, want in zip(totals.groups(), (r["candidate_train_tokens_generated"], r["baseline_train_tokens_generated"]), strict=True):
                scale = {"k": 1e3, "M": 1e6}.get(got[-1], 1)
                assert math.isclose(float(got.rstrip("kM")) * scale, want, rel_tol=5e-3), (got, want)
        elif view.startswith("equal FLOPs"):
            matched = r["flops_matched_within_one_step"] is True
            assert re.search(r"MATCHED [\d.e+?-]+/[\d.e+?-]+ FLOPs$", line), line
        else:
            c, b = r["candidate_rl_steps"], r["baseline_rl_steps"]
            matched = c is not None and b is not None and c == b
            assert line.endswith(f"MATCHED {c:g}/{b:g} RL steps"), line
        assert (" NOT MATCHED " in line) == (not matched), line
    return verdict


def pytest_approx(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant figures, as the verdict prints it."""
    return float(f"{value:.{digits}g}")
