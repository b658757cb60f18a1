"""Hint-guided RL re-draws which problems get a hint at every step (the paper's hint baseline), from a
schedule written before training and taken in order by the trainer."""

from __future__ import annotations

from harness.compare.kinds.rl import rl_rows, rl_schedule
from tasks import ProblemSet

TRAIN = ProblemSet(task="world@blindspot-hard", split="train", per_category=4)


def test_hinted_set_changes_across_steps_and_keeps_the_fraction():
    rows = rl_rows(TRAIN, 0.5, 0.5, seed=0)
    assert len(rows) == 16 and all(r.get("hint_messages") for r in rows)
    sched = rl_schedule(rows, 0.5, steps=8, per_step=8, seed=0)
    assert len(sched) == 64 and [r["step"] for r in sched] == [s for s in range(8) for _ in range(8)]
    hinted = [frozenset(r["problem_id"] for r in sched if r["step"] == s and r.get("hint")) for s in range(8)]
    assert all(len(h) == 4 for h in hinted)  # half of each step's problems
    assert len(set(hinted)) > 1  # re-drawn: not the same problems every step
    ever_hinted = {r["problem_id"] for r in sched if r.get("hint")}
    ever_plain = {r["problem_id"] for r in sched if not r.get("hint")}
    assert len(ever_hinted & ever_plain) >= 8  # most problems are seen both with and without a hint
    for r in sched:  # a hinted row continues the hint; a plain one ends with the user turn
        assert r["messages"][-1]["role"] == ("assistant" if r.get("hint") else "user")
        assert "boxed" not in r.get("hint", "")  # the hint never hands over the answer
        assert "hint_messages" not in r


def test_every_epoch_visits_every_problem_and_the_schedule_is_seeded():
    rows = rl_rows(TRAIN, 0.5, 0.5, seed=0)
    sched = rl_schedule(rows, 0.5, steps=4, per_step=8, seed=3)
    first_epoch = [r["problem_id"] for r in sched[:16]]
    assert sorted(first_epoch) == sorted(r["problem_id"] for r in rows)
    assert rl_schedule(rows, 0.5, steps=4, per_step=8, seed=3) == sched
    assert rl_schedule(rows, 0.5, steps=4, per_step=8, seed=4) != sched


def test_no_hints_means_plain_rows():
    rows = rl_rows(TRAIN, 0.0, 0.5, seed=0)
    assert all("hint_messages" not in r and r["messages"][-1]["role"] == "user" for r in rows)
