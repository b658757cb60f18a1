"""World-model pretraining speed: by preset, and under load with fixed vs automatic CPU threads.

WHY: a cold `harness world build` is minutes of 2-core CPU, and on a shared machine its wall time says
more about the neighbours than about the preset. Two measurements, each of the SAME real training steps
(the preset's own corpus, tokenizer, model, optimizer and batching):

* ``--presets default large`` (no ``--competitors``): seconds per step of several presets back to back,
  round-robin, so they see the same load; their ratio is robust to it (``--reference-train-s`` turns
  it into an idle-machine estimate).
* ``--competitors 0 1 3``: each preset trained with 0, 1 and 3 busy single-threaded processes beside it
  (``while True: pass``), once with the old fixed two threads (``HARNESS_THREADS=2``) and once with the
  thread governor (`harness.cpu`, ``HARNESS_THREADS=auto``), in one run. Each measurement runs in a
  fresh process (clean thread state); the slowdown is s/step under load over s/step with 0 competitors
  in the same mode, and the weights' hash after the steps must be the same in every cell.

    .venv/bin/python benchmarks/world_build_bench.py --presets default blindspot --steps 60 --competitors 0 1 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.world.build import make_recipe  # noqa: E402
from harness.world.corpus import build_corpus, vocabulary_samples  # noqa: E402
from harness.world.model import build_model, build_tokenizer, count_parameters, wrap_tokenizer  # noqa: E402
from harness.world.pretrain import encode_pairs, make_batches, train  # noqa: E402


def setup(preset: str) -> dict:
    recipe = make_recipe(preset)
    pairs = build_corpus(recipe.world, recipe.noise, recipe.corpus, recipe.seed)
    tok = wrap_tokenizer(build_tokenizer(vocabulary_samples(recipe.world)))
    full_steps = len(make_batches(encode_pairs(tok, pairs), recipe.train.tokens_per_batch, random.Random(0)))
    return {"recipe": recipe, "pairs": pairs, "tok": tok, "full_steps": full_steps * recipe.train.epochs}


def time_steps(state: dict, steps: int, seed: int) -> tuple[float, str, list[int]]:
    """Seconds per step over about `steps` real optimizer steps on a random slice of the corpus, the
    weights' hash afterwards, and the thread counts the governor used."""
    import harness.cpu as cpu

    recipe, pairs = state["recipe"], state["pairs"]
    part = random.Random(seed).sample(pairs, max(1, len(pairs) * steps // state["full_steps"]))
    model = build_model(recipe.model, state["tok"], recipe.seed)
    cpu._GOVERNOR = None  # a fresh governor (its setting comes from $HARNESS_THREADS)
    t0 = time.perf_counter()
    losses = train(model, state["tok"], part, recipe.train, recipe.seed)
    per_step = (time.perf_counter() - t0) / max(1, len(losses))
    h = hashlib.sha256()
    for _, v in sorted(model.state_dict().items()):
        h.update(v.detach().contiguous().numpy().tobytes())
    return per_step, h.hexdigest()[:16], cpu.governor().summary()["threads_used"]


BURNER = "while True: pass"


def one_cell(preset: str, steps: int, mode: str, competitors: int) -> dict:
    """One measurement in a child process (fresh torch thread state) with `competitors` busy processes."""
    env = {**os.environ, "HARNESS_THREADS": "2" if mode == "fixed2" else "auto"}
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(competitors)]
    try:
        time.sleep(1.0 if competitors else 0.0)
        out = subprocess.run([sys.executable, __file__, "--cell", preset, "--steps", str(steps)], env=env,
                             capture_output=True, text=True, check=True).stdout
    finally:
        for b in burners:
            b.kill()
            b.wait()
    row = json.loads(out.strip().splitlines()[-1])
    return {"preset": preset, "mode": mode, "competitors": competitors, **row, "load_1min": round(os.getloadavg()[0], 2)}


def load_matrix(presets: list[str], steps: int, competitors: list[int], modes: list[str]) -> dict:
    cells = [one_cell(p, steps, m, c) for p in presets for m in modes for c in competitors]
    for cell in cells:
        idle = next(x for x in cells if (x["preset"], x["mode"], x["competitors"]) == (cell["preset"], cell["mode"], 0))
        cell["slowdown"] = round(cell["s_per_step"] / idle["s_per_step"], 2)
    shas = {p: sorted({c["weights_sha"] for c in cells if c["preset"] == p}) for p in presets}
    return {"steps": steps, "cells": cells, "weights_identical": {p: len(s) == 1 for p, s in shas.items()}, "weights_sha": shas}


def print_matrix(result: dict) -> None:
    print(f"{'preset':<10} {'mode':<7} {'busy':>4} {'s/step':>8} {'slowdown':>8} {'threads':>8} {'load':>5}  weights")
    for c in result["cells"]:
        print(f"{c['preset']:<10} {c['mode']:<7} {c['competitors']:>4} {c['s_per_step']:>8.3f} {c['slowdown']:>7.2f}x "
              f"{','.join(map(str, c['threads_used'])):>8} {c['load_1min']:>5}  {c['weights_sha']}")
    print("identical weights in every cell:", result["weights_identical"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=["default", "large"])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--competitors", type=int, nargs="*", default=None, help="busy processes beside it, e.g. 0 1 3")
    ap.add_argument("--modes", nargs="+", default=["fixed2", "auto"], choices=["fixed2", "auto"])
    ap.add_argument("--cell", default=None, help=argparse.SUPPRESS)  # internal: one measurement, JSON on stdout
    ap.add_argument("--reference-preset", default="default")
    ap.add_argument("--reference-train-s", type=float, default=None, help="idle-machine training seconds of the reference preset")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.cell:
        s, sha, used = time_steps(setup(args.cell), args.steps, seed=0)
        print(json.dumps({"s_per_step": round(s, 4), "weights_sha": sha, "threads_used": used}))
        return
    if args.competitors is not None:
        result = load_matrix(args.presets, args.steps, args.competitors, args.modes)
        print_matrix(result)
        if args.out:
            args.out.write_text(json.dumps(result, indent=2))
        return
    states = {p: setup(p) for p in args.presets}
    per_step: dict[str, list[float]] = {p: [] for p in args.presets}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for p in args.presets:
            per_step[p].append(time_steps(states[p], args.steps, seed=r)[0])
            loads.append(os.getloadavg()[0])
    ref = args.reference_preset if args.reference_preset in per_step else args.presets[0]
    ref_rate = min(per_step[ref])
    rows = {}
    for p in args.presets:
        s = min(per_step[p])  # the least-disturbed round
        model = build_model(states[p]["recipe"].model, states[p]["tok"], 0)
        row = {
            "parameters": count_parameters(model),
            "full_steps": states[p]["full_steps"],
            "s_per_step": [round(x, 4) for x in per_step[p]],
            "ratio_to_reference": round(s / ref_rate, 2),
            "train_s_at_this_load": round(s * states[p]["full_steps"]),
        }
        if args.reference_train_s:
            row["idle_train_s_estimate"] = round(args.reference_train_s * s / ref_rate * states[p]["full_steps"] / states[ref]["full_steps"])
        rows[p] = row
    result = {"reference": ref, "steps_per_round": args.steps, "rounds": args.rounds, "load_1min": loads, "presets": rows}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
