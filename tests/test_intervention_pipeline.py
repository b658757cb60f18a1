"""The InT protocol end to end on the embedded world: `harness int run`, resume after kills, the oracle."""

import json
from pathlib import Path

import pytest
from backend_support import KillAfter
from typer.testing import CliRunner

from harness.intervention.cli import int_app
from harness.intervention.config import preset
from harness.intervention.pipeline import run_all
from trainers.base import SFT_FIELDS

# Small enough for 2 shared cores; big enough that every stage runs several batches.
# The test-preset world model rarely stops on its own, so budgets are cut to what a 3-step solution needs.
SETTINGS = {
    "rollout.k": 2, "rollout.batch_problems": 4, "rollout.sampling.max_tokens": 64,
    "propose.batch_attempts": 6, "propose.max_attempts": 8, "propose.sampling.max_tokens": 48,
    "continue.n": 2, "continue.batch_units": 12, "continue.sampling.max_tokens": 40,
}  # fmt: skip
SMALL = [arg for key, value in SETTINGS.items() for arg in ("--set", f"{key}={value}")]
BUDGETS = {key: value for key, value in SETTINGS.items() if key.endswith("max_tokens")}


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _keys(path: Path, key) -> list:
    return [key(r) for r in _lines(path)]


def test_run_all_stages_on_the_world(world_model, tmp_path):
    out = tmp_path / "run"
    args = [
        "run",
        "--run-dir",
        str(out),
        "--preset",
        "world",
        "--model",
        str(world_model),
        "--limit",
        "8",
        "--no-progress",
        *SMALL,
    ]
    res = CliRunner().invoke(int_app, args)
    assert res.exit_code == 0, res.output
    for text in ("Filters", "Table 1", "ratio", "upper bound", "localization"):
        assert text in res.output
    summary = json.loads((out / "int_summary.json").read_text())
    assert set(summary["proposers"]) == {"self", "oracle"}
    oracle = summary["proposers"]["oracle"]
    assert oracle["propose_analytics"]["localization"]["exact"] == 1.0  # the oracle IS the truth
    assert oracle["propose_analytics"]["parse_failure_rate"] == 0.0
    # the world model's window (1,024) is below the default min_new_tokens: its short budget still fits, so
    # no proposer request is cut or skipped
    assert summary["proposers"]["self"]["propose_budget"]["verify_skipped"] == 0
    assert summary["proposers"]["self"]["propose_budget"]["verify_requests"] > 0
    for label in ("self", "oracle"):
        f = summary["proposers"][label]["build_sft"]["filters"]
        assert (
            f["proposals"]
            == f["parse_failed"]
            + f["no_critical_error"]
            + f["location_out_of_range"]
            + f["leaked"]
            + f["duplicate"]
            + f["selected"]
        )
        assert (
            f["kept"]
            == f["selected"] - f["failed_correctness"] - f["no_correct_suffix"] - f["empty_target"]
            - f["special_token_in_target"]
        )
        t1 = summary["proposers"][label]["table1"]["conditions"]
        if f["selected"] or label == "oracle":
            assert set(t1) == {"scratch", "prefix", "original", "intervention"}
            assert (
                len({row["problems"] for row in t1.values()}) == 1
            )  # the same problems under every condition
        rows = _lines(out / f"build-sft-{label}" / "sft.jsonl")
        assert len(rows) == f["kept"]
        for row in rows:
            assert set(SFT_FIELDS) <= set(row) and len(row["input_ids"]) == len(row["loss_mask"])
            assert row["meta"]["continuations_correct"] >= 1
    manifest = json.loads((out / "rollout" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["protocol_hash"] and manifest["versions"]["torch"]
    assert manifest["counts"]["failed_attempts"] == len(_lines(out / "rollout" / "attempts.jsonl"))
    # a finished run re-runs without generating anything
    before = {p: p.stat().st_mtime_ns for p in out.rglob("samples.jsonl")}
    again = CliRunner().invoke(int_app, ["run", "--run-dir", str(out), "--no-progress"])
    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("samples.jsonl")} == before


def test_kill_in_every_stage_then_rerun_loses_and_duplicates_nothing(world_model, tmp_path):
    from harness.backends import get_backend
    from harness.intervention.build_sft import run_build_sft
    from harness.intervention.continuation import run_continue
    from harness.intervention.propose import run_propose
    from harness.intervention.rollout import run_rollout

    cfg = preset("world", str(tmp_path / "run"), {"policy.model": str(world_model), "rollout.problems.limit": 6}).with_overrides(
        {
            "rollout.k": 2,
            "rollout.batch_problems": 2,
            "propose.batch_attempts": 3,
            "propose.max_attempts": 6,
            "propose.proposer": "oracle",
            "continue.n": 2,
            "continue.batch_units": 6,
            **BUDGETS,
        }
    )
    inner = get_backend("hf", str(world_model), batch_size=64)
    out = Path(cfg.out)
    self_cfg = cfg.with_overrides({"propose.proposer": "self"})  # the oracle never calls the backend
    for stage, stage_cfg in (
        (run_rollout, cfg),
        (run_propose, self_cfg),
        (run_propose, cfg),
        (run_continue, cfg),
    ):
        if stage_cfg is self_cfg or stage is not run_propose:
            with pytest.raises(KeyboardInterrupt):  # killed after its first generation batch was written
                stage(stage_cfg, backend=KillAfter(inner, calls=1), show_progress=False)
        if stage is run_rollout:  # and a torn last line, as from a kill in the middle of an append
            with open(out / "rollout" / "samples.jsonl", "a") as fh:
                fh.write('{"problem_id": "torn')
        stage(stage_cfg, backend=inner, show_progress=False)  # the re-run completes
    self_keys = _keys(
        out / "propose-self" / "proposals.jsonl", lambda r: (r["attempt_id"], r["proposal_index"])
    )
    assert (
        len(self_keys)
        == len(set(self_keys))
        == min(6, json.loads((out / "rollout" / "manifest.json").read_text())["counts"]["failed_attempts"])
    )
    summary = run_all(cfg, ["oracle"], backend=inner, show_progress=False)  # everything finished: no new work
    k = cfg.rollout.k
    rollout_keys = _keys(out / "rollout" / "samples.jsonl", lambda r: (r["problem_id"], r["sample_index"]))
    assert len(rollout_keys) == len(set(rollout_keys)) == summary["rollout"]["problems"] * k
    prop_keys = _keys(
        out / "propose-oracle" / "proposals.jsonl", lambda r: (r["attempt_id"], r["proposal_index"])
    )
    n_attempts = min(6, summary["rollout"]["failed_attempts"])
    assert len(prop_keys) == len(set(prop_keys)) == n_attempts * cfg.propose.n
    units = _lines(out / "continue-oracle" / "units.jsonl")
    cont_keys = _keys(
        out / "continue-oracle" / "samples.jsonl", lambda r: (r["problem_id"], r["sample_index"])
    )
    assert len(cont_keys) == len(set(cont_keys)) == len(units) * cfg.continuation.n
    assert len({r["problem_id"] for r in _lines(out / "rollout" / "samples.jsonl")}) == summary["rollout"]["problems"]
    first = (out / "build-sft-oracle" / "sft.jsonl").read_text()
    (out / "build-sft-oracle" / "manifest.json").unlink()  # as if killed before it was marked complete
    run_build_sft(cfg)
    assert (out / "build-sft-oracle" / "sft.jsonl").read_text() == first


def test_changed_protocol_is_refused(world_model, tmp_path):
    from harness.intervention.rollout import run_rollout

    cfg = preset("world", str(tmp_path / "run"), {"policy.model": str(world_model), "rollout.problems.limit": 2, "rollout.k": 1})
    run_rollout(cfg, show_progress=False)
    with pytest.raises(ValueError, match="protocol"):
        run_rollout(cfg.with_overrides({"rollout.sampling.temperature": 1.0}), show_progress=False)


def test_stage_before_its_input_says_what_to_run(tmp_path):
    res = CliRunner().invoke(int_app, ["propose", "--run-dir", str(tmp_path / "r"), "--no-progress"])
    assert res.exit_code != 0
    res = CliRunner().invoke(int_app, ["rollout", "--run-dir", str(tmp_path / "r")])
    assert res.exit_code != 0 and "--preset" in res.output
