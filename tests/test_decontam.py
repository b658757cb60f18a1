"""Decontamination: exact and near copies are found, templates shared by distinct problems are not, and a
comparison whose training and evaluation problems overlap refuses to start (or holds the overlap out)."""

from __future__ import annotations

import pytest

from harness.compare.config import CompareConfig
from harness.compare.run import run_compare
from harness.decontam import OverlapError, check_overlap, find_overlap, normalise
from tasks import Problem, ProblemSet

pytestmark = pytest.mark.usefixtures("data_dir")


def P(pid: str, text: str) -> Problem:
    return Problem(id=pid, problem=text, answer="0")


STATEMENT = ("Let $ABC$ be a triangle with $AB = 13$, $BC = 14$ and $CA = 15$. The incircle touches $BC$ at $D$. "
             "Find the length of $AD$ and give your answer as a fraction in lowest terms.")


def test_exact_and_near_copies_are_found():
    train = [P("t1", STATEMENT), P("t2", "Compute the number of positive divisors of 2024 that are perfect squares.")]
    retyped = STATEMENT.replace("$", "").replace("  ", " ")  # markup and spacing do not hide a copy
    edited = STATEMENT.replace("in lowest terms", "in simplest form")  # a light edit keeps most 8-grams
    other = P("e4", "Find all real x such that x^3 - 6x^2 + 11x - 6 = 0 and x is an integer greater than 2.")
    found, n = find_overlap(train, [P("e1", STATEMENT), P("e2", retyped), P("e3", edited), other])
    kinds = {e: (t, how) for e, t, how, _ in found}
    assert n == 4 and kinds["e1"] == ("t1", "exact") and kinds["e2"] == ("t1", "exact")
    assert kinds["e3"] == ("t1", "near") and "e4" not in kinds
    assert normalise("$x^{2}+1$") == normalise("x^2 + 1") and normalise("+1") != normalise("-1")


def test_distinct_problems_sharing_a_template_are_not_flagged():
    # the world: every problem shares "Working modulo 11, apply these steps in order", but they are different
    train = ProblemSet(task="world@hard", split="train", per_category=16)
    report = check_overlap(train, [ProblemSet(task="world", split="test", per_category=16)])
    assert not report.has_overlap and report.tasks[0]["checked"] and report.tasks[0]["held_out"] == report.tasks[0]["eval_problems"]


def _overlapping(tmp_path, **kw) -> CompareConfig:
    return CompareConfig(out=str(tmp_path / "cmp"), base_model="world:test",
                         train={"task": "world", "split": "test", "per_category": 4},
                         eval={"tasks": ["world"], "split": "test", "per_category": 2, "samples": 1}, **kw)


def test_a_comparison_with_overlap_refuses_to_start(tmp_path):
    with pytest.raises(OverlapError, match="overlap") as err:
        run_compare(["rl-baseline"], _overlapping(tmp_path), show_progress=False)
    assert "decontaminate: exclude" in str(err.value)
    assert not (tmp_path / "cmp").exists()  # nothing ran, nothing was written


def test_exclude_holds_the_overlap_out_of_evaluation(tmp_path):
    summary = run_compare(["rl-baseline"], _overlapping(tmp_path, decontaminate="exclude"), dry_run=True)
    (task,) = summary["overlap"]["tasks"]
    assert task["overlapping"] and task["held_out"] == task["eval_problems"] - len(task["overlapping"])
    (problems,) = summary["protocol"]["problems"]
    assert sorted(problems["exclude_ids"]) == sorted(task["overlapping"])
    allowed = run_compare(["rl-baseline"], _overlapping(tmp_path, allow_overlap=True), dry_run=True)
    assert allowed["overlap"]["allowed"] and allowed["overlap"]["has_overlap"]


# ---- issue 22 item 7: edited copies are caught by containment in both directions ----------------------

BEFORE = "Read the following problem carefully before answering it."
AFTER = "Give your final answer in a box and justify each step of your reasoning."


def _respell(text: str) -> str:
    """\\frac -> \\dfrac and \\le -> \\leq: the same statement in other LaTeX spellings."""
    import re

    return re.sub(r"\\le(?![A-Za-z])", r"\\leq", text.replace("\\frac", "\\dfrac"))


@pytest.mark.parametrize("edit", ["respelled", "before", "after", "both", "shortest+after", "shortest+before"])
def test_perturbed_imo_answerbench_problems_are_caught(edit):
    """Each IMO-AnswerBench v1 problem, edited, against the set as training problems: every copy is found,
    paired with its original (before: 371, 387, 335 and 219 of 400, and 0 of the 10 shortest)."""
    from dataclasses import replace

    from tasks import load_task

    problems = load_task("imo-answerbench", "v1").problems
    chosen = problems
    if edit.startswith("shortest"):
        chosen = sorted(problems, key=lambda p: len(normalise(p.problem).split()))[:10]
    rewrite = {
        "respelled": _respell,
        "before": lambda t: f"{BEFORE} {t}",
        "after": lambda t: f"{t} {AFTER}",
        "both": lambda t: f"{BEFORE} {t} {AFTER}",
        "shortest+after": lambda t: f"{t} {AFTER}",
        "shortest+before": lambda t: f"{BEFORE} {t}",
    }[edit]
    edited = [replace(p, id="copy-" + p.id, problem=rewrite(p.problem)) for p in chosen]
    assert sum(e.problem != p.problem for e, p in zip(edited, chosen, strict=True)) >= min(len(chosen), 100)
    found, n = find_overlap(problems, edited)
    assert n == len(chosen)
    assert sorted(e for e, *_ in found) == sorted(e.id for e in edited)
    assert all(e == "copy-" + t for e, t, _, _ in found)


def test_no_false_positives_among_distinct_problems():
    """Each IMO-AnswerBench problem against the other 399, and the world's whole test split against its whole
    hard training split (distinct problems sharing one template): nothing is flagged."""
    from tasks import load_task

    problems = load_task("imo-answerbench", "v1").problems
    for i, p in enumerate(problems):
        found, _ = find_overlap(problems[:i] + problems[i + 1:], [p])
        assert not found, (p.id, found)
    train = ProblemSet(task="world@hard", split="train").load()[1]
    found, n = find_overlap(train, ProblemSet(task="world", split="test").load()[1])
    assert n > 400 and not found, found


def test_latex_spellings_normalise_alike():
    assert normalise("$x \\leq \\dfrac{1}{2}$") == normalise("$x\\le\\frac{1}{2}$") == normalise("x ≤ \\tfrac{1}{2}")
    assert normalise("\\left( a \\cdot b \\right)") == normalise("(a \\times b)")
    assert normalise("a right triangle") == "a right triangle"  # words stay; only the \right macro goes
