"""GPU smoke test: the embedded world model through every stage on one CUDA device, in under 5 minutes,
printing peak memory per stage. Run it on any machine with one GPU:

    .venv/bin/python benchmarks/gpu_smoke.py            # CUDA, bf16 generation, isolated stages
    .venv/bin/python benchmarks/gpu_smoke.py --device cpu --out /tmp/smoke.json   # the same stages on CPU (CI)

Stages, each in its own process (the harness's stage isolation; a stage's peak memory is its own):

1. generation: the world model through the HF backend (bf16 on CUDA), a batch of world problems;
2. TRL SFT, 2 optimizer steps, on InT-shaped rows (prefix + intervention, prompt masked, no EOS);
3. TRL GRPO, 2 RL steps, with the harness grader as reward;
4. one `harness compare int rl-baseline` on tiny sizes, every step in its own process.

It prints one line per stage (wall time, peak GPU memory allocated / reserved) and writes them as JSON.
A stage that fails prints its error and the script exits non-zero after trying the others.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak(device: str) -> dict[str, float | None]:
    if device != "cuda":
        return {"peak_allocated_gib": None, "peak_reserved_gib": None}
    import torch

    return {"peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3)}


def stage_generate(p: dict[str, Any]) -> dict[str, Any]:
    from harness.backends import GenerationRequest, SamplingParams, get_backend
    from tasks import ProblemSet, render_prompt

    task, problems = ProblemSet(task="world", split="test", per_category=4).load()
    be = get_backend("hf", p["model"], device=p["device"], dtype="bfloat16" if p["device"] == "cuda" else None, batch_size=64)
    outs = be.generate([GenerationRequest(messages=tuple(render_prompt(task, q))) for q in problems],
                       SamplingParams(n=4, max_tokens=96, seed=0))
    tokens = sum(s.completion_tokens for o in outs for s in o)
    return {"samples": sum(len(o) for o in outs), "tokens": tokens, "dtype": be.options["dtype"], **_peak(p["device"])}


def stage_sft(p: dict[str, Any]) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from harness.intervention.build_sft import encode_example
    from harness.rundir import write_jsonl
    from tasks import ProblemSet, render_prompt
    from trainers.presets import get_config
    from trainers.trl_backend import TRLTrainer

    tok = AutoTokenizer.from_pretrained(p["model"])
    task, problems = ProblemSet(task="world@hard", split="train", per_category=2).load()
    rows = []
    for q in problems:
        steps = q.solution.split("\n\n")
        ex = encode_example(tok, render_prompt(task, q), steps[0] + "\n\n", steps[1])  # own prefix + one step, no EOS
        ex.pop("_chat_prompt")
        rows.append({"id": q.id, "problem_id": q.id, **ex})
    data = write_jsonl(Path(p["out"]) / "sft.jsonl", rows)
    cfg = get_config("embedded", "sft", max_steps=2, effective_batch_size=4, per_device_batch_size=2)
    res = TRLTrainer().sft(p["model"], data, cfg, Path(p["out"]) / "sft")
    return {"steps": res.steps, "tokens_trained": res.tokens_trained, **_peak(p["device"])}


def stage_grpo(p: dict[str, Any]) -> dict[str, Any]:
    from harness.rundir import write_jsonl
    from tasks import ProblemSet
    from trainers.data import rl_rows_from_task
    from trainers.presets import get_config
    from trainers.trl_backend import TRLTrainer

    rows = rl_rows_from_task(ProblemSet(task="world@hard", split="train", per_category=2))
    data = write_jsonl(Path(p["out"]) / "rl.jsonl", rows)
    cfg = get_config("embedded", "rl", max_steps=2, prompts_per_step=4, mini_batch_prompts=4, group_size=4,
                     per_device_batch_size=16, max_new_tokens=64)
    res = TRLTrainer().rl(p["model"], data, cfg, Path(p["out"]) / "rl")
    return {"steps": res.steps, "tokens_generated": res.tokens_generated, **_peak(p["device"])}


def stage_compare(p: dict[str, Any]) -> dict[str, Any]:
    from harness.compare.config import CompareConfig
    from harness.compare.run import run_compare

    cfg = CompareConfig(
        out=str(Path(p["out"]) / "compare"), base_model=p["model"], reported=False, include_base=False,
        train={"task": "world@hard", "split": "train", "per_category": 2},
        eval={"tasks": ["world"], "split": "test", "per_category": 1, "samples": 2, "sampling": {"max_tokens": 64}},
        sft={"num_epochs": 1}, rl={"max_steps": 1, "prompts_per_step": 8, "mini_batch_prompts": 8, "max_new_tokens": 64},
        int_overrides={"continue.n": 2, "rollout.k": 2, "continue.controls_max_problems": 2}, isolation="process",
    )
    summary = run_compare(["int", "rl-baseline"], cfg, show_progress=False)
    steps = {}
    for step_json in Path(cfg.out, "cache").glob("*/step.json"):
        rec = json.loads(step_json.read_text())
        detail = (rec.get("output") or {}).get("compute", {}).get("detail", {})
        steps[step_json.parent.name] = detail.get("peak_gpu_memory_gib")
    return {"arms": len(summary["arms"]), "step_peak_gib": steps, **_peak(p["device"])}


STAGES = {"generate": stage_generate, "sft": stage_sft, "grpo": stage_grpo, "compare": stage_compare}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--model", default="world:test", help="A model or world:<preset> (default world:test: builds in ~30 s).")
    ap.add_argument("--stages", default=",".join(STAGES), help="Comma-separated subset of " + ",".join(STAGES))
    ap.add_argument("--out", default=None, help="Write the per-stage results as JSON here.")
    args = ap.parse_args()
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device here: run with --device cpu for the CPU parts", file=sys.stderr)
            return 2
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the CPU parts must not touch a GPU even where one exists
    from harness.compare.worker import run_job
    from harness.models import resolve_model

    model = resolve_model(args.model)
    work = Path(tempfile.mkdtemp(prefix="gpu-smoke-"))
    results, failed = {}, []
    for name in args.stages.split(","):
        t0 = time.perf_counter()
        payload = {"model": model, "device": args.device, "out": str(work / name)}
        try:
            res = run_job(f"benchmarks.gpu_smoke:stage_{name}", payload, work / name, isolated=True, label=f"smoke {name}")
            res["seconds"] = round(time.perf_counter() - t0, 1)
        except Exception as exc:  # report and go on: the point is to see every stage
            res, failed = {"error": str(exc).splitlines()[0], "seconds": round(time.perf_counter() - t0, 1)}, [*failed, name]
        results[name] = res
        peak = res.get("peak_allocated_gib")
        print(f"{name:9s} {res['seconds']:7.1f} s   peak GPU allocated {peak if peak is not None else '-'} GiB   "
              + json.dumps({k: v for k, v in res.items() if k not in ("seconds", "peak_allocated_gib")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"device": args.device, "model": args.model, "stages": results}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
