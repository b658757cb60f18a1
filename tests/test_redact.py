"""Credentials in a --base-url never reach records, describe() or log lines; a down server is named (issue 12
item 3, issue 11). Runs the openai backend against the real `harness serve` over HTTP."""

from __future__ import annotations

import json
import logging
import socket

import openai
import pytest

from harness.backends import get_backend
from harness.backends.base import GenerationRequest, SamplingParams
from harness.redact import MASK, redact_secrets, redact_text, redact_url
from harness.serve import start_server

PW = "s3cr3t-PW-271828"
REQ = GenerationRequest(({"role": "user", "content": "Compute 6 * 7."},))


def test_redact_url_text_and_config() -> None:
    assert redact_url(f"http://user:{PW}@10.0.0.1:8000/v1?token=abc#x") == "http://10.0.0.1:8000/v1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url(None) is None and redact_url("") == ""
    line = f'HTTP Request: POST http://bob:{PW}@host/v1/chat/completions "HTTP/1.1 200 OK"'
    assert redact_text(line) == 'HTTP Request: POST http://host/v1/chat/completions "HTTP/1.1 200 OK"'
    config = {
        "model": "m", "backend": "openai", "sampling": {"max_tokens": 16, "top_k": 20},
        "backend_options": {"base_url": f"https://u:{PW}@h.example/v1", "api_key_env": "OPENAI_API_KEY",
                            "api_key": PW, "hf_token": PW, "headers": [f"see https://x:{PW}@y/z"]},
    }
    clean = redact_secrets(config)
    assert PW not in json.dumps(clean)
    assert clean["backend_options"]["base_url"] == "https://h.example/v1"
    assert clean["backend_options"]["api_key_env"] == "OPENAI_API_KEY"  # a variable's name, not a secret
    assert clean["backend_options"]["api_key"] == MASK and clean["sampling"] == config["sampling"]
    assert config["backend_options"]["api_key"] == PW  # a copy; the input is untouched


@pytest.fixture(scope="module")
def open_server(tiny_model_dir):
    with get_backend("hf", model=str(tiny_model_dir), batch_size=4) as hf, start_server(hf, served_model_name="tiny") as srv:
        yield srv


def test_credentials_in_base_url_stay_out_of_describe_and_logs(open_server, caplog, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    url = open_server.url.replace("http://", f"http://user:{PW}@")
    caplog.set_level(logging.DEBUG)  # what `harness -v` (INFO) shows, and more
    for name in ("httpx", "httpx2", "openai", "openai._base_client"):  # other tests' logging setups may mute them
        caplog.set_level(logging.DEBUG, logger=name)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    with get_backend("openai", model="tiny", base_url=url, max_retries=0) as b:
        out = b.generate([REQ], SamplingParams(max_tokens=3, seed=1))
        described = json.dumps(b.describe())
    assert out[0][0].completion_tokens == 3
    assert PW not in described and json.loads(described)["base_url"] == open_server.url
    http_lines = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "openai"))]
    assert any(open_server.url.removesuffix("/v1") in line for line in http_lines), http_lines  # logged, redacted
    assert PW not in caplog.text


def test_a_down_server_is_named_without_its_credentials(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = get_backend("openai", model="m", base_url=f"http://user:{PW}@127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(openai.APIConnectionError) as err:
        b.generate([REQ], SamplingParams(max_tokens=2))
    assert f"cannot reach http://127.0.0.1:{port}/v1" in str(err.value) and PW not in str(err.value)
    b.on_error = "record"
    sample = b.generate([REQ], SamplingParams(max_tokens=2))[0][0]
    assert sample.finish_reason == "error" and f"127.0.0.1:{port}" in sample.extra["error"]
    assert PW not in sample.extra["error"]
    b.close()


def test_missing_key_message_names_the_cli_flag(monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ValueError, match="--base-url"):
        get_backend("openai", model="gpt-x", api_key_env="NO_SUCH_KEY_VAR")
