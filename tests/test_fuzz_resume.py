"""Property tests (hypothesis): random kill points, torn and corrupt lines, other models and malformed
inputs against `harness eval` and every InT stage (rollout, propose, continue, build-sft).

Whatever happens to a run folder, these hold on every example:

* **no lost record, no duplicate**: each (unit, sample) key is in its record log exactly once;
* **identical to an uninterrupted run**: after any sequence of kills (a backend that raises
  KeyboardInterrupt after a random number of generate calls) and torn last lines, the finished record
  files are byte-identical to those of a run that was never interrupted, and so are the results;
* **no mixed models**: once a folder holds a record, another model (another path, or new weights at the
  same path) is refused and the folder is left as it was; every record comes from one model identity;
* **corrupt lines**: a torn last line is repaired; any other damaged line (cut short, not a record, a
  duplicate) fails in one line naming the file and line number, and nothing is rewritten;
* **one-line errors**: malformed flags, ``--set`` values and config files fail through the console entry
  point with exit 1 and one line, leaving no run folder (eval) and no changed config (InT).

Tiny models and tiny budgets: the fast part runs in well under a minute on 2 cores; the InT part (the
world test model, ~30 s to build once) is marked slow.
"""

from __future__ import annotations

import json
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hypothesis", reason="needs the dev extra: pip install -e '.[dev]'")

from backend_support import KillAfter, jsonl_lines, tear_last_line
from cli_support import output_lines, run_main
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from harness.backends import Backend, available_backends, get_backend
from harness.evaluate import EvalConfig, run_eval
from harness.grading import available_graders
from tasks import list_tasks

pytestmark = pytest.mark.usefixtures("data_dir")

FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def unique_keys(path: Path, key: Any) -> list:
    """The keys of a record log, asserting that none repeats (no duplicates)."""
    keys = [key(json.loads(line)) for line in jsonl_lines(path) if line.strip()]
    assert len(keys) == len(set(keys)), f"duplicate records in {path}"
    return keys


def sample_key(r: dict) -> tuple:
    return (r["problem_id"], r["sample_index"])


def assert_one_line(message: str, *names: str) -> None:
    assert "\n" not in message.strip() and all(n in message for n in names), message


# ---------------------------------------------------------------------------------------------------
# harness eval
# ---------------------------------------------------------------------------------------------------

EVAL = {"tasks": ["amc23"], "samples": 2, "limit": 5, "batch_problems": 2, "grader_workers": 0, "sampling": {"max_tokens": 6}}
CALLS = 3  # generate calls of an uninterrupted run: batches of 2, 2 and 1 problems
SAMPLES = "amc23@default/samples.jsonl"


@dataclass
class EvalWorld:
    """Two tiny models (both in a folder named ``checkpoint``), a loaded backend and an uninterrupted
    reference run for each."""

    models: dict[str, Path]
    backends: dict[str, Backend]
    refs: dict[str, Path]
    results: dict[str, dict]
    root: Path

    def cfg(self, name: str, out: Path) -> EvalConfig:
        return EvalConfig(model=str(self.models[name]), out=str(out), **EVAL)

    def fresh(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.root)) / "run"

    def assert_like_reference(self, out: Path, name: str, results: dict) -> None:
        samples = out / SAMPLES
        assert samples.read_bytes() == (self.refs[name] / SAMPLES).read_bytes()
        assert len(unique_keys(samples, sample_key)) == EVAL["limit"] * EVAL["samples"]
        assert results["tasks"] == self.results[name]["tasks"]
        manifest = json.loads((out / "manifest.json").read_text())
        ref_manifest = json.loads((self.refs[name] / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["generator"] == ref_manifest["generator"]
        assert manifest["protocol_hash"] == ref_manifest["protocol_hash"]


@pytest.fixture(scope="module")
def ev(twin_checkpoints, tmp_path_factory) -> EvalWorld:
    root = tmp_path_factory.mktemp("fuzz-eval")
    models = dict(zip("ab", twin_checkpoints, strict=True))
    world = EvalWorld(models, {n: get_backend("hf", str(p)) for n, p in models.items()}, {}, {}, root)
    for name in models:
        out = world.fresh()
        world.results[name] = run_eval(world.cfg(name, out), backend=world.backends[name], show_progress=False)
        world.refs[name] = out
    assert (world.refs["a"] / SAMPLES).read_bytes() != (world.refs["b"] / SAMPLES).read_bytes()
    return world


@settings(FUZZ, max_examples=10)
@given(plan=st.lists(st.tuples(st.integers(0, CALLS), st.none() | st.floats(0, 0.999)), max_size=4))
def test_eval_any_kills_and_torn_tails_end_identical(ev, plan):
    """``plan``: (generate calls before the kill, fraction of the last line kept -- None: no tear)."""
    out = ev.fresh()
    cfg = ev.cfg("a", out)
    for calls, tear in plan:
        try:
            run_eval(cfg, backend=KillAfter(ev.backends["a"], calls), show_progress=False)
        except KeyboardInterrupt:
            assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
        samples = out / SAMPLES
        if tear is not None and samples.exists() and samples.stat().st_size:
            tear_last_line(samples, tear)
    res = run_eval(cfg, backend=ev.backends["a"], show_progress=False)
    ev.assert_like_reference(out, "a", res)
    invocations = json.loads((out / "manifest.json").read_text())["invocations"]
    assert res["run_stats_total"]["new_generations"] == sum(i["new_generations"] for i in invocations)


@settings(FUZZ, max_examples=10)
@given(steps=st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, CALLS)), min_size=1, max_size=4))
def test_eval_folder_never_mixes_models(ev, steps):
    """Runs of two models (both named ``checkpoint``) on one --out, each killed at a random point: the
    first model to write a record owns the folder; the other is refused without touching it."""
    out = ev.fresh()
    samples, owner = out / SAMPLES, None
    for name, calls in steps:
        if samples.exists() and samples.stat().st_size and name != owner:
            before = snapshot(out)
            with pytest.raises(ValueError) as refused:
                run_eval(ev.cfg(name, out), backend=KillAfter(ev.backends[name], calls), show_progress=False)
            assert_one_line(str(refused.value), str(ev.models[owner]), str(ev.models[name]))
            assert snapshot(out) == before
            continue
        try:
            run_eval(ev.cfg(name, out), backend=KillAfter(ev.backends[name], calls), show_progress=False)
        except KeyboardInterrupt:
            pass
        if samples.exists() and samples.stat().st_size:
            owner = name
    owner = owner or steps[-1][0]
    res = run_eval(ev.cfg(owner, out), backend=ev.backends[owner], show_progress=False)
    ev.assert_like_reference(out, owner, res)


NOT_RECORDS = ["{}", "[]", "1", "null", '"text"', '{"problem_id": "1"}', '{"sample_index": 0}', "[1, 2]"]
JUNK = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda t: t.strip() and not t.lstrip().startswith("{\"")
)


@settings(FUZZ, max_examples=30)
@given(
    kind=st.sampled_from(["torn", "cut", "not-a-record", "junk", "duplicate"]),
    line=st.integers(0, 9),
    fraction=st.floats(0, 0.999),
    not_record=st.sampled_from(NOT_RECORDS),
    junk=JUNK,
)
def test_eval_corrupt_lines(ev, kind, line, fraction, not_record, junk):
    """A torn last line is repaired (and the run ends byte-identical); any other damaged line -- cut
    short, valid JSON that is no record, random text, a duplicate -- fails in one line naming file and
    line, and leaves every file as it was (a complete manifest stays complete)."""
    out = ev.fresh()
    shutil.copytree(ev.refs["a"], out)
    samples = out / SAMPLES
    if kind == "torn":
        tear_last_line(samples, fraction)
        ev.assert_like_reference(out, "a", run_eval(ev.cfg("a", out), backend=ev.backends["a"], show_progress=False))
        return
    lines = jsonl_lines(samples)
    text = lines[line][:-1]
    if kind == "cut":
        lines[line] = text[: 1 + int(fraction * (len(text) - 2))] + "\n"
    elif kind == "not-a-record":
        lines[line] = not_record + "\n"
    elif kind == "junk":
        lines[line] = junk + "\n"
    else:
        lines.insert(line + 1, lines[line])
    samples.write_text("".join(lines))
    before = snapshot(out)
    with pytest.raises(ValueError) as refused:
        run_eval(ev.cfg("a", out), backend=ev.backends["a"], show_progress=False)
    assert_one_line(str(refused.value), f"{samples}:{line + 2 if kind == 'duplicate' else line + 1}:")
    assert snapshot(out) == before


KNOWN_TASKS = {t.name for t in list_tasks()}
NAME = st.text(string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=12)
WORD = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(lambda w: w not in {"true", "false", "null", "nan", "inf", "infinity"})
BAD_EVAL_FLAGS = st.one_of(
    st.integers(max_value=0).map(lambda v: (f"--samples={v}", "samples")),
    st.integers(max_value=0).map(lambda v: (f"--limit={v}", "limit")),
    st.integers(max_value=0).map(lambda v: (f"--batch-problems={v}", "batch_problems")),
    st.integers(max_value=0).map(lambda v: (f"--max-tokens={v}", "max_tokens")),
    st.integers(max_value=-2).map(lambda v: (f"--top-k={v}", "top_k")),
    st.floats(max_value=-1e-9, allow_infinity=False).map(lambda v: (f"--temperature={v}", "temperature")),
    st.floats(min_value=1.0, exclude_min=True, allow_infinity=False).map(lambda v: (f"--top-p={v}", "top_p")),
    st.floats(max_value=0.0, allow_infinity=False).map(lambda v: (f"--top-p={v}", "top_p")),
    NAME.filter(lambda n: n not in KNOWN_TASKS).map(lambda n: (f"--task={n}", n)),
    NAME.filter(lambda n: n != "default").map(lambda v: (f"--task=aime25@{v}", v)),
    NAME.filter(lambda n: n not in available_backends()).map(lambda n: (f"--backend={n}", n)),
    NAME.filter(lambda n: n not in available_graders()).map(lambda n: (f"--grader={n}", n)),
)


@settings(FUZZ, max_examples=25)
@given(flag=BAD_EVAL_FLAGS)
def test_eval_malformed_flags(ev, flag, tmp_path_factory, monkeypatch, capsys):
    bad, names = flag
    work = Path(tempfile.mkdtemp(dir=ev.root))
    monkeypatch.chdir(work)
    code, output = run_main(["eval", "--model", ev.models["a"], "--task", "amc23", bad, "--no-progress"], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], output
    assert not any(work.iterdir()), "a run folder was left behind"


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3),
    max_leaves=6,
)
# Fields a random value may take without a risk of a long or unsafe run (model, tasks, k, problems, the
# folder and the worker count stay as the test sets them).
FIELDS = st.sampled_from(["sampling", "backend", "backend_options", "grader", "judge", "exclude", "split",
                          "batch_problems", "grader_timeout", "answer_after", "data_dir", "nope", "tasks", "model"])


@settings(FUZZ, max_examples=25)
@given(
    config=st.one_of(
        st.dictionaries(FIELDS, YAML_VALUES, min_size=1, max_size=3),
        YAML_VALUES,
        st.text(max_size=60),  # anything at all, YAML or not
    )
)
def test_eval_malformed_config_files(ev, config, monkeypatch, capsys):
    """A config file with anything in it either runs or fails with one line; a failure never leaves a
    folder with records in it, and leaves no folder at all unless the failure needed the model loaded
    (then a ``failed`` manifest that a corrected run replaces)."""
    import yaml

    work = Path(tempfile.mkdtemp(dir=ev.root))
    monkeypatch.chdir(work)
    if isinstance(config, dict):
        config = {"model": str(ev.models["a"]), "tasks": ["amc23"], **config, "limit": 1, "samples": 1,
                  "grader_workers": 0, "out": "out"}
    path = work / "c.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    code, output = run_main(["eval", "--config", path, "--no-progress", "--max-tokens", "4"], monkeypatch, capsys)
    if code == 0:
        return  # a valid config: it ran
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), output
    left = [p.name for p in work.iterdir() if p.name != "c.yaml"]
    if left:
        assert left == ["out"] and json.loads((work / "out" / "manifest.json").read_text())["status"] == "failed", output
        assert not list((work / "out").rglob("samples.jsonl")), output


@settings(FUZZ, max_examples=15)
@given(config=st.one_of(st.dictionaries(st.sampled_from(["policy", "rollout", "propose", "continue", "select", "build_sft",
                                                          "grader", "nope"]), YAML_VALUES, max_size=4),
                        YAML_VALUES, st.text(max_size=60)),
       suffix=st.sampled_from([".yaml", ".json"]))
def test_int_malformed_config_files(ev, config, suffix, monkeypatch, capsys):
    """``harness int rollout --config <anything>``: one line naming the file, and no run folder."""
    import yaml

    work = Path(tempfile.mkdtemp(dir=ev.root))
    path = work / f"c{suffix}"
    text = config if isinstance(config, str) else (json.dumps(config) if suffix == ".json" else yaml.safe_dump(config))
    path.write_text(text)
    code, output = run_main(["int", "rollout", "--run-dir", work / "run", "--config", path, "--no-progress"], monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), output
    assert str(path) in lines[0] or "IntConfig field" in lines[0], output
    assert not (work / "run").exists()


# ---------------------------------------------------------------------------------------------------
# harness int: rollout, propose, continue, build-sft
# ---------------------------------------------------------------------------------------------------

INT = {  # every generating stage makes at least 4 generate calls, so a kill after 1-3 calls interrupts it
    "rollout.problems.limit": 4, "rollout.k": 2, "rollout.batch_problems": 1, "rollout.sampling.max_tokens": 64,
    "propose.proposer": "self", "propose.batch_attempts": 1, "propose.max_attempts": 4, "propose.sampling.max_tokens": 48,
    "continue.n": 2, "continue.batch_units": 2, "continue.controls": ["original"], "continue.sampling.max_tokens": 40,
    "build_sft.correctness_filter": False,
}  # fmt: skip
STAGES = {  # stage -> (folder, record log, its key)
    "rollout": ("rollout", "samples.jsonl", sample_key),
    "propose": ("propose-self", "proposals.jsonl", lambda r: (r["attempt_id"], r["proposal_index"])),
    "continue": ("continue-self", "samples.jsonl", sample_key),
    "build-sft": ("build-sft-self-nofilter", "sft.jsonl", lambda r: r["meta"]["attempt_id"]),
}
ORDER = list(STAGES)


def run_stage(stage: str, cfg: Any, backend: Backend) -> Any:
    from harness.intervention.build_sft import run_build_sft
    from harness.intervention.continuation import run_continue
    from harness.intervention.propose import run_propose
    from harness.intervention.rollout import run_rollout

    if stage == "build-sft":
        return run_build_sft(cfg)
    return {"rollout": run_rollout, "propose": run_propose, "continue": run_continue}[stage](cfg, backend=backend, show_progress=False)


@dataclass
class IntWorld:
    """The world test model (a private copy whose identity a test may change), a loaded backend, and an
    uninterrupted reference run of all four stages."""

    policy: Path
    backend: Backend
    ref: Path
    root: Path

    def config(self, out: Path) -> Any:
        from harness.intervention.config import preset

        return preset("world", str(out), {"policy.model": str(self.policy), **INT})

    def fresh_upto(self, stage: str) -> tuple[Any, Path]:
        """A new run folder holding the reference's finished stages before ``stage``."""
        out = Path(tempfile.mkdtemp(dir=self.root)) / "run"
        cfg = self.config(out)
        cfg.save()
        for earlier in ORDER[: ORDER.index(stage)]:
            shutil.copytree(self.ref / STAGES[earlier][0], out / STAGES[earlier][0])
        return cfg, out

    def assert_like_reference(self, out: Path, stage: str) -> None:
        folder, log, key = STAGES[stage]
        ours, ref = snapshot(out / folder), snapshot(self.ref / folder)
        data = {name for name in ref if name != "manifest.json"}
        assert set(ours) - {"manifest.json"} == data
        for name in data:
            assert ours[name] == ref[name], f"{folder}/{name} differs from the uninterrupted run"
        unique_keys(out / folder / log, key)
        manifest, ref_manifest = (json.loads(s["manifest.json"]) for s in (ours, ref))
        assert manifest["status"] == "complete" and manifest["protocol_hash"] == ref_manifest["protocol_hash"]
        for field in ("counts", "table1"):
            assert manifest.get(field) == ref_manifest.get(field)


@pytest.fixture(scope="module")
def iw(world_model, tmp_path_factory) -> IntWorld:
    root = tmp_path_factory.mktemp("fuzz-int")
    policy = shutil.copytree(world_model, root / "policy")
    world = IntWorld(policy, get_backend("hf", str(policy), batch_size=64), root / "ref", root)
    cfg = world.config(world.ref)
    cfg.save()
    for stage in ORDER:
        run_stage(stage, cfg, world.backend)
    counts = json.loads((world.ref / "rollout" / "manifest.json").read_text())["counts"]
    assert counts["failed_attempts"] >= 4, counts  # so that propose and continue have 4+ batches
    assert (world.ref / "build-sft-self-nofilter" / "sft.jsonl").read_text().strip(), "no SFT rows: nothing to compare"
    return world


def change_identity(policy: Path, back: bool = False) -> None:
    """Change (or restore) what identifies the weights at ``policy`` -- as a retrained checkpoint written
    to the same folder would -- without touching what the already loaded backend generates with."""
    from harness.models import _folder_digest

    gen = policy / "generation_config.json"
    text = gen.read_text()
    gen.write_text(text.rstrip("\n") + "\n" if back else text.rstrip("\n") + "\n\n")
    _folder_digest.cache_clear()  # a new process would hash the folder afresh


DAMAGE = ["none", "tear", "corrupt", "other-weights"]


def _every_damage_once(test: Any) -> Any:
    """Explicit examples: each generating stage with each kind of damage, whatever the random draw."""
    for i, (stage, damage) in enumerate((s, d) for s in ORDER[:3] for d in DAMAGE[1:]):
        test = example(stage=stage, calls=1 + i % 3, damage=damage, fraction=(0.5 + i / 20) % 1)(test)
    return example(stage="build-sft", calls=0, damage="none", fraction=0.0)(test)


@pytest.mark.slow
@settings(FUZZ, max_examples=6)
@_every_damage_once
@given(stage=st.sampled_from(ORDER), calls=st.integers(1, 3), damage=st.sampled_from(DAMAGE), fraction=st.floats(0, 0.999))
def test_int_stage_kills_and_damage(iw, stage, calls, damage, fraction):
    """One stage, killed after ``calls`` generate calls (build-sft: killed after writing sft.jsonl, before
    its manifest said complete), then damaged, then resumed: byte-identical to the uninterrupted run."""
    cfg, out = iw.fresh_upto(stage)
    folder, log, key = STAGES[stage]
    if stage == "build-sft":
        run_stage(stage, cfg, iw.backend)
        manifest = out / folder / "manifest.json"
        manifest.write_text(manifest.read_text().replace('"status": "complete"', '"status": "running"'))
    else:
        try:
            run_stage(stage, cfg, KillAfter(iw.backend, calls))
        except KeyboardInterrupt:
            pass
    path = out / folder / log
    interrupted = json.loads((out / folder / "manifest.json").read_text())["status"] != "complete"
    has_records = path.exists() and path.stat().st_size > 0
    damaged = interrupted and has_records and stage != "build-sft"
    event(f"{stage}: {'interrupted, ' + damage if damaged else 'interrupted' if interrupted else 'finished'}")
    if damaged:
        lines = jsonl_lines(path)
        if damage == "tear":
            tear_last_line(path, fraction)
        elif damage == "corrupt" and len(lines) >= 2:
            bad = int(fraction * (len(lines) - 1))  # any line but the last
            original = path.read_text()
            path.write_text("".join(lines[:bad] + [lines[bad][: len(lines[bad]) // 2] + "\n"] + lines[bad + 1 :]))
            before = snapshot(out)
            with pytest.raises(ValueError) as refused:
                run_stage(stage, cfg, iw.backend)
            assert_one_line(str(refused.value), f"{path}:{bad + 1}:")
            assert snapshot(out) == before
            path.write_text(original)
        elif damage == "other-weights":
            before = snapshot(out)
            change_identity(iw.policy)
            try:
                with pytest.raises(ValueError, match="protocol"):
                    run_stage(stage, cfg, iw.backend)
            finally:
                change_identity(iw.policy, back=True)
            assert snapshot(out) == before
    run_stage(stage, cfg, iw.backend)
    iw.assert_like_reference(out, stage)


@pytest.mark.slow
def test_int_run_with_kills_across_stages_matches_reference(iw):
    """`run_all` (the `harness int run` pipeline) killed once in each generating stage, then finished."""
    from harness.intervention.pipeline import run_all

    cfg, out = iw.fresh_upto("rollout")
    kills = 0
    for calls in (1, 2, 1, 1, 1, 1):
        try:
            run_all(cfg, ["self"], backend=KillAfter(iw.backend, calls), show_progress=False)
            break
        except KeyboardInterrupt:
            kills += 1
    summary = run_all(cfg, ["self"], backend=iw.backend, show_progress=False)
    assert kills >= 3
    for stage in ORDER:
        iw.assert_like_reference(out, stage)
    for stage in ("rollout", "propose-self", "continue-self"):
        invocations = json.loads((out / stage / "manifest.json").read_text())["invocations"]
        assert summary["seconds"][stage] == pytest.approx(sum(i["seconds"] for i in invocations), abs=0.051)  # (rounded to 0.1)


INT_BAD_SETS = st.one_of(
    st.sampled_from(["rollout.k", "rollout.batch_problems", "propose.n", "propose.batch_attempts", "continue.n",
                     "continue.batch_units", "build_sft.min_correct", "rollout.sampling.max_tokens"]).flatmap(
        lambda f: st.integers(max_value=0).map(lambda v: (f"{f}={v}", f))
    ),
    st.sampled_from(["rollout.k", "continue.n", "rollout.sampling.temperature"]).flatmap(
        lambda f: WORD.map(lambda v: (f"{f}={v}", f))
    ),
    st.floats(max_value=-1e-9, allow_infinity=False).map(lambda v: (f"continue.sampling.temperature={v}", "temperature")),
    NAME.filter(lambda n: n not in {"self", "model", "oracle"}).map(lambda v: (f"propose.proposer={v}", "proposer")),
    NAME.filter(lambda n: n not in {"paper", "compact"}).map(lambda v: (f"propose.template={v}", "template")),
    NAME.filter(lambda n: n not in KNOWN_TASKS).map(lambda v: (f"rollout.problems.task={v}", v)),
    NAME.filter(lambda n: n not in available_backends()).map(lambda v: (f"policy.backend={v}", v)),
    WORD.map(lambda v: (f"policy.options.{v}x=1", f"{v}x")),  # not an option of the hf backend
    WORD.map(lambda v: (f"rollout.{v}x=1", f"{v}x")),  # no such field
)


@settings(FUZZ, max_examples=25)
@given(command=st.sampled_from(["rollout", "propose", "continue", "build-sft"]), bad=INT_BAD_SETS, new=st.booleans())
def test_int_malformed_settings(ev, world_model, command, bad, new, monkeypatch, capsys):
    """``harness int <stage> --set field=<bad>``: one line naming the field; a new run folder (``rollout
    --preset``) is not created, an existing one keeps its config and gains no stage folder."""
    from harness.intervention.config import preset

    setting, names = bad
    run_dir = Path(tempfile.mkdtemp(dir=ev.root)) / "run"
    start = command == "rollout" and new
    if not start:
        preset("world", str(run_dir), {"policy.model": str(world_model), **INT}).save()
    before = snapshot(run_dir) if run_dir.exists() else None
    args = ["int", command, "--run-dir", run_dir, *(["--preset", "world", "--model", world_model] if start else []),
            "--set", setting, *(["--no-progress"] if command != "build-sft" else [])]
    code, output = run_main(args, monkeypatch, capsys)
    lines = output_lines(output)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], output
    assert (snapshot(run_dir) if run_dir.exists() else None) == before
