"""A small OpenAI-compatible chat server over the transformers backend (stdlib only).

Why: it lets every stage talk to a local checkpoint through the same `OpenAIBackend` it would use
against ``vllm serve`` on a GPU box, and lets CI test that client against a real HTTP server. It speaks
vLLM's dialect of ``/v1/chat/completions`` (``top_k``, ``continue_final_message``,
``add_generation_prompt`` as top-level fields). Model calls are serialized with a lock: the HF backend
batches internally and is not thread-safe.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.backends.base import Backend, GenerationRequest, Sample, SamplingParams

log = logging.getLogger(__name__)
DEFAULT_MAX_TOKENS = 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


class RequestError(ValueError):
    """A client error, answered with a JSON error body and ``status``."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


def _get(body: dict[str, Any], key: str, types: type | tuple[type, ...], default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise RequestError(f"'{key}' must be {types}, got a boolean")
    if not isinstance(value, types):
        raise RequestError(f"'{key}' has the wrong type ({type(value).__name__})")
    return value


def _content(message: Any, i: int) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise RequestError(f"messages[{i}] must be an object with a string 'role'")
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts: keep the text parts
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        content = "".join(parts)
    if not isinstance(content, str):
        raise RequestError(f"messages[{i}].content must be a string or a list of text parts")
    return {"role": message["role"], "content": content}


def parse_chat_request(
    body: Any, *, served_model_name: str, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> tuple[GenerationRequest, SamplingParams]:
    """Validate a chat-completions body into our types; raises `RequestError` (-> HTTP 4xx)."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    model = body.get("model")
    if model is not None and model != served_model_name:
        raise RequestError(
            f"The model `{model}` does not exist (serving `{served_model_name}`)", 404, "not_found_error"
        )
    if body.get("stream"):
        raise RequestError("stream=true is not supported by this server")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    cont = _get(body, "continue_final_message", bool, False)
    add_gen = _get(body, "add_generation_prompt", bool, not cont)
    if cont and add_gen:
        raise RequestError("continue_final_message and add_generation_prompt cannot both be true")
    if not cont and not add_gen:
        raise RequestError(
            "add_generation_prompt=false is only supported together with continue_final_message=true"
        )
    stop = _get(body, "stop", (str, list), [])
    stop = [stop] if isinstance(stop, str) else stop
    if not all(isinstance(s, str) for s in stop):
        raise RequestError("'stop' must be a string or a list of strings")
    max_tokens = _get(body, "max_tokens", int, None)
    if max_tokens is None:
        max_tokens = _get(body, "max_completion_tokens", int, default_max_tokens)
    try:
        request = GenerationRequest(
            tuple(_content(m, i) for i, m in enumerate(messages)), continue_final_message=cont
        )
        params = SamplingParams(
            n=_get(body, "n", int, 1),
            temperature=float(_get(body, "temperature", (int, float), 1.0)),
            top_p=float(_get(body, "top_p", (int, float), 1.0)),
            top_k=_get(body, "top_k", int, -1),
            max_tokens=max_tokens,
            seed=_get(body, "seed", int, None),
            stop=tuple(stop),
        )
    except ValueError as exc:
        raise RequestError(str(exc)) from exc
    return request, params


def completion_body(model: str, samples: list[Sample]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object for one request's samples."""
    prompt = samples[0].prompt_tokens if samples else 0
    completion = sum(s.completion_tokens for s in samples)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": s.text},
                "finish_reason": s.finish_reason,
                "logprobs": None,
            }
            for i, s in enumerate(samples)
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


class ChatServer(ThreadingHTTPServer):
    """HTTP server holding one backend; handlers share it under ``lock``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        backend: Backend,
        *,
        served_model_name: str | None = None,
        api_key: str | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        super().__init__(address, _Handler)
        self.backend = backend
        self.served_model_name = served_model_name or backend.model
        self.api_key = api_key
        self.default_max_tokens = default_max_tokens
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - " + format, self.address_string(), *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: RequestError) -> None:
        self._send(
            exc.status, {"error": {"message": str(exc), "type": exc.kind, "param": None, "code": exc.status}}
        )

    def _authorized(self) -> bool:
        if not self.server.api_key:
            return True
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.server.api_key.encode())

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif not self._authorized():
            self._error(RequestError("invalid API key", 401, "authentication_error"))
        elif path in ("/v1/models", "/models"):
            card = {
                "id": self.server.served_model_name,
                "object": "model",
                "created": 0,
                "owned_by": "int-harness",
            }
            self._send(200, {"object": "list", "data": [card]})
        else:
            self._error(RequestError(f"no route {self.path}", 404, "not_found_error"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._error(RequestError("request body too large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE))
            self.close_connection = True
            return
        raw = self.rfile.read(length)  # always drain the body before answering
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if not self._authorized():
                raise RequestError("invalid API key", 401, "authentication_error")
            if path not in ("/v1/chat/completions", "/chat/completions"):
                raise RequestError(f"no route {self.path}", 404, "not_found_error")
            try:
                body = json.loads(raw or b"null")
            except json.JSONDecodeError as exc:
                raise RequestError(f"invalid JSON: {exc}") from exc
            request, params = parse_chat_request(
                body,
                served_model_name=self.server.served_model_name,
                default_max_tokens=self.server.default_max_tokens,
            )
            with self.server.lock:
                samples = self.server.backend.generate([request], params)[0]
        except RequestError as exc:
            self._error(exc)
            return
        except ValueError as exc:  # the backend rejected the input (e.g. prompt + max_tokens too long)
            self._error(RequestError(str(exc)))
            return
        except Exception as exc:  # a failing model call must answer, not hang the client
            log.exception("generation failed")
            self._error(RequestError(f"{type(exc).__name__}: {exc}", 500, "internal_error"))
            return
        self._send(200, completion_body(self.server.served_model_name, samples))


@dataclass
class RunningServer:
    """A server on a background thread; ``url`` is the OpenAI ``base_url`` (ends in ``/v1``)."""

    server: ChatServer
    thread: threading.Thread
    owns_backend: bool = False
    url: str = field(init=False)

    def __post_init__(self) -> None:
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        if self.owns_backend:
            self.server.backend.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    backend: Backend | str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    served_model_name: str | None = None,
    api_key: str | None = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    **backend_options: Any,
) -> RunningServer:
    """Serve ``backend`` (or an HF model path) on a daemon thread; ``port=0`` picks a free port."""
    owns = isinstance(backend, str)
    if isinstance(backend, str):
        from harness.backends.hf import HFBackend

        backend = HFBackend(backend, **backend_options)
    try:
        server = ChatServer(
            (host, port),
            backend,
            served_model_name=served_model_name,
            api_key=api_key,
            default_max_tokens=default_max_tokens,
        )
    except OSError:  # e.g. port in use: don't keep a model we loaded ourselves
        if owns:
            backend.close()
        raise
    # a short poll interval keeps stop() (shutdown) quick in tests
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="harness-serve", daemon=True)
    thread.start()
    return RunningServer(server, thread, owns_backend=owns)


def serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    served_model_name: str | None = None,
    api_key: str | None = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    **backend_options: Any,
) -> None:
    """Load ``model`` with `HFBackend` and serve it until interrupted (what ``harness serve`` runs).

    ``api_key``, when given, is required as ``Authorization: Bearer <key>`` (as ``vllm serve --api-key``).
    Runs the same code path as `start_server`, which the tests exercise."""
    running = start_server(
        model,
        host=host,
        port=port,
        served_model_name=served_model_name,
        api_key=api_key,
        default_max_tokens=default_max_tokens,
        **backend_options,
    )
    print(f"serving {running.server.served_model_name} at {running.url}", flush=True)
    try:
        running.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
