"""The real `inspect eval` and `lm_eval` command lines on our tasks with a tiny local model, offline.

The model's text is gibberish; what is proven is the path: entry-point / --include_path discovery, our
loaders and prompts (checked against the chat template), our scorer, every repeat logged, and the logs
imported into our per-sample table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")
pytest.importorskip("inspect_ai", reason="needs the ecosystem extra: pip install -e '.[ecosystem]'")

from transformers import AutoTokenizer

from harness.ecosystem import LM_EVAL_TASKS_DIR, import_run, problem_rows
from harness.ecosystem.common import messages_of
from harness.grading import grader_id

pytestmark = pytest.mark.slow

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "HARNESS_DATA_DIR": str(DATA_DIR),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
    }


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = BIN / args[0] if (BIN / args[0]).exists() else shutil.which(args[0])
    assert exe, f"{args[0]} is not installed (pip install -e '.[ecosystem]')"
    proc = subprocess.run(
        [str(exe), *args[1:]], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _rows(task: str, version: str | None = None) -> dict[str, dict]:
    return {r["id"]: r for r in problem_rows(task, version, data_dir=DATA_DIR)}


def test_inspect_eval_cli_runs_our_task_on_a_local_hf_model(tiny_model_dir, tmp_path):
    _run(
        [
            "inspect", "eval", "int_harness/aime25", "--model", "hf/local", "-M", f"model_path={tiny_model_dir}",
            "-M", "device=cpu", "--limit", "2", "--epochs", "2", "--max-tokens", "8", "--seed", "7",
            "--log-dir", str(tmp_path / "logs"), "--display", "none",
        ],
        tmp_path,
    )  # fmt: skip
    (log,) = (tmp_path / "logs").glob("*.eval")
    results = import_run(log, tmp_path / "run")
    samples = [
        json.loads(line)
        for line in (tmp_path / "run" / "aime25@default" / "samples.jsonl").read_text().splitlines()
    ]
    rows = _rows("aime25")
    assert len(samples) == 4 and {(s["problem_id"], s["sample_index"]) for s in samples} == {
        (pid, j) for pid in list(rows)[:2] for j in (0, 1)
    }
    for s in samples:
        assert (
            s["prompt_hash"] == rows[s["problem_id"]]["prompt_hash"]
            and s["gold"] == rows[s["problem_id"]]["answer"]
        )
        assert s["grader"] == grader_id() and s["seed"] == 7 and 0 < s["completion_tokens"] <= 8
        assert s["finish_reason"] in ("stop", "length") and s["source"].startswith("inspect:")
    metrics = results["tasks"]["aime25@default"]["metrics"]
    assert metrics["n_problems"] == 2 and metrics["samples_per_problem"] == 2
    # `--epochs 2` on inspect's command line keeps pass@2 and maj@2, in one column.
    from inspect_ai.log import read_eval_log

    (score,) = read_eval_log(str(log), header_only=True).results.scores
    assert {"avg@k", "pass@2", "maj@2"} <= set(score.metrics)
    assert score.metrics["avg@k"].value == pytest.approx(metrics["avg@k"])


def _lm_eval(model_args: str, include: Path, task: str, limit: int, out: Path, *extra: str) -> None:
    """The real ``lm_eval`` command line on a local hf model, logging every sample under ``out``."""
    _run(
        ["lm_eval", "--model", "hf", "--model_args", model_args, "--device", "cpu", "--include_path", str(include),
         "--tasks", task, "--limit", str(limit), "--apply_chat_template", *extra, "--log_samples", "--output_path", str(out)],
        out.parent,
    )  # fmt: skip


def _check_lm_eval_samples(
    out: Path, task: str, rows: dict[str, dict], repeats: int, tokenizer_dir: Path
) -> None:
    (samples,) = out.rglob(f"samples_{task}_*.jsonl")
    entries = [json.loads(line) for line in samples.read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    assert len(entries) == 2
    for e in entries:
        assert len(e["resps"][0]) == repeats and len(e["filtered_resps"][0]) == repeats
        prompt = e["arguments"]["gen_args_0"]["arg_0"]
        row = rows[e["doc"]["id"]]
        assert prompt == tok.apply_chat_template(messages_of(row), add_generation_prompt=True, tokenize=False)
    results = import_run(samples, out / "run")
    (key,) = results["tasks"]
    assert results["tasks"][key]["counts"]["samples"] == 2 * repeats
    assert results["tasks"][key]["metrics"]["samples_per_problem"] == repeats


def test_lm_eval_cli_runs_written_tasks_with_every_repeat(tiny_model_dir, tmp_path):
    tasks_dir = tmp_path / "tasks"
    _run(
        ["harness", "ecosystem", "lm-eval-tasks", str(tasks_dir), "--data-dir", str(DATA_DIR),
         "--task", "imo-answerbench@v2", "--repeats", "3", "--max-gen-toks", "8"],
        tmp_path,
    )  # fmt: skip
    _lm_eval(f"pretrained={tiny_model_dir}", tasks_dir, "int_imo_answerbench_v2", 2, tmp_path / "out")
    _check_lm_eval_samples(
        tmp_path / "out", "int_imo_answerbench_v2", _rows("imo-answerbench", "v2"), 3, tiny_model_dir
    )


def test_lm_eval_cli_runs_shipped_tasks_through_our_loader(tiny_model_dir, tmp_path):
    _lm_eval(f"pretrained={tiny_model_dir}", LM_EVAL_TASKS_DIR, "int_amc23", 2, tmp_path / "out", "--gen_kwargs", "max_gen_toks=4")
    _check_lm_eval_samples(tmp_path / "out", "int_amc23", _rows("amc23"), 8, tiny_model_dir)


def test_lm_eval_cli_runs_the_shipped_world_task_in_a_1024_token_window(tiny_model_dir, tmp_path):
    """The world model has 1,024 positions; the shipped int_world must run there as is (the template's
    16,384-token budget made lm-eval assert before any generation)."""
    _lm_eval(f"pretrained={tiny_model_dir},max_length=1024", LM_EVAL_TASKS_DIR, "int_world", 1, tmp_path / "out")
    (samples,) = (tmp_path / "out").rglob("samples_int_world_*.jsonl")
    (entry,) = [json.loads(line) for line in samples.read_text().splitlines()]
    assert entry["arguments"]["gen_args_0"]["arg_1"]["max_gen_toks"] == 192 and len(entry["resps"][0]) == 8
