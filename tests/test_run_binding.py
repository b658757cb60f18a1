"""Run folders are bound to their model, survive failed starts, and record what every invocation did
(issue 12, items 2, 4 and 8), on real tiny models, real benchmark files and the world test model.

* item 2: two checkpoints that share a folder name never share the default run folder; a folder is
  never resumed with another model (one line naming both);
* item 4: a start that failed before writing a record does not poison its folder; a resume refused over
  a corrupt record leaves the manifest as it was;
* item 8: results.json names the model (resolved path, weights hash, backend, versions) even after a
  resume that generated nothing; totals sum every invocation (eval and `harness int`); a resume after a
  torn last line writes byte-identical text to an uninterrupted run (eval, InT rollout and continue).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from backend_support import KillAfter, jsonl_lines, tear_last_line
from cli_support import output_lines, run_main

from harness.backends import get_backend
from harness.evaluate import EvalConfig, run_eval

pytestmark = pytest.mark.usefixtures("data_dir")


EVAL = ["--task", "aime25", "--samples", "2", "--limit", "2", "--max-tokens", "6", "--no-progress"]


# ---- item 2 -------------------------------------------------------------------------------------------


def test_checkpoints_named_alike_never_share_the_default_folder(twin_checkpoints, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    outs = []
    for model in twin_checkpoints:
        code, output = run_main(["eval", "--model", model, *EVAL], monkeypatch, capsys)
        assert code == 0, output
        assert "new generations: 4" in output, output  # never "reused 4" from the other checkpoint
        outs.append(Path(output.split("run directory: ")[1].split()[0]))
    assert outs[0] != outs[1] and all(o.parent.name == "runs" and o.name.startswith("eval-checkpoint-") for o in outs)
    assert not any(":" in o.name for o in outs)
    hashes = {json.loads((o / "results.json").read_text())["generator"]["weights_sha256"] for o in outs}
    assert len(hashes) == 2


def test_resume_with_another_model_is_refused_naming_both(twin_checkpoints, tmp_path, monkeypatch, capsys):
    a, b = twin_checkpoints
    out = tmp_path / "run"
    code, output = run_main(["eval", "--model", a, "--out", out, *EVAL], monkeypatch, capsys)
    assert code == 0, output
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, output = run_main(["eval", "--model", b, "--out", out, *EVAL], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1, output
    assert str(a) in lines[0] and str(b) in lines[0], lines[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing touched


def test_same_path_with_new_weights_is_refused(twin_checkpoints, tmp_path):
    """A checkpoint folder overwritten by a later training run is another model."""
    a, b = twin_checkpoints
    model = tmp_path / "checkpoint"
    shutil.copytree(a, model)
    cfg = EvalConfig(model=str(model), tasks=["aime25"], samples=1, limit=1, grader_workers=0,
                     out=str(tmp_path / "run"), sampling={"max_tokens": 4})
    run_eval(cfg, show_progress=False)
    shutil.rmtree(model)
    shutil.copytree(b, model)
    from harness.models import _folder_digest

    _folder_digest.cache_clear()  # a new process would hash the folder afresh
    with pytest.raises(ValueError, match="weights"):
        run_eval(cfg, show_progress=False)


# ---- item 4 -------------------------------------------------------------------------------------------


def test_failed_start_does_not_poison_its_folder(twin_checkpoints, tmp_path, monkeypatch, capsys):
    a, _ = twin_checkpoints
    out = tmp_path / "X"
    base = ["eval", "--model", a, "--task", "aime25", "--samples", "1", "--limit", "1", "--out", out, "--no-progress"]
    code, output = run_main([*base, "--max-tokens", "1000000000"], monkeypatch, capsys)
    assert code == 1 and len(output_lines(output)) == 1 and "max_tokens" in output, output
    if (out / "manifest.json").exists():
        assert json.loads((out / "manifest.json").read_text())["status"] != "complete"
    code, output = run_main([*base, "--max-tokens", "6"], monkeypatch, capsys)
    assert code == 0, output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["protocol"]["tasks"][0]["max_tokens"] == 6


def test_killed_before_any_record_then_other_settings_take_the_folder(twin_checkpoints, tmp_path):
    """Any failure after the manifest is written but before a record: the corrected run proceeds."""
    a, _ = twin_checkpoints
    cfg = EvalConfig(model=str(a), tasks=["aime25"], samples=1, limit=2, grader_workers=0,
                     out=str(tmp_path / "X"), sampling={"max_tokens": 6, "temperature": 1.3})
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg, backend=KillAfter(get_backend("hf", str(a)), calls=0), show_progress=False)
    assert json.loads((tmp_path / "X" / "manifest.json").read_text())["status"] == "failed"
    fixed = cfg.model_copy(update={"sampling": cfg.sampling.model_copy(update={"temperature": 0.7})})
    res = run_eval(fixed, show_progress=False)
    assert res["run_stats"]["new_generations"] == 2 and res["protocol"]["sampling"]["temperature"] == 0.7


def test_refused_resume_over_a_corrupt_record_keeps_the_manifest(twin_checkpoints, tmp_path, monkeypatch, capsys):
    a, _ = twin_checkpoints
    out = tmp_path / "run"
    args = ["eval", "--model", a, "--out", out, *EVAL]
    assert run_main(args, monkeypatch, capsys)[0] == 0
    samples = out / "aime25@default" / "samples.jsonl"
    lines = jsonl_lines(samples)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"  # a damaged middle line, not a torn tail
    samples.write_text("".join(lines))
    manifest = (out / "manifest.json").read_bytes()
    code, output = run_main(args, monkeypatch, capsys)
    assert code == 1 and len(output_lines(output)) == 1, output
    assert f"{samples}:2" in output, output
    assert (out / "manifest.json").read_bytes() == manifest  # still "complete", not rewritten to "running"
    assert json.loads(manifest)["status"] == "complete"


# ---- item 8 -------------------------------------------------------------------------------------------


def test_results_name_the_model_after_a_resume_that_generated_nothing(twin_checkpoints, tmp_path, monkeypatch, capsys):
    a, _ = twin_checkpoints
    out = tmp_path / "run"
    for _ in range(2):
        code, output = run_main(["eval", "--model", a, "--out", out, *EVAL], monkeypatch, capsys)
        assert code == 0, output
    assert "new generations: 0" in output
    res = json.loads((out / "results.json").read_text())
    gen = res["generator"]
    assert gen["backend"] == "hf" and gen["name"] == str(a)
    assert gen["resolved"] == str(a) and len(gen["weights_sha256"]) == 16
    assert gen["backend_describe"]["transformers"] and gen["backend_describe"]["torch"]
    assert res["versions"]["transformers"] and res["versions"]["torch"]
    assert res["run_stats"]["new_generations"] == 0 and res["run_stats_total"]["new_generations"] == 4
    assert res["run_stats_total"]["seconds"] > 0


def test_eval_totals_sum_every_invocation_and_torn_tail_resume_is_byte_identical(twin_checkpoints, tmp_path):
    a, _ = twin_checkpoints
    inner = get_backend("hf", str(a))

    def cfg(name: str) -> EvalConfig:
        return EvalConfig(model=str(a), tasks=["amc23"], samples=2, limit=6, batch_problems=2, grader_workers=0,
                          out=str(tmp_path / name), sampling={"max_tokens": 6})

    reference = run_eval(cfg("ref"), backend=inner, show_progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg("cut"), backend=KillAfter(inner, calls=2), show_progress=False)
    samples = tmp_path / "cut" / "amc23@default" / "samples.jsonl"
    tear_last_line(samples)  # sample 1 of the 4th problem: mid-batch
    res = run_eval(cfg("cut"), backend=inner, show_progress=False)
    assert samples.read_bytes() == (tmp_path / "ref" / "amc23@default" / "samples.jsonl").read_bytes()
    assert res["tasks"] == reference["tasks"]
    assert res["run_stats"]["regenerated_discarded"] == 3  # the torn batch regenerated whole, 1 record kept
    manifest = json.loads((tmp_path / "cut" / "manifest.json").read_text())
    assert [i["status"] for i in manifest["invocations"]] == ["failed", "complete"]
    total = res["run_stats_total"]
    # 12 records, plus the torn one: written by the killed invocation, lost, written again
    assert total["new_generations"] == 13 == sum(i["new_generations"] for i in manifest["invocations"])
    assert total["seconds"] == pytest.approx(sum(i["seconds"] for i in manifest["invocations"]), abs=0.01)


# ---- item 8, InT ---------------------------------------------------------------------------------------


INT_SETTINGS = {
    "rollout.problems.limit": 4, "rollout.k": 2, "rollout.batch_problems": 2, "rollout.sampling.max_tokens": 64,
    "propose.proposer": "oracle", "propose.max_attempts": 4,
    "continue.n": 2, "continue.batch_units": 1, "continue.sampling.max_tokens": 40, "continue.controls": ["original"],
}  # fmt: skip


def test_int_torn_tail_resume_is_byte_identical_and_seconds_sum_invocations(world_model, tmp_path):
    from harness.intervention.config import preset
    from harness.intervention.continuation import run_continue
    from harness.intervention.pipeline import run_all
    from harness.intervention.rollout import run_rollout

    inner = get_backend("hf", str(world_model), batch_size=64)

    def cfg(name: str):
        return preset("world", str(tmp_path / name), {"policy.model": str(world_model), **INT_SETTINGS})

    ref = run_all(cfg("ref"), ["oracle"], backend=inner, show_progress=False)
    units = len(jsonl_lines(tmp_path / "ref" / "continue-oracle" / "units.jsonl"))
    assert ref["rollout"]["problems"] == 4 and units >= 2, units  # so both stages have 2+ batches to kill between
    cut = cfg("cut")
    with pytest.raises(KeyboardInterrupt):  # rollout: one batch written, then killed
        run_all(cut, ["oracle"], backend=KillAfter(inner, calls=1), show_progress=False)
    tear_last_line(tmp_path / "cut" / "rollout" / "samples.jsonl")
    run_rollout(cut, backend=inner, show_progress=False)
    with pytest.raises(KeyboardInterrupt):  # continue: one batch written, then killed
        run_all(cut, ["oracle"], backend=KillAfter(inner, calls=1), show_progress=False)
    tear_last_line(tmp_path / "cut" / "continue-oracle" / "samples.jsonl")
    run_continue(cut, backend=inner, show_progress=False)
    summary = run_all(cut, ["oracle"], backend=inner, show_progress=False)
    for stage in ("rollout/samples.jsonl", "rollout/attempts.jsonl", "continue-oracle/samples.jsonl",
                  "propose-oracle/proposals.jsonl", "build-sft-oracle/sft.jsonl"):
        assert (tmp_path / "cut" / stage).read_bytes() == (tmp_path / "ref" / stage).read_bytes(), stage
    for stage in ("rollout", "continue-oracle"):
        manifest = json.loads((tmp_path / "cut" / stage / "manifest.json").read_text())
        assert [i["status"] for i in manifest["invocations"]] == ["failed", "complete"], stage
        assert summary["seconds"][stage] == pytest.approx(sum(i["seconds"] for i in manifest["invocations"]), abs=0.051)  # (rounded to 0.1)
        # The killed invocation's time is part of the total (on idle cores both can round to 0.0 s, so the
        # total is compared with the recorded invocations above, not with this call's own wall time).
        assert manifest["invocations"][0]["seconds"] >= 0
    assert summary["proposers"]["oracle"]["table1"] == ref["proposers"]["oracle"]["table1"]


def test_int_failed_start_does_not_poison_its_stage_folder(world_model, tmp_path):
    """A rollout that fails on its budget after writing its prompts (but no sample) is replaced by the
    corrected run; one killed after writing samples is not (the protocol guard still holds)."""
    from harness.intervention.config import preset
    from harness.intervention.rollout import run_rollout

    inner = get_backend("hf", str(world_model), batch_size=64)
    cfg = preset("world", str(tmp_path / "run"), {"policy.model": str(world_model), **INT_SETTINGS})
    with pytest.raises(ValueError, match="max_tokens"):
        run_rollout(cfg.with_overrides({"rollout.sampling.max_tokens": 1_000_000_000}), backend=inner, show_progress=False)
    assert (tmp_path / "run" / "rollout" / "prompts.jsonl").exists()
    counts = run_rollout(cfg, backend=inner, show_progress=False)
    assert counts["samples"] == 8
    with pytest.raises(ValueError, match="protocol"):
        run_rollout(cfg.with_overrides({"rollout.sampling.temperature": 1.0}), backend=inner, show_progress=False)


def test_budgets_are_checked_whatever_backend_is_given(world_model, tmp_path):
    """`harness int run` and `compare` wrap the policy in a LazyBackend and tests pass open backends: the
    budget check and the per-request context check must see through both (a too-long prompt is recorded
    as skipped, not sent; a budget larger than the window fails before anything is generated)."""
    from harness.backends import GenerationRequest
    from harness.intervention.config import preset
    from harness.intervention.pipeline import LazyBackend

    cfg = preset("world", str(tmp_path / "run"), {"policy.model": str(world_model), **INT_SETTINGS})
    lazy = LazyBackend(cfg)
    try:
        window = lazy.context_window()
        assert window and window == get_backend("hf", str(world_model)).context_window()
        long = GenerationRequest(messages=({"role": "user", "content": "1 + 1 = 2. " * window},))
        assert "context" in (lazy.check_fit(long, 16) or "")
        with pytest.raises(ValueError, match="leaves no room"):
            lazy.check_budget(window)
    finally:
        lazy.close()
