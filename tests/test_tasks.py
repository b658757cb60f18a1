"""Registry, local benchmark loaders, prompt rendering, summaries and the offline error message."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import tasks
from tasks import registry
from tasks.base import LoadedTask, Problem, Task
from tasks.data import DataNotFoundError, DataResolver
from tasks.summary import ANSWER_FORMATS, classify_answer, summarize

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HARNESS_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
BOXED = "Please reason step by step, and put your final answer within \\boxed{}."


pytestmark = pytest.mark.usefixtures("local_data_only")


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A copy of the loaded registry, so tests can register tasks without leaking them."""
    tasks.list_tasks()
    copy = dict(registry.TASKS._entries)
    monkeypatch.setattr(registry.TASKS, "_entries", copy)
    return copy


def _dummy_task(name: str, version: str = "default", **kw: object) -> Task:
    return Task(name=name, version=version, description="test", loader=lambda r: LoadedTask([]), **kw)


# --- registry -------------------------------------------------------------------------------------


def test_import_tasks_is_cheap() -> None:
    code = "import sys, tasks; print(sorted(m for m in ('datasets', 'pandas', 'jinja2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_list_tasks_has_every_benchmark_sorted() -> None:
    listed = [(t.name, t.version) for t in tasks.list_tasks()]
    assert listed == sorted(listed)
    expected = {
        ("imo-answerbench", "v1"), ("imo-answerbench", "v2"), ("aime24", "default"), ("aime25", "default"),
        ("hmmt-feb-2025", "default"), ("math500", "default"), ("amc23", "default"),
        ("aime-1983-2023", "default"), ("brumo25", "default"), ("hmmt-nov-2025", "default"),
        ("amo-bench", "default"), ("apex-shortlist", "default"), ("int-test-set", "default"),
        ("int-hard-set", "default"),
    }  # fmt: skip
    assert expected <= set(listed)
    assert "tasks.world" in registry._BUILTIN_MODULES


def test_get_task_default_and_explicit_version() -> None:
    assert tasks.get_task("imo-answerbench").version == "v2"
    assert tasks.get_task("imo-answerbench", "v1").version == "v1"
    assert tasks.get_task("aime24").version == "default"


def test_unknown_task_lists_known_names_and_suggests() -> None:
    with pytest.raises(tasks.UnknownTaskError) as err:
        tasks.get_task("math-500")
    msg = str(err.value)
    assert "'math-500'" in msg and "Did you mean: math500" in msg
    assert "imo-answerbench (v1, v2*)" in msg and "math500 (default)" in msg


def test_unknown_version_lists_versions() -> None:
    with pytest.raises(tasks.UnknownTaskError, match=r"no version 'v3'; known versions: v1, v2"):
        tasks.get_task("imo-answerbench", "v3")


def test_register_duplicate_raises(isolated_registry: dict) -> None:
    tasks.register_task(_dummy_task("dup-task"))
    with pytest.raises(ValueError, match="already registered"):
        tasks.register_task(_dummy_task("dup-task"))
    tasks.register_task(_dummy_task("dup-task", "v2"))
    with pytest.raises(tasks.UnknownTaskError, match="none is marked default"):
        tasks.get_task("dup-task")


def test_two_default_versions_rejected(isolated_registry: dict) -> None:
    tasks.register_task(_dummy_task("two-defaults", "a", is_default=True))
    with pytest.raises(ValueError, match="both claim default"):
        tasks.register_task(_dummy_task("two-defaults", "b", is_default=True))


def _fresh_registry(monkeypatch: pytest.MonkeyPatch, modules: list[str]) -> None:
    monkeypatch.setattr(registry.TASKS, "_entries", {})
    monkeypatch.setattr(registry.TASKS, "_modules_loaded", False)
    monkeypatch.setattr(registry.TASKS, "modules", modules)
    monkeypatch.setattr(registry.TASKS, "entry_points", lambda: {})


def test_missing_builtin_module_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tmp_good_tasks.py").write_text(
        "from tasks.base import LoadedTask, Task\nfrom tasks.registry import register_task\n"
        "register_task(Task(name='good', version='default', description='d', loader=lambda r: LoadedTask([])))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh_registry(monkeypatch, ["tasks.no_such_module_xyz", "tmp_good_tasks"])
    assert [t.name for t in tasks.list_tasks()] == ["good"]


def test_broken_builtin_module_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tmp_broken_tasks.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh_registry(monkeypatch, ["tmp_broken_tasks"])
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        tasks.list_tasks()
    assert registry.TASKS._modules_loaded is False  # a later call retries instead of hiding the error


def test_entry_point_plugin_registers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tmp_plugin_tasks.py").write_text(
        "from tasks.base import LoadedTask, Problem, Task\nfrom tasks.registry import register_task\n"
        "register_task(Task(name='plugin-task', version='default', description='d',\n"
        "    loader=lambda r: LoadedTask([Problem(id='1', problem='1+1?', answer='2')])))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh_registry(monkeypatch, [])
    eps = [EntryPoint(name="demo", value="tmp_plugin_tasks", group=registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry.TASKS, "entry_points", lambda: {ep.name: ep for ep in eps})
    assert tasks.load_task("plugin-task").problems[0].answer == "2"


def test_split_handling(isolated_registry: dict) -> None:
    with pytest.raises(ValueError, match="no split 'train'; available: test"):
        tasks.load_task("aime24", split="train")
    seen: list[str] = []

    def two_split_loader(resolver: DataResolver, split: str) -> LoadedTask:
        seen.append(split)
        return LoadedTask([])

    tasks.register_task(
        Task(
            name="split-task",
            version="default",
            description="d",
            loader=two_split_loader,
            splits=("train", "test"),
        )
    )
    tasks.load_task("split-task", split="train")
    tasks.load_task("split-task")
    assert seen == ["train", "test"]


# --- local benchmarks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "count"),
    [
        ("imo-answerbench", "v1", 400),
        ("imo-answerbench", "v2", 400),
        ("aime24", None, 30),
        ("aime25", None, 30),
        ("hmmt-feb-2025", None, 30),
        ("math500", None, 500),
        ("amc23", None, 40),
        ("aime-1983-2023", None, 975),
    ],
)
def test_local_task_loads(name: str, version: str | None, count: int) -> None:
    loaded = tasks.load_task(name, version)
    assert len(loaded.problems) == count
    assert len({p.id for p in loaded.problems}) == count
    assert all(p.problem.strip() and p.answer.strip() for p in loaded.problems)
    assert Path(loaded.origin.split(" + ")[0]).is_relative_to(DATA_DIR)


def test_aime_ids_order_and_leading_zeros() -> None:
    expected_ids = [f"{c}-{n}" for c in ("I", "II") for n in range(1, 16)]
    for name in ("aime24", "aime25"):
        problems = tasks.load_task(name).problems
        assert [p.id for p in problems] == expected_ids
        assert all(int(p.answer) == p.metadata["integer_answer"] for p in problems)
    aime24 = {p.id: p for p in tasks.load_task("aime24").problems}
    assert aime24["I-1"].answer == "204" and aime24["I-1"].solution
    assert "025" in {p.answer for p in aime24.values()}  # string form kept


def test_amc23_float_answers_become_integers() -> None:
    problems = tasks.load_task("amc23").problems
    assert problems[0].answer == "27"
    assert not any("." in p.answer for p in problems)


def test_math500_subjects_and_levels() -> None:
    problems = tasks.load_task("math500").problems
    assert {p.category for p in problems} == set(tasks.get_task("math500").categories)
    assert {p.metadata["level"] for p in problems} == {1, 2, 3, 4, 5}


def test_training_set_has_solutions_and_default_split() -> None:
    loaded = tasks.load_task("aime-1983-2023")  # split=None -> its only split, train
    assert all(p.solution for p in loaded.problems)
    assert loaded.problems[0].id == "1983-I-1" and loaded.problems[0].answer == "60"


def test_hmmt_latex_answers() -> None:
    answers = {p.id: p.answer for p in tasks.load_task("hmmt-feb-2025").problems}
    assert answers["3"] == "\\frac{1}{576}" and answers["17"] == "2^{25} \\cdot 26!"


# --- prompts and summary --------------------------------------------------------------------------


def test_render_prompt_paper_and_boxed() -> None:
    problem = Problem(id="x", problem="What is $1+1$?", answer="2")
    assert tasks.render_prompt(tasks.get_task("imo-answerbench"), problem) == [
        {"role": "user", "content": "What is $1+1$?"}
    ]
    [msg] = tasks.render_prompt(tasks.get_task("aime24"), problem)
    assert msg == {"role": "user", "content": f"What is $1+1$?\n\n{BOXED}"}


def test_render_prompt_system_and_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "sys.jinja").write_text('{% set system = "Be terse." %}{{ problem }}\n')
    (tmp_path / "typo.jinja").write_text("{{ problme }}\n")
    monkeypatch.setattr(registry, "TEMPLATE_DIR", tmp_path)
    registry._environment.cache_clear()
    try:
        problem = Problem(id="x", problem="Q?", answer="1")
        assert tasks.render_prompt(_dummy_task("t", prompt_template="sys"), problem) == [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Q?"},
        ]
        import jinja2

        with pytest.raises(jinja2.UndefinedError):
            tasks.render_prompt(_dummy_task("t", prompt_template="typo"), problem)
        with pytest.raises(ValueError, match="no prompt template 'nope'; available: sys, typo"):
            tasks.render_prompt(_dummy_task("t", prompt_template="nope"), problem)
    finally:
        registry._environment.cache_clear()


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("4151879777", "integer"),
        ("$14625$", "integer"),
        ("$\\frac{685}{176302}$", "closed-form number"),
        ("$\\sqrt{2}-1$", "closed-form number"),
        ("$2^{u-2}$", "expression in a parameter"),
        ("$\\left\\lfloor \\log_{2}a\\right\\rfloor +1$", "expression in a parameter"),
        ("2026, 2030", "tuple/list/set"),
        ("$(4, 1, 2, 5, 134, 718240)$", "tuple/list/set"),
        ("$1,2,\\ldots, 1235$", "tuple/list/set"),
        ("$g(x)=2x^{3}+c, g(x)=-2x^{3}+c$", "function family"),
        ("$(-\\infty,-4)\\cup (-4,-\\frac{8}{3})$", "interval/union"),
        ("odd $n$", "text-qualified"),
        ("1 if triangle is isoceles, otherwise 2", "text-qualified"),
    ],
)
def test_classify_answer(answer: str, label: str) -> None:
    assert classify_answer(answer) == label


def test_summarize_imo_v2() -> None:
    task = tasks.get_task("imo-answerbench", "v2")
    summary = summarize(task, tasks.load_task("imo-answerbench", "v2"))
    assert summary["name"] == "imo-answerbench" and summary["version"] == "v2" and summary["size"] == 400
    assert summary["categories"] == {
        c: 100 for c in ("Algebra", "Combinatorics", "Geometry", "Number theory")
    }
    assert (
        set(summary["answer_formats"]) <= set(ANSWER_FORMATS)
        and sum(summary["answer_formats"].values()) == 400
    )
    assert 200 < summary["answer_formats"]["integer"] < 260  # datasets.md: about 57% integers
    assert summary["hub_only"] is False and summary["license"] == "CC-BY-4.0"
    assert summary["origin"].endswith("imo-answerbench/answerbench_v2.csv")
    assert {"problem_id", "field", "before", "after", "reason"} <= set(summary["repairs"][0])


# --- data resolution and the offline error --------------------------------------------------------


def test_offline_error_for_a_file_task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HARNESS_DATA_DIR")
    with pytest.raises(DataNotFoundError) as err:
        tasks.load_task("aime24")
    msg = str(err.value)
    for needle in (
        "task 'aime24'",
        "aime24/test.jsonl",
        "HARNESS_DATA_DIR",
        "--data-dir",
        "skipped ($HARNESS_OFFLINE=1)",
        str(tmp_path / "cache" / "aime24" / "test.jsonl"),
        "https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/a45202bd16f1ec06f433442dc1152d0074773465/",
    ):
        assert needle in msg, needle


def test_offline_error_for_a_hub_task() -> None:
    with pytest.raises(DataNotFoundError) as err:
        tasks.load_task("brumo25")
    msg = str(err.value)
    for needle in (
        "task 'brumo25'",
        str(DATA_DIR / "brumo25" / "test.jsonl"),
        "MathArena/brumo_2025 (split train): skipped",
        "huggingface-cli download --repo-type dataset MathArena/brumo_2025 --local-dir DATA_DIR/brumo25",
        "DATA_DIR/brumo25/test.jsonl",
    ):
        assert needle in msg, needle


def test_network_failure_is_quick_and_reported(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/aime24/test.jsonl"
    resolver = DataResolver(tmp_path / "empty", cache_dir=tmp_path / "c", offline=False, timeout=2)
    start = time.monotonic()
    with pytest.raises(DataNotFoundError) as err:
        resolver.local_file("aime24", "aime24/test.jsonl", url)
    assert time.monotonic() - start < 5
    assert f"download: {url}: URLError" in str(err.value)
    assert str(tmp_path / "empty" / "aime24" / "test.jsonl") in str(err.value)


def test_download_is_cached_atomically(tmp_path: Path) -> None:
    served = tmp_path / "served"
    (served / "sub").mkdir(parents=True)
    (served / "sub" / "f.txt").write_text("payload")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sub/f.txt"
        online = DataResolver(None, cache_dir=tmp_path / "cache2", offline=False)
        path = online.local_file("t", "t/f.txt", url)
    finally:
        server.shutdown()
    assert path == tmp_path / "cache2" / "t" / "f.txt" and path.read_text() == "payload"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]  # no leftover .part file
    offline = DataResolver(None, cache_dir=tmp_path / "cache2", offline=True)
    assert offline.local_file("t", "t/f.txt", url) == path


def test_explicit_data_dir_beats_env(tmp_path: Path) -> None:
    (tmp_path / "amc23").mkdir()
    (tmp_path / "amc23" / "test.jsonl").write_text(
        '{"id": 0, "problem": "P", "answer": 2.0, "url": "x/2023_AMC_12A_Problems/Problem_1"}\n'
    )
    with pytest.raises(ValueError, match=r"amc23/test.jsonl: expected 40 problems, found 1"):
        tasks.load_task("amc23", data_dir=tmp_path)


def test_name_at_version_and_per_category_subset() -> None:
    import tasks

    assert tasks.get_task("world@hard").version == "hard" and tasks.get_task("world@hard", "hard").version == "hard"
    with pytest.raises(tasks.UnknownTaskError, match="given twice"):
        tasks.get_task("world@hard", "default")
    hard = tasks.load_task("world@hard", split="test").problems
    assert {p.category for p in hard} == {"steps-5", "steps-6", "steps-7", "steps-8"}
    picked = tasks.subset(tasks.load_task("world", split="test").problems, per_category=2, limit=15)
    assert [p.category for p in picked] == [f"steps-{k}" for k in range(1, 9) for _ in range(2)][:15]
