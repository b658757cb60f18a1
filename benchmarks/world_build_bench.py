"""World-model pretraining speed by preset: seconds per optimizer step, and the full build it implies.

WHY: a cold `harness world build` is minutes of 2-core CPU, and on a shared machine its wall time says
more about the neighbours than about the preset. This script times the SAME number of real training
steps (the preset's own corpus, tokenizer, model, optimizer and batching) for several presets back to
back, round-robin, so they see the same load; the ratio of their step times is robust to the load, and
times an idle-machine reference build (`--reference-preset`/`--reference-train-s`, e.g. the default
preset's 394 s of training measured on 2 idle cores) turns the ratio into an idle-machine estimate.

    .venv/bin/python benchmarks/world_build_bench.py --presets default large --steps 40 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def time_steps(state: dict, steps: int, seed: int) -> float:
    """Seconds per step over about `steps` real optimizer steps on a random slice of the corpus."""
    recipe, pairs = state["recipe"], state["pairs"]
    part = random.Random(seed).sample(pairs, max(1, len(pairs) * steps // state["full_steps"]))
    model = build_model(recipe.model, state["tok"], recipe.seed)
    t0 = time.perf_counter()
    losses = train(model, state["tok"], part, recipe.train, recipe.seed)
    return (time.perf_counter() - t0) / max(1, len(losses))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=["default", "large"])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reference-preset", default="default")
    ap.add_argument("--reference-train-s", type=float, default=None, help="idle-machine training seconds of the reference preset")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    states = {p: setup(p) for p in args.presets}
    per_step: dict[str, list[float]] = {p: [] for p in args.presets}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for p in args.presets:
            per_step[p].append(time_steps(states[p], args.steps, seed=r))
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
