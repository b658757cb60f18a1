"""The OpenAI-compatible server over raw HTTP: routes, JSON errors, auth, response shape."""

from __future__ import annotations

import httpx
import pytest

from harness.serve import RequestError, parse_chat_request, start_server

MSGS = [{"role": "user", "content": "1 + 1 = ?"}]


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with start_server(str(tiny_model_dir), served_model_name="tiny", api_key="k", batch_size=4) as running:
        yield running


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer k"}, timeout=60) as c:
        yield c


def test_models_and_health(server, http):
    assert server.url.startswith("http://127.0.0.1:")
    assert http.get("/models").json()["data"][0]["id"] == "tiny"
    assert httpx.get(server.url.removesuffix("/v1") + "/health").json() == {"status": "ok"}
    assert httpx.get(server.url + "/models").status_code == 401  # no key


def test_chat_completion_shape(http):
    body = {
        "model": "tiny",
        "messages": MSGS,
        "n": 2,
        "max_tokens": 3,
        "seed": 0,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
    }
    r = http.post("/chat/completions", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "tiny"
    assert [c["index"] for c in data["choices"]] == [0, 1]
    assert all(
        c["message"]["role"] == "assistant" and c["finish_reason"] == "length" for c in data["choices"]
    )
    usage = data["usage"]
    assert usage["completion_tokens"] == 6 and usage["total_tokens"] == usage["prompt_tokens"] + 6
    again = http.post("/chat/completions", json=body).json()
    assert [c["message"]["content"] for c in again["choices"]] == [
        c["message"]["content"] for c in data["choices"]
    ]


def test_continuation_fields(http):
    msgs = MSGS + [{"role": "assistant", "content": "The answer is"}]
    body = {"messages": msgs, "max_tokens": 2, "continue_final_message": True, "add_generation_prompt": False}
    assert http.post("/chat/completions", json=body).status_code == 200
    body.pop("add_generation_prompt")  # implied by continue_final_message
    assert http.post("/chat/completions", json=body).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"content": "x"}]}, "role"),
        ({"messages": MSGS, "n": 0}, "n must be"),
        ({"messages": MSGS, "n": True}, "boolean"),
        ({"messages": MSGS, "temperature": "hot"}, "temperature"),
        ({"messages": MSGS, "stop": [1]}, "stop"),
        ({"messages": MSGS, "stream": True}, "stream"),
        ({"messages": MSGS, "continue_final_message": True}, "assistant"),
        (
            {
                "messages": MSGS + [{"role": "assistant", "content": "a"}],
                "continue_final_message": True,
                "add_generation_prompt": True,
            },
            "cannot both",
        ),
        ({"messages": MSGS, "add_generation_prompt": False}, "only supported"),
        ({"messages": MSGS, "max_tokens": 9999}, "context window"),
    ],
)
def test_bad_requests_get_json_400(http, body, fragment):
    r = http.post("/chat/completions", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error" and error["code"] == 400


def test_invalid_json_unknown_route_and_model(http):
    r = http.post("/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]["message"]
    assert http.post("/embeddings", json={}).status_code == 404  # /completions is a route now (issue 19)
    assert http.get("/nothing").status_code == 404
    r = http.post("/chat/completions", json={"model": "other", "messages": MSGS})
    assert r.status_code == 404 and "does not exist" in r.json()["error"]["message"]


def test_parse_chat_request_defaults():
    request, params = parse_chat_request(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ],
            "stop": "\n\n",
            "max_completion_tokens": 7,
        },
        served_model_name="tiny",
    )
    assert request.messages == ({"role": "user", "content": "ab"},) and not request.continue_final_message
    assert (params.n, params.temperature, params.top_p, params.top_k, params.seed) == (1, 1.0, 1.0, -1, None)
    assert params.stop == ("\n\n",) and params.max_tokens == 7
    with pytest.raises(RequestError):
        parse_chat_request([], served_model_name="tiny")


# ---- issue 19: logprobs answered, /v1/completions, world:<preset> models --------------------------------


@pytest.mark.parametrize(("route", "field", "value", "off"), [
    ("/chat/completions", "logprobs", True, False), ("/chat/completions", "top_logprobs", 2, 0),
    ("/completions", "logprobs", 0, None), ("/completions", "echo", True, False),
])
def test_unimplemented_fields_are_a_400_naming_them(http, route, field, value, off):
    body = {"messages": MSGS, "prompt": "1 + 1 =", "max_tokens": 1, field: value}
    r = http.post(route, json=body)
    assert r.status_code == 400 and f"'{field}'" in r.json()["error"]["message"]
    assert r.json()["error"]["param"] == field
    assert http.post(route, json={**body, field: off}).status_code == 200  # "off" is fine


def test_completions_follow_the_openai_shape(http):
    body = {"model": "tiny", "prompt": ["1 + 1 =", "2 + 2 ="], "n": 2, "max_tokens": 3, "temperature": 0.7,
            "top_p": 0.9, "seed": 5}
    r = http.post("/completions", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "text_completion" and data["model"] == "tiny" and data["id"].startswith("cmpl-")
    assert [c["index"] for c in data["choices"]] == [0, 1, 2, 3]  # prompt i, sample j -> i * n + j
    assert all(set(c) == {"index", "text", "logprobs", "finish_reason"} and c["finish_reason"] == "length"
               for c in data["choices"])
    assert data["usage"]["completion_tokens"] == 12
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + 12
    again = http.post("/completions", json=body).json()
    assert [c["text"] for c in again["choices"]] == [c["text"] for c in data["choices"]]  # seeded
    one = http.post("/completions", json={"prompt": "1 + 1 =", "max_tokens": 2, "temperature": 0}).json()
    assert len(one["choices"]) == 1
    for bad in ({"prompt": []}, {"prompt": [1, 2]}, {"prompt": "x", "best_of": 2}, {"prompt": "x", "stop": [3]}):
        assert http.post("/completions", json={"max_tokens": 1, **bad}).status_code == 400, bad


def test_completions_use_no_chat_template(server):
    """/v1/completions continues the text as given; the chat route wraps it in the template first."""
    from harness.backends.base import GenerationRequest, SamplingParams

    backend = server.server.backend
    params = SamplingParams(n=1, temperature=0, max_tokens=2, seed=0)
    (raw_sample,) = backend.complete(["1 + 1 ="], params)[0]
    assert raw_sample.prompt_tokens == len(backend.tokenizer("1 + 1 =")["input_ids"])
    assert backend.count_prompt_tokens(GenerationRequest(({"role": "user", "content": "1 + 1 ="},))) > raw_sample.prompt_tokens


@pytest.mark.timeout(600)
def test_serve_a_world_model_by_its_preset_name(world_model):
    """`harness serve --model world:test` resolves the preset like every other command (it tried the hub)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--model", "world:test", "--port", str(port)],
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        end = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < end:
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read()
        assert httpx.get(url + "/models", timeout=30).json()["data"][0]["id"] == "world:test"
        r = httpx.post(url + "/chat/completions", json={"model": "world:test", "max_tokens": 4, "messages": MSGS}, timeout=60)
        assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
