"""Metrics against hand-computed values and edge cases."""

from math import comb

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="needs the dev extra: pip install -e '.[dev]'")

from hypothesis import given
from hypothesis import strategies as st

from harness.metrics import (
    ProblemSamples,
    answer_groups,
    bootstrap_ci,
    grader_equivalent,
    group_samples,
    hierarchical_bootstrap,
    ks_for,
    majority_at_k,
    majority_correct,
    paired_bootstrap,
    paired_hierarchical_bootstrap,
    paired_t_test,
    pass_at_k,
    sign_flip_test,
    student_t_two_sided,
    summarize,
)


def test_pass_at_k_hand_values():
    # n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    # n=5, c=2, k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)
    # k=1 is the plain fraction correct
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)


def test_pass_at_k_edges():
    assert pass_at_k(8, 0, 8) == 0.0  # none correct
    assert pass_at_k(8, 8, 1) == 1.0  # all correct
    assert pass_at_k(8, 1, 8) == 1.0  # k = n with one correct
    assert pass_at_k(8, 0, 1) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_matches_binomial_form(nck):
    n, c, k = nck
    exact = 1 - comb(n - c, k) / comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-9)


def test_pass_at_k_large_n_is_stable():
    # C(1024, 512) overflows floats; the product form must not.
    v = pass_at_k(1024, 3, 512)
    assert 0.8 < v < 1.0


def test_majority_vote_uses_all_samples_and_splits_ties():
    assert majority_correct(["5", "5", "4"], [False, False, True], 3) == 0.0  # 5 wins 2-1
    assert majority_correct(["4", "5"], [True, False], 2) == 0.5  # a tie scores the share of correct groups in it
    assert majority_correct([None, None], [False, False], 2) == 0.0
    assert majority_correct(["7"], [True], 1) == 1.0
    # maj@k from all n samples: the mean over every size-k subset (labels: correct, wrong, wrong)
    assert majority_correct(["1", "2", "2"], [True, False, False], 1) == pytest.approx(1 / 3)
    assert majority_correct(["1", "2", "2"], [True, False, False], 2) == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert majority_at_k([0, 1, 1, None, 0], 5) == 0.5


def test_majority_groups_answers_by_grader_equivalence():
    answers, correct = ["1/2", "0.5", "3"], [False, False, True]
    assert majority_correct(answers, correct, 3) == pytest.approx(1 / 3)  # three groups of one: a three-way tie
    assert majority_correct(answers, correct, 3, equivalent=grader_equivalent) == 0.0  # 1/2 = 0.5 outvote 3
    assert answer_groups(["x", "x"], [True, True]) == [0, 0]  # every correct answer is one group


def test_bootstrap_ci_contains_mean_and_degenerate_cases():
    vals = [0.0, 1.0] * 50
    lo, hi = bootstrap_ci(vals, n_boot=2000)
    assert lo < 0.5 < hi and hi - lo < 0.3
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert np.isnan(bootstrap_ci([])[0])


def test_paired_bootstrap_detects_shift_and_null():
    rng = np.random.default_rng(0)
    a = rng.random(200)
    res = paired_bootstrap(a, a + 0.1, n_boot=2000)
    assert res["diff"] == pytest.approx(0.1)
    assert res["ci_low"] > 0 and res["p_value"] < 0.01
    same = paired_bootstrap(a, a.copy(), n_boot=500)
    assert same["diff"] == 0 and same["p_value"] == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_summarize_hand_computed():
    probs = [
        ProblemSamples("a", "x", (True, True, False, False), ("1", "1", "2", "2")),
        ProblemSamples("b", "x", (False, False, False, False), ("3", None, "4", "4")),
        ProblemSamples("c", "y", (True, True, True, True), ("9", "9", "9", "9")),
    ]
    m = summarize(probs, n_boot=1000)
    assert m["n_problems"] == 3 and m["samples_per_problem"] == 4
    assert m["avg@k"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert m["pass@k"]["1"] == pytest.approx(m["avg@k"])
    assert m["pass@k"]["4"] == pytest.approx(2 / 3)
    assert m["pass@k"]["2"] == pytest.approx((pass_at_k(4, 2, 2) + 0 + 1) / 3)
    assert m["maj@k"]["4"] == pytest.approx((0.5 + 0 + 1) / 3)  # a: a 2-2 tie scores 1/2; b wrong; c right
    assert m["per_category"]["x"]["avg@k"] == pytest.approx(0.25)
    assert m["per_category"]["y"]["n_problems"] == 1
    assert summarize([]) == {"n_problems": 0}


def test_group_samples_orders_by_index():
    rows = [
        {"problem_id": "p", "sample_index": 1, "correct": True, "extracted": "2", "category": "c"},
        {"problem_id": "p", "sample_index": 0, "correct": False, "extracted": "1", "category": "c"},
    ]
    (p,) = group_samples(rows)
    assert p.correct == (False, True) and p.answers == ("1", "2") and p.category == "c"


def test_ks_for():
    assert ks_for(8) == [1, 2, 4, 8]
    assert ks_for(6) == [1, 2, 4, 6]
    assert ks_for(1) == [1]


def test_hierarchical_ci_is_wider_than_the_problem_ci_when_seeds_disagree():
    rng = np.random.default_rng(1)
    base = rng.random(60)
    per_seed = [np.clip(base + shift, 0, 1) for shift in (-0.15, 0.0, 0.15)]  # three seeds that disagree
    pooled = np.mean(per_seed, axis=0)
    lo_p, hi_p = bootstrap_ci(pooled, n_boot=4000)
    lo_h, hi_h = hierarchical_bootstrap(per_seed, n_boot=4000)
    assert hi_h - lo_h > 1.3 * (hi_p - lo_p)
    agree = [base, base, base]  # identical seeds: the seed level adds nothing
    lo_a, hi_a = hierarchical_bootstrap(agree, n_boot=4000)
    assert abs((hi_a - lo_a) - (hi_p - lo_p)) < 0.5 * (hi_p - lo_p)


def test_paired_hierarchical_bootstrap_covers_seed_disagreement():
    rng = np.random.default_rng(2)
    a = [rng.random(80) for _ in range(3)]
    b = [x + d for x, d in zip(a, (0.2, 0.0, -0.1), strict=True)]  # the gain depends on the seed
    res = paired_hierarchical_bootstrap(a, b, n_boot=4000)
    flat = paired_bootstrap(np.mean(a, axis=0), np.mean(b, axis=0), n_boot=4000)
    assert res["diff"] == pytest.approx(flat["diff"]) and res["n_seeds"] == 3
    assert res["ci_high"] - res["ci_low"] > flat["ci_high"] - flat["ci_low"]
    assert res["p_value"] > flat["p_value"]


# Seed-level tests (issue 20): one difference per training seed.
DISAGREE = [0.01, -0.02, 0.04]  # seeds disagree in sign
AGREE = [0.101, 0.098, 0.103, 0.100, 0.099, 0.102]  # six seeds, all about +10 points


def _sign_flip_by_hand(d):
    """Every sign pattern, enumerated with itertools (independently of the numpy bit trick)."""
    import itertools

    obs = abs(sum(d))
    sums = [abs(sum(s * x for s, x in zip(signs, d, strict=True))) for signs in itertools.product((1, -1), repeat=len(d))]
    return sum(v >= obs - 1e-12 for v in sums) / len(sums)


def test_sign_flip_test_when_seeds_disagree_and_agree():
    # disagree: sums of +-1 +-2 +-4 (x 0.01) are 7, -1, 3, -5, 5, -3, 1, -7; observed |1 - 2 + 4| = 3; six reach 3
    res = sign_flip_test(DISAGREE)
    assert res["p_value"] == pytest.approx(6 / 8) == pytest.approx(_sign_flip_by_hand(DISAGREE))
    assert res["exact"] and res["n"] == 3 and res["p_min"] == 0.25
    # agree: only the observed pattern and its mirror reach the observed |mean|: p = 2 / 2^6, the floor
    res = sign_flip_test(AGREE)
    assert res["p_value"] == pytest.approx(2 / 64) == pytest.approx(_sign_flip_by_hand(AGREE)) == res["p_min"]
    # three seeds can never go below 0.25, five never below 0.0625
    assert sign_flip_test([0.3, 0.31, 0.29])["p_value"] == 0.25
    assert sign_flip_test([0.3] * 5)["p_value"] == pytest.approx(0.0625)
    assert sign_flip_test([0.0, 0.0, 0.0])["p_value"] == 1.0
    assert np.isnan(sign_flip_test([])["p_value"])
    rng = np.random.default_rng(3)
    d = rng.normal(0.1, 1.0, 9)
    assert sign_flip_test(d)["p_value"] == pytest.approx(_sign_flip_by_hand(list(d)))


def test_sign_flip_test_beyond_exact_enumeration_is_monte_carlo():
    d = np.random.default_rng(4).normal(0.5, 1.0, 18)
    res = sign_flip_test(d)
    assert not res["exact"] and 0 < res["p_value"] < 1
    t = paired_t_test(d)["p_value"]
    assert abs(res["p_value"] - t) < 0.05  # many seeds: the permutation and t tests agree


def test_paired_t_test_when_seeds_disagree_and_agree():
    # df = 2: P(|T| >= t) = 1 - t / sqrt(t^2 + 2) (A&S 26.7.4). Disagree: mean 0.01, sd 0.03, t = 0.01 / (0.03 / sqrt 3)
    res = paired_t_test(DISAGREE)
    t = 0.01 / (0.03 / np.sqrt(3))
    assert res["t"] == pytest.approx(t) and res["df"] == 2
    assert res["p_value"] == pytest.approx(1 - t / np.sqrt(t * t + 2)) == pytest.approx(0.6220355, abs=1e-6)
    # issue 20's numbers: per-seed differences +0.8, +34.7, +5.0 points give p = 0.33, not the bootstrap's 0.01
    assert paired_t_test([0.8, 34.7, 5.0])["p_value"] == pytest.approx(0.3332, abs=1e-4)
    # agree: six seeds at +10 +- 0.2 points: t = 131.7, p far below 0.001
    res = paired_t_test(AGREE)
    assert res["t"] == pytest.approx(np.mean(AGREE) / (np.std(AGREE, ddof=1) / np.sqrt(6)))
    assert res["p_value"] < 1e-8
    assert np.isnan(paired_t_test([0.1])["p_value"]) and paired_t_test([0.1, 0.1])["p_value"] == 0.0
    assert paired_t_test([0.0, 0.0])["p_value"] == 1.0


def test_student_t_closed_form_against_hand_values_and_scipy():
    # df = 1 is the Cauchy distribution: P(|T| >= 1) = 1/2; df = 2 closed form above; large df -> the normal
    assert student_t_two_sided(1.0, 1) == pytest.approx(0.5)
    assert student_t_two_sided(2.0, 2) == pytest.approx(1 - 2 / np.sqrt(6))
    assert student_t_two_sided(1.959964, 2000) == pytest.approx(0.05, abs=2e-4)
    assert student_t_two_sided(0.0, 5) == pytest.approx(1.0)
    stats = pytest.importorskip("scipy.stats", reason="needs the dev extra: pip install -e '.[dev]'")
    for df in (1, 2, 3, 4, 5, 9, 30):
        for t in (0.05, 0.8, 2.1, 6.0):
            assert student_t_two_sided(t, df) == pytest.approx(2 * stats.t.sf(t, df), rel=1e-9, abs=1e-15)
    for d in (DISAGREE, AGREE, [0.8, 34.7, 5.0]):
        ref = stats.ttest_1samp(d, 0.0)
        assert paired_t_test(d)["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
