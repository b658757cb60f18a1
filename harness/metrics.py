"""Accuracy metrics over k samples per problem, with honest uncertainty.

Conventions (stated because harnesses disagree, see anchors.md §D items 1-3):

* ``avg@k`` is the mean correctness over all k samples of a problem, averaged over problems: the
  pass@1 *estimate* from k samples (the InT paper's "pass@1 with 128 samples").
* ``pass@k`` is the unbiased estimator of Chen et al. (2021) in its numerically stable product form,
  computed per problem from its n samples and c correct ones, for every k <= n.
* ``maj@k`` is majority voting over extracted answers grouped by *grader equivalence* (every correct
  answer is one group -- the grader said each equals the gold; wrong answers are merged when the grader
  finds them equal, e.g. ``1/2`` and ``0.5``), estimated from *all* n samples: the expected vote of a
  random size-k subset (exact when C(n, k) <= 2,000 subsets, else 2,000 seeded draws); a tie among the
  top groups scores the share of correct groups in it; samples with no extracted answer do not vote.
* Confidence intervals are percentile bootstraps over *problems* (the unit that was sampled from the
  population of problems), never over samples. With several training seeds, `hierarchical_bootstrap`
  resamples seeds and then problems, so the interval also covers seed-to-seed variation.
* Tests over training seeds (`sign_flip_test`, `paired_t_test`) take one paired difference per seed: the
  unit is the training run, so they ask whether the difference survives training randomness, which a
  bootstrap over a handful of seeds cannot judge (docs/methodology.md, "Seed-level tests").
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def answer_groups(answers: Sequence[str | None], correct: Sequence[bool], *, equivalent: Any = None,
                  max_compare: int = 32) -> list[int | None]:
    """A group label per sample: all correct samples are group 0; wrong answers are grouped by exact
    (stripped) text, then merged when ``equivalent(a, b)`` holds (at most ``max_compare`` distinct wrong
    answers are compared pairwise, bounding the cost); no answer -> None."""
    labels: list[int | None] = []
    wrong: dict[str, int] = {}
    for ans, ok in zip(answers, correct, strict=True):
        if ok:
            labels.append(0)
        elif ans is None or not str(ans).strip():
            labels.append(None)
        else:
            labels.append(wrong.setdefault(str(ans).strip(), len(wrong) + 1))
    if equivalent is not None and 1 < len(wrong) <= max_compare:
        reps = list(wrong)
        parent = {g: g for g in wrong.values()}

        def find(g: int) -> int:
            while parent[g] != g:
                g = parent[g]
            return g

        for i, a in enumerate(reps):
            for b in reps[i + 1 :]:
                ga, gb = find(wrong[a]), find(wrong[b])
                if ga != gb and equivalent(a, b):
                    parent[max(ga, gb)] = min(ga, gb)
        labels = [None if g is None else (0 if g == 0 else find(g)) for g in labels]
    return labels


def _vote(labels: Sequence[int | None]) -> float:
    """1/0 for a clear winner (correct group or not); a tie scores the share of correct groups in it."""
    votes = Counter(g for g in labels if g is not None)
    if not votes:
        return 0.0
    top = max(votes.values())
    winners = [g for g, v in votes.items() if v == top]
    return sum(g == 0 for g in winners) / len(winners)


def majority_at_k(labels: Sequence[int | None], k: int, *, max_subsets: int = 2000, seed: int = 0) -> float:
    """Expected maj@k over size-k subsets of all n samples (exact or ``max_subsets`` seeded draws)."""
    import itertools
    import math

    n = len(labels)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if k == n:
        return _vote(labels)
    if math.comb(n, k) <= max_subsets:
        subsets: Iterable[Sequence[int]] = itertools.combinations(range(n), k)
    else:
        rng = np.random.default_rng(seed)
        subsets = (rng.choice(n, size=k, replace=False) for _ in range(max_subsets))
    scores = [_vote([labels[i] for i in idx]) for idx in subsets]
    return float(np.mean(scores))


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool], k: int, *, equivalent: Any = None) -> float:
    """maj@k for one problem from all its samples (see the module docstring)."""
    return majority_at_k(answer_groups(answers, correct, equivalent=equivalent), k)


def grader_equivalent(a: str, b: str) -> bool:
    """Two extracted answers are the same answer under the harness grader (bounded by its timeout)."""
    from harness.grading import grade

    return bool(grade(f"\\boxed{{{a}}}", b).correct)


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


def _hierarchical_means(d: np.ndarray, n_boot: int, seed: int, chunk: int = 1024) -> np.ndarray:
    """Means of ``n_boot`` draws: seeds with replacement, then problems with replacement (shared by the drawn
    seeds). A draw's problems are a count vector, so each seed's mean is one matrix product (vectorised:
    100x faster than a Python loop over draws at the same resampling scheme)."""
    n_seeds, n_probs = d.shape
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        s = rng.integers(0, n_seeds, size=(b, n_seeds))
        p = rng.integers(0, n_probs, size=(b, n_probs))
        counts = np.bincount((p + n_probs * np.arange(b)[:, None]).ravel(), minlength=b * n_probs).reshape(b, n_probs)
        out[start : start + b] = np.take_along_axis(counts @ d.T / n_probs, s, axis=1).mean(axis=1)
    return out


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
    if np.all(m == m.flat[0]):
        return (float(m.flat[0]), float(m.flat[0]))
    means = _hierarchical_means(m, n_boot, seed)
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
    means = _hierarchical_means(d, n_boot, seed)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    p_value = 2 * min(float(np.mean(means <= 0)), float(np.mean(means >= 0)))
    return {"diff": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "p_value": min(1.0, p_value),
            "n": int(n_probs), "n_seeds": int(n_seeds)}


SIGN_FLIP_EXACT_MAX = 16  # enumerate all 2^n sign patterns up to here (2^16 x 16 floats: 8 MB at most)
SIGN_FLIP_DRAWS = 100_000  # beyond it: this many seeded random patterns


def sign_flip_test(diffs: Sequence[float], *, seed: int = 0) -> dict[str, Any]:
    """Exact two-sided sign-flip (paired permutation) test of "mean difference = 0" over per-seed differences.

    Under the null hypothesis the two arms of a seed are exchangeable, so each seed's difference is as
    likely to have either sign and all ``2^n`` sign patterns are equally likely. The p-value is the share
    of patterns whose ``|mean|`` is at least the observed one (the observed pattern and its mirror image
    included), so it is exact, assumes nothing about the shape of the differences, and can never be
    smaller than ``p_min = 2 / 2^n``: 0.25 with 3 seeds, 0.0625 with 5, 0.03125 with 6 -- fewer than 6
    seeds can never give p < 0.05, and the result says so instead of pretending otherwise.

    Hand-written rather than ``scipy.stats.permutation_test``: scipy is not a core dependency (reports must
    build with the core install; only the dev extra, for these tests, and the ecosystem extra pull it in),
    and exact enumeration is a few lines of numpy. Up to
    `SIGN_FLIP_EXACT_MAX` differences every pattern is enumerated (``exact``); beyond that
    `SIGN_FLIP_DRAWS` seeded random patterns give the Monte Carlo p-value ``(1 + hits) / (1 + draws)``.

    Returns ``{"p_value", "p_min", "n", "exact"}``; with no differences p is nan, with all of them zero 1.
    """
    d = np.asarray(diffs, dtype=float)
    n = int(d.size)
    if n == 0:
        return {"p_value": float("nan"), "p_min": float("nan"), "n": 0, "exact": True}
    observed = abs(float(d.mean()))
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))  # float noise must not split exact ties
    if n <= SIGN_FLIP_EXACT_MAX:
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1  # every +-1 pattern, one per row
        means = np.abs(patterns @ d) / n
        p = float(np.mean(means >= observed - tol))
        exact = True
    else:
        signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=(SIGN_FLIP_DRAWS, n))
        hits = int(np.sum(np.abs(signs @ d) / n >= observed - tol))
        p = (1 + hits) / (1 + SIGN_FLIP_DRAWS)
        exact = False
    return {"p_value": min(1.0, p), "p_min": min(1.0, 2.0 / 2**n), "n": n, "exact": exact}


def student_t_two_sided(t: float, df: int) -> float:
    """``P(|T| >= |t|)`` for Student's t with an integer number of degrees of freedom.

    Closed form (Abramowitz & Stegun 26.7.3-4) with ``theta = atan(|t| / sqrt(df))``: for odd df,
    ``A = 2/pi * (theta + sin(theta) * (cos + 2/3 cos^3 + (2*4)/(3*5) cos^5 + ...))`` (``2 theta / pi`` for
    df = 1); for even df, ``A = sin(theta) * (1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ...)``, each series up
    to the power ``df - 2``; the p-value is ``1 - A``. Hand-written because scipy is not a core dependency
    and seed-level tests only ever need integer df (seeds - 1), where the series is exact."""
    if df < 1:
        raise ValueError(f"need df >= 1, got {df}")
    if math.isnan(t):
        return float("nan")
    if math.isinf(t):
        return 0.0
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:
        series, term = 0.0, c
        for j in range((df - 1) // 2):  # powers 1, 3, ..., df - 2
            if j:
                term *= c * c * (2 * j) / (2 * j + 1)
            series += term
        a = 2 / math.pi * (theta + s * series) if df > 1 else 2 * theta / math.pi
    else:
        series, term = 0.0, 1.0
        for j in range(df // 2):  # powers 0, 2, ..., df - 2
            if j:
                term *= c * c * (2 * j - 1) / (2 * j)
            series += term
        a = s * series
    return min(1.0, max(0.0, 1.0 - a))


def paired_t_test(diffs: Sequence[float]) -> dict[str, Any]:
    """Paired t-test over training seeds: a one-sample t-test of the per-seed differences against 0
    (the same as ``scipy.stats.ttest_rel`` on the two arms' per-seed accuracies), two-sided.

    Valid when the per-seed differences are roughly normal; with 3-5 seeds that cannot be checked, which
    is why the report's headline p is `sign_flip_test` and this one is shown beside it. Returns
    ``{"t", "df", "p_value", "n"}``; nan with fewer than 2 differences; p = 0 when every difference is
    the same non-zero value (no spread), 1 when all are zero."""
    d = np.asarray(diffs, dtype=float)
    n = int(d.size)
    if n < 2:
        return {"t": float("nan"), "df": max(0, n - 1), "p_value": float("nan"), "n": n}
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        t = math.copysign(math.inf, mean) if mean else float("nan")
        return {"t": t, "df": n - 1, "p_value": 0.0 if mean else 1.0, "n": n}
    t = mean / (sd / math.sqrt(n))
    return {"t": t, "df": n - 1, "p_value": student_t_two_sided(t, n - 1), "n": n}


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


def summarize(problems: Sequence[ProblemSamples], *, n_boot: int = 10_000, seed: int = 0, equivalent: Any = grader_equivalent) -> dict:
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
        labels = [answer_groups(p.answers, p.correct, equivalent=equivalent) for p in problems]
        for k in ks_for(n_min):
            vals = [pass_at_k(n_min, sum(p.correct[:n_min]), k) for p in problems]
            result["pass@k"][str(k)] = float(np.mean(vals))
            result["maj@k"][str(k)] = float(np.mean([majority_at_k(lab[:n_min], k) for lab in labels]))
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
