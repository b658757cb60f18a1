"""Accuracy metrics over k samples per problem, with honest uncertainty.

Conventions (stated because harnesses disagree, see anchors.md §D items 1-3):

* ``avg@k`` is the mean correctness over all k samples of a problem, averaged over problems: the
  pass@1 *estimate* from k samples (the InT paper's "pass@1 with 128 samples").
* ``pass@k`` is the unbiased estimator of Chen et al. (2021) in its numerically stable product form,
  computed per problem from its n samples and c correct ones, for every k <= n.
* ``maj@k`` is majority voting over the extracted answers of the first k samples; ties go to the answer
  seen first; samples with no extracted answer do not vote.
* Confidence intervals are percentile bootstraps over *problems* (the unit that was sampled from the
  population of problems), never over samples.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples of which ``c`` are correct.

    ``1 - C(n-c, k) / C(n, k)`` computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` to avoid huge binomials.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> bool:
    """maj@k for one problem: is the most frequent extracted answer among the first k samples correct?"""
    votes: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    verdict: dict[str, bool] = {}
    for i, (ans, ok) in enumerate(zip(answers[:k], correct[:k], strict=True)):
        if ans is None:
            continue
        key = ans.strip()
        votes[key] += 1
        first_seen.setdefault(key, i)
        verdict[key] = verdict.get(key, False) or ok
    if not votes:
        return False
    winner = max(votes, key=lambda a: (votes[a], -first_seen[a]))
    return verdict[winner]


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = 10_000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem values."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (float("nan"), float("nan"))
    if arr.size == 1 or np.all(arr == arr[0]):
        return (float(arr.mean()), float(arr.mean()))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = 10_000, alpha: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """Paired per-problem bootstrap of mean(b - a): the difference, its CI and a two-sided p-value.

    The p-value is the bootstrap estimate of P(difference has the opposite sign or is zero), doubled
    and capped at 1 -- the usual percentile-bootstrap test of "no difference".
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"paired_bootstrap needs two equal, non-empty arrays (got {x.shape} and {y.shape})")
    d = y - x
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    p = 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0)))
    return {"diff": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "p_value": min(1.0, p), "n": int(d.size)}


def hierarchical_bootstrap(
    per_seed: Sequence[Sequence[float]], *, n_boot: int = 10_000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile CI of the mean accuracy when several training seeds evaluated the same problems.

    ``per_seed[s][i]`` is problem i's accuracy under seed s (problems aligned across seeds). Each draw
    resamples seeds with replacement, then problems with replacement (the same problems for every drawn
    seed), and averages -- so the interval covers both problem and seed-to-seed variation. With one seed
    it is the ordinary bootstrap over problems."""
    m = np.asarray(per_seed, dtype=float)
    if m.ndim != 2 or m.size == 0:
        return (float("nan"), float("nan"))
    n_seeds, n_probs = m.shape
    if np.all(m == m.flat[0]):
        return (float(m.flat[0]), float(m.flat[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for i in range(n_boot):
        s = rng.integers(0, n_seeds, size=n_seeds)
        p = rng.integers(0, n_probs, size=n_probs)
        means[i] = m[np.ix_(s, p)].mean()
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def paired_hierarchical_bootstrap(
    a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], *, n_boot: int = 10_000, alpha: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """`paired_bootstrap` of mean(b - a) with seeds resampled too: ``a[s][i]``, ``b[s][i]`` are problem i's
    accuracy under training seed s (seeds paired by index: both arms of seed s share the seed's data
    order). Each draw resamples seed indices, then problems; the p-value is as in `paired_bootstrap`."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 2 or x.size == 0:
        raise ValueError(f"paired_hierarchical_bootstrap needs two equal (seeds x problems) arrays, got {x.shape} and {y.shape}")
    d = y - x
    n_seeds, n_probs = d.shape
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for i in range(n_boot):
        s = rng.integers(0, n_seeds, size=n_seeds)
        p = rng.integers(0, n_probs, size=n_probs)
        means[i] = d[np.ix_(s, p)].mean()
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    p_value = 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0)))
    return {"diff": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "p_value": min(1.0, p_value),
            "n": int(n_probs), "n_seeds": int(n_seeds)}


@dataclass(frozen=True)
class ProblemSamples:
    """All graded samples of one problem, in sample-index order."""

    problem_id: str
    category: str | None
    correct: tuple[bool, ...]
    answers: tuple[str | None, ...]

    @property
    def n(self) -> int:
        return len(self.correct)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / self.n if self.n else 0.0


def group_samples(records: Iterable[Mapping]) -> list[ProblemSamples]:
    """Group flat per-sample records (keys: problem_id, sample_index, correct, extracted, category)."""
    by_problem: dict[str, list[Mapping]] = defaultdict(list)
    for r in records:
        by_problem[str(r["problem_id"])].append(r)
    out = []
    for pid, rows in by_problem.items():
        rows.sort(key=lambda r: r["sample_index"])
        out.append(
            ProblemSamples(
                problem_id=pid,
                category=rows[0].get("category"),
                correct=tuple(bool(r["correct"]) for r in rows),
                answers=tuple(r.get("extracted") for r in rows),
            )
        )
    out.sort(key=lambda p: p.problem_id)
    return out


def ks_for(n: int) -> list[int]:
    """The k values reported for n samples: powers of two up to n, plus n itself."""
    ks = [k for k in (2**i for i in range(0, 31)) if k <= n]
    return ks + ([n] if n not in ks else [])


def summarize(problems: Sequence[ProblemSamples], *, n_boot: int = 10_000, seed: int = 0) -> dict:
    """Headline metrics for one task: avg@k with CI, pass@k and maj@k for every reported k, per category.

    Problems with fewer samples than the most common count are reported (``incomplete``) and pass@k uses
    the smallest n so every problem contributes to every k.
    """
    if not problems:
        return {"n_problems": 0}
    n_min = min(p.n for p in problems)
    accs = [p.accuracy for p in problems]
    lo, hi = bootstrap_ci(accs, n_boot=n_boot, seed=seed)
    result: dict = {
        "n_problems": len(problems),
        "samples_per_problem": n_min,
        "incomplete_problems": sum(p.n != max(q.n for q in problems) for p in problems),
        "avg@k": float(np.mean(accs)),
        "avg@k_ci95": [lo, hi],
        "pass@k": {},
        "maj@k": {},
    }
    if n_min >= 1:
        for k in ks_for(n_min):
            vals = [pass_at_k(n_min, sum(p.correct[:n_min]), k) for p in problems]
            result["pass@k"][str(k)] = float(np.mean(vals))
            result["maj@k"][str(k)] = float(np.mean([majority_correct(p.answers, p.correct, k) for p in problems]))
    cats: dict[str, list[ProblemSamples]] = defaultdict(list)
    for p in problems:
        if p.category is not None:
            cats[p.category].append(p)
    result["per_category"] = {
        cat: {
            "n_problems": len(ps),
            "avg@k": float(np.mean([p.accuracy for p in ps])),
            "avg@k_ci95": list(bootstrap_ci([p.accuracy for p in ps], n_boot=n_boot, seed=seed)),
        }
        for cat, ps in sorted(cats.items())
    }
    return result
