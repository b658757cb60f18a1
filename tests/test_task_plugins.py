"""A task from a plugin package, registered at test time (tests/plugins/toy_task.py): it renders with the
template it ships, keeps its token budget in the lm-eval export, and runs in inspect_ai under its own name
(``int_harness/toy_sums``) through the real ``eval`` with a mock model."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import yaml
from ecosystem_support import mock_model

import tasks
from harness.ecosystem import problem_rows, write_lm_eval_tasks
from harness.metrics import group_samples, summarize
from tasks import registry

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def toy_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the plugin module as its entry point would, into a copy of the registry (nothing leaks)."""
    tasks.list_tasks()
    monkeypatch.setattr(registry.TASKS, "_entries", dict(registry.TASKS._entries))
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.delitem(sys.modules, "toy_task", raising=False)
    importlib.import_module("toy_task")
    yield
    sys.modules.pop("toy_task", None)


def test_plugin_task_renders_with_the_template_it_ships(toy_plugin: None) -> None:
    problem = tasks.load_task("toy-sums").problems[0]
    assert tasks.render_prompt(tasks.get_task("toy-sums"), problem) == [
        {"role": "system", "content": "You are the toy adder."},
        {"role": "user", "content": "TOY QUESTION: What is 1 + 1?\nPut the final answer in \\boxed{}."},
    ]
    assert tasks.render_prompt(tasks.get_task("toy-sums@inline"), problem) == [
        {"role": "user", "content": "Inline toy: What is 1 + 1? (answer in \\boxed{})"}
    ]
    # Built-in tasks still find theirs; a plugin's missing template names where it was looked for.
    assert tasks.render_prompt(tasks.get_task("aime25"), problem)[0]["content"].endswith("\\boxed{}.")
    broken = tasks.Task(
        name="toy-broken", version="v1", description="d", loader=lambda r: None, prompt_template="nope",
        template_dirs=(PLUGINS / "toy_task_templates",),
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"no prompt template 'nope'; available: .*toy.*\(searched .*toy_task_templates"):
        tasks.render_prompt(broken, problem)


def test_plugin_task_exports_its_prompt_and_budget_to_lm_eval(toy_plugin: None, tmp_path: Path) -> None:
    out = write_lm_eval_tasks(tmp_path, tasks=["toy-sums@v1", "toy-sums@inline"], repeats=2)
    cfg = yaml.safe_load((out / "int_toy_sums_v1.yaml").read_text())
    assert cfg["generation_kwargs"]["max_gen_toks"] == 32  # the task's own budget, not 16,384
    assert "generation_kwargs" not in yaml.safe_load((out / "int_toy_sums_inline.yaml").read_text())
    (row,) = [r for r in problem_rows("toy-sums") if r["id"] == "toy-2"]
    assert row["system"] == "You are the toy adder." and row["prompt"].startswith("TOY QUESTION: What is 2 + 2?")


def test_plugin_task_runs_in_inspect_under_its_own_name(toy_plugin: None, tmp_path: Path) -> None:
    inspect_ai = pytest.importorskip("inspect_ai", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")
    seen: list[str] = []

    def respond(prompt: str) -> str:
        seen.append(prompt)
        a = int(prompt.split("What is ")[1].split(" + ")[0])
        return f"\\boxed{{{2 * a if len(seen) % 2 else 0}}}"  # every other answer is right

    # epochs as `inspect eval --epochs 2` passes it (not -T epochs): pass@2 and maj@2 must still be there.
    (log,) = inspect_ai.eval(
        "int_harness/toy_sums", model=mock_model(respond), epochs=2, log_dir=str(tmp_path), display="none"
    )
    assert log.status == "success" and log.eval.task == "int_harness/toy_sums"
    assert len(seen) == 6 and all(p.startswith("TOY QUESTION: ") for p in seen)
    assert log.samples[0].input[0].text == "You are the toy adder."
    assert log.plan.config.max_tokens == 32
    (score,) = log.results.scores  # one column, our metric names
    metrics = {k: m.value for k, m in score.metrics.items()}
    assert score.name == "int_grader" and {"avg@k", "pass@2", "maj@2", "ci95_low", "ci95_high"} <= set(metrics)
    records = [
        {"problem_id": s.id, "sample_index": s.epoch - 1, "correct": s.scores["int_grader"].value == "C",
         "extracted": s.scores["int_grader"].answer}
        for s in log.samples
    ]  # fmt: skip
    ours = summarize(group_samples(records))
    assert metrics["avg@k"] == pytest.approx(ours["avg@k"]) == pytest.approx(0.5)
    assert metrics["pass@2"] == pytest.approx(ours["pass@k"]["2"])
    assert metrics["maj@2"] == pytest.approx(ours["maj@k"]["2"])
    assert [metrics["ci95_low"], metrics["ci95_high"]] == pytest.approx(ours["avg@k_ci95"])
