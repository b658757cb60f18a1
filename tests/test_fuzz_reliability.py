"""Property tests for issue 12 (hypothesis): random malformed answers never raise and never outlive the
grading limit (`grade`, a pool, the RL reward); malformed HTTP bodies always get a JSON 4xx from `harness
serve`; malformed lm-eval sample files, IMO-AnswerBench CSV rows and MatHArena answers.csv ids are one
ValueError line naming the file, the row and the field. Sizes keep the module to a few tens of seconds."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("hypothesis", reason="needs the dev extra: pip install -e '.[dev]'")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.ecosystem.importers import import_lm_eval_samples
from harness.grading import GradingPool, Verdict, grade
from harness.serve import ServeLimits, start_server
from tasks.data import DataResolver
from tasks.imo_answerbench import CATEGORIES, COLUMNS, read_answerbench
from tasks.readers import read_matharena_contest
from trainers.reward import RewardCounters, make_trl_reward

TIMEOUT = 1.0
HARD = TIMEOUT + max(2.0, TIMEOUT / 2)
SLACK = 2.0  # scheduling on 2 shared cores
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Pieces of the answers models write, and of the ones that break graders.
TOKENS = ["0", "1", "2", "7", "10", "025", "x", "n", "e", "\\pi", "\\infty", "+", "-", "\\cdot", "/", "^", "_", "!",
          "(", ")", "[", "]", "\\{", "\\}", "{", "}", ",", ".", " ", "=", "\\le", "\\frac{", "\\dfrac{", "\\sqrt{",
          "\\sum_{n=1}^{", "\\prod_{k=1}^{", "\\int_0^{", "\\binom{", "\\text{", "\\boxed{", "}{", "10^{12}",
          "9^{9^{9}}", "\\left(", "\\right)", "\\pm", "\\ldots", "２", "٣", "𝟒", "\u2212", "%", "$", "\\", "\n"]
GOLDS = ["25", "\\frac{1}{2}", "$(-\\infty,-4)\\cup (-4,-\\frac{8}{3})$", "odd $n$", "$2^{u-2}$", "4, 5", "\\sqrt{2}"]
answers = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join) | st.text(max_size=60)
responses = st.tuples(st.sampled_from(["", "so ", "\\boxed{1} then "]), answers, st.sampled_from(["}", "", "}}"])).map(
    lambda t: f"{t[0]}\\boxed{{{t[1]}{t[2]}"
)


def _valid(v: object) -> bool:
    return isinstance(v, Verdict) and v.status in ("ok", "no_answer", "timeout", "error") and (v.correct is False or v.status == "ok")


# ---- grading ---------------------------------------------------------------------------------------------


@settings(SETTINGS, max_examples=120)
@given(response=responses, gold=st.sampled_from(GOLDS))
def test_grade_never_raises_and_never_outlives_its_limit(response: str, gold: str) -> None:
    start = time.monotonic()
    v = grade(response, gold, timeout=TIMEOUT)
    assert time.monotonic() - start < HARD + SLACK, response
    assert _valid(v)


@pytest.fixture(scope="module")
def pool():
    with GradingPool(workers=1, timeout=TIMEOUT) as p:
        yield p


@settings(SETTINGS, max_examples=25)
@given(items=st.lists(st.tuples(responses, st.sampled_from(GOLDS)), min_size=1, max_size=8))
def test_pool_never_raises_and_never_outlives_its_limit(pool: GradingPool, items: list[tuple[str, str]]) -> None:
    start = time.monotonic()
    out = pool.grade_many(items)
    assert time.monotonic() - start < len(items) * HARD + SLACK
    assert len(out) == len(items) and all(_valid(v) for v in out)


@settings(SETTINGS, max_examples=15)
@given(items=st.lists(st.tuples(responses, st.sampled_from(GOLDS)), min_size=1, max_size=6))
def test_trl_reward_never_raises_and_never_outlives_its_limit(items: list[tuple[str, str]]) -> None:
    counters = RewardCounters()
    reward = make_trl_reward(counters, timeout=TIMEOUT)
    start = time.monotonic()
    scores = reward(prompts=["p"] * len(items), completions=[r for r, _ in items], answer=[g for _, g in items])
    assert time.monotonic() - start < len(items) * HARD + SLACK
    assert len(scores) == len(items) and set(scores) <= {0.0, 1.0} and counters.samples == len(items)


# ---- harness serve -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http(tiny_model_dir):
    limits = ServeLimits(max_n=2, max_body_bytes=200_000, read_timeout=2.0)
    with start_server(str(tiny_model_dir), served_model_name="tiny", limits=limits, default_max_tokens=2,
                      batch_size=2) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        yield client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
GOOD = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
FIELDS = ["messages", "n", "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "seed", "stop",
          "continue_final_message", "add_generation_prompt", "model", "stream"]


def _is_acceptable(field: str, value: object) -> bool:
    """Values of ``field`` that make a valid request (hypothesis may draw them; those may answer 200)."""
    try:
        body = json.loads(json.dumps({**GOOD, field: value}))
    except ValueError:
        return False
    from harness.serve import RequestError, parse_chat_request

    try:
        parse_chat_request(body, served_model_name="tiny", max_n=2, max_prompt_chars=32768, default_max_tokens=2)
    except (RequestError, ValueError):
        return False
    return True


bodies = (
    st.binary(max_size=200).filter(lambda b: not b.strip().startswith(b"{"))  # mostly not JSON at all
    | json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode())
    | st.tuples(st.sampled_from(FIELDS), json_values).map(lambda fv: (fv, json.dumps({**GOOD, fv[0]: fv[1]}).encode()))
    | st.integers(1, 3000).map(lambda d: b'{"messages": ' + b"[" * d + b"]" * d + b"}")
)


@settings(SETTINGS, max_examples=80)
@given(body=bodies)
def test_serve_answers_malformed_bodies_with_a_json_4xx(http: httpx.Client, body: object) -> None:
    field_value = None
    if isinstance(body, tuple):
        field_value, body = body
    r = http.post("/chat/completions", content=body, headers={"Content-Type": "application/json"})
    if field_value is not None and _is_acceptable(*field_value):
        assert r.status_code == 200, r.text
        return
    assert 400 <= r.status_code < 500, (body[:200], r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["code"] == r.status_code and isinstance(error["message"], str) and error["message"]


# ---- malformed data files ----------------------------------------------------------------------------------


def _one_line_naming(exc: ValueError, path: Path) -> str:
    message = str(exc)
    assert "\n" not in message and str(path) in message, message
    return message


LM_EVAL_ENTRY = {"doc_id": 0, "doc": {"id": "p1", "answer": "5", "task": "amc23", "version": "v1", "prompt_hash": "h"},
                 "resps": [["so \\boxed{5}"]], "filtered_resps": [["so \\boxed{5}"]], "target": "5",
                 "arguments": {"gen_args_0": {"arg_0": "What is 2+3?"}}}


@st.composite
def lm_eval_lines(draw: st.DrawFn) -> str:
    entry = json.loads(json.dumps(LM_EVAL_ENTRY))
    target = draw(st.sampled_from(["top", "doc", "raw"]))
    if target == "raw":
        text = json.dumps(entry)
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=5)).replace("\n", " ")
    key = draw(st.sampled_from(list(entry) if target == "top" else list(entry["doc"])))
    where = entry if target == "top" else entry["doc"]
    if draw(st.booleans()):
        del where[key]
    else:
        where[key] = draw(json_values)
    return json.dumps(entry)


@settings(SETTINGS, max_examples=60)
@given(lines=st.lists(lm_eval_lines(), min_size=1, max_size=3))
def test_malformed_lm_eval_files_are_one_line_errors(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("lm") / "samples_int_amc23_2026-01-01T00-00-00.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    try:
        records = import_lm_eval_samples(path)
    except ValueError as exc:
        message = _one_line_naming(exc, path)
        assert "line " in message or "doc " in message, message
    else:
        assert all(r["status"] in ("ok", "no_answer", "timeout", "error") for r in records)


def _answerbench_rows() -> list[list[str]]:
    rows = []
    for c, cat in enumerate(CATEGORIES):
        for i in range(100):
            rows.append([f"imo-bench-{c}-{i:03d}", f"Problem {c}-{i}: find $x$.", str(i), cat, "sub", "src"])
    return rows


@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_malformed_answerbench_rows_are_one_line_errors(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    rows = _answerbench_rows()
    r = data.draw(st.integers(0, len(rows) - 1))
    kind = data.draw(st.sampled_from(["empty", "drop", "extra", "category", "duplicate", "text"]))
    col = data.draw(st.integers(0, len(COLUMNS) - 1))
    if kind == "empty":
        rows[r][col] = data.draw(st.sampled_from(["", "   "]))
    elif kind == "drop":
        rows[r] = rows[r][: data.draw(st.integers(0, len(COLUMNS) - 1))]
    elif kind == "extra":
        rows[r] = rows[r] + ["surplus"]
    elif kind == "category":
        rows[r][3] = data.draw(st.text(max_size=12))
    elif kind == "duplicate":
        rows[r][0] = rows[(r + 1) % len(rows)][0]
    else:
        rows[r][col] = data.draw(st.text(max_size=40))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("imo") / "answerbench.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    try:
        loaded = read_answerbench(path, "v1")
    except ValueError as exc:
        message = _one_line_naming(exc, path)
        assert "field '" in message or "rows" in message or "fields, expected" in message, message
    else:
        assert len(loaded.problems) == 400


@settings(SETTINGS, max_examples=40)
@given(pid=st.text(max_size=30))
def test_answers_csv_ids_are_names_or_one_line_errors(tmp_path_factory: pytest.TempPathFactory, pid: str) -> None:
    root = tmp_path_factory.mktemp("ma")
    folder = root / "c"
    (folder / "problems").mkdir(parents=True)
    buf = io.StringIO()
    csv.writer(buf).writerows([["id", "answer"], [pid, "7"]])
    (folder / "answers.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")
    (root.parent / "evil.tex").write_text("SECRET", encoding="utf-8")
    try:
        rows, _ = read_matharena_contest(DataResolver(root, offline=True, cache_dir=root / "cache"), "t", "c", None, 1)
    except ValueError as exc:
        message = _one_line_naming(exc, folder / "answers.csv")
        assert "field 'id'" in message and "SECRET" not in message
    except FileNotFoundError as exc:  # a plain name whose .tex file does not exist: the resolver's own message
        assert "SECRET" not in str(exc) and "Could not find data" in str(exc)
    else:
        assert rows and "SECRET" not in rows[0][1]
