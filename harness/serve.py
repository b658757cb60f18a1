"""A small OpenAI-compatible chat server over the transformers backend (stdlib only).

Why: it lets every stage talk to a local checkpoint through the same `OpenAIBackend` it would use
against ``vllm serve`` on a GPU box, and lets CI test that client against a real HTTP server. It speaks
vLLM's dialect of ``/v1/chat/completions`` (``top_k``, ``continue_final_message``,
``add_generation_prompt`` as top-level fields). Model calls are serialized with a lock: the HF backend
batches internally and is not thread-safe.

Because one lock serves every client, one request must not be able to monopolise it: `ServeLimits` caps
``n``, the body size and the prompt length (the chat template and tokenizer run under the lock and cannot
be interrupted, so their input is bounded before the lock is taken); a client has one deadline for its
whole request (request line, headers and body -- not per read, so trickling a byte at a time does not
extend it); at most ``max_connections`` connections are served at once (one thread each), and one more
is answered 503 at once instead of holding another thread; with ``--api-key`` the key is checked from the
headers before the body is read, and only as ``Authorization: Bearer <key>``. Every malformed request --
bad JSON, JSON nested past the parser's recursion limit, a non-numeric Content-Length, wrong types,
non-finite numbers, fields this server does not implement (``logprobs``) -- is a 4xx with a JSON error
body naming the field, never a dropped connection, a silently ignored field or a traceback.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions`` (a raw prompt string
or list of strings, no chat template; ``n``, ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``),
each in the OpenAI API's response shape.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import math
import socket
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
CHARS_PER_CONTEXT_TOKEN = 16
MAX_SEED = 2**62


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask of the server (``harness serve --max-n ...``).

    Attributes:
        max_n: most samples per request (``n``); more is a 400 that says how to split the request.
        max_body_bytes: largest request body; a larger declared ``Content-Length`` is a 413, unread.
        max_prompt_chars: most characters over all message contents, checked before the chat template
            and tokenizer run (under the model lock, uninterruptible). None: `CHARS_PER_CONTEXT_TOKEN`
            per token of the model's context window (a prompt that long could never fit), or 1,000,000
            when the backend does not report one.
        read_timeout: seconds a connection has to send one whole request -- request line, headers and body
            together, a deadline rather than a per-read timeout -- before it is answered 408 (or dropped,
            if its headers never finish); None waits forever (a declared body that never arrives holds a
            thread).
        max_connections: connections served at once, one thread each; one more is answered 503 with
            ``Retry-After`` immediately (trickling or idle clients cannot pile up threads).
    """

    max_n: int = 64
    max_body_bytes: int = 4 * 1024 * 1024
    max_prompt_chars: int | None = None
    read_timeout: float | None = 30.0
    max_connections: int = 32

    def __post_init__(self) -> None:
        if (self.max_n < 1 or self.max_body_bytes < 1 or self.max_connections < 1
                or (self.max_prompt_chars is not None and self.max_prompt_chars < 1)):
            raise ValueError(f"serve limits must be >= 1: {self}")
        if self.read_timeout is not None and self.read_timeout <= 0:
            raise ValueError(f"read_timeout must be > 0 seconds, got {self.read_timeout}")


def prompt_char_limit(backend: Backend, limits: ServeLimits) -> int:
    """`ServeLimits.max_prompt_chars`, or its default from the backend's context window."""
    if limits.max_prompt_chars is not None:
        return limits.max_prompt_chars
    config = getattr(getattr(backend, "hf_model", None), "config", None)
    context = getattr(config, "max_position_embeddings", None)
    return int(context) * CHARS_PER_CONTEXT_TOKEN if isinstance(context, int) and context > 0 else 1_000_000


class RequestError(ValueError):
    """A client error, answered with a JSON error body and ``status``."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error", param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.param = status, kind, param


def _get(body: dict[str, Any], key: str, types: type | tuple[type, ...], default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise RequestError(f"'{key}' must be {types}, got a boolean")
    if not isinstance(value, types):
        raise RequestError(f"'{key}' has the wrong type ({type(value).__name__})")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"'{key}' must be a finite number, got {value}")
    return value


def _content(message: Any, i: int) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise RequestError(f"messages[{i}] must be an object with a string 'role'")
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts: keep the text parts
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if not all(isinstance(t, str) for t in parts):
            raise RequestError(f"messages[{i}].content: every text part needs a string 'text'")
        content = "".join(parts)
    if not isinstance(content, str):
        raise RequestError(f"messages[{i}].content must be a string or a list of text parts")
    return {"role": message["role"], "content": content}


def parse_chat_request(
    body: Any,
    *,
    served_model_name: str,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    max_n: int | None = None,
    max_prompt_chars: int | None = None,
) -> tuple[GenerationRequest, SamplingParams]:
    """Validate a chat-completions body into our types; raises `RequestError` (-> HTTP 4xx). ``max_n`` and
    ``max_prompt_chars`` are the server's `ServeLimits` (None: unchecked)."""
    _check_body(body, served_model_name)
    _refuse_unimplemented(body, {"logprobs": (False,), "top_logprobs": (0,)})
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
    n, max_tokens, seed, stop = _common(body, default_max_tokens=default_max_tokens, max_n=max_n)
    contents = tuple(_content(m, i) for i, m in enumerate(messages))
    chars = sum(len(m["content"]) + len(m["role"]) for m in contents)
    if max_prompt_chars is not None and chars > max_prompt_chars:
        raise RequestError(
            f"the messages hold {chars} characters; this server accepts at most {max_prompt_chars} "
            "(harness serve --max-prompt-chars)", HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        )
    try:
        request = GenerationRequest(contents, continue_final_message=cont)
    except ValueError as exc:
        raise RequestError(str(exc)) from exc
    return request, _sampling(body, n=n, max_tokens=max_tokens, seed=seed, stop=stop)


def _check_body(body: Any, served_model_name: str) -> None:
    """What every endpoint checks first: a JSON object, naming the served model (or none), not streaming."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    model = body.get("model")
    if model is not None and model != served_model_name:
        raise RequestError(
            f"The model `{model}` does not exist (serving `{served_model_name}`)", 404, "not_found_error"
        )
    if body.get("stream"):
        raise RequestError("stream=true is not supported by this server")


def _refuse_unimplemented(body: dict[str, Any], off: dict[str, tuple[Any, ...]]) -> None:
    """A field this server does not implement, set to anything but null or one of its "off" values, is a
    400 naming it: answering without it (no logprobs where logprobs were asked for) would look like success."""
    for name, off_values in off.items():
        value = body.get(name)
        if value is not None and value not in off_values:
            raise RequestError(f"'{name}' is not supported by this server (got {json.dumps(value)[:40]}); "
                               "send the request without it", param=name)


def _sampling(body: dict[str, Any], *, n: int, max_tokens: int, seed: int | None, stop: list[str]) -> SamplingParams:
    try:
        return SamplingParams(
            n=n,
            temperature=float(_get(body, "temperature", (int, float), 1.0)),
            top_p=float(_get(body, "top_p", (int, float), 1.0)),
            top_k=_get(body, "top_k", int, -1),
            max_tokens=max_tokens,
            seed=seed,
            stop=tuple(stop),
        )
    except ValueError as exc:
        raise RequestError(str(exc)) from exc


def _common(body: dict[str, Any], *, default_max_tokens: int, max_n: int | None) -> tuple[int, int, int | None, list[str]]:
    """``(n, max_tokens, seed, stop)``, checked, shared by both routes."""
    stop = _get(body, "stop", (str, list), [])
    stop = [stop] if isinstance(stop, str) else stop
    if not all(isinstance(s, str) for s in stop):
        raise RequestError("'stop' must be a string or a list of strings")
    max_tokens = _get(body, "max_tokens", int, None)
    if max_tokens is None:
        max_tokens = _get(body, "max_completion_tokens", int, default_max_tokens)
    n = _get(body, "n", int, 1)
    if max_n is not None and n > max_n:
        raise RequestError(
            f"n={n} is more than this server allows per request ({max_n}; harness serve --max-n); "
            "send several requests (the openai backend's split_n=True does)"
        )
    seed = _get(body, "seed", int, None)
    if seed is not None and not 0 <= seed < MAX_SEED:
        raise RequestError(f"'seed' must be in [0, 2**62), got {seed}")
    return n, max_tokens, seed, stop


def parse_completion_request(
    body: Any,
    *,
    served_model_name: str,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    max_n: int | None = None,
    max_prompt_chars: int | None = None,
) -> tuple[list[str], SamplingParams]:
    """Validate a ``/v1/completions`` body (OpenAI's legacy completions: ``prompt`` is a string or a list of
    strings, sent to the model as they are, without a chat template) into prompts and sampling params."""
    _check_body(body, served_model_name)
    _refuse_unimplemented(body, {"logprobs": (), "echo": (False,), "suffix": ("",), "logit_bias": ({},)})  # logprobs 0: the chosen tokens' logprobs
    if _get(body, "best_of", int, 1) != 1:
        raise RequestError("'best_of' other than 1 is not supported by this server", param="best_of")
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise RequestError("'prompt' must be a non-empty string or a non-empty list of non-empty strings "
                           "(token-id prompts are not supported)", param="prompt")
    n, max_tokens, seed, stop = _common(body, default_max_tokens=default_max_tokens, max_n=max_n)
    if max_n is not None and n * len(prompts) > max_n:
        raise RequestError(f"{len(prompts)} prompts x n={n} is more than this server allows per request ({max_n}; "
                           "harness serve --max-n); send several requests")
    chars = sum(len(p) for p in prompts)
    if max_prompt_chars is not None and chars > max_prompt_chars:
        raise RequestError(
            f"the prompts hold {chars} characters; this server accepts at most {max_prompt_chars} "
            "(harness serve --max-prompt-chars)", HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        )
    return prompts, _sampling(body, n=n, max_tokens=max_tokens, seed=seed, stop=stop)


def text_completion_body(model: str, results: list[list[Sample]]) -> dict[str, Any]:
    """An OpenAI ``text_completion`` object: choice ``i * n + j`` is sample ``j`` of prompt ``i``."""
    prompt = sum(samples[0].prompt_tokens for samples in results if samples)
    completion = sum(s.completion_tokens for samples in results for s in samples)
    choices: list[dict[str, Any]] = []
    for samples in results:
        for s in samples:
            choices.append({"index": len(choices), "text": s.text, "logprobs": None, "finish_reason": s.finish_reason})
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


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
    """HTTP server holding one backend; handlers share it under ``lock``. At most
    ``limits.max_connections`` handler threads run at once; a connection beyond that gets a 503 from the
    accepting thread and is closed, so no client can make the server start unbounded threads."""

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
        limits: ServeLimits | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.backend = backend
        self.served_model_name = served_model_name or backend.model
        self.api_key = api_key
        self.default_max_tokens = default_max_tokens
        self.limits = limits or ServeLimits()
        self.max_prompt_chars = prompt_char_limit(backend, self.limits)
        self.lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._busy(request)
            return
        try:
            super().process_request(request, client_address)  # starts the handler thread
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _busy(self, request: Any) -> None:
        """503 on a connection over the cap, written by the accepting thread with a short timeout."""
        message = (f"this server is serving {self.limits.max_connections} connections already "
                   "(harness serve --max-connections); retry shortly")
        data = json.dumps({"error": {"message": message, "type": "server_busy", "param": None, "code": 503}}).encode()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Retry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            request.settimeout(1.0)
            request.sendall(head + data)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)


class _DeadlineReader(io.RawIOBase):
    """The socket as a raw stream whose every read waits at most until the request's deadline: a client
    that trickles a byte at a time cannot stretch one request past it (a per-read timeout restarts on
    every byte)."""

    def __init__(self, sock: socket.socket, handler: _Handler) -> None:
        self._sock, self._handler = sock, handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        deadline = self._handler.deadline
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request deadline passed")
            self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer
    deadline: float | None = None

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the stdlib's reader: closed, or the socket's close would wait for its reference
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self), buffer_size=65536)

    def handle_one_request(self) -> None:
        """Each request on a connection gets the whole-request deadline from its first byte's wait on."""
        timeout = self.server.limits.read_timeout
        self.deadline = time.monotonic() + timeout if timeout is not None else None
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - " + format, self.address_string(), *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.connection.settimeout(self.server.limits.read_timeout)  # writes: a per-call timeout again
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib calls this for a malformed request line or headers (and unknown methods): answer in
        JSON like every other error, not with its HTML page."""
        self.close_connection = True
        short = self.responses.get(code, ("error",))[0]
        text = f"{message or short}" + (f": {explain}" if explain and explain != message else "")
        kind = "invalid_request_error" if 400 <= code < 500 else "internal_error"
        try:
            self._error(RequestError(text, code, kind))
        except OSError:  # the client is gone
            pass

    def _error(self, exc: RequestError) -> None:
        self._send(
            exc.status, {"error": {"message": str(exc), "type": exc.kind, "param": exc.param, "code": int(exc.status)}}
        )

    def _authorized(self) -> bool:
        """``Authorization: Bearer <key>`` (the scheme is case-insensitive, RFC 6750); a bare key or another
        scheme is refused, as by ``vllm serve --api-key``."""
        if not self.server.api_key:
            return True
        scheme, _, given = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.server.api_key.encode())

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.deadline = None  # the request is read
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif not self._authorized():
            self._error(RequestError("invalid API key (send 'Authorization: Bearer <key>')", 401, "authentication_error"))
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

    def _read_body(self) -> bytes:
        """The request body, within the limits; RequestError (connection then closed) otherwise."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise RequestError("chunked request bodies are not supported; send a Content-Length", HTTPStatus.LENGTH_REQUIRED)
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isascii() or not declared.isdigit():
            raise RequestError(f"Content-Length must be a non-negative integer, got {declared[:40]!r}")
        length = int(declared) if len(declared) < 20 else self.server.limits.max_body_bytes + 1
        if length > self.server.limits.max_body_bytes:
            raise RequestError(
                f"request body of {length} bytes is larger than this server accepts "
                f"({self.server.limits.max_body_bytes}; harness serve --max-body-bytes)",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(
                f"the request body did not arrive within {self.server.limits.read_timeout:g}s (the whole request's "
                "deadline; harness serve --read-timeout)", HTTPStatus.REQUEST_TIMEOUT
            ) from None
        if len(raw) < length:
            raise RequestError(f"the request body ended after {len(raw)} of {length} bytes")
        return raw

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0].rstrip("/")
        routes = {"/v1/chat/completions": self._chat, "/chat/completions": self._chat,
                  "/v1/completions": self._completions, "/completions": self._completions}
        try:
            if not self._authorized():  # from the headers alone: an unauthenticated body is never read
                raise RequestError("invalid API key (send 'Authorization: Bearer <key>')", 401, "authentication_error")
            raw = self._read_body()
        except RequestError as exc:
            self.close_connection = True  # whatever is left of the body must not be read as a request
            self._error(exc)
            return
        self.deadline = None  # the request is read
        try:
            route = routes.get(path)
            if route is None:
                raise RequestError(f"no route {self.path}", 404, "not_found_error")
            try:
                body = json.loads(raw or b"null")
            except RecursionError:
                raise RequestError("invalid JSON: nested too deeply") from None
            except ValueError as exc:  # JSONDecodeError, bad UTF-8, integers past Python's digit limit
                raise RequestError(f"invalid JSON: {exc}") from None
            payload = route(body)
        except RequestError as exc:
            self._error(exc)
            return
        except ValueError as exc:  # the backend rejected the input (e.g. prompt + max_tokens too long)
            self._error(RequestError(str(exc)))
            return
        except Exception as exc:  # a failing model call must answer, not hang the client
            if type(exc).__module__.startswith("jinja2"):  # the chat template refused these messages
                self._error(RequestError(f"the chat template rejected the messages: {exc}"))
                return
            log.exception("generation failed")
            self._error(RequestError(f"{type(exc).__name__}: {exc}", 500, "internal_error"))
            return
        self._send(200, payload)

    def _parse_settings(self) -> dict[str, Any]:
        """What every endpoint's request parser takes from the server: the served name, defaults and limits."""
        return {"served_model_name": self.server.served_model_name, "default_max_tokens": self.server.default_max_tokens,
                "max_n": self.server.limits.max_n, "max_prompt_chars": self.server.max_prompt_chars}

    def _chat(self, body: Any) -> dict[str, Any]:
        request, params = parse_chat_request(body, **self._parse_settings())
        with self.server.lock:
            samples = self.server.backend.generate([request], params)[0]
        return completion_body(self.server.served_model_name, samples)

    def _completions(self, body: Any) -> dict[str, Any]:
        complete = getattr(self.server.backend, "complete", None)
        if complete is None:
            raise RequestError(f"the {self.server.backend.name!r} backend cannot complete raw prompts", 404, "not_found_error")
        prompts, params = parse_completion_request(body, **self._parse_settings())
        with self.server.lock:
            results = complete(prompts, params)
        return text_completion_body(self.server.served_model_name, results)


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
    limits: ServeLimits | None = None,
    **backend_options: Any,
) -> RunningServer:
    """Serve ``backend`` (or a model for the hf backend: a path, hub id or ``<scheme>:<name>`` such as
    ``world:default``, resolved by `harness.models` like every other command's) on a daemon thread;
    ``port=0`` picks a free port. A model given by name is served under that name unless
    ``served_model_name`` says otherwise."""
    owns = isinstance(backend, str)
    if isinstance(backend, str):
        from harness.backends import get_backend

        served_model_name = served_model_name or backend
        backend = get_backend("hf", backend, **backend_options)
    try:
        server = ChatServer(
            (host, port),
            backend,
            served_model_name=served_model_name,
            api_key=api_key,
            default_max_tokens=default_max_tokens,
            limits=limits,
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
    limits: ServeLimits | None = None,
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
        limits=limits,
        **backend_options,
    )
    print(f"serving {running.server.served_model_name} at {running.url}", flush=True)
    try:
        running.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
