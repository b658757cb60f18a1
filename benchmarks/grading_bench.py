"""Grading throughput on a synthetic IMO-AnswerBench run: GradingPool vs one subprocess per answer.

Builds 400 problems x 128 samples = 51,200 responses around the real gold answers (read from the
benchmark CSV under ``--data-dir``; nothing is copied into the repo) with the mix a real run has:
correct answers in several equivalent spellings, a few common wrong answers repeated many times,
one-off wrong answers, responses without a box or cut off inside it, very long traces, and a sprinkle
of pathological answers (power towers, huge closed forms, deep fractions, a 4000-term sum).

It then grades everything with `GradingPool` (the harness path) and a random subsample with the InT
authors' scheme -- a fresh forked process per answer, killed after 10 s -- asserts both give the same
verdicts on the subsample, and prints/writes responses per second for both, the ratio and the total.

    .venv/bin/python benchmarks/grading_bench.py --out /tmp/grading_bench.json
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.grading import GRADER_VERSION, GradingPool, grader_id  # noqa: E402
from harness.grading.extract import extract_boxed  # noqa: E402
from harness.grading.rules import decide_with_timeout  # noqa: E402

PATHOLOGICAL = [
    "9^{9^{9^{9}}}",
    "2^{3^{4^{5}}}",
    "\\exp(\\exp(\\exp(100)))",
    "(10^{100})!",
    "(1+\\sqrt{2})^{10000}-(1-\\sqrt{2})^{10000}",
    "\\frac{1}{1+\\frac{1}{1+\\frac{1}{1+\\frac{1}{1+\\frac{1}{1+\\frac{1}{1+\\frac{1}{1+\\frac{1}{1+\\frac{1}{2}}}}}}}}}",
    "+".join(f"\\frac{{1}}{{{k}}}" for k in range(1, 4000)),
]
FILLER = [
    "Let $x_{n}$ denote the number of valid configurations after ${n}$ steps. ",
    "By the AM-GM inequality, $\\frac{{a+b}}{{2}} \\ge \\sqrt{{ab}}$, with equality iff $a=b$. ",
    "Consider the set $S=\\{{1,2,\\ldots,n\\}}$ and a bijection $f:S\\to S$. ",
    "Substituting $x=1$ gives $f(1)^{{2}}=2f(1)$, hence $f(1)\\in\\{{0,2\\}}$. ",
    "Wait, that is not right; let me recompute the previous step more carefully. ",
    "Modulo $4$, squares are $0$ or $1$, so the sum of two squares is never $3 \\pmod 4$. ",
]


def load_golds(data_dir: Path, version: str) -> list[str]:
    """The 400 short answers of IMO-AnswerBench (v2 read from the PR #18 fix, geometry-004 repaired)."""
    root = data_dir / "imo-answerbench"
    path = root / "answerbench.csv" if version == "v1" else root / "pr18-fix" / "answerbench_v2.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    golds = [r["Short Answer"] if r["Problem ID"] != "imo-bench-geometry-004" or version == "v1" else "4, 5" for r in rows]
    if len(golds) != 400 or not all(g.strip() for g in golds):
        raise SystemExit(f"{path}: expected 400 non-empty answers, got {len(golds)}")
    return golds


def _clean(g: str) -> str:
    return g.replace("$", "").strip().rstrip(".").strip()


def correct_forms(gold: str) -> list[str]:
    """Equivalent spellings a model would write."""
    c = _clean(gold)
    forms = [c, c.replace(" ", ""), c.replace("\\frac", "\\dfrac")]
    if re.fullmatch(r"-?\d+", c):
        forms += [f"n = {c}", f"\\text{{{c}}}", f"{c}.0"]
        if len(c) > 4:
            forms.append(f"{int(c):,}".replace(",", "{,}"))
        if len(c) < 3:
            forms.append(c.zfill(3))
    parts = [p.strip() for p in c.split(",")]
    if len(parts) > 1 and "(" not in c:
        forms += [", ".join(reversed(parts)), "\\{" + ", ".join(parts) + "\\}"]
    return list(dict.fromkeys(forms))


def mutate(gold: str, rng: random.Random) -> str:
    """A plausible wrong answer: a changed digit, an off-by-one, a sign flip or a dropped term."""
    c = _clean(gold)
    if re.fullmatch(r"-?\d+", c):
        n = int(c)
        return str(rng.choice([n + 1, n - 1, 2 * n, n // 2, n + rng.randint(2, 50), 0, 1, n * 10]))
    digits = [m.start() for m in re.finditer(r"\d", c)]
    r = rng.random()
    if digits and r < 0.6:
        i = rng.choice(digits)
        return c[:i] + str((int(c[i]) + rng.randint(1, 9)) % 10) + c[i + 1 :]
    if r < 0.8:
        return f"-({c})" if "," not in c else c.split(",")[0]
    return f"{c}+1" if "," not in c else c + ", 0"


def response(answer: str | None, rng: random.Random, long: bool = False, draft: str | None = None) -> str:
    n = rng.randint(8000, 16000) if long else rng.randint(3, 20)
    body = "".join(rng.choice(FILLER).format(n=rng.randint(2, 99)) for _ in range(n // 8 if long else n))
    if draft is not None:
        body += f"A first attempt suggests $\\boxed{{{draft}}}$, but this misses a case. "
    if answer is None:
        return body + "Therefore the answer follows from the above."
    return body + f"\n\nHence the final answer is $\\boxed{{{answer}}}$."


def build(golds: list[str], samples: int, seed: int) -> tuple[list[tuple[str, str]], Counter]:
    rng = random.Random(seed)
    items: list[tuple[str, str]] = []
    kinds: Counter = Counter()
    for gold in golds:
        forms = correct_forms(gold)
        common = list(dict.fromkeys(mutate(gold, rng) for _ in range(12)))[:8]
        weights = [1 / (k + 1) for k in range(len(common))]
        for _ in range(samples):
            r = rng.random()
            draft = rng.choice(common) if rng.random() < 0.1 else None
            if r < 0.14:
                kind, ans = "correct", rng.choice(forms)
            elif r < 0.64:
                kind, ans = "common_wrong", rng.choices(common, weights)[0]
            elif r < 0.76:
                kind, ans = "unique_wrong", rng.choice([str(rng.randint(0, 10**6)), f"\\frac{{{rng.randint(1, 999)}}}{{{rng.randint(2, 999)}}}", mutate(gold, rng) + f"+{rng.randint(2, 99)}"])
            elif r < 0.84:
                kind, ans = "no_box", None
            elif r < 0.86:
                kind = "truncated"
                items.append((response(None, rng) + f"\\boxed{{{_clean(gold)[:3]}", gold))
                kinds[kind] += 1
                continue
            elif r < 0.998:
                kind, ans = "long", rng.choice(forms + common)
            else:
                kind, ans = "pathological", rng.choice(PATHOLOGICAL)
            items.append((response(ans, rng, long=kind == "long", draft=draft), gold))
            kinds[kind] += 1
    return items, kinds


# ---- the per-answer baseline (InT's grader.py scheme) ---------------------------------------------


def _child(q: mp.Queue, response: str, gold: str) -> None:
    ans = extract_boxed(response)
    if ans is None:
        q.put(False)
        return
    q.put(decide_with_timeout(ans, gold, None).correct)  # no soft limit: only the parent's kill, as in InT


def per_call(response: str, gold: str, timeout: float) -> bool:
    """A fresh process per answer, killed after ``timeout`` -- exactly how InT's grader runs math-verify."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, response, gold), daemon=True)
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join(1)
        return False
    try:
        return bool(q.get(timeout=0.5))
    except queue.Empty:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("HARNESS_DATA_DIR", REPO.parent / "shared" / "data")))
    ap.add_argument("--version", choices=["v1", "v2"], default="v1")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--baseline-n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    golds = load_golds(args.data_dir, args.version)
    t = time.perf_counter()
    items, kinds = build(golds, args.samples, args.seed)
    build_s = time.perf_counter() - t
    n = len(items)
    load_before = os.getloadavg()
    print(f"built {n} responses in {build_s:.1f}s: {dict(kinds)}; load avg {load_before[0]:.2f}", flush=True)

    sub_idx = random.Random(args.seed + 1).sample(range(n), min(args.baseline_n, n))
    t = time.perf_counter()
    base = [per_call(*items[i], timeout=args.timeout) for i in sub_idx]
    base_s = time.perf_counter() - t

    t = time.perf_counter()
    with GradingPool(workers=args.workers, timeout=args.timeout) as pool:
        verdicts = pool.grade_many(items)
        stats = pool.stats.to_dict()
    pool_s = time.perf_counter() - t

    mismatches = [i for i, b in zip(sub_idx, base, strict=True) if verdicts[i].correct != b]
    pool_rate, base_rate = n / pool_s, len(sub_idx) / base_s
    result = {
        "n": n,
        "problems": len(golds),
        "samples_per_problem": args.samples,
        "dataset": f"IMO-AnswerBench {args.version}",
        "mix": dict(kinds),
        "pool_seconds": round(pool_s, 2),
        "pool_rate_per_s": round(pool_rate, 1),
        "baseline": "a fresh forked process per answer, killed after --timeout (InT grader.py scheme), same rules",
        "baseline_n": len(sub_idx),
        "baseline_seconds": round(base_s, 2),
        "baseline_rate_per_s": round(base_rate, 2),
        "speedup": round(pool_rate / base_rate, 1),
        "subsample_mismatches": len(mismatches),
        "accuracy": round(sum(v.correct for v in verdicts) / n, 4),
        "statuses": dict(Counter(v.status for v in verdicts)),
        "pool_stats": stats,
        "workers": args.workers,
        "timeout": args.timeout,
        "grader": grader_id(),
        "grader_version": GRADER_VERSION,
        "machine": {"cpus": os.cpu_count(), "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                    "python": platform.python_version(), "platform": platform.platform()},
    }
    print(json.dumps(result, indent=2))
    print(
        f"\npool: {n} responses in {pool_s:.1f}s = {pool_rate:.0f}/s | per-call subprocess: {base_rate:.1f}/s "
        f"| speedup {pool_rate / base_rate:.0f}x | subsample mismatches {len(mismatches)}/{len(sub_idx)}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if mismatches:
        raise SystemExit(f"verdicts differ from the per-call grader on {len(mismatches)} items, e.g. index {mismatches[0]}")


if __name__ == "__main__":
    main()
