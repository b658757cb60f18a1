"""What process isolation costs `harness compare` on the embedded world: the same tiny comparison run with
every step in its own process (the default) and inline, into fresh folders, alternating, N times.

    .venv/bin/python benchmarks/isolation_overhead.py --repeats 2 --out /tmp/isolation.json

Reports the wall time of each run, the per-mode median and the ratio (process / inline), with the load
average at start and end (other work on the machine moves the absolute numbers; the ratio within one run of
this script is the figure to quote).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one(mode: str, root: Path, model: str) -> float:
    from harness.compare.config import CompareConfig
    from harness.compare.run import run_compare

    cfg = CompareConfig(
        out=str(root / f"cmp-{mode}-{time.time_ns()}"), base_model=model, reported=False, isolation=mode,
        train={"task": "world@hard", "split": "train", "per_category": 4, "limit": 12},
        eval={"tasks": ["world"], "split": "test", "per_category": 2, "limit": 8, "samples": 2, "sampling": {"max_tokens": 96}},
        sft={"num_epochs": 1}, rl={"max_steps": 2}, int_overrides={"continue.n": 2},
    )
    t0 = time.perf_counter()
    run_compare(["int", "rl-baseline"], cfg, show_progress=False)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", default="world:test")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from harness.models import resolve_model

    model = resolve_model(args.model)
    root = Path(tempfile.mkdtemp(prefix="isolation-"))
    load0 = os.getloadavg()
    times: dict[str, list[float]] = {"process": [], "inline": []}
    for _ in range(args.repeats):
        for mode in ("process", "inline"):
            times[mode].append(round(one(mode, root, model), 1))
            print(mode, times[mode][-1], flush=True)
    med = {m: statistics.median(v) for m, v in times.items()}
    result = {"seconds": times, "median": med, "ratio_process_over_inline": round(med["process"] / med["inline"], 3),
              "load_average_start": load0, "load_average_end": os.getloadavg()}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
