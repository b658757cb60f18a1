"""GradingPool: order, memoisation, soft and hard timeouts, worker death; equivalence with `grade`."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from harness.grading import GradingPool, Verdict, extract_boxed, get_grader, grade, rules

GOLDEN = Path(__file__).parent / "data" / "grading_golden.jsonl"
SLOW_ANSWER = "+".join(f"\\frac{{1}}{{{k}}}" for k in range(1, 4000))
INTERVAL = "$(-\\infty,-4)\\cup (-4,-\\frac{8}{3})$"


@pytest.fixture(scope="module")
def pool():
    with GradingPool(workers=2, timeout=10.0) as p:
        yield p


def test_order_preserved(pool: GradingPool) -> None:
    items, expected = [], []
    for i in range(40):
        if i % 4 == 0:
            items.append((f"\\boxed{{{i}}}", str(i)))
            expected.append(True)
        elif i % 4 == 1:
            items.append((f"\\boxed{{\\frac{{{i}}}{{2}}}}", f"$\\frac{{{2 * i}}}{{4}}$"))
            expected.append(True)
        elif i % 4 == 2:
            items.append((f"\\boxed{{{i}+\\sqrt{{2}}}}", f"${i}+\\sqrt{{3}}$"))
            expected.append(False)
        else:
            items.append((f"answer {i}", str(i)))
            expected.append(False)
    verdicts = pool.grade_many(items)
    assert [v.correct for v in verdicts] == expected
    assert [v.extracted for v in verdicts[:2]] == ["0", "\\frac{1}{2}"]
    assert verdicts[3].status == "no_answer"


def test_memoisation_grades_identical_pairs_once(pool: GradingPool) -> None:
    before = pool.stats.graded
    hits = pool.stats.cache_hits
    sent = pool.stats.sent_to_workers
    items = [("\\boxed{\\frac{2^u}{4}}", "$2^{u-2}$")] * 30 + [("\\boxed{2^{u-1}}", "$2^{u-2}$")] * 20
    verdicts = pool.grade_many(items)
    assert [v.correct for v in verdicts] == [True] * 30 + [False] * 20
    assert pool.stats.graded - before == 2
    assert pool.stats.sent_to_workers - sent == 2
    assert pool.stats.cache_hits - hits == 48
    pool.grade_many(items[:1])
    assert pool.stats.graded - before == 2  # remembered across calls


def test_pool_matches_in_process_grading_on_golden_cases(pool: GradingPool) -> None:
    cases = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [(c["response"], c["gold"]) for c in cases]
    pooled = pool.grade_many(items)
    # In this process, no pool involved: what `grade` used to be before it gained a killable worker.
    direct = [
        rules.verdict_for(ans, rules.decide_with_timeout(ans, g, 10.0)) if (ans := extract_boxed(r)) is not None
        else grade(r, g)
        for r, g in items
    ]
    assert [(v.correct, v.status, v.extracted) for v in pooled] == [(v.correct, v.status, v.extracted) for v in direct]
    assert all(isinstance(v, Verdict) and v.grader.startswith("math-verify==") for v in pooled)


def test_soft_timeout_in_worker_then_pool_keeps_working() -> None:
    # A generous grace, so that only the in-worker limit can answer (the slow answer includes C-level regex
    # work of up to a couple of seconds that no in-process timeout can interrupt).
    with GradingPool(workers=2, timeout=0.5, grace=60) as p:
        out = p.grade_many([("\\boxed{1}", "1"), (f"\\boxed{{{SLOW_ANSWER}}}", INTERVAL), ("\\boxed{\\sqrt{4}}", "2")])
        assert [v.status for v in out] == ["ok", "timeout", "ok"]
        assert [v.correct for v in out] == [True, False, True]
        assert p.stats.timeouts == 1 and p.stats.kills == 0
        assert p.grade_many([("\\boxed{2}", "2")])[0].correct


def test_hard_deadline_kills_and_respawns_worker() -> None:
    # No in-worker limit: only the parent's deadline can stop the slow answer.
    with GradingPool(workers=1, timeout=0.2, grace=0.3, soft_timeout=False) as p:
        pid = p._pool[0].proc.pid
        out = p.grade_many([(f"\\boxed{{{SLOW_ANSWER}}}", INTERVAL), ("\\boxed{\\frac{1}{2}}", "0.5"), ("\\boxed{3}", "4")])
        assert [v.status for v in out] == ["timeout", "ok", "ok"]
        assert [v.correct for v in out] == [False, True, False]
        assert "killed" in out[0].reason
        assert p.stats.kills == 1 and p.stats.respawns == 1
        assert p._pool[0].proc.pid != pid
        assert p.grade_many([("\\boxed{\\sqrt{4}}", "2")])[0].correct


def test_dead_worker_is_replaced() -> None:
    with GradingPool(workers=1, timeout=5.0) as p:
        assert p.grade_many([("\\boxed{\\sqrt{2}}", "$\\sqrt{2}$")])[0].correct
        os.kill(p._pool[0].proc.pid, signal.SIGKILL)
        p._pool[0].proc.join(5)
        out = p.grade_many([("\\boxed{\\sqrt{3}}", "$\\sqrt{3}$"), ("\\boxed{\\sqrt{5}}", "$\\sqrt{6}$")])
        assert [v.correct for v in out] == [True, False]
        assert p.stats.respawns == 1


def test_pool_usable_from_another_thread_and_closes() -> None:
    result: list[list[Verdict]] = []

    def run() -> None:
        with GradingPool(workers=1, timeout=5.0) as p:
            result.append(p.grade_many([("\\boxed{\\frac{3}{6}}", "0.5")]))
            procs = [w.proc for w in p._pool]
        assert all(not proc.is_alive() for proc in procs)

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert result and result[0][0].correct


def test_closed_pool_refuses_work() -> None:
    p = GradingPool(workers=1)
    p.close()
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.grade_many([("\\boxed{1}", "1")])


def test_math_verify_grader_starts_pool_lazily() -> None:
    grader = get_grader("math-verify", workers=1, timeout=5.0)
    assert grader._pool is None  # creating a grader (e.g. only to read .version) costs nothing
    assert [v.correct for v in grader.grade_many([("\\boxed{2}", "2", "problem")])] == [True]
    grader.close()
