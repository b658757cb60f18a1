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
    assert http.post("/completions", json={}).status_code == 404
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
