"""`harness.load_samples` on a real `harness eval` run (tiny model, AIME 2024 whose golds keep leading
zeros): declared dtypes where `pd.read_json` guesses wrong, unknown fields kept, parquet round trip."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import harness
from harness.evaluate import EvalConfig, run_eval
from harness.results import load_samples

pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture(scope="module")
def run_dir(tiny_model_dir, tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("results") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DATA_DIR", str(shared_data_dir))
        cfg = EvalConfig(
            model=str(tiny_model_dir), tasks=["aime24", "amc23"], samples=2, limit=3, out=str(out),
            sampling={"max_tokens": 6},
        )  # fmt: skip
        run_eval(cfg, show_progress=False)
    return out


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_load_samples_types_every_field_of_a_real_run(run_dir):
    df = harness.load_samples(run_dir)
    raw = _records(run_dir / "aime24@default" / "samples.jsonl") + _records(run_dir / "amc23@default" / "samples.jsonl")
    assert len(df) == len(raw) == 12 and set(df.columns) == set().union(*raw)
    for name in ("task", "version", "problem_id", "gold", "extracted", "text", "prompt_hash", "status", "grader"):
        assert df[name].dtype == "string", name
    assert df["correct"].dtype == bool
    for name in ("sample_index", "seed", "prompt_tokens", "completion_tokens"):
        assert df[name].dtype == "Int64", name
    aime = df[df["task"] == "aime24"]
    assert sorted(set(aime["gold"])) == ["025", "204", "809"]  # AIME 2024 I-2's gold keeps its leading zero
    assert (df["completion_tokens"] <= 6).all()
    assert list(load_samples(run_dir, tasks=["amc23"])["task"].unique()) == ["amc23"]
    # What the loader exists for: pandas' own reader guesses numbers.
    guessed = pd.read_json(run_dir / "amc23@default" / "samples.jsonl", lines=True)
    assert guessed["gold"].dtype == "int64" and df[df["task"] == "amc23"]["gold"].dtype == "string"


def test_numeric_looking_answers_unknown_fields_and_parquet(run_dir, tmp_path):
    rows = _records(run_dir / "aime24@default" / "samples.jsonl")
    edited = [
        {**rows[0], "gold": "025", "extracted": "025", "correct": True, "prompt": "Find x.", "judge": 0.5, "tags": ["a"]},
        {**rows[1], "gold": "025", "extracted": "25.0", "correct": False, "prompt": "Find x.", "judge": None, "tags": []},
        {**rows[2], "gold": "7", "extracted": None, "correct": False, "prompt": "Find y.", "judge": 1.0, "tags": None},
    ]  # fmt: skip
    run = tmp_path / "edited"
    (run / "aime24@default").mkdir(parents=True)
    (run / "aime24@default" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in edited))
    df = load_samples(run)
    assert list(df["extracted"].astype(object).where(df["extracted"].notna(), None)) == ["025", "25.0", None]
    assert list(df["gold"]) == ["025", "025", "7"] and df["prompt"].dtype == "string"
    assert df["judge"].dtype == "float64" and df["tags"].iloc[0] == ["a"]
    df.to_parquet(tmp_path / "s.parquet", index=False)
    back = pd.read_parquet(tmp_path / "s.parquet")
    assert back["extracted"].dtype == back["gold"].dtype == "string" and back["sample_index"].dtype == "Int64"
    pd.testing.assert_frame_equal(back.drop(columns="tags"), df.drop(columns="tags"))


def test_bad_input_names_the_file_record_and_field(run_dir, tmp_path):
    rows = _records(run_dir / "amc23@default" / "samples.jsonl")
    bad = tmp_path / "bad" / "amc23@default" / "samples.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps({**rows[1], "correct": "yes"}) + "\n")
    with pytest.raises(ValueError, match=r"amc23@default/samples.jsonl: record 2: field 'correct' must be true or false"):
        load_samples(tmp_path / "bad")
    bad.write_text(json.dumps({**rows[0], "completion_tokens": 2.5}) + "\n")
    with pytest.raises(ValueError, match="record 1: field 'completion_tokens' must be a whole number"):
        load_samples(tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        load_samples(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"no <task>@<version>/samples.jsonl for aime25"):
        load_samples(tmp_path / "bad", tasks=["aime25"])
