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


# ---- issue 22 item 2: every setting that can hold a URL or key, and error text from servers -----------


@pytest.mark.parametrize("password", ["pa/ss", "p?ss", "p#ss", "p@ss", "p:ss", "a/b@c?d"])
def test_a_password_with_url_delimiters_is_still_removed(password: str) -> None:
    from harness.backends.openai import split_credentials

    url = f"http://user:{password}@10.0.0.1:8000/v1"
    assert redact_url(url) == "http://10.0.0.1:8000/v1"
    assert redact_text(f"POST {url}/chat/completions failed") == "POST http://10.0.0.1:8000/v1/chat/completions failed"
    assert split_credentials(url) == ("http://10.0.0.1:8000/v1", ("user", password))


def test_secrets_in_server_error_text_are_masked() -> None:
    text = "401: invalid key in GET /v1/models?api_key=sk-LEAK42&x=1 (Authorization: Bearer sk-LEAK42); token=abc123"
    clean = redact_text(text)
    assert "sk-LEAK42" not in clean and "abc123" not in clean and f"api_key={MASK}" in clean and "x=1" in clean
    assert redact_text("max_tokens=16 top_k: 20 seed=3 api_key_env=OPENAI_API_KEY") == \
        "max_tokens=16 top_k: 20 seed=3 api_key_env=OPENAI_API_KEY"  # settings and variable names stay


JUDGE_URL = f"http://judge:{PW}@127.0.0.1:9/v1?api_key={PW}"


def test_judge_credentials_stay_out_of_the_frozen_protocol_and_the_dry_run(tmp_path, monkeypatch, capsys, data_dir) -> None:
    from cli_support import run_main

    from harness.compare.config import CompareConfig
    from harness.compare.run import eval_protocol

    judge = {"backend": "openai", "model": "judge", "options": {"base_url": JUDGE_URL}}
    cfg = CompareConfig(eval={"tasks": ["world"], "split": "test", "per_category": 1, "grader": "llm-judge", "judge": judge})
    protocol = eval_protocol(cfg)
    assert PW not in json.dumps(protocol) and protocol["judge"]["options"]["base_url"] == "http://127.0.0.1:9/v1"
    assert cfg.eval.judge["options"]["base_url"] == JUDGE_URL  # the judge itself still gets its credentials
    config = tmp_path / "judge.yaml"
    config.write_text("base_model: world:test\neval:\n  tasks: [world]\n  split: test\n  per_category: 1\n"
                      f"  grader: llm-judge\n  judge: {json.dumps(judge)}\n")
    monkeypatch.chdir(tmp_path)
    code, output = run_main(["compare", "rl-baseline", "--config", str(config), "--dry-run"], monkeypatch, capsys)
    assert code == 0, output
    assert "127.0.0.1:9" in output and PW not in output


def test_a_key_echoed_in_a_server_error_stays_out_of_the_manifest(tmp_path, monkeypatch, capsys, data_dir) -> None:
    """A server that answers every request with an error quoting the caller's key: the run fails, and
    neither the manifest nor the one error line repeats the key."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cli_support import run_main

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": {"message": f"request refused for /v1/chat?api_key={PW} "
                                                    f"(Bearer {PW})", "type": "invalid_request_error"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", PW)
    try:
        code, output = run_main(["eval", "--backend", "openai", "--base-url", f"http://127.0.0.1:{server.server_port}/v1",
                                 "--model", "m", "--task", "world", "--limit", "1", "-k", "1", "--max-tokens", "8",
                                 "--out", "run", "--no-progress"], monkeypatch, capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and "request refused" in output and PW not in output, output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "request refused" in manifest["error"]
    assert PW not in json.dumps(manifest)
