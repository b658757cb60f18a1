"""inspect_ai / lm-eval adapters in-process against canned outputs: entry-point registration, shipped and
written lm-eval tasks, every repeat scored, pass@k reducers, and the importers (no model, no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")
pytest.importorskip("inspect_ai", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")

import lm_eval
import yaml
from ecosystem_support import mock_model
from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai._eval.loader import load_tasks
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import includes
from lm_eval.api.model import LM
from lm_eval.tasks import TaskManager
from typer.testing import CliRunner

from harness.cli import app
from harness.ecosystem import (
    BENCHMARKS,
    LM_EVAL_TASKS_DIR,
    exported_tasks,
    import_inspect_log,
    import_lm_eval_samples,
    import_run,
    problem_rows,
    write_lm_eval_tasks,
    write_run,
)
from harness.ecosystem.lm_eval_export import shipped_task_yaml, template_config
from harness.grading import grade, grader_id
from harness.metrics import group_samples, summarize
from tasks import get_task, load_task

pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True, scope="module")
def _data_dir():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DATA_DIR", str(DATA_DIR))
        yield


class CannedLM(LM):
    """An lm-eval model answering each request from ``answers[doc id]`` in order (repeats are clones)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__()
        self.answers = {k: list(v) for k, v in answers.items()}

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return [self.answers[str(r.doc["id"])].pop(0) for r in requests]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise AssertionError("math tasks only generate")

    loglikelihood_rolling = loglikelihood


def test_entry_point_resolves_every_exported_benchmark():
    eps = {ep.name: ep.value for ep in entry_points(group="inspect_ai")}
    assert eps.get("int_harness") == "int_harness"
    exported = exported_tasks()
    assert {
        "aime24",
        "aime25",
        "hmmt_feb_2025",
        "math500",
        "amc23",
        "imo_answerbench_v1",
        "imo_answerbench_v2",
    } <= {e.export for e in exported}
    for exp in exported:
        (task,) = load_tasks([f"int_harness/{exp.export}"])
        rows = problem_rows(exp.task, exp.version)
        assert len(task.dataset) == len(load_task(exp.task, exp.version).problems) == len(rows)
        first = task.dataset[0]
        assert first.id == rows[0]["id"] and first.target == rows[0]["answer"]
        assert first.metadata["prompt_hash"] == rows[0]["prompt_hash"]
    (generic,) = load_tasks(["int_harness/benchmark"], {"task": "imo-answerbench", "version": "v1"})
    assert [s.id for s in generic.dataset] == [r["id"] for r in problem_rows("imo-answerbench", "v1")]
    # Every registered task has its own name, training sets included (their only split by default).
    import int_harness

    assert {e.export for e in exported_tasks(None)} | {"benchmark"} <= set(int_harness.DEFINED)
    (train,) = load_tasks(["int_harness/aime_1983_2023"])
    assert len(train.dataset) == len(load_task("aime-1983-2023").problems)
    (world,) = load_tasks(["int_harness/world_hard"])
    assert world.config.max_tokens == get_task("world").max_tokens == 192  # the task's budget, not 16,384


@pytest.mark.parametrize("how", ["-T epochs=4", "--epochs 4"])
def test_inspect_epochs_give_our_avg_pass_and_maj_at_k(tmp_path, how):


    rows = problem_rows("amc23")[:5]
    by_prompt = {r["prompt"]: (i, r) for i, r in enumerate(rows)}
    calls: dict[str, int] = defaultdict(int)

    def respond(prompt: str) -> str:
        i, row = by_prompt[prompt]
        calls[prompt] += 1
        right = calls[prompt] <= i  # problem i gets i correct answers out of 4 (the last one 4 of 4)
        return f"Thus \\boxed{{{row['answer'] if right else int(row['answer']) + 1}}}."

    # `inspect eval -T epochs=4` is task_args; `inspect eval --epochs 4` is eval(epochs=4), which keeps the
    # task's reducers: pass@k must not depend on which one the user typed.
    epochs = {"task_args": {"epochs": 4}} if how.startswith("-T") else {"epochs": 4}
    (log,) = inspect_eval(
        "int_harness/amc23", model=mock_model(respond), limit=5, log_dir=str(tmp_path), display="none", **epochs
    )
    assert log.status == "success"
    (score,) = log.results.scores  # one column, named by what it holds
    got = {k: m.value for k, m in score.metrics.items()}
    assert set(got) == {"avg@k", "ci95_low", "ci95_high", "pass@2", "pass@4", "maj@4"}
    records = import_inspect_log(log.location)
    assert len(records) == 20 and {r["sample_index"] for r in records} == {0, 1, 2, 3}
    assert all(r["grader"] == grader_id() and r["prompt_tokens"] == 11 for r in records)
    ours = summarize(group_samples(records))
    assert [p.accuracy for p in group_samples(records)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert got["avg@k"] == pytest.approx(ours["avg@k"]) == pytest.approx(0.5)
    assert [got["ci95_low"], got["ci95_high"]] == pytest.approx(ours["avg@k_ci95"])
    assert got["pass@2"] == pytest.approx(ours["pass@k"]["2"])
    assert got["pass@4"] == pytest.approx(ours["pass@k"]["4"]) == pytest.approx(0.8)
    assert got["maj@4"] == pytest.approx(ours["maj@k"]["4"])
    results = import_run(log.location, tmp_path / "run")
    assert results["tasks"]["amc23@default"]["metrics"]["avg@k"] == pytest.approx(0.5)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["model"] == "mockllm/model"
    again = import_run(log.location, tmp_path / "run")  # re-importing is idempotent
    assert again["tasks"]["amc23@default"]["counts"]["samples"] == 20
    with pytest.raises(ValueError, match="already holds"):
        write_run(records, tmp_path / "run", source="lm-eval:other.jsonl")


def test_importer_regrades_logs_from_other_scorers(tmp_path):
    """inspect's `includes()` calls "I tried 27 but ... \\boxed{28}" correct; our table must not."""
    rows = problem_rows("amc23")[:3]
    samples = [Sample(id=r["id"], input=r["prompt"], target=r["answer"]) for r in rows]
    task = Task(dataset=MemoryDataset(samples), scorer=includes())
    (log,) = inspect_eval(
        task,
        model=mock_model(
            lambda p: next(
                f"I tried {r['answer']} but \\boxed{{{r['answer']}0}}" for r in rows if r["prompt"] in p
            )
        ),
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.results.scores[0].metrics["accuracy"].value == 1.0
    records = import_inspect_log(log.location, task="amc23", version="default")
    assert len(records) == 3 and not any(r["correct"] for r in records)
    assert all(r["extracted"] == r["gold"] + "0" and r["grader"] == grader_id() for r in records)


def test_shipped_lm_eval_tasks_cover_the_benchmarks_and_use_our_loader():
    shipped = {p.stem for p in LM_EVAL_TASKS_DIR.glob("int_*.yaml")}
    assert {f"int_{e.export}" for e in exported_tasks()} == shipped
    for exp in exported_tasks():  # generated from the task definitions; regenerate with write_shipped_tasks()
        assert (LM_EVAL_TASKS_DIR / f"int_{exp.export}.yaml").read_text() == shipped_task_yaml(exp), exp
    world_rows = problem_rows("world")[:1]
    res = lm_eval.simple_evaluate(
        model=CannedLM({r["id"]: [f"\\boxed{{{r['answer']}}}"] * 8 for r in world_rows}),
        tasks=["int_world"],
        task_manager=TaskManager(include_path=str(LM_EVAL_TASKS_DIR)),
        limit=1,
    )
    assert res["results"]["int_world"]["avg@k,all_samples"] == 1.0
    # The world task's own budget: prompt + 192 fits the world model's 1,024-token window (16,384 did not).
    assert res["configs"]["int_world"]["generation_kwargs"]["max_gen_toks"] == 192
    template = template_config()
    assert template["filter_list"][0]["filter"][0]["filter_fn"] == "utils.keep_all_samples"
    for path in LM_EVAL_TASKS_DIR.glob("int_*.yaml"):
        text = path.read_text()
        assert "include: _int_template.yaml" in text and f"task: {path.stem}" in text
        assert any(f"int_task: {b}\n" in text for b in BENCHMARKS), path
    rows = problem_rows("amc23")[:2]
    answers = {r["id"]: [f"\\boxed{{{r['answer']}}}"] * 8 for r in rows}
    res = lm_eval.simple_evaluate(
        model=CannedLM(answers),
        tasks=["int_amc23"],
        task_manager=TaskManager(include_path=str(LM_EVAL_TASKS_DIR)),
        limit=2,
    )
    assert res["results"]["int_amc23"]["avg@k,all_samples"] == 1.0
    assert res["configs"]["int_amc23"]["repeats"] == 8


def test_written_lm_eval_tasks_freeze_our_prompt_rows(tmp_path):
    out = write_lm_eval_tasks(
        tmp_path / "t", tasks=["aime25", "imo-answerbench@v2"], repeats=3, max_gen_toks=16
    )
    for name, (task, version) in {
        "int_aime25": ("aime25", None),
        "int_imo_answerbench_v2": ("imo-answerbench", "v2"),
    }.items():
        written = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
        assert written == problem_rows(task, version)
        cfg = yaml.safe_load((out / f"{name}.yaml").read_text())
        assert cfg["task"] == name and cfg["repeats"] == 3 and cfg["generation_kwargs"]["max_gen_toks"] == 16
        assert Path(cfg["dataset_kwargs"]["data_files"]["test"]) == out / f"{name}.jsonl"
    assert (
        "!function harness.ecosystem.lm_eval_tasks.utils.process_results"
        in (out / "_int_template.yaml").read_text()
    )


def test_lm_eval_scores_every_repeat_and_the_importer_checks_it(tmp_path):
    out = write_lm_eval_tasks(tmp_path / "t", tasks=["amc23"], repeats=4)
    rows = problem_rows("amc23")[:2]
    right = [f"so \\boxed{{{r['answer']}}}" for r in rows]
    wrong = [f"so \\boxed{{{int(r['answer']) + 1}}}" for r in rows]
    answers = {
        rows[0]["id"]: [wrong[0], right[0], right[0], wrong[0]],
        rows[1]["id"]: [right[1], wrong[1], wrong[1], wrong[1]],
    }
    res = lm_eval.simple_evaluate(
        model=CannedLM(answers),
        tasks=["int_amc23"],
        task_manager=TaskManager(include_path=str(out)),
        limit=2,
        log_samples=True,
    )
    metrics = res["results"]["int_amc23"]
    # take_first would score (0 + 1) / 2 = 0.5; every repeat gives (2/4 + 1/4) / 2.
    assert metrics["avg@k,all_samples"] == pytest.approx(0.375)
    # maj@4: problem 0 is a 2-2 tie (scores 1/2, harness.metrics), problem 1 loses 1-3.
    assert metrics["pass@k,all_samples"] == 1.0 and metrics["maj@k,all_samples"] == 0.25
    samples = tmp_path / "samples_int_amc23_2026-01-01T00-00-00.jsonl"
    samples.write_text("".join(json.dumps(s, default=str) + "\n" for s in res["samples"]["int_amc23"]))
    records = import_lm_eval_samples(samples)
    assert [(r["problem_id"], r["sample_index"], r["correct"]) for r in records] == [
        (rows[0]["id"], 0, False), (rows[0]["id"], 1, True), (rows[0]["id"], 2, True), (rows[0]["id"], 3, False),
        (rows[1]["id"], 0, True), (rows[1]["id"], 1, False), (rows[1]["id"], 2, False), (rows[1]["id"], 3, False),
    ]  # fmt: skip
    assert all(
        r["task"] == "amc23"
        and r["prompt_hash"] == rows[0 if r["problem_id"] == rows[0]["id"] else 1]["prompt_hash"]
        for r in records
    )
    tampered = [dict(s, **{"avg@k": 1.0}) for s in res["samples"]["int_amc23"]]
    samples.write_text("".join(json.dumps(s, default=str) + "\n" for s in tampered))
    with pytest.raises(ValueError, match="different grader"):
        import_lm_eval_samples(samples)


def test_ecosystem_commands_under_harness_and_the_module_alias(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["ecosystem", "lm-eval-path"])
    assert res.exit_code == 0 and res.output.strip() == str(LM_EVAL_TASKS_DIR)
    res = runner.invoke(app, ["ecosystem", "lm-eval-tasks", str(tmp_path / "x"), "--task", "amc23", "--repeats", "2"])
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((tmp_path / "x" / "int_amc23.yaml").read_text())["repeats"] == 2
    assert grade("\\boxed{27}", "27").correct  # the grader the written task calls is importable here
    res = runner.invoke(app, ["ecosystem", "lm-eval-tasks", str(tmp_path / "y"), "--task", "no[such]"])
    assert res.exit_code == 1 and "error: unknown task 'no[such]'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "y").exists()
    alias = subprocess.run(
        [sys.executable, "-m", "harness.ecosystem", "lm-eval-path"], capture_output=True, text=True, timeout=120
    )
    assert alias.returncode == 0 and alias.stdout.strip() == str(LM_EVAL_TASKS_DIR)
    alias = subprocess.run([sys.executable, "-m", "harness.ecosystem", "--help"], capture_output=True, text=True, timeout=120)
    assert "python -m harness.ecosystem" in alias.stdout and "lm-eval-tasks" in alias.stdout
