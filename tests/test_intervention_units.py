"""Substeps, prompts, the filter cascade and Table-1 arithmetic (no model needed)."""

import pytest

from harness.intervention.analytics import proposal_analytics, table1
from harness.intervention.filters import leaks, select_interventions
from harness.intervention.prompts import (
    get_template_set,
    render,
    solve_messages,
    template_hash,
    verify_messages,
)
from harness.intervention.steps import (
    format_intervention,
    number_substeps,
    original_step,
    prefix_before,
    split_substeps,
    valid_location,
)

ATTEMPT = "Let n be the count.\n\nThen 3n + 5 = 47.\n\nSo n = 13.\n\n\\boxed{13}"


def test_substeps_number_and_splice_agree():
    assert split_substeps(ATTEMPT)[2] == "So n = 13."
    assert number_substeps(ATTEMPT).split("\n\n")[2] == "**Substep 3:** So n = 13."
    assert prefix_before(ATTEMPT, 3) == "Let n be the count.\n\nThen 3n + 5 = 47.\n\n"
    assert prefix_before(ATTEMPT, 1) == ""
    assert original_step(ATTEMPT, 3) == "So n = 13."
    # the prefix is the model's own text byte for byte, odd whitespace included
    odd = "A  \n\nB\n\n\nC"
    assert prefix_before(odd, 3) + original_step(odd, 3) == odd


def test_location_range_allows_the_unwritten_next_step():
    assert valid_location(ATTEMPT, 5) and not valid_location(ATTEMPT, 6) and not valid_location(ATTEMPT, 0)
    assert prefix_before(ATTEMPT, 5) == ATTEMPT + "\n\n" and original_step(ATTEMPT, 5) == ""
    with pytest.raises(IndexError):
        prefix_before(ATTEMPT, 6)


def test_intervention_single_newlines_are_doubled():
    assert (
        format_intervention("  First line.\nSecond line.\n\nThird.  ")
        == "First line.\n\nSecond line.\n\nThird."
    )


ITEM = {"problem": "Find n.", "reference_solution": "n = 14.", "answer": "14", "attempt": ATTEMPT}


def test_paper_template_is_two_turns_and_hashed():
    tset = get_template_set("paper")
    first = solve_messages(tset, ITEM)
    assert (
        [m["role"] for m in first] == ["user"]
        and "n = 14." in first[0]["content"]
        and "Find n." in first[0]["content"]
    )
    conv = verify_messages(tset, ITEM, "My own solution.")
    assert [m["role"] for m in conv] == ["user", "assistant", "user"] and conv[1][
        "content"
    ] == "My own solution."
    verify = conv[2]["content"]
    assert "**Substep 3:** So n = 13." in verify and "<intervention>" in verify and "14" in verify
    assert "4 substeps" in verify
    with pytest.raises(ValueError):
        verify_messages(tset, ITEM, None)
    assert template_hash(tset) != template_hash(get_template_set("compact"))


def test_compact_template_matches_what_the_world_model_was_trained_on():
    from harness.world import problems
    wp = problems.generate_problems(3, 1, seed=1)[0]
    attempt = "Step 1: v = 1 + 1 mod 11 = 2\n\nStep 2: v = 9 * 9 mod 11 = 4"
    item = {
        "problem": wp.text,
        "reference_solution": wp.solution,
        "answer": str(wp.answer),
        "attempt": attempt,
    }
    conv = verify_messages(get_template_set("compact"), item, None)
    assert conv == [{"role": "user", "content": problems.render_verification_prompt(wp, attempt)}]


def test_missing_slot_is_an_error():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("paper_solve.jinja", problem="x")


def test_leak_checks():
    assert leaks("so the answer is 14", "14") and not leaks("divide by 3", "14")
    assert leaks("Step 2: v = 3 + 4 mod 11 = 7", "7", "substring") and not leaks(
        "Step 2: v = 3 + 4 mod 11 = 7", "7", "boxed"
    )
    assert leaks("\\boxed{7}", "7", "boxed")


def _prop(aid, j, ok=True, content="fix", location=2, reason=""):
    return {
        "attempt_id": aid,
        "proposal_index": j,
        "parse": {
            "ok": ok,
            "content": content if ok else None,
            "location": location if ok else None,
            "reason": reason,
            "method": "json",
        },
    }


def test_cascade_counts_partition_the_proposals():
    attempts = {
        f"p{i}#0": {
            "attempt_id": f"p{i}#0",
            "problem_id": f"p{i}",
            "order": i,
            "attempt": ATTEMPT,
            "answer": "14",
        }
        for i in range(5)
    }
    props = [
        _prop("p0#0", 0, ok=False, reason="truncated"),
        _prop("p0#0", 1),  # second proposal rescues p0
        _prop("p1#0", 0, content=""),  # no critical error
        _prop("p2#0", 0, location=9),  # out of range
        _prop("p3#0", 0, content="n is 14"),
        _prop("p3#0", 1, content="recompute"),
        _prop("p3#0", 2, content="again"),
        _prop("p4#0", 0, ok=False, reason="no_block"),
    ]
    kept, counts = select_interventions(props, attempts)
    assert [k["attempt_id"] for k in kept] == ["p0#0", "p3#0"] and kept[1]["content"] == "recompute"
    assert counts == {
        "proposals": 8,
        "parse_failed": 2,
        "no_critical_error": 1,
        "location_out_of_range": 1,
        "leaked": 1,
        "duplicate": 1,
        "selected": 2,
        "parse_failed_by_reason": {"no_block": 1, "truncated": 1},
    }
    kept, counts = select_interventions(props, attempts, leak_filter=False)
    assert counts["leaked"] == 0 and kept[1]["content"] == "n is 14"


def test_table1_and_ratio():
    units = [
        {"unit_id": f"{c}:a{i}", "condition": c, "problem_id": f"p{i}"}
        for c in ("intervention", "original")
        for i in range(2)
    ]
    samples = [
        {
            "problem_id": u["unit_id"],
            "correct": u["condition"] == "intervention" and u["problem_id"] == "p0" and j < 3,
        }
        for u in units
        for j in range(4)
    ]
    samples[12]["correct"] = True  # one original-step success, on p1
    t = table1(units, samples)
    ci, co = t["conditions"]["intervention"], t["conditions"]["original"]
    assert (ci["correct"], ci["samples"], ci["covered"], ci["problems"]) == (3, 8, 1, 2)
    assert (co["correct"], co["covered"]) == (1, 1)
    assert t["ratio_intervention_over_original"] == {"value": 3.0, "bounded": True}
    samples[12]["correct"] = False
    r = table1(units, samples)["ratio_intervention_over_original"]
    assert r["bounded"] is False and r["lower_bound"] == pytest.approx(3.0)


def test_proposal_analytics_localization():
    rows = [
        {
            "parse": {"ok": True, "content": "x", "location": 2, "reason": "", "method": "json"},
            "location_rel": 0.5,
            "true_first_error": 2,
            "leak_substring": True,
        },
        {
            "parse": {"ok": True, "content": "x", "location": 1, "reason": "", "method": "regex"},
            "location_rel": 0.25,
            "true_first_error": 3,
        },
        {
            "parse": {"ok": False, "content": None, "location": None, "reason": "no_block", "method": ""},
            "true_first_error": 1,
        },
    ]
    a = proposal_analytics(rows)
    assert a["parse_failure_rate"] == pytest.approx(1 / 3) and a["leak_rate_substring"] == 0.5
    assert a["localization"]["exact"] == 0.5 and a["localization"]["too_early"] == 0.5
    assert a["localization"]["exact_over_all_proposals"] == pytest.approx(1 / 3)
