"""OpenAI backend against the REAL local server (`harness.serve`, 127.0.0.1, ephemeral port, tiny model)."""

from __future__ import annotations

import json
import re

import openai
import pytest

from harness.backends import get_backend
from harness.backends.base import GenerationRequest, SamplingParams
from harness.backends.openai import apportion, chat_request_kwargs
from harness.serve import start_server

KEY_ENV = "INT_HARNESS_TEST_KEY"
SECRET = "sk-test-not-a-real-key-3141"
USER = {"role": "user", "content": "Compute 6 * 7."}
PARTIAL = "**Substep 1:** Six times seven is"


def req(text: str = USER["content"]) -> GenerationRequest:
    return GenerationRequest(({"role": "user", "content": text},))


def cont_req() -> GenerationRequest:
    return GenerationRequest((USER, {"role": "assistant", "content": PARTIAL}), continue_final_message=True)


@pytest.fixture(scope="module")
def hf(tiny_model_dir):
    with get_backend("hf", model=str(tiny_model_dir), batch_size=8) as b:
        yield b


@pytest.fixture(scope="module")
def server(hf):
    with start_server(hf, served_model_name="tiny", api_key=SECRET) as running:
        yield running


@pytest.fixture
def client(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with get_backend("openai", model="tiny", base_url=server.url, api_key_env=KEY_ENV, max_retries=0) as b:
        yield b


def test_matches_the_hf_backend_with_n_and_order(client, hf):
    requests = [req("first"), cont_req(), req("third, a longer prompt " * 3), req("fourth")]
    params = SamplingParams(n=3, max_tokens=6, seed=5)
    out = client.generate(requests, params)
    assert [len(s) for s in out] == [3, 3, 3, 3]
    for request, samples in zip(requests, out, strict=True):
        direct = hf.generate([request], params)[0]  # the server sees one request at a time
        assert [s.text for s in samples] == [s.text for s in direct]
        assert [s.finish_reason for s in samples] == ["length"] * 3
        assert samples[0].prompt_tokens == direct[0].prompt_tokens
        assert (
            sum(s.completion_tokens for s in samples) == 18
            and samples[0].extra["completion_tokens_estimated"]
        )


def test_split_n_gives_exact_counts_and_seed_plus_j(client, hf, monkeypatch):
    monkeypatch.setattr(client, "split_n", True)
    out = client.generate([req()], SamplingParams(n=2, max_tokens=5, seed=11))
    direct = hf.generate([req()], SamplingParams(n=2, max_tokens=5, seed=11))[0]
    assert [s.text for s in out[0]] == [s.text for s in direct]
    assert [s.completion_tokens for s in out[0]] == [5, 5] and out[0][0].extra == {}


def test_continue_final_message_over_http(client, hf):
    params = SamplingParams(max_tokens=6, temperature=0.0)
    (sample,) = client.generate([cont_req()], params)[0]
    (direct,) = hf.generate([cont_req()], params)[0]
    assert sample.text == direct.text and sample.prompt_tokens == len(hf.prompt_token_ids(cont_req()))


def test_stop_strings_over_http(client):
    for seed in range(20):
        (full,) = client.generate([req()], SamplingParams(max_tokens=16, seed=seed))[0]
        match = re.search(r"[A-Za-z0-9]{2}", full.text[2:])
        if match:
            break
    else:
        pytest.fail("no sample with an ASCII run to use as a stop string")
    (cut,) = client.generate([req()], SamplingParams(max_tokens=16, seed=seed, stop=(match.group(0),)))[0]
    assert cut.text == full.text[: full.text.find(match.group(0))] and cut.finish_reason == "stop"
    assert cut.completion_tokens < 16


def test_request_body_uses_vllm_extra_params():
    kw = chat_request_kwargs(
        "m", cont_req(), SamplingParams(top_k=0, stop=("x",)), n=2, seed=1, extra_params=True
    )
    assert kw["extra_body"] == {"top_k": -1, "continue_final_message": True, "add_generation_prompt": False}
    assert (kw["n"], kw["seed"], kw["stop"], kw["temperature"], kw["top_p"]) == (2, 1, ["x"], 0.7, 0.8)
    plain = chat_request_kwargs("m", req(), SamplingParams(seed=None), n=1, seed=None, extra_params=False)
    assert "extra_body" not in plain and "seed" not in plain and "stop" not in plain
    with pytest.raises(ValueError, match="continue_final_message"):
        chat_request_kwargs("m", cont_req(), SamplingParams(), n=1, seed=0, extra_params=False)


def test_hosted_mode_refuses_continuations(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    b = get_backend("openai", model="tiny", base_url=server.url, api_key_env=KEY_ENV, extra_params=False)
    with pytest.warns(UserWarning, match="top_k"):
        assert b.generate([req()], SamplingParams(max_tokens=2))[0][0].completion_tokens == 2
    with pytest.raises(ValueError, match="continue_final_message"):
        b.generate([cont_req()], SamplingParams(max_tokens=2, top_k=0))


def test_bad_request_raises_or_is_recorded(client, monkeypatch):
    too_long = SamplingParams(max_tokens=5000)  # beyond the tiny model's 2048-token context -> HTTP 400
    with pytest.raises(openai.BadRequestError, match="context window"):
        client.generate([req()], too_long)
    monkeypatch.setattr(client, "on_error", "record")
    out = client.generate([req(), req("x")], SamplingParams(n=2, max_tokens=5000))
    assert [[s.finish_reason for s in samples] for samples in out] == [["error", "error"]] * 2
    assert "BadRequestError" in out[0][0].extra["error"]


def test_unknown_model_is_not_found(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    b = get_backend("openai", model="no-such-model", base_url=server.url, api_key_env=KEY_ENV, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        b.generate([req()], SamplingParams(max_tokens=2))


def test_api_key_comes_from_env_and_never_leaks(client, server, monkeypatch):
    assert client.client.api_key == SECRET
    described = json.dumps(client.describe())
    assert SECRET not in described and client.describe()["base_url"] == server.url
    monkeypatch.setenv(KEY_ENV, "wrong")
    b = get_backend("openai", model="tiny", base_url=server.url, api_key_env=KEY_ENV, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        b.generate([req()], SamplingParams(max_tokens=2))
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ValueError, match=KEY_ENV):
        get_backend("openai", model="gpt-x", api_key_env=KEY_ENV)  # hosted API without a key


def test_describe_redacts_credentials_in_base_url(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    b = get_backend(
        "openai", model="m", base_url="http://user:pw@example.invalid/v1?token=t", api_key_env=KEY_ENV
    )
    assert b.describe()["base_url"] == "http://example.invalid/v1"


def test_apportion_keeps_the_total():
    assert apportion(10, ["a"]) == [10]
    counts = apportion(10, ["aaaa", "", "aa"])
    assert sum(counts) == 10 and counts[0] > counts[2] > counts[1] >= 0
