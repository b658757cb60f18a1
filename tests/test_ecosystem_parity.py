"""Parity: on the same responses, our grader, our inspect task's scorer and our lm-eval task agree.

252 canned responses = 18 real problems (every benchmark; integer, fraction, tuple, matrix, degrees, text,
qualified and prose golds) x 14 answer styles (boxed, fbox, equivalent forms, several boxes, think tags,
no/empty/unclosed box, wrong answers, long traces). The responses go through the real pipelines: inspect's
`eval` (our registered task, epochs, mockllm) and lm-eval's `simple_evaluate` (our written task config,
its filter and process_results); verdicts are read back from their logs and through our importers.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")
pytest.importorskip("inspect_ai", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")

import lm_eval
from ecosystem_support import mock_model
from inspect_ai import eval as inspect_eval
from lm_eval.api.model import LM
from lm_eval.tasks import TaskManager

from harness.ecosystem import import_inspect_log, import_lm_eval_samples, problem_rows, write_lm_eval_task
from harness.ecosystem.inspect_tasks import build_task
from harness.grading import grade
from harness.grading.normalize import gold_spec

pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"

# (task, version, gold shape, predicate on the gold): the first problem whose gold matches is used.
PICKS = [
    ("aime25", None, "integer", lambda g: g.isdigit()),
    ("aime24", None, "leading-zero integer", lambda g: g.startswith("0")),
    ("amc23", None, "integer", lambda g: g.isdigit()),
    ("hmmt-feb-2025", None, "fraction", lambda g: "\\frac" in g),
    ("hmmt-feb-2025", None, "negative integer", lambda g: g.startswith("-")),
    ("math500", None, "tuple", lambda g: g.startswith("\\left(")),
    ("math500", None, "expression", lambda g: re.fullmatch(r"[a-z] - [a-z]", g) is not None),
    ("math500", None, "sqrt", lambda g: "\\sqrt" in g and len(g) < 20),
    ("math500", None, "pi", lambda g: "\\pi" in g and "," not in g and len(g) < 20),
    ("math500", None, "text", lambda g: g.startswith("\\text{")),
    ("math500", None, "matrix", lambda g: "pmatrix" in g),
    ("math500", None, "degrees", lambda g: "circ" in g),
    ("math500", None, "decimal", lambda g: re.fullmatch(r"-?\d+\.\d+", g) is not None),
    ("math500", None, "list", lambda g: re.fullmatch(r"-?\d+(, ?-?\d+)+", g) is not None),
    ("imo-answerbench", "v2", "latex power", lambda g: g.startswith("$2^")),
    ("imo-answerbench", "v2", "qualified", lambda g: gold_spec(g).kind == "core"),
    ("imo-answerbench", "v2", "prose", lambda g: gold_spec(g).kind == "text" and len(g) < 15),
    ("imo-answerbench", "v1", "integer", lambda g: g.isdigit() and int(g) > 100),
]


def _equivalent(core: str) -> str:
    """A differently written form of the same answer."""
    if re.fullmatch(r"-?\d+", core):
        return str(int(core)) if core.startswith("0") else core + ".0"
    if "\\frac" in core:
        return core.replace("\\frac", "\\dfrac")
    if core.startswith("\\text{"):
        return core[len("\\text{") : -1]
    if "^\\circ" in core:
        return core.replace("^\\circ", "")
    return core.replace(" ", "")


FILLER = "We check each case carefully and simplify the expression step by step. " * 40
STYLES = {
    "boxed": lambda c, g, w: f"Let us solve it.\n\nTherefore the answer is $\\boxed{{{c}}}$.",
    "boxed_raw_gold": lambda c, g, w: f"Answer: \\boxed{{{g}}}",
    "fbox": lambda c, g, w: f"So we get \\fbox{{{c}}}.",
    "spaced_box": lambda c, g, w: f"Final answer: \\boxed {{ {c} }}",
    "double_braces": lambda c, g, w: f"\\boxed{{{{{c}}}}}",
    "equivalent_form": lambda c, g, w: f"The answer is \\boxed{{{_equivalent(c)}}}.",
    "last_box_wins": lambda c, g, w: f"First guess: \\boxed{{{w}}}. Wait, recomputing gives \\boxed{{{c}}}.",
    "last_box_wrong": lambda c, g, w: f"I get \\boxed{{{c}}}. Hmm, actually \\boxed{{{w}}}.",
    "wrong": lambda c, g, w: f"The answer is \\boxed{{{w}}}.",
    "think_then_answer": lambda c, g, w: (
        f"<think>Maybe \\boxed{{{w}}}?</think>\n\n**Answer:** $\\boxed{{{c}}}$"
    ),
    "long_reasoning": lambda c, g, w: FILLER + f"\n\nHence \\boxed{{{c}}}.",
    "no_box": lambda c, g, w: f"The final answer is {c}.",
    "empty_box": lambda c, g, w: "I could not finish: \\boxed{}",
    "truncated_box": lambda c, g, w: f"{FILLER[:200]} so the answer is \\boxed{{{c}",
}


def _core(gold: str) -> str:
    return gold.strip().strip("$").strip().rstrip(".").strip()


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """Every (problem, style) response with our grader's verdict, plus the inspect and lm-eval verdicts."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DATA_DIR", str(DATA_DIR))
        picked: list[tuple[dict, str]] = []
        for task, version, shape, pred in PICKS:
            used = {
                r["id"] for r, _ in picked if (r["task"], r["version"]) == (task, version or r["version"])
            }
            picked.append(
                (
                    next(r for r in problem_rows(task, version) if pred(r["answer"]) and r["id"] not in used),
                    shape,
                )
            )
        cores = [_core(r["answer"]) for r, _ in picked]
        out = []
        for row, shape in picked:
            core = _core(row["answer"])
            wrong = next(c for c in reversed(cores) if c != core)
            for style, make in STYLES.items():
                out.append(
                    {
                        "row": row,
                        "shape": shape,
                        "style": style,
                        "response": f"[{style}] " + make(core, row["answer"], wrong),
                    }
                )
        for case in out:
            case["ours"] = grade(case["response"], case["row"]["answer"])
        tmp = tmp_path_factory.mktemp("parity")
        _run_inspect(out, tmp / "inspect")
        _run_lm_eval(out, tmp / "lm_eval")
        yield out


def _run_inspect(cases: list[dict], log_dir: Path) -> None:
    """Our inspect tasks with epochs = number of styles; mockllm hands each prompt its responses in turn."""
    queues: dict[str, list[str]] = defaultdict(list)
    by_text = {}
    for case in cases:
        queues[case["row"]["prompt"]].append(case["response"])
        by_text[(case["row"]["task"], case["row"]["version"], case["row"]["id"], case["response"])] = case

    tasks = []
    for task, version in sorted({(c["row"]["task"], c["row"]["version"]) for c in cases}):
        wanted = {c["row"]["id"] for c in cases if (c["row"]["task"], c["row"]["version"]) == (task, version)}
        t = build_task(task, version, epochs=len(STYLES))
        t.dataset = t.dataset.filter(lambda s, wanted=wanted: s.id in wanted)
        tasks.append(t)
    model = mock_model(lambda prompt: queues[prompt].pop(0), input_tokens=1, output_tokens=1)
    logs = inspect_eval(tasks, model=model, log_dir=str(log_dir), display="none")
    assert all(log.status == "success" for log in logs) and not any(queues.values())
    for log in logs:
        records = {(r["problem_id"], r["text"]): r for r in import_inspect_log(log.location)}
        for s in log.samples:
            case = by_text[(s.metadata["task"], s.metadata["version"], s.id, s.output.completion)]
            case["inspect"] = s.scores["int_grader"]
            case["inspect_record"] = records[(s.id, s.output.completion)]


def _run_lm_eval(cases: list[dict], out_dir: Path) -> None:
    """One lm-eval doc per case (repeats=1), so the logged per-doc avg@k is that response's verdict."""
    rows = [{**c["row"], "id": f"{c['row']['task']}|{c['row']['id']}|{c['style']}"} for c in cases]
    write_lm_eval_task(out_dir, "int_parity", rows, repeats=1)
    answers = {row["id"]: c["response"] for row, c in zip(rows, cases, strict=True)}

    class Canned(LM):
        def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
            return [answers[r.doc["id"]] for r in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise AssertionError("generation only")

        loglikelihood_rolling = loglikelihood

    res = lm_eval.simple_evaluate(
        model=Canned(),
        tasks=["int_parity"],
        task_manager=TaskManager(include_path=str(out_dir)),
        log_samples=True,
    )
    samples = res["samples"]["int_parity"]
    path = out_dir / "samples_int_parity_2026-01-01T00-00-00.jsonl"
    path.write_text("".join(json.dumps(s, default=str) + "\n" for s in samples))
    records = {r["problem_id"]: r for r in import_lm_eval_samples(path)}
    by_id = {row["id"]: c for row, c in zip(rows, cases, strict=True)}
    for s in samples:
        case = by_id[s["doc"]["id"]]
        case["lm_eval"] = s["avg@k"]
        case["lm_eval_record"] = records[s["doc"]["id"]]


def test_parity_covers_every_benchmark_style_and_outcome(cases):
    assert len(cases) >= 100
    assert {c["style"] for c in cases} == set(STYLES)
    assert {c["row"]["task"] for c in cases} >= {
        "aime24",
        "aime25",
        "amc23",
        "hmmt-feb-2025",
        "math500",
        "imo-answerbench",
    }
    assert {c["row"]["version"] for c in cases if c["row"]["task"] == "imo-answerbench"} == {"v1", "v2"}
    assert {gold_spec(c["row"]["answer"]).kind for c in cases} == {"math", "core", "text"}
    outcomes = Counter((c["ours"].correct, c["ours"].status) for c in cases)
    assert (
        outcomes[(True, "ok")] >= 50
        and outcomes[(False, "ok")] >= 30
        and outcomes[(False, "no_answer")] >= 30
    )
    assert not outcomes - Counter({k: v for k, v in outcomes.items() if k[1] in ("ok", "no_answer")}), (
        outcomes
    )


def test_grader_inspect_scorer_and_lm_eval_task_agree_on_every_response(cases):
    disagreements = []
    for c in cases:
        ours = c["ours"]
        inspect_score, lm_value = c["inspect"], c["lm_eval"]
        views = {
            "inspect": (inspect_score.value == "C", inspect_score.answer, inspect_score.metadata["status"]),
            "inspect-import": (
                c["inspect_record"]["correct"],
                c["inspect_record"]["extracted"],
                c["inspect_record"]["status"],
            ),
            "lm-eval": (lm_value == 1.0, ours.extracted, ours.status),
            "lm-eval-import": (
                c["lm_eval_record"]["correct"],
                c["lm_eval_record"]["extracted"],
                c["lm_eval_record"]["status"],
            ),
        }
        for name, view in views.items():
            if view != (ours.correct, ours.extracted, ours.status):
                disagreements.append((name, c["shape"], c["style"], view, ours))
    assert not disagreements, disagreements[:5]
    assert all(
        c["inspect_record"]["grader"] == c["ours"].grader == c["lm_eval_record"]["grader"] for c in cases
    )
