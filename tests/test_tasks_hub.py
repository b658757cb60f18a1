"""Hub-only tasks: each mapping function on an in-memory dataset with the documented columns.

The Hub is unreachable in CI, so the resolver's ``hub_loader`` is replaced by one that serves a
``datasets.Dataset.from_list`` and records which hub id and split were asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest

import tasks
from tasks.data import DataNotFoundError, DataResolver

MATHARENA_ROWS = [
    {"problem_idx": 1, "problem": "Compute $1+1$. ", "answer": "2", "problem_type": ["Algebra"]},
    {
        "problem_idx": 2,
        "problem": "Find $x$.",
        "answer": "\\frac{1}{2}",
        "problem_type": ["Geometry", "Algebra"],
    },
]
APEX_ROWS = [
    {"problem_idx": 1, "answer": "7", "source": "SMT 2025 P3", "problem": "Apex one"},
    {"problem_idx": 2, "answer": "2^{10}", "source": "HMMT Feb 2025 P30", "problem": "Apex two"},
]
AMO_ROWS = [
    {
        "question_id": 1,
        "prompt": "AMO one",
        "solution": "Because.",
        "answer": "\\boxed{42}",
        "answer_type": "number",
    },
    {
        "question_id": 35,
        "prompt": "AMO two",
        "solution": "S",
        "answer": "n odd",
        "answer_type": "description",
    },
]
INT_TEST_ROWS = [
    {"problem": "Test one", "answer": "3", "source": "imo-answerbench"},
    {"problem": "Test two", "answer": "5", "source": "amo-bench"},
]
INT_HARD_ROWS = [
    {"problem": "Hard", "answer": "1", "source": "polaris", "reference_solution": "Ref.", "reference_solution_source": "gemini"},
    {"problem": "Hard 2", "answer": "2", "source": "omni", "reference_solution": "Ref 2.", "reference_solution_source": "human"},
]  # fmt: skip


class FakeHub:
    """A hub_loader serving in-memory datasets; records every (hub_id, split) request."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.dataset = datasets.Dataset.from_list(rows)
        self.calls: list[tuple[str, str]] = []

    def __call__(self, hub_id: str, split: str) -> Any:
        self.calls.append((hub_id, split))
        return self.dataset


def _resolver(tmp_path: Path, hub: Any, offline: bool = False, data_dir: Path | None = None) -> DataResolver:
    return DataResolver(
        data_dir or tmp_path / "no-data", cache_dir=tmp_path / "cache", offline=offline, hub_loader=hub
    )


@pytest.mark.parametrize(
    ("name", "hub_id", "hub_split", "rows"),
    [
        ("brumo25", "MathArena/brumo_2025", "train", MATHARENA_ROWS),
        ("hmmt-nov-2025", "MathArena/hmmt_nov_2025", "train", MATHARENA_ROWS),
        ("apex-shortlist", "MathArena/apex-shortlist", "train", APEX_ROWS),
        ("amo-bench", "meituan-longcat/AMO-Bench", "test", AMO_ROWS),
        ("int-test-set", "CMU-AIRe/InT-test-set", "test", INT_TEST_ROWS),
        ("int-hard-set", "CMU-AIRe/InT-hard-set", "train", INT_HARD_ROWS),
    ],
)
def test_hub_task_uses_documented_id_and_split(
    name: str, hub_id: str, hub_split: str, rows: list, tmp_path: Path
) -> None:
    hub = FakeHub(rows)
    task = tasks.get_task(name)
    loaded = tasks.load_task(name, resolver=_resolver(tmp_path, hub))
    assert task.hub_only and task.hub_id == hub_id
    assert hub.calls == [(hub_id, hub_split)]
    assert loaded.origin == f"hub:{hub_id}@{hub_split}"
    assert len(loaded.problems) == 2 and all(p.problem and p.answer for p in loaded.problems)


def test_matharena_mapping(tmp_path: Path) -> None:
    problems = tasks.load_task("brumo25", resolver=_resolver(tmp_path, FakeHub(MATHARENA_ROWS))).problems
    first, second = problems
    assert (first.id, first.problem, first.answer, first.category) == ("1", "Compute $1+1$.", "2", "Algebra")
    assert second.category == "Geometry / Algebra" and second.metadata["problem_type"] == [
        "Geometry",
        "Algebra",
    ]
    apex = tasks.load_task("apex-shortlist", resolver=_resolver(tmp_path, FakeHub(APEX_ROWS))).problems
    assert apex[1].metadata["source"] == "HMMT Feb 2025 P30" and apex[1].answer == "2^{10}"


def test_amo_bench_mapping(tmp_path: Path) -> None:
    p = tasks.load_task("amo-bench", resolver=_resolver(tmp_path, FakeHub(AMO_ROWS))).problems[1]
    assert (p.id, p.problem, p.answer, p.solution) == ("35", "AMO two", "n odd", "S")
    assert p.metadata["answer_type"] == "description"


def test_int_sets_mapping(tmp_path: Path) -> None:
    test = tasks.load_task("int-test-set", resolver=_resolver(tmp_path, FakeHub(INT_TEST_ROWS))).problems
    assert [p.id for p in test] == ["0", "1"] and test[1].category == "amo-bench"
    hard = tasks.load_task("int-hard-set", resolver=_resolver(tmp_path / "h", FakeHub(INT_HARD_ROWS)))
    assert (
        hard.problems[0].solution == "Ref."
        and hard.problems[0].metadata["reference_solution_source"] == "gemini"
    )
    legacy = [{"problem": "Old", "answer": 4.0, "solution": "Legacy ref."}]
    old = tasks.load_task("int-hard-set", resolver=_resolver(tmp_path / "o", FakeHub(legacy))).problems[0]
    assert old.solution == "Legacy ref." and old.answer == "4"


def test_missing_column_names_origin_row_and_field(tmp_path: Path) -> None:
    rows = [
        {"problem_idx": 1, "problem": "P", "answer": "1"},
        {"problem_idx": 2, "problem": "Q", "answer": ""},
    ]
    with pytest.raises(
        ValueError, match=r"hub:MathArena/brumo_2025@train: row 1: field 'answer' is missing or empty"
    ):
        tasks.load_task("brumo25", resolver=_resolver(tmp_path, FakeHub(rows)))


def test_hub_rows_are_cached_for_offline_use(tmp_path: Path) -> None:
    hub = FakeHub(AMO_ROWS)
    online = tasks.load_task("amo-bench", resolver=_resolver(tmp_path, hub))
    offline = tasks.load_task("amo-bench", resolver=_resolver(tmp_path, FakeHub([]), offline=True))
    assert offline.problems == online.problems
    assert offline.origin == str(tmp_path / "cache" / "amo-bench" / "test.jsonl")


def test_local_jsonl_and_snapshot_folder_beat_the_hub(tmp_path: Path) -> None:
    def no_hub(hub_id: str, split: str) -> Any:
        raise AssertionError("the hub must not be called when a local copy exists")

    data_dir = tmp_path / "data"
    (data_dir / "brumo25").mkdir(parents=True)
    datasets.Dataset.from_list(MATHARENA_ROWS).to_json(data_dir / "brumo25" / "test.jsonl")
    loaded = tasks.load_task("brumo25", resolver=_resolver(tmp_path, no_hub, data_dir=data_dir))
    assert [p.id for p in loaded.problems] == ["1", "2"]
    # what `huggingface-cli download --repo-type dataset ... --local-dir DATA_DIR/amo-bench` leaves behind
    (data_dir / "amo-bench" / "data").mkdir(parents=True)
    datasets.Dataset.from_list(AMO_ROWS).to_parquet(
        data_dir / "amo-bench" / "data" / "test-00000-of-00001.parquet"
    )
    snap = tasks.load_task("amo-bench", resolver=_resolver(tmp_path, no_hub, data_dir=data_dir))
    assert snap.origin == str(data_dir / "amo-bench") and snap.problems[0].answer == "\\boxed{42}"


def test_hub_failure_is_reported(tmp_path: Path) -> None:
    def down(hub_id: str, split: str) -> Any:
        raise ConnectionError("Name or service not known")

    with pytest.raises(DataNotFoundError) as err:
        tasks.load_task("apex-shortlist", resolver=_resolver(tmp_path, down))
    msg = str(err.value)
    assert "MathArena/apex-shortlist (split train): ConnectionError: Name or service not known" in msg
    assert str(tmp_path / "cache" / "apex-shortlist" / "test.jsonl") in msg
